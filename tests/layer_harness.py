"""One test harness for our Keras layers (in the manner of keras-hub's `run_layer_test`).

`run_layer_test` checks that a layer gives the same output eagerly, inside a
`tf.function`, under XLA (`jit_compile=True`, unless the layer spans devices) and inside `tf.data`; that its config round
trips; and that a model holding it saves to `.keras` and loads back in safe mode with
identical outputs.
"""
import keras
import numpy as np
import tensorflow as tf


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape, tmp_path,
                   atol=1e-5, jit_compile=True):
    layer = layer_cls(**init_kwargs)
    eager = layer(input_data).numpy()
    assert eager.shape == tuple(expected_output_shape)

    graph = tf.function(layer)(input_data).numpy()
    np.testing.assert_allclose(graph, eager, atol=atol, rtol=1e-5)
    if jit_compile:
        xla = tf.function(layer, jit_compile=True)(input_data).numpy()
        np.testing.assert_allclose(xla, eager, atol=atol, rtol=1e-5)
    in_data = next(iter(tf.data.Dataset.from_tensors(input_data).map(layer))).numpy()
    np.testing.assert_allclose(in_data, eager, atol=atol, rtol=1e-5)

    config = layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    clone(input_data)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(input_data).numpy(), eager, atol=atol, rtol=1e-5)

    inputs = keras.Input(input_data.shape[1:])
    model = keras.Model(inputs, layer_cls.from_config(config)(inputs))
    model.set_weights(layer.get_weights())
    path = tmp_path / f"{layer_cls.__name__}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded.layers[-1]) is layer_cls
    np.testing.assert_array_equal(loaded(input_data).numpy(), model(input_data).numpy())
    return eager
