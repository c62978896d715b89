"""SavedModel export for serving: encoded image bytes in, top-5 classes out.

The SavedModel needs nothing from `alexnet_tf` to load or run (`tf.saved_model.load`,
`saved_model_cli`, TF Serving). Signatures:

* `serving_default(images: string [batch])`: JPEG/PNG/GIF/BMP bytes of any size. Each is
  decoded to RGB, its shorter side scaled to 256 and the central 256x256 kept (Sec. 2);
  then mean subtraction and the centre 224 crop, or the average of the softmax over the
  paper's 10 crops (Sec. 4.1) if exported with `ten_crop=True`.
* `serve_images(images: float32 [batch, height, width, 3])`: RGB pixel values 0..255, any
  size, preprocessed the same way.

Both return `top5_indices` int32 [batch, 5], `top5_wnids` and `top5_names` string
[batch, 5], `top5_probabilities` float32 [batch, 5] and `probabilities` float32
[batch, classes]. Empty or undecodable bytes fail with an error that says so.
"""
import keras
import tensorflow as tf

from alexnet_tf.data import IMAGE_SIZE, resize_and_crop
from alexnet_tf.evaluate import probabilities


def _decode_checked(encoded):
    empty = tf.debugging.Assert(tf.strings.length(encoded) > 0, ["image bytes are empty"])
    head = tf.strings.substr(encoded, 0, 4)
    known = tf.reduce_any([tf.strings.substr(encoded, 0, 3) == b"\xff\xd8\xff",
                           head == b"\x89PNG", head == b"GIF8",
                           tf.strings.substr(encoded, 0, 2) == b"BM"])
    with tf.control_dependencies([empty]):
        not_image = tf.debugging.Assert(
            known, ["not a JPEG, PNG, GIF or BMP image; first bytes:",
                    tf.strings.substr(encoded, 0, 8)])
    with tf.control_dependencies([not_image]):  # checks first, then the decoder's errors
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return resize_and_crop(image, IMAGE_SIZE)


def error_reason(error):
    """The readable part of a serving error: our assertion's text (e.g. "image bytes are
    empty"), else the decoder's message."""
    for line in error.message.splitlines():
        if "assertion failed:" in line:
            return line.split("assertion failed:", 1)[1].strip().replace("] [", " ").strip("[]")
    lines = [x.strip() for x in error.message.splitlines() if x.strip()]
    useful = [x for x in lines if not x.startswith(("Graph execution error", "Detected at",
                                                    "File ", "[[", "{{", "<stack traces"))]
    return (useful or lines or ["unknown error"])[0].split("}}")[-1].strip()


def export_saved_model(model, path, wnids, names=None, ten_crop=False):
    """Writes a serving SavedModel of a training model (uint8 256x256 images -> logits, as
    `alexnet_tf.train` saves it) to `path`. `wnids`/`names` label the classes; with
    `ten_crop`, predictions average the softmax over the paper's 10 crops."""
    names = list(names or wnids)
    if model.output_shape[-1] != len(wnids):
        raise ValueError(f"the model has {model.output_shape[-1]} classes but {len(wnids)} "
                         f"class names were given")
    wnid_table = tf.constant(list(wnids))
    name_table = tf.constant(names)
    k = min(5, len(wnids))

    def classify(images_256):  # uint8 [batch, 256, 256, 3]
        probs = probabilities(model, images_256, ten_crop)
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
