"""SavedModel export for serving: encoded image bytes in, top-5 classes out.

The SavedModel needs nothing from `alexnet_tf` to load or run (`tf.saved_model.load`,
`saved_model_cli`, TF Serving). Signatures:

* `serving_default(images: string [batch])`: JPEG/PNG/GIF/BMP bytes of any size. Each is
  decoded to RGB, its shorter side scaled to 256 and the central 256x256 kept (Sec. 2);
  then mean subtraction and the centre 224 crop, or the average of the softmax over the
  paper's 10 crops (Sec. 4.1) if exported with `ten_crop=True`.
* `serve_images(images: float32 [batch, height, width, 3])`: RGB pixel values 0..255, any
  size, preprocessed the same way.

Both return `top5_indices` int32 [batch, k], `top5_wnids` and `top5_names` string
[batch, k], `top5_probabilities` float32 [batch, k] (k = min(5, classes)),
`probabilities` float32 [batch, classes], and per image `status` int32 [batch] and
`error` string [batch]:

    status  error
    0       ""                                  served
    1       "image bytes are empty"
    2       "not a JPEG, PNG, GIF or BMP image" (by its first bytes, `IMAGE_SIGNATURES`)
    3       "could not be decoded (corrupt or truncated image data)"

A bad image does not fail its batch: the others are served as if sent alone, and its own
row is marked: `probabilities` and `top5_probabilities` all 0, `top5_indices` -1,
`top5_wnids` and `top5_names` "". Every decoding error is caught, in the graph (a tf.data
pipeline's `ignore_errors`, no Python). `serve_images` takes pixels, which are never bad:
its `status` is always 0 (the outputs are the same so that one client reads both).

A SavedModel is a program: load one only from a source you trust (Keras `.keras` files,
by contrast, are loaded here in Keras' safe mode, which runs no code from the file).

For runtimes without TensorFlow, `alexnet_tf.portable` writes LiteRT and ONNX files
(decoded uint8 images in, probabilities out).

The run layout (`save_run`, `load_run`): a training workdir, or the output of
`tools/import_caffe.py`, holds the `Classifier` (uint8 256x256 images -> logits), its class
list and the serving SavedModel, at the paths `alexnet_tf.rundir.RunDir` names.
"""
import dataclasses
import os

import keras
import tensorflow as tf

from alexnet_tf import classifier, data
from alexnet_tf.data import IMAGE_SIGNATURES, IMAGE_SIZE, error_reason, resize_and_crop
from alexnet_tf.distribute import compute_path
from alexnet_tf.rundir import RunDir, classes_beside, model_beside, saved_model_folder  # noqa: F401


# `serving_default`'s per-image `status` codes; `error` is ERRORS[status].
OK, EMPTY, NOT_AN_IMAGE, UNDECODABLE = 0, 1, 2, 3
ERRORS = ("", "image bytes are empty", "not a JPEG, PNG, GIF or BMP image",
          "could not be decoded (corrupt or truncated image data)")


def decode_batch(images, size=IMAGE_SIZE):
    """Decodes, resizes and crops each of `images` (string [n]) that can be. Returns the
    uint8 [m, size, size, 3] images that decoded (size: the model's stored size, 256 for
    the paper), their int32 [m] positions in `images`,
    and the int32 [n] status of every image (`OK` or why not). Never raises for a bad
    image."""
    n = tf.shape(images)[0]
    known = tf.reduce_any([tf.strings.substr(images, 0, len(signature)) == signature
                           for signatures in IMAGE_SIGNATURES.values()
                           for signature in signatures], axis=0)
    status = tf.where(tf.strings.length(images) == 0, EMPTY,
                      tf.where(known, OK, NOT_AN_IMAGE))
    candidates = tf.cast(tf.where(status == OK)[:, 0], tf.int32)

    def decode(index, encoded):
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        return index, resize_and_crop(image, size)

    # No graph op can catch another op's error, and a file with a valid signature can
    # still be truncated or corrupt (the decoders raise on it). A tf.data pipeline can:
    # `ignore_errors` drops the elements whose decoding raised, and the positions carried
    # along tell which ones did. Pure graph ops (no Python), so the SavedModel still
    # loads and serves without alexnet_tf.
    options = tf.data.Options()
    # A pipeline per request: its tuning thread would only log its cancellation, and
    # tf.data's graph rewrites cost more than they save (measured: 30 -> 21 ms a call).
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    decoded = (tf.data.Dataset.from_tensor_slices((candidates, tf.gather(images, candidates)))
               .map(decode, num_parallel_calls=tf.data.AUTOTUNE)
               .ignore_errors()
               .batch(tf.cast(tf.maximum(n, 1), tf.int64))  # one batch, or none
               .with_options(options))
    index, batch = decoded.reduce(
        (tf.zeros([0], tf.int32), tf.zeros([0, size, size, 3], tf.uint8)),
        lambda state, b: (tf.concat([state[0], b[0]], 0), tf.concat([state[1], b[1]], 0)))
    decoded_mask = tf.scatter_nd(index[:, None], tf.ones_like(index), [n]) > 0
    status = tf.where((status == OK) & ~decoded_mask, UNDECODABLE, status)
    return batch, index, status


def export_saved_model(model, path, wnids, names=None, ten_crop=False, precision="auto"):
    """Writes a serving SavedModel of a `Classifier` to `path`. `wnids`/`names` label the
    classes; with `ten_crop`, predictions average the softmax over the paper's 10
    crops. `precision`: the Keras policy the network serves in; "auto" is this
    machine's fastest (`distribute.compute_path`: mixed_bfloat16 on CPUs with bfloat16
    instructions), None the model's own. In bfloat16 the probabilities differ from
    float32 by rounding only (the tests bound it: 0.02 absolute)."""
    if precision is not None:
        if precision == "auto":
            precision = compute_path().precision
        model = model.with_precision(precision)
    names = list(names or wnids)
    if model.num_classes != len(wnids):
        raise ValueError(f"the model has {model.num_classes} classes but {len(wnids)} "
                         f"class names were given")
    # Index -1 (an image that was not served) looks up "" in front of the classes.
    wnid_table = tf.constant([""] + list(wnids))
    name_table = tf.constant([""] + names)
    error_table = tf.constant(ERRORS)
    k = min(5, len(wnids))
    size = model.image_size  # the stored size the model takes (256; CIFAR-10: 32)

    def outputs(probs, status):  # float32 [batch, classes] (zeros where status != OK)
        top = tf.math.top_k(probs, k)
        served = (status == OK)[:, None]
        indices = tf.where(served, top.indices, -1)
        return {"top5_indices": indices, "top5_wnids": tf.gather(wnid_table, indices + 1),
                "top5_names": tf.gather(name_table, indices + 1),
                "top5_probabilities": tf.where(served, top.values, 0.0),
                "probabilities": probs, "status": status,
                "error": tf.gather(error_table, status)}

    def serve_bytes(images):
        batch, index, status = decode_batch(images, size)
        no_probs = tf.zeros([tf.shape(images)[0], len(wnids)])
        # The network sees the images that decoded only, and none if none did (its
        # grouped convolutions fail on an empty batch).
        probs = tf.cond(tf.size(index) > 0,
                        lambda: tf.tensor_scatter_nd_update(
                            no_probs, index[:, None], model.probabilities(batch, ten_crop)),
                        lambda: no_probs)
        return outputs(probs, status)

    def serve_images(images):
        rgb = tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)
        batch = tf.map_fn(lambda im: resize_and_crop(im, size), rgb,
                          fn_output_signature=tf.TensorSpec([size, size, 3], tf.uint8))
        # Pixels cannot be undecodable: every image is served, status OK (the outputs
        # are serving_default's, so one client code reads both).
        return outputs(model.probabilities(batch, ten_crop),
                       tf.fill([tf.shape(images)[0]], OK))

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve_bytes,
                         input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    archive.add_endpoint("serve_images", serve_images,
                         input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                                        name="images")])
    archive.write_out(path, verbose=False)
    return path


def classify_encoded(serve, encoded):
    """`(error, top5 rows)` per image of `encoded` (bytes) from a serving signature
    (`serving_default` of `export_saved_model`): error None and the rows `(probability,
    wnid, name)` for a served image, else the reason and no rows. All images go in one
    call."""
    if "status" not in serve.structured_outputs:
        # Exported before per-image status: there one bad image fails its whole batch,
        # so each image goes alone to tell which ones are bad.
        results = []
        for one in encoded:
            try:
                results.extend(_classify_batch(serve, [one]))
            except tf.errors.InvalidArgumentError as e:
                results.append((error_reason(e), []))
        return results
    return _classify_batch(serve, encoded)


def _classify_batch(serve, encoded):
    """`classify_encoded`'s results from one call of `serve` with all of `encoded`."""
    out = {k: v.numpy() for k, v in serve(images=tf.constant(encoded)).items()}
    results = []
    for i in range(len(encoded)):
        if "status" in out and out["status"][i] != 0:
            results.append((out["error"][i].decode(), []))
            continue
        results.append((None, list(zip(out["top5_probabilities"][i],
                                       [w.decode() for w in out["top5_wnids"][i]],
                                       [n.decode() for n in out["top5_names"][i]]))))
    return results


def predict_files(serve, files, batch_size=32):
    """`(file, error, top5 rows)` for each of `files`, in order, as `classify_encoded`
    gives them, `batch_size` files per call of `serve`; a file that cannot be read gets
    "cannot read: <reason>"."""
    for start in range(0, len(files), batch_size):
        names, encoded, results = [], [], {}
        for name in files[start:start + batch_size]:
            try:
                with open(name, "rb") as f:
                    encoded.append(f.read())
                names.append(name)
            except OSError as e:
                results[name] = (f"cannot read: {e.strerror}", [])
        results.update(zip(names, classify_encoded(serve, encoded) if encoded else []))
        for name in files[start:start + batch_size]:
            yield (name, *results[name])


@dataclasses.dataclass
class Run:
    """A trained `Classifier` with its classes, as a run folder holds it."""
    model: classifier.Classifier
    wnids: list
    names: list
    source: str

    @property
    def num_classes(self):
        return self.model.num_classes

    def probabilities(self, images, ten_crop=False):
        return self.model.probabilities(images, ten_crop)


def save_run(directory, model, wnids, names=None):
    """Writes the trained model, its class list and its serving SavedModel to the workdir
    `directory` (`alexnet_tf.rundir`); the SavedModel serves in the precision the model
    was trained in (the run's `config.precision`, by default the machine's fastest)."""
    run = RunDir(directory).makedirs()
    model.save(run.model)
    data.write_classes(run.classes, wnids, names)
    export_saved_model(model, run.saved_model, wnids, names, precision=None)


def load_run(path):
    """A `Run` from a training workdir or a `.keras` file (its classes from the class list
    beside it, None if there is none)."""
    path = model_beside(os.fspath(path))
    if not path.endswith(".keras") or not os.path.isfile(path):
        raise FileNotFoundError(f"--model {path}: not a .keras file or a training workdir")
    classes = classes_beside(path)
    wnids, names = data.read_classes(classes) if os.path.exists(classes) else (None, None)
    return Run(classifier.load(path), wnids, names, path)
