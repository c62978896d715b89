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
[batch, k], `top5_probabilities` float32 [batch, k] (k = min(5, classes)) and
`probabilities` float32 [batch, classes]. Empty or undecodable bytes fail with an error that says so.

A SavedModel is a program: load one only from a source you trust (Keras `.keras` files,
by contrast, are loaded here in Keras' safe mode, which runs no code from the file).

The run layout (`save_run`, `load_run`): a training workdir, or the output of
`tools/import_caffe.py`, holds

    DIR/model.keras      the `Classifier` (uint8 256x256 images -> logits)
    DIR/classes.txt      its classes (wnid and name), index = line - 1
    DIR/saved_model/     the serving SavedModel
"""
import dataclasses
import os

import keras
import tensorflow as tf

from alexnet_tf import classifier, data
from alexnet_tf.data import IMAGE_SIGNATURES, IMAGE_SIZE, error_reason, resize_and_crop
from alexnet_tf.distribute import compute_path

MODEL, CLASSES, SAVED_MODEL = "model.keras", "classes.txt", "saved_model"


def _decode_checked(encoded):
    empty = tf.debugging.Assert(tf.strings.length(encoded) > 0, ["image bytes are empty"])
    known = tf.reduce_any([tf.strings.substr(encoded, 0, len(signature)) == signature
                           for signatures in IMAGE_SIGNATURES.values()
                           for signature in signatures])
    with tf.control_dependencies([empty]):
        not_image = tf.debugging.Assert(
            known, ["not a JPEG, PNG, GIF or BMP image; first bytes:",
                    tf.strings.substr(encoded, 0, 8)])
    with tf.control_dependencies([not_image]):  # checks first, then the decoder's errors
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return resize_and_crop(image, IMAGE_SIZE)


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
    wnid_table = tf.constant(list(wnids))
    name_table = tf.constant(names)
    k = min(5, len(wnids))

    def classify(images_256):  # uint8 [batch, 256, 256, 3]
        probs = model.probabilities(images_256, ten_crop)
        top = tf.math.top_k(probs, k)
        return {"top5_indices": top.indices, "top5_wnids": tf.gather(wnid_table, top.indices),
                "top5_names": tf.gather(name_table, top.indices),
                "top5_probabilities": top.values, "probabilities": probs}

    def serve_bytes(images):
        batch = tf.map_fn(_decode_checked, images,
                          fn_output_signature=tf.TensorSpec([IMAGE_SIZE, IMAGE_SIZE, 3],
                                                            tf.uint8))
        return classify(batch)

    def serve_images(images):
        rgb = tf.cast(tf.clip_by_value(tf.round(images), 0, 255), tf.uint8)
        batch = tf.map_fn(lambda im: resize_and_crop(im, IMAGE_SIZE), rgb,
                          fn_output_signature=tf.TensorSpec([IMAGE_SIZE, IMAGE_SIZE, 3],
                                                            tf.uint8))
        return classify(batch)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", serve_bytes,
                         input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    archive.add_endpoint("serve_images", serve_images,
                         input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32,
                                                        name="images")])
    archive.write_out(path, verbose=False)
    return path


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
    """Writes `model.keras`, `classes.txt` and `saved_model/` of a trained model; the
    SavedModel serves in the precision the model was trained in (the run's
    `config.precision`, by default the machine's fastest)."""
    os.makedirs(directory, exist_ok=True)
    model.save(os.path.join(directory, MODEL))
    data.write_classes(os.path.join(directory, CLASSES), wnids, names)
    export_saved_model(model, os.path.join(directory, SAVED_MODEL), wnids, names,
                       precision=None)


def load_run(path):
    """A `Run` from a run folder or a `.keras` file (its classes from `classes.txt` beside
    it, None if there is none)."""
    path = os.fspath(path)
    if os.path.isdir(path) and os.path.exists(os.path.join(path, MODEL)):
        path = os.path.join(path, MODEL)
    if not path.endswith(".keras") or not os.path.isfile(path):
        raise FileNotFoundError(f"--model {path}: not a .keras file or a training workdir")
    classes = os.path.join(os.path.dirname(path), CLASSES)
    wnids, names = data.read_classes(classes) if os.path.exists(classes) else (None, None)
    return Run(classifier.load(path), wnids, names, path)
