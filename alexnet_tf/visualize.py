"""Pictures of the network: the conv1 kernels as an image grid (the paper's Fig. 3)."""
import numpy as np


def find_layer(model, name):
    """The layer called `name` in `model` or in a model nested in it (e.g. conv1 of the
    `alexnet` model inside a training model)."""
    for layer in model.layers:
        if layer.name == name:
            return layer
        if hasattr(layer, "layers"):
            try:
                return find_layer(layer, name)
            except ValueError:
                pass
    raise ValueError(f"no layer named {name!r} in model {model.name!r}")


def conv1_grid(model, per_row=16, gap=1):
    """The conv1 kernels as one uint8 RGB image, tower by tower: with two towers, tower a's
    48 kernels in the top three rows and tower b's 48 below (as in Fig. 3). Each kernel is
    contrast-stretched to 0..255 on its own; towers are separated by a wider gap."""
    conv1 = find_layer(model, "conv1")
    towers = [np.asarray(k) for k in conv1.kernels]  # each [kh, kw, 3, n]
    kh, kw = towers[0].shape[:2]
    blocks = []
    for kernels in towers:
        n = kernels.shape[-1]
        rows = -(-n // per_row)
        block = np.zeros((rows * (kh + gap) + gap, per_row * (kw + gap) + gap, 3), np.uint8)
        for i in range(n):
            k = kernels[..., i]
            k = (k - k.min()) / max(k.max() - k.min(), 1e-12)
            r, c = divmod(i, per_row)
            y, x = gap + r * (kh + gap), gap + c * (kw + gap)
            block[y:y + kh, x:x + kw] = np.round(255 * k).astype(np.uint8)
        blocks.append(block)
    separator = np.full((2 * gap, blocks[0].shape[1], 3), 255, np.uint8)
    out = [blocks[0]]
    for block in blocks[1:]:
        out += [separator, block]
    return np.concatenate(out, axis=0)
