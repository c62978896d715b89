"""The paper's one-GPU net (Sec. 5, Table 1 "1 CNN" vs two towers): half the kernels in
conv1..conv4, 59,798,312 parameters; otherwise the paper's recipe."""
from configs import paper


def get_config():
    c = paper.get_config()
    c.model.towers = 1
    return c
