r"""The paper's recipe (Krizhevsky et al. 2012, Sec. 5) on ImageNet TFRecords.

    python tools/train.py --config configs/paper.py --workdir runs/paper \
        --config.data.train='data/train-*' --config.data.validation='data/validation-*'

Build the TFRecords first (README: "From a raw ILSVRC2012 download to TFRecords").
"""
import ml_collections
from ml_collections.config_dict import placeholder


def get_config():
    c = ml_collections.ConfigDict()

    c.data = ml_collections.ConfigDict()
    # "tfrecord": data.train/validation are TFRecord globs, data.classes a class list.
    # "images": data.train/validation are <class>/<image> trees, built into TFRecords in
    #           WORKDIR/data by the builder on the first run.
    # "generated": the package's procedural shapes (data.generated), built likewise.
    # "tfds": data.train is a prepared tfds dataset (name, or its directory); "folder": image
    #         trees read as is.
    c.data.source = "tfrecord"
    c.data.train = "data/train-*"
    c.data.validation = "data/validation-*"
    c.data.classes = placeholder(str)            # default: the builder's train.classes.txt
    c.data.train_examples = placeholder(int)     # default: the manifest's count
    c.data.train_split, c.data.validation_split = "train", "validation"  # tfds
    c.data.data_dir = placeholder(str)           # tfds
    c.data.shuffle_buffer = 10_000     # serialized records
    c.data.shard_policy = "auto"       # tf.distribute auto-sharding: auto, file, data, off
    c.data.fixed_order = True          # each epoch's order fixed by the seed (exact resume)
    # TFRecords only: drop records that cannot be read or decoded, counted per epoch in the
    # history (records_dropped, val_records_dropped), instead of stopping the run.
    c.data.skip_bad_records = False
    c.data.generated = ml_collections.ConfigDict(
        dict(classes=8, train_per_class=200, val_per_class=50, seed=0))

    c.net = "alexnet"                  # or "fig1": alexnet_tf.model.fig1_net (configs/fig1.py)
    c.model = ml_collections.ConfigDict(dict(   # keyword arguments of the net's function
        num_classes=1000, towers=2, activation="relu", lrn=True,
        pool_size=(3, 3, 3), pool_stride=(2, 2, 2),  # Sec. 3.4: pool1, pool2, pool5
        dropout=0.5, initializer="paper", filters=(96, 256, 384, 384, 256), fc_units=4096,
        init_std=(0.01,) * 8,          # Sec. 5 ("paper" initializer): conv1..conv5, fc6..fc8
        init_bias=1.0,                 # Sec. 5: conv2/4/5, fc6/7 biases ("paper" initializer)
        lrn_alpha=1e-4,                # Sec. 3.3, in the paper's units (0..255 pixels minus
                                       # the mean): the net gets lrn_alpha / input_scale**2,
                                       # so LRN acts alike at any augment.input_scale
        input_downsample=1,            # 1: the paper (2: configs/studies/ablations.py)
        conv1_init_std=placeholder(float)))  # unset: as initializer (0.01: configs/demo.py)

    c.batch_size = 128                 # Sec. 5
    c.epochs = 90                      # Sec. 5: "roughly 90 cycles"
    c.steps_per_epoch = placeholder(int)  # default: train examples // batch_size
    c.optimizer = ml_collections.ConfigDict(dict(
        learning_rate=0.01,            # Sec. 5
        momentum=0.9,                  # Sec. 5
        weight_decay=5e-4,             # Sec. 5, inside the momentum update (PaperSGD)
        schedule="plateau",            # Sec. 5: /10 when validation error stops improving
        lr_factor=0.1,
        plateau_patience=5,            # the paper does not say how long it waited
        plateau_window=1,              # epochs of validation error averaged (1: the last)
        plateau_min_delta=0.0,         # an improvement smaller than this does not count
        max_reductions=3,              # Sec. 5: "reduced three times prior to termination"
        step_epochs=(30, 60, 80),      # with schedule="step"
        warmup_epochs=0.0))            # not in the paper: lr ramps up linearly over these

    c.augment = ml_collections.ConfigDict(dict(   # alexnet_tf.augment.PaperAugmentation
        enabled=True,                  # Sec. 4.1: random crops, flips, PCA lighting
        lighting_std=0.1,              # Sec. 4.1
        stats="published",             # or a tools/compute_stats.py file
        per_pixel_mean=False,          # Sec. 2 subtracts the mean image: needs a stats file
        input_scale=1.0))              # pixels 0..255 minus the mean (1/64 with "he" init)
    c.strategy = "default"             # default, towers, mirrored, multi_worker
    c.peer_timeout = 300.0             # multi_worker: seconds a worker waits for the others to join
    # "auto": the fastest path of this machine (alexnet_tf.distribute.compute_path):
    # mixed_bfloat16 on CPUs with bfloat16 instructions and A100/H100-class GPUs,
    # mixed_float16 on older GPUs, float32 elsewhere; XLA on GPUs only. The paper trained
    # in float32 (its numbers assume it): --config.precision=float32 for that path.
    c.precision = "auto"               # or float32, mixed_bfloat16, mixed_float16
    c.jit_compile = "auto"             # or "true" / "false" (a string: --config.jit_compile=false)
    c.seed = 0
    c.op_determinism = False           # TF op determinism (slower; the resume tests use it)
    c.checkpoint_every_steps = 1000    # plus one at the end of every epoch
    c.histogram_freq = 1               # weight histograms every N epochs (0: none)
    c.log_every_steps = 100            # TensorBoard's step/ scalars every N steps (0: none)
    # Every N steps, per-layer activation and gradient scales, dead ReLUs and conv1's
    # distance from its start on one fixed validation batch, into WORKDIR/probe.json (0: off).
    c.probe_every_steps = 0
    c.verbose = 1                      # Keras progress: 1 bar, 2 one line per epoch
    return c
