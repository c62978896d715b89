r"""Fine-tuning a trained AlexNet on new classes (alexnet_tf.finetune; not in the paper).

    python tools/train.py --config configs/finetune.py --workdir runs/flowers \
        --config.finetune.init_from=runs/imagenette \
        --config.data.train=PATH/train --config.data.validation=PATH/val \
        --config.model.num_classes=5

The source is a run's workdir, a `.keras` file, or the output of tools/import_caffe.py
(Caffe's bvlc_alexnet). The new data are `<class>/<image>` folders, built into TFRecords in
the workdir, as in configs/imagenette.py. The net is the source's (configs/imagenette.py's
fields: change `model.*` to match another source). Every layer but fc8 starts from the
source; fc8 starts new for the new classes and learns 10 times faster (Caffe's
`lr_mult`, as in its finetune_flickr_style example); the rate is a tenth of the paper's
(the features are trained already); up to 30 epochs with the paper's plateau rule
(the plateau after its third cut ends the run, `optimizer.end_at_plateau`).
"""
from configs import imagenette


def get_config():
    c = imagenette.get_config()
    c.finetune.init_from = None      # to give: the source model
    c.finetune.lr_mult = "fc8=10"
    c.finetune.trainable = "all"     # or "fc6" (fc6 and above), or "fc8" (a linear probe)
    c.optimizer.learning_rate = 0.001
    c.epochs = 30
    c.optimizer.plateau_patience = 3
    c.optimizer.plateau_window = 3
    c.probe_every_steps = 0
    return c
