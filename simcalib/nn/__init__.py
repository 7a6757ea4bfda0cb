"""Torch building blocks: CIFAR-style networks, soft-target losses, augmentation.

Importing this subpackage imports torch. Everything here works on CPU and
uses CUDA when the tensors it is given live there.
"""

from importlib import import_module

from simcalib.nn._device import autocast, resolve_device, uses_cuda
from simcalib.nn.augmentation import random_crop_flip
from simcalib.nn.losses import (
    CrossEntropyL2,
    SoftTargetCrossEntropy,
    cross_entropy_l2,
    soft_target_cross_entropy,
)
from simcalib.nn.networks import (
    DenseNet,
    ResNet,
    SmallCNN,
    WideResNet,
    available_networks,
    build_network,
)

__all__ = [
    "ResNet",
    "WideResNet",
    "DenseNet",
    "SmallCNN",
    "build_network",
    "available_networks",
    "soft_target_cross_entropy",
    "SoftTargetCrossEntropy",
    "cross_entropy_l2",
    "CrossEntropyL2",
    "random_crop_flip",
    "resolve_device",
    "autocast",
    "uses_cuda",
]


def __getattr__(name):
    # the autoencoder lives in its own module (similarity's area); load on use
    if name == "ConvAutoencoder":
        return import_module("simcalib.nn.autoencoder").ConvAutoencoder
    if name == "ConditionalVAE":
        return import_module("simcalib.nn.vae").ConditionalVAE
    raise AttributeError(f"module 'simcalib.nn' has no attribute {name!r}")
