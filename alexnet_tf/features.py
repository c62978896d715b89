"""The network's 4096-d image features and image retrieval with them (Sec. 6.1, Fig. 4).

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
