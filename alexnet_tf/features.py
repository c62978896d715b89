"""The network's 4096-d image features and image retrieval with them (Sec. 6.1, Fig. 4);
how much the response normalization normalizes on real images (`lrn_denominators`).

"If two images produce feature activation vectors with a small Euclidean separation, we can
say that the higher levels of the neural network consider them to be similar": the
features are the fc7 activations (after its ReLU, dropout off) of the centre crop.
"""
import numpy as np
import tensorflow as tf


def extract(model, dataset, layer="fc7", progress=None):
    """Activations of `layer` of a `Classifier`'s network for every image of `dataset`
    (batches of uint8 images and labels), centre crop, in dataset order. Returns
    `(features float32 [n, d], labels int32 [n])`."""
    extractor = model.feature_model(layer)
    features, labels = [], []
    for images, y in dataset:
        features.append(extractor(images, training=False).numpy())
        labels.append(np.asarray(y))
        if progress:
            progress(sum(len(f) for f in features))
    if not features:
        raise ValueError("the dataset is empty")
    return np.concatenate(features).astype(np.float32), np.concatenate(labels).astype(np.int32)


def nearest(database, queries, k=6, chunk=1024):
    """Indices `[len(queries), k]` of the `k` rows of `database` with the smallest
    Euclidean distance to each query, nearest first; and those distances."""
    db = tf.constant(database, tf.float32)
    db_sq = tf.reduce_sum(db * db, axis=1)
    k = min(k, len(database))
    indices, distances = [], []
    for start in range(0, len(queries), chunk):
        q = tf.constant(queries[start:start + chunk], tf.float32)
        sq = tf.reduce_sum(q * q, axis=1, keepdims=True) + db_sq[None] - 2 * tf.matmul(
            q, db, transpose_b=True)
        top = tf.math.top_k(-sq, k)
        indices.append(top.indices.numpy())
        distances.append(np.sqrt(np.maximum(-top.values.numpy(), 0)))
    return np.concatenate(indices), np.concatenate(distances)


def lrn_denominators(model, dataset, max_images=None, samples_per_batch=20_000, seed=0,
                     progress=None):
    """How far each response-normalization layer of a `Classifier`'s network departs from
    a constant scale on `dataset`'s images (batches of uint8 images and labels; centre
    crop, dropout off). The layer divides every activation by
    `d = (k + alpha * sum of squares) ** beta`, at least `k ** beta` (1.68 with the
    paper's k=2, beta=0.75); where `d / k ** beta` stays near 1 the layer only scales by
    a constant and normalizes nothing, as happens when activations are small against
    `sqrt(k / alpha)` (inputs scaled down, say).

    Returns `{layer name: stats}` in network order, stats being `k_beta` and, of
    `d / k ** beta` over every activation of up to `max_images` images, `median`, `p99`,
    `p999` (99th and 99.9th percentiles, from `samples_per_batch` activations drawn per
    batch with `seed`), the exact `max`, `above_1pct` (the share of activations divided
    by more than 1.01 k ** beta) and `activations` (how many were measured)."""
    import keras

    from alexnet_tf.layers import LocalResponseNormalization
    layers = [l for l in model.net.layers if isinstance(l, LocalResponseNormalization)]
    if not layers:
        raise ValueError("the network has no response-normalization layer (trained with "
                         "model.lrn=False)")
    inputs = keras.Model(model.net.input, [l.input for l in layers])
    rng = np.random.default_rng(seed)
    samples = {l.name: [] for l in layers}
    top = {l.name: 1.0 for l in layers}
    above = {l.name: 0 for l in layers}
    count = {l.name: 0 for l in layers}
    n = 0
    for images, _ in dataset:
        if max_images is not None:
            images = images[:max_images - n]
        x = model.preprocess(images, training=False)
        for layer, a in zip(layers, inputs(x, training=False)):
            ratio = (layer.denominator(a) / layer.k ** layer.beta).numpy().ravel()
            samples[layer.name].append(rng.choice(ratio, min(samples_per_batch, ratio.size),
                                                  replace=False))
            top[layer.name] = max(top[layer.name], float(ratio.max()))
            above[layer.name] += int(np.count_nonzero(ratio > 1.01))
            count[layer.name] += ratio.size
        n += int(images.shape[0])
        if progress:
            progress(n)
        if max_images is not None and n >= max_images:
            break
    if n == 0:
        raise ValueError("the dataset is empty")
    out = {}
    for layer in layers:
        values = np.concatenate(samples[layer.name])
        median, p99, p999 = np.percentile(values, [50, 99, 99.9])
        out[layer.name] = {"k_beta": layer.k ** layer.beta, "median": float(median),
                           "p99": float(p99), "p999": float(p999), "max": top[layer.name],
                           "above_1pct": above[layer.name] / count[layer.name],
                           "activations": count[layer.name], "images": n}
    return out
