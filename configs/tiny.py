"""A tiny run for tests: a narrow AlexNet (same layers, few kernels) on a few generated
images; seconds on a CPU."""
from configs import paper


def get_config():
    c = paper.get_config()
    c.data.source = "generated"
    c.data.generated.update(dict(classes=4, train_per_class=8, val_per_class=4))
    c.data.shuffle_buffer = 64
    c.model.update(dict(num_classes=4, filters=(8, 16, 16, 16, 16), fc_units=32,
                        initializer="he"))
    c.augment.input_scale = 1 / 64
    c.batch_size = 8
    c.epochs = 2
    c.checkpoint_every_steps = 2
    c.verbose = 2
    # float32 whatever the machine: the tests compare strategies and resumed runs to
    # tolerances that bfloat16 rounding would exceed ("auto" is tested on its own).
    c.precision = "float32"
    return c
