"""AlexNet: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep
Convolutional Neural Networks", NIPS 2012. The whole network is `alexnet()` below.
"""
import keras

from alexnet_tf.cuda_convnet import CUDA_CONVNET  # noqa: F401 (model.CUDA_CONVNET for readers)
from alexnet_tf.layers import LRN_DEFAULTS, LocalResponseNormalization, TowerConv2D


def alexnet(
    num_classes=1000,                     # Sec. 3.5: fc8 feeds a 1000-way softmax
    image_size=224,                       # Sec. 2: the net sees 224x224x3 crops
    conv1_padding=2,                      # 224 + 2*2 gives the 55x55 conv1 maps of Fig. 2
    filters=(96, 256, 384, 384, 256),     # Sec. 3.5: kernels in conv1..conv5
    fc_units=4096,                        # Sec. 3.5: neurons in fc6 and fc7
    towers=2,                             # Sec. 3.2: the net is split over two GPUs
    devices=None,                         # Sec. 3.2: one device per tower, e.g. two GPUs
    activation="relu",                    # Sec. 3.1: ReLU (Fig. 1 compares "tanh")
    lrn=True,                             # Sec. 3.3: response normalization after conv1, conv2
    lrn_size=LRN_DEFAULTS["size"], lrn_k=LRN_DEFAULTS["k"],  # Sec. 3.3: n, k, alpha, beta:
    lrn_alpha=LRN_DEFAULTS["alpha"], lrn_beta=LRN_DEFAULTS["beta"],  # the layer's defaults
    lrn_alpha_over_size=LRN_DEFAULTS["alpha_over_size"],  # Sec. 3.3: alpha as is
    lrn_per_tower=True,                   # Sec. 3.2: each GPU normalized its own maps
    pool_size=3, pool_stride=2,           # Sec. 3.4: overlapping pooling, z=3, s=2
    dropout=0.5,                          # Sec. 4.2: dropout in fc6 and fc7
    initializer="paper",                  # Sec. 5: N(0, 0.01) weights, biases 1 or 0
    init_std=0.01,                        # Sec. 5: the weights' standard deviation
    init_bias=1.0,                        # Sec. 5: the "1" of conv2/4/5 and fc6/7 biases
    conv1_init_std=None,                  # None: as `initializer` (see below)
    input_downsample=1,                   # not in the paper: cheaper studies (see below)
    name="alexnet",
):
    """Builds the paper's AlexNet as a functional `keras.Model`.

    conv1 (96, 11x11/4) -> ReLU -> lrn1 -> pool1 -> conv2 (256, 5x5, towers) -> ReLU ->
    lrn2 -> pool2 -> conv3 (384, 3x3, sees both towers) -> ReLU -> conv4 (384, 3x3,
    towers) -> ReLU -> conv5 (256, 3x3, towers) -> ReLU -> pool5 -> fc6 (4096) -> ReLU ->
    dropout6 -> fc7 (4096) -> ReLU -> dropout7 -> fc8 (`num_classes`).

    With the defaults the model has 60,965,224 parameters and its maps are 55x55 (conv1),
    27x27 (pool1, conv2), 13x13 (pool2, conv3..conv5) and 6x6 (pool5).

    Departures from the paper, and choices the paper leaves open:

    * **Input size.** The paper says 224x224 inputs and 55x55 conv1 maps, which do not
      agree for an 11x11 stride-4 "valid" convolution ((224 - 11) / 4 + 1 = 54.25, and
      54x54 maps lead to a 49.4M-parameter net). We pad the 224 input by 2 pixels on
      each side (`conv1_padding=2`), giving 55x55. Caffe's form of the net uses 227x227
      input and no padding: `image_size=227, conv1_padding=0`; both give the same shapes
      after conv1 and the same parameter count.
    * **Output.** fc8 returns **logits** (no softmax) so that training can use a
      numerically stable `from_logits=True` loss; apply `keras.ops.softmax` for the
      paper's class probabilities. Top-k predictions are the same either way.
    * **Dropout.** Keras' dropout scales kept units by 1/(1-rate) while training, where
      the paper multiplies outputs by 0.5 at test time: the same expected activations.
    * **Towers.** conv1..conv5 and lrn1/lrn2 are split into `towers` towers
      (`TowerConv2D`, `LocalResponseNormalization(towers=...)`); conv2, conv4 and conv5
      see only their own tower's maps, conv1 and conv3 see all maps (Fig. 2). LRN is done
      per tower, as the paper's implementation did. With `devices`, each tower's
      convolutions and normalizations run on its own device; pooling and fc6..fc8 (which
      see both towers) are not split and run on the default device, where the paper
      split the FC neurons between the GPUs too.
    * **Downsampled input** (`input_downsample`, not in the paper; default 1, off). The
      224x224 crop is box-averaged by this factor before conv1, so the same layers see
      a smaller image at a fraction of the cost (2: 112x112, conv1 maps 27x27, pool5
      2x2, fc6 with 1,024 inputs), for ablation studies that would not fit otherwise.
    * **One tower.** `towers=1` builds the paper's one-GPU net (Sec. 5, Table 1): half
      the kernels of `filters` in conv1..conv4, all of them in conv5 and the same FC
      layers; 59,798,312 parameters with the defaults.

    Args:
        num_classes: fc8 width.
        image_size: input height and width.
        conv1_padding: zero pixels added on each side of the input before conv1.
        filters: kernels in conv1..conv5 for the two-tower net.
        fc_units: width of fc6 and fc7.
        towers: 2 (the paper's net) or 1 (its one-GPU net).
        devices: None, or one device name per tower (e.g. `("/GPU:0", "/GPU:1")`).
        activation: "relu" or "tanh", for all conv and hidden FC layers.
        lrn: whether to apply lrn1 and lrn2.
        lrn_size, lrn_k, lrn_alpha, lrn_beta, lrn_alpha_over_size: see
            `LocalResponseNormalization`.
        lrn_per_tower: normalize each tower's maps on their own (the paper's two-GPU net);
            False normalizes across all maps, as Caffe's `bvlc_alexnet` does.
        pool_size, pool_stride: max-pooling window and stride (2, 2 for non-overlapping):
            one number for pool1, pool2 and pool5, or 3 of them, one per layer (at
            112-pixel inputs, 2x2 pool5 would give fc6 2,304 inputs against the
            overlapping 1,024: configs/studies/ablations.py keeps pool5 overlapping).
        dropout: dropout rate after fc6 and fc7 (0 to disable).
        input_downsample: average-pool the input by this factor first (1: the paper).
        conv1_init_std: None, or the standard deviation of conv1's N(0, std) initial
            kernels whatever `initializer` says (with "he" and unit-scale inputs, 0.01
            starts conv1 8 times smaller than He's 0.074, as the paper's conv1 starts:
            then what conv1 learns in a few hundred steps is not drowned by its random
            start, and its kernels show structure within minutes; the demo's setting).
        initializer: "paper": weights N(0, 0.01), biases 1 in conv2, conv4, conv5, fc6
            and fc7 and 0 elsewhere (Sec. 5), for the paper's inputs (0..255 pixels minus
            the mean). "he": He-normal weights (He et al. 2015) and zero biases, for runs
            that stall with the paper's scheme; it expects inputs of about unit scale, so
            scale the pixels too (`PaperAugmentation(scale=1/64)`, config
            `augment.input_scale`). Scaling conv1's weights instead would give the same
            forward pass but a 64^2 times larger effective learning rate in conv1.
        init_std: with `initializer="paper"`, the standard deviation of the N(0, std)
            weights: one number for every layer (the paper's 0.01), or 8, for conv1..conv5
            and fc6..fc8 in that order (configs take the 8: `model.init_std` is a tuple) (cuda-convnet2's ImageNet files use 0.03 in
            conv3..conv5: `configs/studies/recipe.py`). Not in the paper unless 0.01.
        init_bias: with `initializer="paper"`, the constant bias of conv2, conv4, conv5,
            fc6 and fc7 (the paper's 1; Caffe's `bvlc_alexnet` uses 0.1). Not in the
            paper unless 1.
        name: model name.

    Returns:
        A `keras.Model` from float images `(batch, image_size, image_size, 3)`
        (mean-subtracted; see `alexnet_tf.augment`) to logits `(batch, num_classes)`.
    """
    if towers not in (1, 2):
        raise ValueError(f"alexnet: `towers` must be 1 or 2, got {towers!r}.")
    if activation not in ("relu", "tanh"):
        raise ValueError(f"alexnet: `activation` must be 'relu' or 'tanh', got {activation!r}.")
    stds = (init_std,) * 8 if isinstance(init_std, (int, float)) else tuple(init_std)
    if len(stds) != 8 or not all(isinstance(v, (int, float)) and v > 0 for v in stds):
        raise ValueError(f"alexnet: `init_std` must be a positive number or 8 of them "
                         f"(conv1..conv5, fc6..fc8), got {init_std!r}.")
    layer_std = dict(zip(("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"),
                         stds))
    if initializer == "paper":
        def init(layer, bias_one):  # Sec. 5
            return dict(kernel_initializer=keras.initializers.RandomNormal(
                0.0, layer_std[layer]),
                bias_initializer=keras.initializers.Constant(init_bias if bias_one else 0.0))
    elif initializer == "he":
        def init(layer, bias_one):
            return dict(kernel_initializer="he_normal", bias_initializer="zeros")
    else:
        raise ValueError(f"alexnet: `initializer` must be 'paper' or 'he', got {initializer!r}.")
    if len(filters) != 5:
        raise ValueError(f"alexnet: `filters` must give 5 kernel counts, got {filters!r}.")
    if input_downsample not in (1, 2, 3):  # 4 leaves conv5's maps too small to pool
        raise ValueError(f"alexnet: `input_downsample` must be 1, 2 or 3, got "
                         f"{input_downsample!r}.")
    if towers == 1:  # Sec. 5: the one-GPU net halves conv1..conv4, keeps conv5
        filters = (*(f // 2 for f in filters[:4]), filters[4])
    split = dict(towers=towers, devices=devices)

    def lrn_layer(layer_name):
        return LocalResponseNormalization(
            lrn_size, lrn_k, lrn_alpha, lrn_beta, lrn_alpha_over_size, name=layer_name,
            **(split if lrn_per_tower else dict(towers=1, devices=None)))

    def per_pool(value, what):
        values = (value,) * 3 if isinstance(value, int) else tuple(value)
        if len(values) != 3 or not all(isinstance(v, int) and v > 0 for v in values):
            raise ValueError(f"alexnet: `{what}` must be a positive int or 3 of them (pool1, "
                             f"pool2, pool5), got {value!r}.")
        return dict(zip(("pool1", "pool2", "pool5"), values))
    sizes, strides = per_pool(pool_size, "pool_size"), per_pool(pool_stride, "pool_stride")

    def pool(layer_name):
        return keras.layers.MaxPooling2D(sizes[layer_name], strides[layer_name], name=layer_name)

    images = keras.Input((image_size, image_size, 3), name="images")
    x = images
    if input_downsample != 1:
        x = keras.layers.AveragePooling2D(input_downsample, name="downsample")(x)
    conv1_init = init("conv1", False)
    if conv1_init_std is not None:
        conv1_init["kernel_initializer"] = keras.initializers.RandomNormal(0.0, conv1_init_std)
    x = TowerConv2D(filters[0], 11, strides=4, padding=conv1_padding, connected=True,
                    activation=activation, name="conv1", **conv1_init, **split)(x)
    if lrn:
        x = lrn_layer("lrn1")(x)
    x = pool("pool1")(x)
    x = TowerConv2D(filters[1], 5, padding="same", activation=activation,
                    name="conv2", **init("conv2", True), **split)(x)
    if lrn:
        x = lrn_layer("lrn2")(x)
    x = pool("pool2")(x)
    x = TowerConv2D(filters[2], 3, padding="same", connected=True, activation=activation,
                    name="conv3", **init("conv3", False), **split)(x)
    x = TowerConv2D(filters[3], 3, padding="same", activation=activation,
                    name="conv4", **init("conv4", True), **split)(x)
    x = TowerConv2D(filters[4], 3, padding="same", activation=activation,
                    name="conv5", **init("conv5", True), **split)(x)
    x = pool("pool5")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(fc_units, activation=activation, name="fc6", **init("fc6", True))(x)
    x = keras.layers.Dropout(dropout, name="dropout6")(x)
    x = keras.layers.Dense(fc_units, activation=activation, name="fc7", **init("fc7", True))(x)
    x = keras.layers.Dropout(dropout, name="dropout7")(x)
    logits = keras.layers.Dense(num_classes, name="fc8", **init("fc8", False))(x)
    return keras.Model(images, logits, name=name)


def fig1_net(
    num_classes=10,                       # Fig. 1: CIFAR-10 (here: a 10-class stand-in)
    image_size=256,                       # what the input pipeline delivers
    downsample=8,                         # 256 / 8 = CIFAR-10's 32x32 pixels
    filters=(32, 32, 64),                 # our choice: the paper gives no layer sizes
    activation="relu",                    # Fig. 1: "relu" (solid line) or "tanh" (dashed)
    name="fig1_net",
):
    """The "four-layer convolutional neural network" of the paper's Fig. 1, which
    reaches 25 % training error on CIFAR-10 six times faster with ReLUs than with tanh.

    downsample (8x8 average pooling: 256x256 -> 32x32) -> conv1 (32, 5x5) -> pool1 ->
    conv2 (32, 5x5) -> pool2 -> conv3 (64, 5x5) -> pool3 -> fc4 (`num_classes`, logits).
    Convolutions use "same" padding, pools are the paper's overlapping 3x3 stride 2, so
    the maps are 32, 16, 8 and 4 pixels wide; 89,578 parameters with the defaults.

    The paper says only "four-layer": the layer sizes here are our reading, three
    convolutional layers and one fully connected layer with weights, like the small
    CIFAR-10 nets of cuda-convnet, the code the paper's experiments used. There is no
    normalization and no dropout (Fig. 1: "no regularization of any kind"). Weights are
    Glorot-uniform for both activations (Keras' default; the paper does not say), so that
    the two nets differ only in their nonlinearity. The downsampling in the net lets
    the project's 256x256 pipeline feed it unchanged: the 8x8 box average is exact area
    downsampling to 32x32.

    Returns a `keras.Model` from float images `(batch, image_size, image_size, 3)` to
    logits `(batch, num_classes)`. Its conv layers are `TowerConv2D` with one tower, so
    the project's tools (conv1 kernel images, TensorBoard histograms) read it as they
    read `alexnet`.
    """
    if activation not in ("relu", "tanh"):
        raise ValueError(f"fig1_net: `activation` must be 'relu' or 'tanh', got "
                         f"{activation!r}.")
    if len(filters) != 3 or image_size % downsample:
        raise ValueError(f"fig1_net: `filters` must give 3 kernel counts and `downsample` "
                         f"divide `image_size`, got {filters!r}, {downsample}, {image_size}.")
    images = keras.Input((image_size, image_size, 3), name="images")
    x = keras.layers.AveragePooling2D(downsample, name="downsample")(images)
    for i, n in enumerate(filters, start=1):
        x = TowerConv2D(n, 5, padding="same", towers=1, activation=activation,
                        name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(3, 2, padding="same", name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(num_classes, name="fc4")(x)
    return keras.Model(images, logits, name=name)


def cifar_net(
    num_classes=10,                       # CIFAR-10
    image_size=32,                        # 32: whole images (Fig. 1); 24: cuda-convnet's crops
    filters=CUDA_CONVNET["18pct"]["filters"],        # 5x5 conv layers (layers-18pct.cfg)
    max_pools=CUDA_CONVNET["18pct"]["max_pools"],    # the first pools max, the rest avg
    local_filters=CUDA_CONVNET["18pct"]["local_filters"],  # 3x3 layers (conv-local: (32, 32))
    activation="relu",                    # Fig. 1: "relu" (solid line) or "tanh" (dashed)
    lrn=False,                            # Sec. 3.3: response normalization after each 5x5 conv
    lrn_size=LRN_DEFAULTS["size"], lrn_k=LRN_DEFAULTS["k"],  # Sec. 3.3's constants
    lrn_alpha=LRN_DEFAULTS["alpha"], lrn_beta=LRN_DEFAULTS["beta"],
    initializer="gaussian",               # cuda-convnet's N(0, initW); "glorot": Study A's
    init_std=CUDA_CONVNET["18pct"]["init_std"],  # initW of each layer with weights
    name="cifar_net",
):
    """A small CIFAR-10 network after cuda-convnet's layer files, the code of the paper's
    CIFAR-10 experiments (its footnote to Sec. 3.3): the four-layer net of Fig. 1 by
    default, Sec. 3.3's with `CUDA_CONVNET["conv-local"]` and `lrn`.

    For each of `filters`: conv (5x5, stride 1, padded 2: "same") -> activation ->
    [LRN, with `lrn`] -> pool (3x3, stride 2: max for the first `max_pools`, average for
    the others); then for
    each of `local_filters`: conv (3x3, "same") -> activation; then the fully connected
    layer with `num_classes` logits. Layers are named conv1, conv2, ..., lrn1, pool1, ...,
    and the last fc<n>. With the defaults (layers-18pct.cfg without its rnorm layers, on
    whole 32x32 images): maps 32, 16, 8, 4 pixels wide, fc4 with 1,024 inputs, 89,578
    parameters.

    What follows cuda-convnet's files, and where this differs:

    * **Initialization.** `initializer="gaussian"`: weights N(0, `init_std`), one std per
      layer with weights (the files' initW: conv1 1e-4, then 0.01; 0.04 in the local
      layers), biases 0 (cuda-convnet's default initB), the same for ReLU and tanh, for
      inputs of raw pixels minus the mean (0..255 scale). `"glorot"`: Keras'
      Glorot-uniform weights and zero biases (Study A's start, for inputs / 64).
    * **Pooling and the activation.** cuda-convnet applies conv1's ReLU after pool1; max
      pooling commutes with any increasing function (ReLU, tanh), so conv -> activation
      -> pool is the same net. Pools are "same" padded: 32 -> 16 -> 8 -> 4, as the files'
      `outputsX=0` (ceil((32 - 3) / 2) + 1 = 16); an average over a window that crosses
      the border counts the pixels inside only (TF's).
    * **Local layers.** cuda-convnet's `local3`/`local4` are locally connected (a kernel
      per position, no weight sharing); Keras 3 has no such layer, so they are
      convolutions here (weights shared): on the 6x6 maps of 24x24 crops, local3 has
      18,432 weights instead of 663,552 and local4 9,216 instead of 331,776, so the net
      of Sec. 3.3 has 146,368 weights instead of 1,114,048.
    * **Response normalization.** The paper's LRN (Sec. 3.3: k=2, n=5, alpha=1e-4,
      beta=0.75, alpha not divided by n) after the activation, before pooling, as in
      AlexNet and in conv-local-11pct.cfg (whose own rnorm constants are k=1, alpha =
      0.001 / 5 per square, from its `scale=0.001, size=5` and cuda-convnet's division by
      the size). The constants act on raw-pixel-scale activations; the training code
      rescales alpha for scaled inputs (`alexnet_tf.recipe.net_lrn_alpha`).

    Returns a `keras.Model` from float images `(batch, image_size, image_size, 3)` to
    logits `(batch, num_classes)`. Its conv layers are `TowerConv2D` with one tower, so
    the project's tools (conv1 kernel images, TensorBoard histograms) read it as they read
    `alexnet`.
    """
    if activation not in ("relu", "tanh"):
        raise ValueError(f"cifar_net: `activation` must be 'relu' or 'tanh', got "
                         f"{activation!r}.")
    filters, local_filters = tuple(filters), tuple(local_filters)
    if not filters or not 0 <= max_pools <= len(filters):
        raise ValueError(f"cifar_net: `max_pools` must be 0 to the number of conv layers "
                         f"({len(filters)}), got {max_pools!r}.")
    layers = len(filters) + len(local_filters) + 1
    stds = (init_std,) * layers if isinstance(init_std, (int, float)) else tuple(init_std)
    if len(stds) != layers or not all(isinstance(v, (int, float)) and v > 0 for v in stds):
        raise ValueError(f"cifar_net: `init_std` must be a positive number or {layers} of "
                         f"them (one per layer with weights), got {init_std!r}.")
    if initializer == "gaussian":
        def init(i):
            return dict(kernel_initializer=keras.initializers.RandomNormal(0.0, stds[i]),
                        bias_initializer="zeros")
    elif initializer == "glorot":
        def init(i):
            return dict(kernel_initializer="glorot_uniform", bias_initializer="zeros")
    else:
        raise ValueError(f"cifar_net: `initializer` must be 'gaussian' or 'glorot', got "
                         f"{initializer!r}.")
    images = keras.Input((image_size, image_size, 3), name="images")
    x, n = images, 0
    for n, kernels in enumerate(filters, start=1):
        x = TowerConv2D(kernels, 5, padding="same", towers=1, activation=activation,
                        name=f"conv{n}", **init(n - 1))(x)
        if lrn:
            x = LocalResponseNormalization(lrn_size, lrn_k, lrn_alpha, lrn_beta,
                                           towers=1, name=f"lrn{n}")(x)
        pool_layer = (keras.layers.MaxPooling2D if n <= max_pools
                      else keras.layers.AveragePooling2D)
        x = pool_layer(3, 2, padding="same", name=f"pool{n}")(x)
    for kernels in local_filters:
        n += 1
        x = TowerConv2D(kernels, 3, padding="same", towers=1, activation=activation,
                        name=f"conv{n}", **init(n - 1))(x)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = keras.layers.Dense(num_classes, name=f"fc{n + 1}", **init(n))(x)
    return keras.Model(images, logits, name=name)


def parameter_counts(model):
    """Returns `[(layer name, parameter count)]` for the layers of `model` with weights."""
    return [(layer.name, layer.count_params()) for layer in model.layers if layer.weights]


def describe(model):
    """Returns a plain-text table of `model`'s layers: name, type, output shape and
    parameter count, with the total (unlike `model.summary()`, never clipped to the
    terminal's width)."""
    rows = [("layer", "type", "output shape", "parameters")]
    for layer in model.layers:
        shape = "x".join(str(d) for d in layer.output.shape[1:])
        rows.append((layer.name, type(layer).__name__, shape, f"{layer.count_params():,}"))
    rows.append(("total", "", "", f"{model.count_params():,}"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  "
             f"{r[3]:>{widths[3]}}" for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(-1, "-" * len(lines[0]))
    return "\n".join(lines)
