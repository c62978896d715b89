"""Every shipped config loads, names a known strategy and data source, and builds its model."""
import importlib
import pathlib

import pytest

from alexnet_tf import alexnet, model as M
from alexnet_tf.config import NETS

CONFIGS = sorted(p.stem for p in (pathlib.Path(__file__).parents[1] / "configs").glob("*.py")
                 if p.stem != "__init__")


@pytest.mark.parametrize("name", CONFIGS)
def test_config_loads_and_builds(name):
    config = importlib.import_module(f"configs.{name}").get_config()
    assert config.strategy in ("default", "towers", "mirrored", "multi_worker")
    assert config.data.source in ("tfrecord", "images", "generated", "tfds", "folder")
    model = getattr(M, NETS[config.net])(**config.model)
    assert model.output_shape == (None, config.model.num_classes)


def test_paper_and_one_tower_are_the_papers_nets():
    from configs import one_tower, paper
    assert alexnet(**paper.get_config().model).count_params() == 60_965_224
    assert alexnet(**one_tower.get_config().model).count_params() == 59_798_312
    c = paper.get_config()
    assert (c.batch_size, c.optimizer.learning_rate, c.optimizer.momentum,
            c.optimizer.weight_decay, c.epochs) == (128, 0.01, 0.9, 5e-4, 90)
