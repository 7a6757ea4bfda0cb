"""Image datasets of the paper's experiments, in their official layouts.

``load_cifar100``
    CIFAR-100 from the official ``cifar-100-python`` pickles (optional download).
``load_tiny_imagenet``
    Tiny-ImageNet-200 from its folder, zip or tar archive, decoded with Pillow
    once and cached on disk as memory-mapped uint8 arrays.
``load_image_folder``
    The user's own images: a folder with one sub-folder per class (and
    optionally ``train/`` / ``test/`` splits), resized and cached the same way.
``load_digits_images``
    scikit-learn's digits as 1x8x8 images with the names ``zero`` ... ``nine``;
    ships with the dependencies (no download).

Every loader returns a :class:`sklearn.utils.Bunch` with ``X_train``,
``y_train``, ``X_test``, ``y_test`` (images channels first, integer labels)
and ``class_names``.
"""

from simcalib.datasets._cifar100 import load_cifar100
from simcalib.datasets._digits import load_digits_images
from simcalib.datasets._folder import load_image_folder
from simcalib.datasets._tiny_imagenet import load_tiny_imagenet

__all__ = ["load_cifar100", "load_tiny_imagenet", "load_image_folder", "load_digits_images"]
