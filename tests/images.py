"""Generates small image trees for tests, with every kind of odd file the builder meets."""
import io
import os

import numpy as np
from PIL import Image


def image_array(seed, height=40, width=60):
    """A smooth random colour image (JPEG-friendly, so decoded values stay close)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [rng.uniform(40, 200) + rng.uniform(-50, 50) * np.sin(6 * x + rng.uniform(0, 6))
                + rng.uniform(-50, 50) * np.cos(5 * y) for _ in range(3)]
    return np.clip(np.stack(channels, -1), 0, 255).astype("uint8")


def encode(array, fmt="JPEG", mode=None, quality=95):
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buf.getvalue()


ODD_FILES = {
    # name: (bytes maker, what the builder should do)
    "cmyk.JPEG": (lambda s: encode(image_array(s), mode="CMYK"), "cmyk"),
    "png_named_jpeg.JPEG": (lambda s: encode(image_array(s), "PNG"), "png"),
    "gray.JPEG": (lambda s: encode(image_array(s), mode="L"), "grayscale"),
    "rgba.png": (lambda s: encode(image_array(s), "PNG", mode="RGBA"), "alpha"),
    "truncated.JPEG": (lambda s: encode(image_array(s, 120, 160))[:600], "skip"),
    "empty.JPEG": (lambda s: b"", "skip"),
    "notes.txt": (lambda s: b"not an image\n", "skip"),
}


def write_tree(root, classes=("n00000001", "n00000002"), per_class=5, odd=True, sizes=None):
    """Writes `root/<class>/*.JPEG` RGB JPEGs (of varied sizes) and, with `odd`, one of each
    odd file into the first class. Returns {relative name: expected outcome}."""
    expected = {}
    sizes = sizes or [(40, 60), (64, 48), (300, 200), (33, 90), (128, 128)]
    for c, wnid in enumerate(classes):
        os.makedirs(os.path.join(root, wnid), exist_ok=True)
        for i in range(per_class):
            h, w = sizes[i % len(sizes)]
            name = f"{wnid}_{i}.JPEG"
            with open(os.path.join(root, wnid, name), "wb") as f:
                f.write(encode(image_array(100 * c + i, h, w)))
            expected[f"{wnid}/{name}"] = "ok"
    if odd:
        for j, (name, (make, outcome)) in enumerate(ODD_FILES.items()):
            with open(os.path.join(root, classes[0], name), "wb") as f:
                f.write(make(1000 + j))
            expected[f"{classes[0]}/{name}"] = outcome
    return expected
