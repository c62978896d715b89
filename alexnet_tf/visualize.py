"""Pictures of the network: the conv1 kernels as an image grid (the paper's Fig. 3), and
the paper's Fig. 4 (top-5 predictions; nearest neighbours in feature space) as PNG files.
matplotlib is imported only by the functions that plot."""
import os

import numpy as np
import tensorflow as tf

from alexnet_tf import data, features


def conv1_grid(model, per_row=16, gap=1, zoom=1):
    """The conv1 kernels of a `Classifier` as one uint8 RGB image, tower by tower: with two
    towers, tower a's 48 kernels in the top three rows and tower b's 48 below (as in
    Fig. 3), `per_row` per row (fewer if a tower has fewer). Each kernel is
    contrast-stretched to 0..255 on its own; towers are separated by a wider gap. Each
    pixel is repeated `zoom` x `zoom` times (nearest neighbour: 11x11 kernels are hard to
    see at their own size)."""
    towers = model.conv1_kernels()  # each [kh, kw, 3, n]
    kh, kw = towers[0].shape[:2]
    per_row = min(per_row, max(k.shape[-1] for k in towers))
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
    return _zoom(np.concatenate(out, axis=0), zoom)


def _zoom(array, zoom):
    """Each pixel of an HxWxC array repeated `zoom` x `zoom` times."""
    return np.repeat(np.repeat(array, zoom, axis=0), zoom, axis=1)


def save_png(array, path, zoom=1):
    """Writes a uint8 HxWx3 array as PNG, each pixel repeated `zoom` x `zoom` times."""
    tf.io.write_file(str(path), tf.io.encode_png(_zoom(array, zoom)))


def plot_predictions(images, probabilities, labels, names, path, columns=4):
    """The paper's Fig. 4 (left): each test image with its five most probable labels as
    bars; the true label's bar is red when it is among them, and the true label is written
    under the image."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    rows = -(-n // columns)
    fig, axes = plt.subplots(2 * rows, columns, figsize=(3 * columns, 4.6 * rows),
                             gridspec_kw={"height_ratios": [3, 1.6] * rows})
    axes = np.asarray(axes).reshape(2 * rows, columns)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, columns)
        axes[2 * r, c].imshow(images[i])
        axes[2 * r, c].set_title(names[labels[i]], fontsize=9)
        top = np.argsort(-probabilities[i])[:5]
        bar = axes[2 * r + 1, c]
        bar.axis("on")
        bar.barh(range(len(top))[::-1], probabilities[i][top],
                 color=["red" if t == labels[i] else "tab:blue" for t in top])
        bar.set_yticks(range(len(top))[::-1], [names[t][:22] for t in top], fontsize=7)
        bar.set_xlim(0, 1)
        bar.tick_params(axis="x", labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_neighbours(queries, neighbours, path):
    """The paper's Fig. 4 (right): each query image (first column) followed by the
    training images whose features are nearest to it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = len(queries), 1 + len(neighbours[0])
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for r in range(rows):
        for c, image in enumerate([queries[r], *neighbours[r]]):
            axes[r, c].imshow(image)
            axes[r, c].axis("off")
    axes[0, 0].set_title("query", fontsize=8)
    for c in range(1, cols):
        axes[0, c].set_title(f"#{c}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def make_figures(run, data_pattern, classes, output_dir, train_pattern=None, num=8,
                 neighbours=6, batch_size=64, log=print, skip_bad=False, data_dir=None):
    """Writes the paper's figures for a trained model to `output_dir`:
    `conv1_kernels.png` (Fig. 3), `predictions.png` (Fig. 4 left: the first `num` images of
    `data_pattern` with their top-5), and, given `train_pattern`, `neighbours.png` (Fig. 4
    right: those images and the `neighbours` training images nearest in fc7 space). Both
    paths are TFRecord globs, `<class>/<image>` folders or `tfds:NAME[:SPLIT]` (NAME looked
    up in `data_dir`; split `validation` for `data_pattern`, `train` for `train_pattern` by
    default): see `data.read_path` (`skip_bad` leaves out a folder's files that are not
    images). Class names: the run's, else those of `classes` or the data
    (`data.path_classes`)."""
    os.makedirs(output_dir, exist_ok=True)
    model, names = run.model, run.names
    if names is None:
        names = data.path_classes(data_pattern, classes, data_dir)[1]
    save_png(conv1_grid(model), os.path.join(output_dir, "conv1_kernels.png"), zoom=4)
    images, labels = next(data.read_path(data_pattern, classes, num, skip_bad, data_dir))
    probs = model.probabilities(images).numpy()
    plot_predictions(images.numpy(), probs, labels.numpy(), names,
                     os.path.join(output_dir, "predictions.png"))
    written = ["conv1_kernels.png", "predictions.png"]
    if train_pattern:
        log(f"extracting fc7 features of {train_pattern} ...")
        def train():
            return data.read_path(train_pattern, classes, batch_size, skip_bad, data_dir,
                                  default_split="train")
        db, _ = features.extract(model, train())
        queries, _ = features.extract(model, [(images, labels)])
        index, _ = features.nearest(db, queries, neighbours)
        wanted = set(index.ravel().tolist())
        found, position = {}, 0
        for batch, _ in train():  # fetch the neighbour images by their position
            for j in range(len(batch)):
                if position + j in wanted:
                    found[position + j] = batch[j].numpy()
            position += len(batch)
        plot_neighbours(images.numpy(), [[found[j] for j in row] for row in index],
                        os.path.join(output_dir, "neighbours.png"))
        written.append("neighbours.png")
    return [os.path.join(output_dir, w) for w in written]
