"""The two layers AlexNet needs beyond stock Keras.

* `LocalResponseNormalization`: the paper's "brightness normalization" (Sec. 3.3).
* `TowerConv2D`: a convolution split into towers, each tower optionally placed on a
  device of its own: the paper's two-GPU model parallelism (Sec. 3.2).

Both apply per tower, so that, as in the paper's two-GPU implementation, no map of one
tower is ever mixed into another tower except where the paper connects them (conv3 and
the fully connected layers).
"""
import contextlib
import inspect

import keras
import numpy as np
import tensorflow as tf


def _check_devices(devices, towers, layer):
    if devices is None:
        return None
    devices = tuple(devices)
    if len(devices) != towers:
        raise ValueError(
            f"{layer}: `devices` must name one device per tower ({towers}), got {devices!r}.")
    return devices


def _on(devices, tower):
    """A `tf.device` scope for `tower`, or no scope when no devices were given."""
    return tf.device(devices[tower]) if devices else contextlib.nullcontext()


def _split(x, towers, layer):
    channels = x.shape[-1]
    if channels is None or channels % towers:
        raise ValueError(
            f"{layer}: input channels ({channels}) must divide evenly into {towers} towers.")
    return tf.split(x, towers, axis=-1) if towers > 1 else [x]


def band_matrix(channels, size, towers=1, dtype=tf.float32):
    """The `[channels, channels]` 0/1 matrix whose entry (j, i) is 1 when map j is in the
    LRN window of map i: `|i - j| <= size // 2` and both in the same tower (the
    `channels` maps split into `towers` equal groups)."""
    if channels is None or channels % towers:
        raise ValueError(f"LocalResponseNormalization: input channels ({channels}) must "
                         f"divide evenly into {towers} towers.")
    i = np.arange(channels)
    same_tower = (i[:, None] // (channels // towers)) == (i[None, :] // (channels // towers))
    band = (np.abs(i[:, None] - i[None, :]) <= size // 2) & same_tower
    return tf.constant(band, dtype)


def _power(d, beta):
    """`d ** -beta`; the paper's beta = 0.75 as `rsqrt(d) * sqrt(rsqrt(d))`, which is
    exact and several times faster than `pow` on TF's CPU kernels."""
    if beta == 0.75:
        r = tf.math.rsqrt(d)
        return r * tf.sqrt(r)
    return tf.pow(d, -beta)


def window_sum(y, band):
    """The sum over each channel's window (`band`, see `band_matrix`) along the last axis
    of `y`: `[..., C] @ band`, as one `[N, C] x [C, C]` product."""
    channels = y.shape[-1]
    return tf.reshape(tf.matmul(tf.reshape(y, [-1, channels]), band), tf.shape(y))


def lrn(x, band, k, alpha, beta):
    """`b = a / (k + alpha * window_sum(a**2)) ** beta` over the last axis of `x`, the
    window given by the symmetric 0/1 matrix `band` (see `band_matrix`); the math of
    `LocalResponseNormalization`, with its gradient written out:

        d loss / d a = g * r - 2 * alpha * beta * a * window_sum(g * b / d)

    where `d = k + alpha * window_sum(a**2)`, `r = d ** -beta` and `g = d loss / d b`.
    `d` and `r` are computed in float32, everything else in `x`'s dtype."""
    @tf.custom_gradient
    def normalize(a):
        d = k + alpha * tf.cast(window_sum(tf.square(a), band), tf.float32)
        r = tf.cast(_power(d, beta), a.dtype)
        inv_d = tf.cast(1.0 / d, a.dtype)
        b = a * r

        def grad(g):
            return g * r - tf.cast(2.0 * alpha * beta, a.dtype) * a * window_sum(
                g * b * inv_d, band)
        return b, grad

    return normalize(x)


def tf_lrn(x, size, k, alpha, beta):
    """`tf.nn.local_response_normalization` with the paper's constants (n=`size` ->
    `depth_radius = size // 2`, `bias = k`, `alpha` as is: TF does not divide it by n),
    computed in float32 whatever `x`'s dtype: TF's kernels have no bfloat16 (its CPU kernel
    is float32/float16 only), and float16 squares overflow. Returns `x`'s dtype."""
    y = tf.nn.local_response_normalization(tf.cast(x, tf.float32), depth_radius=size // 2,
                                           bias=k, alpha=alpha, beta=beta)
    return tf.cast(y, x.dtype)


IMPLEMENTATIONS = ("auto", "tf", "matmul")


def runs_on_gpu(device=None):
    """Whether ops placed on `device` (a device name; None: TF's default placement) run on
    a GPU: a named device by its type, else whether TF sees a GPU at all (TF places ops on
    the first GPU by default)."""
    if device:
        return tf.DeviceSpec.from_string(device).device_type in ("GPU", "gpu")
    return bool(tf.config.list_logical_devices("GPU"))


@keras.saving.register_keras_serializable(package="alexnet_tf")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels (Krizhevsky et al. 2012, Sec. 3.3).

    The paper's formula, for the activity `a[i]` of kernel map `i` of `N` at one pixel:

        b[i] = a[i] / (k + alpha * sum_{j=max(0, i - n//2)}^{min(N-1, i + n//2)} a[j]**2) ** beta

    with `n=5, k=2, alpha=1e-4, beta=0.75`: the layer's defaults, so
    `LocalResponseNormalization()` is the paper's layer (and `alexnet()` takes its
    defaults from here, `LRN_DEFAULTS`). Maps near the edges (`i < n//2`,
    `i > N-1-n//2`) sum over fewer neighbours.

    The paper's constants map to `tf.nn.local_response_normalization`'s arguments as:

    * `depth_radius = n // 2` (TF's radius is a half-width: n=5 -> 2);
    * `bias = k`;
    * `alpha = alpha` (TF does not divide alpha by n; the paper does not either);
    * `beta = beta`.

    cuda-convnet and Caffe define the same layer with `alpha / n` in place of `alpha`;
    `alpha_over_size=True` selects their convention (Caffe's `bvlc_alexnet` uses
    `k=1, alpha=1e-4, beta=0.75, n=5` in that convention). ONNX's `LRN` op divides by n
    too (its `alpha` is this layer's `alpha * size`); LiteRT's built-in
    `LOCAL_RESPONSE_NORMALIZATION` takes TF's arguments (`alexnet_tf.portable`).

    **How it is computed** (`implementation`):

    * `"tf"`: `tf.nn.local_response_normalization` (`tf_lrn`), one call per tower: cuDNN's
      kernel on GPUs, TF's own elsewhere, and the op that converters map to LiteRT's and
      ONNX's LRN. It computes in float32 (bfloat16 and float16 inputs are cast around it).
    * `"matmul"`: the same function in matrix form (`lrn` above): the window sums are one
      matrix product of the squared maps with a 0/1 band matrix (`band_matrix`:
      block-diagonal when towers are normalized apart, so no split), and the gradient is
      written out (`d b[i] / d a[j]`), so that backpropagation needs one more band product
      instead of autodiff through a `pow`. The squares and their sums stay in the compute
      dtype (the band product accumulates in float32 inside oneDNN); `k + alpha * sum`
      and its power are formed in float32, since in bfloat16 `2 + small` would lose most
      of `small`. In float16, whose range ends at 65504, it computes in float32.
    * `"auto"` (default): `"tf"` where the layer runs on a GPU (`runs_on_gpu`: a tower's
      device, or TF's default placement when a GPU is visible), `"matmul"` on CPUs in any
      dtype. Measured on this project's 2-core CPU (`tools/benchmark_lrn.py`, its numbers in
      `results/performance/lrn.json`): forward + backward of the paper's two-tower lrn1 and
      lrn2 at batch 128, `"tf"` against `"matmul"` in one run, in turns, the matrix form
      was 1.9 to 3.3 times faster, float32 and bfloat16 (TF's CPU kernel is
      single-threaded and has no bfloat16). On GPUs nothing was measured (the project has
      none): there TF's op runs cuDNN's kernel, which is what users and tools expect.

    The tests check both implementations against a NumPy version of the paper's formula
    and against each other, values and gradients, in float32 and bfloat16.

    With `towers > 1` each of the `towers` equal channel groups is normalized on its
    own, as the paper's two-GPU net did: a map is never normalized by maps of the other
    tower. `devices`, one per tower, places each group's computation with `tf.device`
    (the paper's model parallelism).

    Args:
        size: `n`, the number of adjacent maps summed over; a positive odd integer.
        k: the additive constant.
        alpha: the scale of the sum of squares.
        beta: the exponent.
        alpha_over_size: if True, use `alpha / size` (cuda-convnet/Caffe convention).
        towers: number of channel groups normalized independently.
        devices: optional sequence of `towers` device names, e.g. `("/GPU:0", "/GPU:1")`.
        implementation: "auto", "tf" or "matmul" (see above). Saved with the layer;
            models saved before it existed load as "auto".
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:

    >>> lrn = LocalResponseNormalization()  # the paper's: n=5, k=2, alpha=1e-4, beta=0.75
    >>> lrn(np.ones((1, 2, 2, 8), "float32")).shape
    TensorShape([1, 2, 2, 8])
    """

    def __init__(self, size=5, k=2.0, alpha=1e-4, beta=0.75, alpha_over_size=False,
                 towers=1, devices=None, *, implementation="auto", **kwargs):
        super().__init__(**kwargs)
        if int(size) != size or size < 1 or size % 2 == 0:
            raise ValueError(f"LocalResponseNormalization: `size` must be a positive odd "
                             f"integer (the window is centred), got {size!r}.")
        if towers < 1:
            raise ValueError(f"LocalResponseNormalization: `towers` must be >= 1, got {towers!r}.")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"LocalResponseNormalization: `implementation` must be one of "
                             f"{', '.join(IMPLEMENTATIONS)}, got {implementation!r}.")
        self.size = int(size)
        self.k = float(k)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.alpha_over_size = bool(alpha_over_size)
        self.towers = int(towers)
        self.devices = _check_devices(devices, self.towers, "LocalResponseNormalization")
        self.implementation = implementation

    @property
    def effective_alpha(self):
        """The alpha that multiplies the window's sum of squares: `alpha`, or `alpha / size`
        with `alpha_over_size`."""
        return self.alpha / self.size if self.alpha_over_size else self.alpha

    def implementation_on(self, device=None):
        """"tf" or "matmul": what this layer computes with on `device` (see the class
        docstring; "auto" decides by `runs_on_gpu(device)`)."""
        if self.implementation != "auto":
            return self.implementation
        return "tf" if runs_on_gpu(device) else "matmul"

    def denominator(self, inputs):
        """`(k + alpha * sum of squares over the window) ** beta` for every activation of
        `inputs`: what `call` divides each activation by, computed here in float32 (a
        bfloat16 `call` squares and sums in bfloat16, so its divisor differs by that
        rounding). Where it stays at `k ** beta`, the layer only scales by a constant
        (`alexnet_tf.features.lrn_denominators` measures this on real images)."""
        x = tf.cast(inputs, tf.float32)
        band = band_matrix(x.shape[-1], self.size, self.towers, tf.float32)
        return tf.pow(self.k + self.effective_alpha * window_sum(tf.square(x), band),
                      self.beta)

    def _normalize(self, x, towers, device):
        """`x`'s channels, `towers` groups normalized apart, by the implementation for
        `device`."""
        alpha = self.effective_alpha
        if self.implementation_on(device) == "tf":
            parts = [tf_lrn(part, self.size, self.k, alpha, self.beta)
                     for part in _split(x, towers, self.name)]
            return tf.concat(parts, axis=-1) if towers > 1 else parts[0]
        if x.dtype == tf.float16:
            # float16 overflows at 65504: squares of activations above ~256 (0..255 inputs
            # minus the mean) would. bfloat16 has float32's range and stays as it is.
            return tf.cast(self._normalize(tf.cast(x, tf.float32), towers, device),
                           tf.float16)
        # One product with a block-diagonal band: no split, no concat.
        band = band_matrix(x.shape[-1], self.size, towers, x.dtype)
        return lrn(x, band, self.k, alpha, self.beta)

    def call(self, inputs):
        if not self.devices:
            return self._normalize(inputs, self.towers, None)
        outputs = []
        for t, x in enumerate(_split(inputs, self.towers, self.name)):
            with _on(self.devices, t):
                outputs.append(self._normalize(x, 1, self.devices[t]))
        return tf.concat(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "k": self.k, "alpha": self.alpha,
                "beta": self.beta, "alpha_over_size": self.alpha_over_size,
                "towers": self.towers, "devices": self.devices,
                "implementation": self.implementation}


# The paper's constants, owned by the layer's signature: what `alexnet()` defaults to.
LRN_DEFAULTS = {name: p.default for name, p in
                inspect.signature(LocalResponseNormalization).parameters.items()
                if name in ("size", "k", "alpha", "beta", "alpha_over_size")}


@keras.saving.register_keras_serializable(package="alexnet_tf")
class TowerConv2D(keras.layers.Layer):
    """A 2-D convolution whose kernels are split into towers (Sec. 3.2, Fig. 2).

    Each tower holds `filters // towers` kernels (its own kernel and bias variables) and
    computes them as an explicit convolution of its own. Which input maps a tower sees:

    * `connected=False` (the paper's conv2, conv4, conv5): tower `t` sees only the `t`-th
      of `towers` equal slices of the input channels, i.e. the maps its own tower
      produced. With the same weights this equals `keras.layers.Conv2D(groups=towers)`,
      computed as separate half convolutions (which train ~3x faster than `groups=2` on
      TF's CPU kernels).
    * `connected=True` (conv1, conv3): every tower sees all input channels; the layer is
      then mathematically one convolution, split across towers only for placement.

    Output channels are the towers' outputs concatenated, tower 0 first.

    `devices`, one per tower, puts each tower's variables (at build time) and its
    computation (inside `call`) under `tf.device(devices[t])`: the paper's two-GPU model
    parallelism. Without `devices` the towers run wherever the caller places them. TF's
    soft placement falls back to an available device if a named one does not exist.
    XLA's `jit_compile=True` compiles a whole function for one device, so a layer with
    `devices` cannot run inside a `jit_compile`d function (TF raises "Trying to access
    resource ... located in device ..."): compile models that use `devices` with
    `jit_compile=False`.

    Args:
        filters: total number of kernels over all towers; divisible by `towers`.
        kernel_size: int or (height, width).
        strides: int or (height, width).
        padding: "valid", "same", or an int: zero-padding added on each side of height
            and width before a "valid" convolution.
        towers: number of towers (2 in the paper).
        connected: whether each tower sees all input channels (see above).
        activation: activation applied inside each tower (e.g. "relu"), or None.
        devices: optional sequence of `towers` device names.
        kernel_initializer, bias_initializer: Keras initializers (or their names).
        **kwargs: standard `keras.layers.Layer` arguments.

    Variables are named `kernel_0, bias_0, kernel_1, bias_1, ...` (tower 0 first); each
    kernel has shape `(kh, kw, in_channels_seen_by_the_tower, filters // towers)`.

    Example:

    >>> conv2 = TowerConv2D(256, 5, padding="same", towers=2, activation="relu")
    >>> conv2(np.zeros((1, 27, 27, 96), "float32")).shape
    TensorShape([1, 27, 27, 256])
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", towers=2,
                 connected=False, activation=None, devices=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if towers < 1 or filters % towers:
            raise ValueError(f"TowerConv2D: `filters` ({filters}) must divide evenly into "
                             f"`towers` ({towers}) >= 1.")
        if not (padding in ("valid", "same") or (isinstance(padding, int) and padding >= 0)):
            raise ValueError(f"TowerConv2D: `padding` must be 'valid', 'same' or an int >= 0, "
                             f"got {padding!r}.")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = padding
        self.towers = int(towers)
        self.connected = bool(connected)
        self.activation = keras.activations.get(activation)
        self.devices = _check_devices(devices, self.towers, "TowerConv2D")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if not self.connected and channels % self.towers:
            raise ValueError(f"{self.name}: input channels ({channels}) must divide evenly "
                             f"into {self.towers} towers.")
        seen = channels if self.connected else channels // self.towers
        per_tower = self.filters // self.towers
        self.kernels, self.biases = [], []
        for t in range(self.towers):
            with _on(self.devices, t):
                self.kernels.append(self.add_weight(
                    name=f"kernel_{t}", shape=(*self.kernel_size, seen, per_tower),
                    initializer=self.kernel_initializer))
                self.biases.append(self.add_weight(
                    name=f"bias_{t}", shape=(per_tower,), initializer=self.bias_initializer))

    def call(self, inputs):
        if isinstance(self.padding, int) and self.padding:
            p = self.padding
            inputs = tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]])
        padding = "SAME" if self.padding == "same" else "VALID"
        xs = [inputs] * self.towers if self.connected else _split(inputs, self.towers, self.name)
        outputs = []
        for t, x in enumerate(xs):
            with _on(self.devices, t):
                y = tf.nn.conv2d(x, tf.cast(self.kernels[t], x.dtype), self.strides, padding)
                y = tf.nn.bias_add(y, tf.cast(self.biases[t], x.dtype))
                outputs.append(self.activation(y) if self.activation else y)
        return tf.concat(outputs, axis=-1) if self.towers > 1 else outputs[0]

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        size = []
        for dim, k, s in zip((h, w), self.kernel_size, self.strides):
            if dim is None:
                size.append(None)
            elif self.padding == "same":
                size.append(-(-dim // s))
            else:
                pad = 2 * self.padding if isinstance(self.padding, int) else 0
                size.append((dim + pad - k) // s + 1)
        return (n, *size, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "towers": self.towers, "connected": self.connected,
                "activation": keras.activations.serialize(self.activation)
                if self.activation else None,
                "devices": self.devices,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}


def _pair(value, what):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f"TowerConv2D: `{what}` must be a positive int or a pair of them, "
                         f"got {value!r}.")
    return pair
