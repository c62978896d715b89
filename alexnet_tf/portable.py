"""Portable exports: LiteRT (`.tflite`) and ONNX, for runtimes without TensorFlow.

`export_portable(model, folder, "litert" | "onnx", wnids)` writes `folder/model.tflite`
or `folder/model.onnx` (through Keras' `keras.Model.export`: TF's LiteRT converter, and
tf2onnx) and the class list beside it (`rundir.CLASSES_FILE`). What the artifact computes:

    images: uint8 [batch, 256, 256, 3], RGB 0..255 (already decoded, resized, cropped;
            the `Classifier`'s `image_size`: 256 for the paper, 32 for CIFAR-10)
        -> probabilities: float32 [batch, classes]

the softmax of the centre 224 crop after mean subtraction (or the average over the
paper's 10 crops, with `ten_crop`): the `Classifier`'s `probabilities`, computed in
float32. Decoding, resizing to 256 and top-5 stay with the client; the serving
SavedModel (`alexnet_tf.export`) is the one that takes JPEG bytes.

Response normalization goes to each format's own LRN op: the net is rebuilt with
`LocalResponseNormalization(implementation="tf")`, whose `tf.nn.local_response_normalization`
the converters map to LiteRT's built-in `LOCAL_RESPONSE_NORMALIZATION` (TF's arguments)
and to ONNX's `LRN` (tf2onnx writes `size = 2 * depth_radius + 1` and `alpha * size`,
since ONNX divides alpha by the size). The LiteRT file is converted with the built-in
ops only, so that the plain LiteRT interpreter runs it (no TF "flex" ops). Towers
(`devices`) are dropped: the artifact runs on whatever its runtime uses.

`load(folder)` opens any export folder (a serving SavedModel, `model.tflite` or
`model.onnx`) with its own runtime, as a deployment would: `tf.saved_model.load` (its
`serve_images` signature), `ai_edge_litert`'s interpreter, `onnxruntime`. The LiteRT and
ONNX packages come with the extra `pip install -e ".[export]"`; `missing(format)` names
what is not installed.
"""
import importlib.util
import os
import warnings

from alexnet_tf.rundir import CLASSES_FILE

FORMATS = ("tf_saved_model", "litert", "onnx")
FILES = {"litert": "model.tflite", "onnx": "model.onnx"}
# What each portable format needs beyond the package's own requirements (setup.py's
# "export" extra): the converter and the runtime that loads the artifact.
NEEDS = {"litert": ("ai_edge_litert",), "onnx": ("tf2onnx", "onnx", "onnxruntime")}
EXTRA = 'pip install -e ".[export]"'


def missing(fmt):
    """The modules `fmt` needs that are not installed ([] for none)."""
    return [m for m in NEEDS.get(fmt, ()) if importlib.util.find_spec(m) is None]


def check_installed(fmt):
    """Raises ImportError, one line naming the missing modules and the extra, unless
    everything `fmt` needs is installed."""
    absent = missing(fmt)
    if absent:
        raise ImportError(f"the {fmt} format needs {', '.join(absent)} (not installed): "
                          f"{EXTRA}")


def portable_classifier(model):
    """A copy of the `Classifier` `model` (same weights) whose network computes in float32
    with `LocalResponseNormalization(implementation="tf")` and no devices: the form the
    converters know."""
    import keras

    from alexnet_tf.classifier import Classifier
    from alexnet_tf.layers import LocalResponseNormalization

    def clone(layer):
        config = {**layer.get_config(), "dtype": "float32"}
        if "devices" in config:
            config["devices"] = None
        if isinstance(layer, LocalResponseNormalization):
            config["implementation"] = "tf"
        return layer.__class__.from_config(config)
    net = keras.models.clone_model(model.net, clone_function=clone)
    net.set_weights(model.net.get_weights())
    return Classifier(net, model.preprocess, image_size=model.image_size, name=model.name)


def probabilities_model(model, ten_crop=False):
    """A Keras model from uint8 [batch, size, size, 3] images to `model`'s float32
    probabilities (centre crop, or the paper's 10 crops), in `portable_classifier`'s form."""
    import keras

    class Probabilities(keras.Model):
        def __init__(self, classifier):
            super().__init__(name="probabilities")
            self.classifier = classifier

        def call(self, images):
            return self.classifier.probabilities(images, ten_crop)

    return Probabilities(portable_classifier(model))


def export_portable(model, folder, fmt, wnids, names=None, ten_crop=False):
    """Writes `model` (a `Classifier`) to `folder` in `fmt` ("litert" or "onnx", see the
    module docstring) with its class list; returns the artifact's path."""
    if fmt not in FILES:
        raise ValueError(f"--format {fmt}: not a portable format ({', '.join(FILES)})")
    if model.num_classes != len(wnids):
        raise ValueError(f"the model has {model.num_classes} classes but {len(wnids)} "
                         f"class names were given")
    check_installed(fmt)
    import tensorflow as tf

    from alexnet_tf import data
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, FILES[fmt])
    size = model.image_size  # the stored size the Classifier takes: 256 for the paper
    spec = [tf.TensorSpec([None, size, size, 3], tf.uint8, name="images")]
    wrapped = probabilities_model(model, ten_crop)
    wrapped(tf.zeros([1, *spec[0].shape[1:]], tf.uint8))  # Keras exports built models only
    if fmt == "litert":
        # Built-in ops only: a file that needs TF's "flex" ops fails in the plain runtime.
        wrapped.export(path, format="litert", input_signature=spec, verbose=False,
                       target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]})
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # tf2onnx's NumPy shims
            wrapped.export(path, format="onnx", input_signature=spec, verbose=False)
        _name_onnx_output(path, "probabilities")
    data.write_classes(os.path.join(folder, CLASSES_FILE), wnids, names)
    return path


def _name_onnx_output(path, name):
    """Renames the ONNX graph's one output (tf2onnx calls it "Identity:0") to `name`."""
    import onnx
    graph_model = onnx.load(path)
    old = graph_model.graph.output[0].name
    for node in graph_model.graph.node:
        node.output[:] = [name if out == old else out for out in node.output]
    graph_model.graph.output[0].name = name
    onnx.save(graph_model, path)


def artifact(folder):
    """`(format, path)` of the export in `folder`: a serving SavedModel (or a training
    workdir's), `model.tflite` or `model.onnx`; None if it holds none."""
    from alexnet_tf.rundir import saved_model_folder
    saved = saved_model_folder(folder)
    if saved is not None:
        return "tf_saved_model", saved
    for fmt, name in FILES.items():
        if os.path.isfile(os.path.join(folder, name)):
            return fmt, os.path.join(folder, name)
    return None


def load(folder, threads=None):
    """`(format, predict)` for the export in `folder` (`artifact`), loaded by its own
    runtime; `predict(images)` maps uint8 [n, size, size, 3] images (NumPy) to
    float32 [n, classes] probabilities. `threads`: the LiteRT and ONNX Runtime thread
    count (default: every CPU, as TensorFlow uses). LiteRT gets an interpreter per batch
    size (resizing one interpreter reallocates its tensors)."""
    found = artifact(folder)
    if found is None:
        raise FileNotFoundError(f"--model {folder}: not a SavedModel folder, a training "
                                f"workdir or a folder with {' or '.join(FILES.values())}")
    fmt, path = found
    check_installed(fmt)
    try:
        return fmt, _predictor(fmt, path, threads or os.cpu_count(), folder)
    except Exception as e:  # each runtime has its own errors for a damaged file
        if str(e).startswith("--model "):  # ours
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ValueError(f"--model {folder}: {os.path.basename(path)} does not load in "
                         f"its runtime ({fmt}): {first}") from None


def _predictor(fmt, path, threads, folder):
    """`predict` of `load` for the `fmt` file at `path`; raises the runtime's own error
    for a file it cannot read."""
    if fmt == "tf_saved_model":
        import tensorflow as tf
        loaded = tf.saved_model.load(path)
        if "serve_images" not in loaded.signatures:
            raise ValueError(f"--model {folder}: no serve_images signature")
        serve = loaded.signatures["serve_images"]
        return lambda images: serve(images=tf.cast(images, tf.float32))[
            "probabilities"].numpy()
    if fmt == "litert":
        from ai_edge_litert.interpreter import Interpreter
        Interpreter(model_path=path, num_threads=threads)  # a damaged file fails here
        interpreters = {}  # one per input shape, as a server keeps one per batch size

        def predict(images):
            if images.shape not in interpreters:
                interpreter = Interpreter(model_path=path, num_threads=threads)
                interpreter.resize_tensor_input(
                    interpreter.get_input_details()[0]["index"], images.shape)
                interpreter.allocate_tensors()
                interpreters[images.shape] = interpreter
            interpreter = interpreters[images.shape]
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], images)
            interpreter.invoke()
            return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        return predict
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    # No spinning between calls: its threads would hold the cores while another runtime
    # of the same process (benchmark.formats_benchmark) is timed.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda images: session.run(None, {name: images})[0]
