"""The embedded default: the full AlexNet trained on procedural shapes and textures that
the package generates itself (8 classes, alexnet_tf.synthetic), through the same builder,
input pipeline and fit path as ImageNet. No data or network needed; minutes on a CPU.

    python tools/train.py --workdir runs/demo
"""
from configs import paper


def get_config():
    c = paper.get_config()
    c.data.source = "generated"
    c.data.generated.update(dict(classes=8, train_per_class=150, val_per_class=40))
    c.model.num_classes = 8
    c.model.initializer = "he"     # learns from the first epoch, where N(0, 0.01) stalls;
    c.augment.input_scale = 1 / 64    # it needs inputs of about unit scale
    c.batch_size = 64
    c.optimizer.learning_rate = 0.005  # 0.01 collapses to uniform outputs at batch 64
    c.epochs = 8
    c.optimizer.plateau_patience = 2
    c.checkpoint_every_steps = 10
    c.log_every_steps = 6          # 3 points per epoch in TensorBoard
    return c
