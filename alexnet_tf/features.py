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


def lrn_layers(model):
    """The response-normalization layers of a `Classifier`'s network, in order."""
    from alexnet_tf.layers import LocalResponseNormalization
    return [l for l in model.net.layers if isinstance(l, LocalResponseNormalization)]


def lrn_denominators(model, dataset, max_images=None, samples_per_image=2_000, seed=0,
                     progress=None):
    """How far each response-normalization layer of a `Classifier`'s network departs from
    a constant scale on `dataset`'s images (batches of uint8 images and labels; centre
    crop, dropout off). The layer divides every activation by
    `d = (k + alpha * sum of squares) ** beta`, at least `k ** beta` (1.68 with the
    paper's k=2, beta=0.75); where `d / k ** beta` stays near 1 the layer only scales by
    a constant and normalizes nothing, as happens when activations are small against
    `sqrt(k / alpha)` (inputs scaled down, say). Only activations that are not 0 count:
    the ReLU's zeros come out 0 whatever the divisor.

    Returns `{layer name: stats}` in network order, stats being `k_beta`, `images` (how
    many were measured, at most `max_images`), `activations` (how many non-zero ones)
    and, of `d / k ** beta` over them, the exact `max` and `above_1pct` (the share above
    1.01) and the `median`, `p99` and `p999` (99th and 99.9th percentiles) of a sample:
    `samples_per_image` positions (pixel x channel) drawn with `seed` for each batch and
    taken from each of its images, the non-zero ones kept, so that every activation is
    equally likely to be in it however the batches are cut."""
    layers = lrn_layers(model)
    if not layers:
        raise ValueError("the network has no response-normalization layer (trained with "
                         "model.lrn=False)")
    import keras
    inputs = keras.Model(model.net.input, [l.input for l in layers])
    rng = np.random.default_rng(seed)
    stats = {l.name: {"samples": [], "max": 1.0, "above": 0, "count": 0} for l in layers}
    n = 0
    for images, _ in dataset:
        if max_images is not None:
            images = images[:max_images - n]
        x = model.preprocess(images, training=False)
        for layer, a in zip(layers, inputs(x, training=False)):
            ratio = (layer.denominator(a) / layer.k ** layer.beta).numpy()
            ratio = ratio.reshape(len(ratio), -1)  # [images, positions x channels]
            a = tf.cast(a, tf.float32).numpy().reshape(ratio.shape)
            s, active = stats[layer.name], a != 0
            s["max"] = max(s["max"], float(ratio[active].max(initial=1.0)))
            s["above"] += int(np.count_nonzero(ratio[active] > 1.01))
            s["count"] += int(np.count_nonzero(active))
            drawn = rng.choice(a.shape[1], min(samples_per_image, a.shape[1]), replace=False)
            s["samples"].append(ratio[:, drawn][active[:, drawn]])
        n += int(images.shape[0])
        if progress:
            progress(n)
        if max_images is not None and n >= max_images:
            break
    if n == 0:
        raise ValueError("the dataset is empty")
    out = {}
    for layer in layers:
        s = stats[layer.name]
        values = np.concatenate(s["samples"])
        if not values.size:
            raise ValueError(f"{layer.name}: every activation was 0 in {n} images")
        median, p99, p999 = np.percentile(values, [50, 99, 99.9])
        out[layer.name] = {"k_beta": layer.k ** layer.beta, "images": n,
                           "activations": s["count"], "median": float(median),
                           "p99": float(p99), "p999": float(p999), "max": s["max"],
                           "above_1pct": s["above"] / s["count"]}
    return out
