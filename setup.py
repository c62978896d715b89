"""Installs the alexnet_tf package.

TensorFlow comes from an extra so that a CPU machine does not pull CUDA:
    pip install -e ".[cpu,test]"   # CPU-only TensorFlow, plus pytest
    pip install -e ".[gpu]"        # TensorFlow with its CUDA libraries
"""
from setuptools import find_packages, setup

setup(
    name="alexnet_tf",
    version="0.1.0",
    description=("The AlexNet of Krizhevsky, Sutskever & Hinton (NIPS 2012) in "
                 "TensorFlow/Keras 3."),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["alexnet_tf", "alexnet_tf.*", "configs", "configs.*"]),
    package_data={"configs": ["classes/*.txt"]},  # class lists of the transfer study
    python_requires=">=3.10",
    install_requires=[
        "keras>=3.0,<4",
        "ml_collections",       # configs as code, with --config.field=value overrides
        "numpy",
        "scipy",                # t quantiles of a study report's intervals (analysis.py)
        "tensorboard",
        "tensorflow-datasets",
        "importlib_resources",  # tfds' dataset builders import it (via etils) at run time
        "matplotlib",           # the paper's figures (tools/figures.py)
        "tqdm",                 # progress bars
    ],
    extras_require={
        "cpu": ["tensorflow-cpu==2.21.*"],
        "gpu": ["tensorflow[and-cuda]==2.21.*"],
        "test": ["pytest", "pillow"],  # pillow makes CMYK/PNG/odd test images
        # tools/export.py --format litert|onnx and their runtimes (alexnet_tf.portable).
        # tf2onnx 1.16 pins protobuf 3.20, which TensorFlow 2.21 cannot import.
        "export": ["ai-edge-litert", "onnx", "onnxruntime", "tf2onnx>=1.17"],
    },
)
