"""A procedural image-classification dataset the package makes itself, so AlexNet can be
trained end to end on a machine with no data and no network.

Each class is a kind of shape or texture (`KINDS`), drawn with random colours, size,
position, orientation and background noise, so the class is in the form, not the colour.
`make_dataset` writes the images as JPEG files in `<class>/` folders and builds them into
TFRecords with the same builder as ImageNet (`alexnet_tf.build`).
"""
import json
import os

import numpy as np
import tensorflow as tf

from alexnet_tf.build import build
from alexnet_tf.data import IMAGE_SIZE

KINDS = ("disc", "square", "triangle", "ring", "cross", "stripes", "checkerboard", "dots")
SIZE = IMAGE_SIZE  # rendered at the stored size, so the builder keeps them as they are


def render(kind, rng, size=SIZE):
    """One uint8 `size` x `size` RGB image of `kind`."""
    y, x = (np.mgrid[0:size, 0:size] + 0.5) / size
    background, colour = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    while np.abs(colour - background).sum() < 150:  # keep the figure visible
        colour = rng.uniform(0, 255, 3)
    cy, cx = rng.uniform(0.35, 0.65, 2)
    r = rng.uniform(0.15, 0.3)
    angle = rng.uniform(0, np.pi)
    # Coordinates relative to the centre, rotated by `angle`.
    u = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
    v = -(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
    d = np.hypot(x - cx, y - cy)
    if kind == "disc":
        mask = d < r
    elif kind == "square":
        mask = (np.abs(u) < r * 0.8) & (np.abs(v) < r * 0.8)
    elif kind == "triangle":
        mask = (v > -r * 0.5) & (v - np.sqrt(3) * u < r) & (v + np.sqrt(3) * u < r)
    elif kind == "ring":
        mask = (d < r) & (d > r * 0.6)
    elif kind == "cross":
        mask = ((np.abs(u) < r * 0.25) | (np.abs(v) < r * 0.25)) & (np.maximum(
            np.abs(u), np.abs(v)) < r)
    elif kind == "stripes":
        mask = np.sin(u * 2 * np.pi * rng.uniform(5, 9)) > 0
    elif kind == "checkerboard":
        f = rng.uniform(4, 7)
        mask = (np.sin(u * 2 * np.pi * f) > 0) ^ (np.sin(v * 2 * np.pi * f) > 0)
    elif kind == "dots":
        f = rng.uniform(5, 8)
        mask = np.hypot(((u * f) % 1) - 0.5, ((v * f) % 1) - 0.5) < 0.25
    else:
        raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(KINDS)}")
    image = np.where(mask[..., None], colour, background)
    image = image + rng.normal(0, rng.uniform(5, 25), image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def make_dataset(folder, classes=len(KINDS), train_per_class=200, val_per_class=50, seed=0,
                 quality=90, image_size=SIZE):
    """Writes `folder/images/{train,validation}/<kind>/*.jpg` and TFRecords
    `folder/{train,validation}-*` (with manifests and class lists), unless they are
    already there from an earlier call with the same arguments. Images are rendered and
    stored at `image_size` (the stored size, config.data.image_size). Returns `folder`."""
    if not 2 <= classes <= len(KINDS):
        raise ValueError(f"generated data has 2 to {len(KINDS)} classes, got {classes}")
    spec = {"classes": classes, "train_per_class": train_per_class,
            "val_per_class": val_per_class, "seed": seed, "quality": quality}
    if image_size != SIZE:  # recorded only when not the default: older folders still match
        spec["image_size"] = image_size
    done = os.path.join(folder, "generated.json")
    if os.path.exists(done):
        with open(done) as f:
            if json.load(f) == spec:
                return folder
        raise ValueError(f"{folder} holds a generated dataset made with other settings; "
                         f"use another folder")
    rng = np.random.default_rng(seed)
    for split, n in (("train", train_per_class), ("validation", val_per_class)):
        for kind in KINDS[:classes]:
            out = os.path.join(folder, "images", split, kind)
            os.makedirs(out, exist_ok=True)
            for i in range(n):
                jpeg = tf.io.encode_jpeg(render(kind, rng, image_size),
                                         quality=quality).numpy()
                with open(os.path.join(out, f"{kind}_{i:05d}.jpg"), "wb") as f:
                    f.write(jpeg)
        build(os.path.join(folder, "images", split), folder, split, progress=False,
              shards=max(1, min(8, n * classes // 256)), seed=seed, image_size=image_size)
    with open(done, "w") as f:
        json.dump(spec, f)
    return folder
