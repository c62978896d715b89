r"""The paper's recipe (Krizhevsky et al. 2012, Sec. 5) on ImageNet TFRecords.

    python tools/train.py --config configs/paper.py --workdir runs/paper \
        --config.data.train='data/train-*' --config.data.validation='data/validation-*'

Build the TFRecords first (README: "From a raw ILSVRC2012 download to TFRecords").
"""
import ml_collections

from alexnet_tf.config import field


# Every field is declared with `field` (alexnet_tf.config): its default, and so its type
# (a type instead: the default is None), and its range: an interval ("[1, inf)": at least
# 1) or the values allowed. alexnet_tf.config.check enforces them before training starts.


def get_config():
    c = ml_collections.ConfigDict()

    c.data = ml_collections.ConfigDict()
    # "tfrecord": data.train/validation are TFRecord globs, data.classes a class list.
    # "images": data.train/validation are <class>/<image> trees, built into TFRecords in
    #           WORKDIR/data by the builder on the first run.
    # "generated": the package's procedural shapes (data.generated), built likewise.
    # "tfds": data.train is a prepared tfds dataset (name, or its directory); "folder": image
    #         trees read as is.
    c.data.source = field("tfrecord", ("tfrecord", "images", "generated", "tfds", "folder"))
    c.data.train = field("data/train-*", path="data", optional=True)  # None: must be given
    c.data.validation = field("data/validation-*", path="data", optional=True)
    c.data.classes = field(str, path="file")     # default: the builder's train.classes.txt
    c.data.train_examples = field(int, "[1, inf)")  # default: the manifest's count
    c.data.train_split = field("train")          # tfds
    c.data.validation_split = field("validation")  # tfds
    c.data.data_dir = field(str, path="dir")     # tfds
    # data.source images: build only data.classes' images of the trees (the other class
    # folders left out, not refused), and at most train_per_class training images of each
    # class, drawn by the run's seed (alexnet_tf.build: select_classes, per_class).
    c.data.select_classes = field(False)
    c.data.train_per_class = field(int, "[1, inf)")  # default: all
    c.data.shuffle_buffer = field(10_000, "[1, inf)")  # serialized records
    # The stored size: images are built and read with their shorter side scaled to it and
    # the central square kept (Sec. 2: 256; CIFAR-10: 32, its own size, nothing resized).
    # The net's input size is the crop (model.image_size: 224 for the paper).
    c.data.image_size = field(256, "[1, inf)")
    # tf.distribute auto-sharding
    c.data.shard_policy = field("auto", ("auto", "file", "data", "off"))
    c.data.fixed_order = field(True)   # each epoch's order fixed by the seed (exact resume)
    # TFRecords only: drop records that cannot be read or decoded, counted per epoch in the
    # history (records_dropped, val_records_dropped), instead of stopping the run.
    c.data.skip_bad_records = field(False)
    c.data.generated = ml_collections.ConfigDict(dict(  # alexnet_tf.synthetic.make_dataset
        classes=field(8, "[2, 8]"),    # of its 8 kinds of shapes and textures
        train_per_class=field(200, "[1, inf)"), val_per_class=field(50, "[1, inf)"),
        seed=field(0, "[0, inf)")))

    # "fig1": alexnet_tf.model.fig1_net (configs/fig1.py); "cifar": alexnet_tf.model.cifar_net
    # (configs/cifar*.py)
    c.net = field("alexnet", ("alexnet", "fig1", "cifar"))
    c.model = ml_collections.ConfigDict(dict(   # keyword arguments of the net's function
        num_classes=field(1000, "[1, inf)"), towers=field(2, (1, 2)),
        activation=field("relu", ("relu", "tanh")), lrn=field(True),
        # Sec. 3.4: pool1, pool2, pool5
        pool_size=field((3, 3, 3), "[1, inf)", length=3),
        pool_stride=field((2, 2, 2), "[1, inf)", length=3),
        dropout=field(0.5, "[0, 1)"), initializer=field("paper", ("paper", "he")),
        filters=field((96, 256, 384, 384, 256), "[1, inf)", length=5),  # conv1..conv5
        fc_units=field(4096, "[1, inf)"),
        # Sec. 5 ("paper" initializer): conv1..conv5, fc6..fc8
        init_std=field((0.01,) * 8, "(0, inf)", length=8),
        # Sec. 5: conv2/4/5, fc6/7 biases ("paper" initializer)
        init_bias=field(1.0, "(-inf, inf)"),
        lrn_alpha=field(1e-4, "[0, inf)"),  # Sec. 3.3, in the paper's units (0..255 pixels
                                       # minus the mean): the net gets lrn_alpha /
                                       # input_scale**2, so LRN acts alike at any
                                       # augment.input_scale
        # 1: the paper (2: configs/studies/ablations.py); 4 leaves conv5's maps too small
        input_downsample=field(1, (1, 2, 3)),
        # unset: as initializer (0.01: configs/demo.py)
        conv1_init_std=field(float, "(0, inf)")))

    c.batch_size = field(128, "[1, inf)")  # Sec. 5
    c.epochs = field(90, "[1, inf)")   # Sec. 5: "roughly 90 cycles"
    c.steps_per_epoch = field(int, "[1, inf)")  # default: train examples // batch_size
    # Validate after every Nth epoch only, and after the last (not with the plateau
    # schedule, which reads every epoch's validation): for runs of many short epochs,
    # such as fine-tuning on a few images per class.
    c.validation_every = field(1, "[1, inf)")
    c.optimizer = ml_collections.ConfigDict(dict(
        learning_rate=field(0.01, "(0, inf)"),  # Sec. 5
        momentum=field(0.9, "[0, 1)"),          # Sec. 5
        weight_decay=field(5e-4, "[0, inf)"),   # Sec. 5, inside the momentum update
        # Sec. 5: /10 when validation error stops improving
        schedule=field("plateau", ("plateau", "step")),
        lr_factor=field(0.1, "(0, 1]"),
        plateau_patience=field(5, "[1, inf)"),  # the paper does not say how long it waited
        # epochs of validation error averaged (1: the last)
        plateau_window=field(1, "[1, inf)"),
        # an improvement (of the error, 0..1) smaller than this does not count
        plateau_min_delta=field(0.0, "[0, 1)"),
        # Sec. 5: "reduced three times prior to termination"
        max_reductions=field(3, "[0, inf)"),
        # plateau schedule: end the run at the first plateau after the last of those cuts
        # (the paper's "termination"), before `epochs` if it comes first
        end_at_plateau=field(True),
        # with schedule="step": the epochs at which lr is multiplied by lr_factor
        step_epochs=field((30, 60, 80), "[1, inf)", length="[1, inf)"),
        # not in the paper: lr ramps up linearly over these
        warmup_epochs=field(0.0, "[0, inf)")))

    c.augment = ml_collections.ConfigDict(dict(   # alexnet_tf.augment.PaperAugmentation
        enabled=field(True),           # Sec. 4.1: random crops, flips, PCA lighting
        lighting_std=field(0.1, "[0, inf)"),    # Sec. 4.1
        # or a tools/compute_stats.py file, or "data": computed from the training TFRecords
        # at the run's start (written beside them, WORKDIR/data/train.stats.npz)
        stats=field("published", ("published", "data"), path="file"),
        # Sec. 2 subtracts the mean image: needs a stats file
        per_pixel_mean=field(False),
        # pixels 0..255 minus the mean (1/64 with "he" init)
        input_scale=field(1.0, "(0, inf)"),
        # zero pixels around the mean-subtracted image before cropping (0: the paper; 4 with
        # 32x32 crops of CIFAR-10: cuda-convnet-style translations at the whole size)
        pad=field(0, "[0, inf)")))
    c.strategy = field("default", ("default", "towers", "mirrored", "multi_worker"))
    # multi_worker: seconds a worker waits for the others to join
    c.peer_timeout = field(300.0, "(0, inf)")
    # multi_worker: a thread also probes the other workers' addresses twice a second, so
    # that a lost worker ends this one within about a second even while it works alone;
    # without it TF's own detection decides, up to its heartbeat's 10 s (results/multiworker)
    c.peer_watch = field(True)
    # "auto": the fastest path of this machine (alexnet_tf.distribute.compute_path):
    # mixed_bfloat16 on CPUs with bfloat16 instructions and A100/H100-class GPUs,
    # mixed_float16 on older GPUs, float32 elsewhere; XLA on GPUs only. The paper trained
    # in float32 (its numbers assume it): --config.precision=float32 for that path.
    c.precision = field("auto", ("auto", "float32", "mixed_bfloat16", "mixed_float16"))
    # a string: --config.jit_compile=false
    c.jit_compile = field("auto", ("auto", "true", "false", "True", "False"))
    c.seed = field(0, "[0, 4294967295]")  # numpy's seeds are 32 bits
    c.op_determinism = field(False)    # TF op determinism (slower; the resume tests use it)
    c.checkpoint_every_steps = field(1000, "[0, inf)")  # plus one at the end of every epoch
    c.histogram_freq = field(1, "[0, inf)")   # weight histograms every N epochs (0: none)
    # TensorBoard's step/ scalars every N steps (0: none)
    c.log_every_steps = field(100, "[0, inf)")
    # Every N steps, per-layer activation and gradient scales, dead ReLUs and conv1's
    # distance from its start on one fixed validation batch, into WORKDIR/probe.json (0: off).
    c.probe_every_steps = field(0, "[0, inf)")
    c.verbose = field(1, (0, 1, 2))    # Keras progress: 0 none, 1 bar, 2 one line per epoch
    # After every epoch, the top-1 error of the net in inference mode (centre crop, no
    # dropout) on this many training images, a fixed sample (the first in the built
    # shards' order, which the builder shuffled), as history's train_eval_top1_error
    # (alexnet_tf.train_eval; Fig. 1's training error). 0: off.
    c.train_eval_examples = field(0, "[0, inf)")
    # With train_eval_examples: stop the run after the first epoch whose
    # train_eval_top1_error is at or below this (0: run every epoch). Fig. 1's sweep needs
    # only each run's crossing of its threshold; a run stopped so counts as finished.
    c.train_eval_stop = field(0.0, "[0, 1)")

    # Fine-tuning (not in the paper; alexnet_tf.finetune, README "Fine-tuning"): start from
    # a trained model's weights instead of the initialization above.
    c.finetune = ml_collections.ConfigDict(dict(
        init_from=field(str, path="path"),  # a run's workdir or a .keras file (None: scratch)
        # the layers trained: "all", the first of them ("fc6": fc6 and above), or a list
        # ("fc7,fc8"); the others keep the source's weights
        trainable=field("all"),
        # per-layer learning-rate multipliers, Caffe's lr_mult: "fc8=10" or "fc8=10,fc7=2"
        lr_mult=field(""),
        # the source's normalization statistics (mean, PCA), or those of augment.stats
        stats=field("source", ("source", "config")),
        # the class list: the new data's own ("data"), or the source's ("source": its fc8
        # is kept, and the data's classes must be among the source's)
        classes=field("data", ("data", "source"))))
    return c
