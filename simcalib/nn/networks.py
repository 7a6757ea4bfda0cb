"""CIFAR-style image classifiers written in plain torch (no torchvision).

Every network takes ``in_channels`` and ``n_classes``, keeps the spatial
resolution in its stem (3x3 convolution, stride 1, no max-pool, as in the
CIFAR versions of the papers) and ends with adaptive average pooling, so the
same definition runs on 8x8 (digits), 32x32 (CIFAR, Tiny-ImageNet-32) and
64x64 (Tiny-ImageNet) inputs. Each returns logits of shape
``(batch, n_classes)``.

:func:`build_network` maps a short name (``"resnet18"``, ``"wrn28_10"``,
``"densenet_bc100"``, ``"small_cnn"``, ...) to a network; it is what
:class:`simcalib.classifier.SimilarityLSClassifier` calls when its ``module``
is a name or None.
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torch.nn import functional as F

from simcalib._validation import check_scalar_in_range

__all__ = [
    "ResNet",
    "WideResNet",
    "DenseNet",
    "SmallCNN",
    "build_network",
    "available_networks",
]


def _init_weights(module):
    # He initialisation for convolutions, the usual choice for ReLU networks
    # (He et al. 2016; the CIFAR reference implementations do the same).
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


def _check_int(value, name, lo=1):
    return check_scalar_in_range(value, name, lo=lo, integer=True)


# --------------------------------------------------------------------- ResNet
class _BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + skip)


class ResNet(nn.Module):
    """CIFAR-style ResNet with basic blocks (He et al. 2016).

    Parameters
    ----------
    in_channels : int
        Channels of the input images.
    n_classes : int
        Number of output logits.
    blocks : tuple of int, default=(2, 2, 2, 2)
        Basic blocks per stage; stage ``i`` has ``width * 2**i`` channels and
        all stages after the first halve the resolution. ``(2, 2, 2, 2)`` is
        ResNet-18, ``(3, 4, 6, 3)`` ResNet-34, ``(n, n, n)`` with
        ``width=16`` the 6n+2-layer CIFAR ResNets (ResNet-20/56/110).
    width : int, default=64
        Channels of the stem and of the first stage.

    Examples
    --------
    >>> import torch
    >>> net = ResNet(3, 10, blocks=(1, 1), width=8)
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels, n_classes, blocks=(2, 2, 2, 2), width=64):
        super().__init__()
        _check_int(in_channels, "in_channels")
        _check_int(n_classes, "n_classes")
        _check_int(width, "width")
        if len(blocks) == 0:
            raise ValueError(f"blocks must be a non-empty tuple; got {blocks!r}")
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        stages, c_in = [], width
        for i, n in enumerate(blocks):
            _check_int(n, "blocks[i]")
            c_out = width * 2**i
            layers = [_BasicBlock(c_in, c_out, 1 if i == 0 else 2)]
            layers += [_BasicBlock(c_out, c_out, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(c_in, n_classes)
        _init_weights(self)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ---------------------------------------------------------------- WideResNet
class _WideBlock(nn.Module):
    # pre-activation block of Zagoruyko & Komodakis (2016)
    def __init__(self, c_in, c_out, stride, dropout):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.dropout = dropout
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x):
        o = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(o)
        out = self.conv1(o)
        out = F.relu(self.bn2(out))
        if self.dropout > 0:
            out = F.dropout(out, p=self.dropout, training=self.training)
        return self.conv2(out) + skip


class WideResNet(nn.Module):
    """Wide ResNet WRN-depth-k (Zagoruyko & Komodakis 2016).

    Parameters
    ----------
    in_channels : int
        Channels of the input images.
    n_classes : int
        Number of output logits.
    depth : int, default=28
        Total depth; must be ``6 n + 4`` (16, 22, 28, 40, ...).
    widen_factor : int, default=10
        Channel multiplier k: stages have 16k, 32k and 64k channels.
    dropout : float, default=0.0
        Dropout probability between the two convolutions of a block.

    Examples
    --------
    >>> import torch
    >>> net = WideResNet(1, 10, depth=10, widen_factor=1)
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels, n_classes, depth=28, widen_factor=10, dropout=0.0):
        super().__init__()
        _check_int(depth, "depth", lo=10)
        if (depth - 4) % 6:
            raise ValueError(f"depth must be 6n+4 (16, 22, 28, 40, ...); got {depth!r}")
        _check_int(widen_factor, "widen_factor")
        check_scalar_in_range(dropout, "dropout", lo=0.0, hi=1.0, hi_open=True)
        n = (depth - 4) // 6
        widths = [16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.stem = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        stages, c_in = [], 16
        for i, c_out in enumerate(widths):
            layers = [_WideBlock(c_in, c_out, 1 if i == 0 else 2, dropout)]
            layers += [_WideBlock(c_out, c_out, 1, dropout) for _ in range(n - 1)]
            stages.append(nn.Sequential(*layers))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.bn = nn.BatchNorm2d(c_in)
        self.fc = nn.Linear(c_in, n_classes)
        _init_weights(self)

    def forward(self, x):
        x = F.relu(self.bn(self.stages(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ------------------------------------------------------------------ DenseNet
class _DenseLayer(nn.Module):
    # BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k): the "B" of DenseNet-BC
    def __init__(self, c_in, growth_rate):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, 4 * growth_rate, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4 * growth_rate)
        self.conv2 = nn.Conv2d(4 * growth_rate, growth_rate, 3, 1, 1, bias=False)

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return torch.cat([x, out], 1)


class _Transition(nn.Module):
    # the "C" of DenseNet-BC: compress channels, halve the resolution
    def __init__(self, c_in, c_out):
        super().__init__()
        self.bn = nn.BatchNorm2d(c_in)
        self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x):
        x = self.conv(F.relu(self.bn(x)))
        # ceil_mode keeps a 1x1 map 1x1, so deep configs also run on 8x8 inputs
        return F.avg_pool2d(x, 2, ceil_mode=True)


class DenseNet(nn.Module):
    """DenseNet-BC (Huang et al. 2017) with a CIFAR stem.

    Parameters
    ----------
    in_channels : int
        Channels of the input images.
    n_classes : int
        Number of output logits.
    growth_rate : int, default=12
        Channels added by each dense layer (k).
    block_config : tuple of int, default=(16, 16, 16)
        Dense layers per block; ``(16, 16, 16)`` with ``growth_rate=12`` is
        DenseNet-BC-100, ``(6, 12, 24, 16)`` with ``growth_rate=32`` is the
        DenseNet-121 layout.
    compression : float, default=0.5
        Fraction of channels kept by each transition layer (theta).

    Examples
    --------
    >>> import torch
    >>> net = DenseNet(3, 5, growth_rate=4, block_config=(1, 1))
    >>> net(torch.zeros(2, 3, 8, 8)).shape
    torch.Size([2, 5])
    """

    def __init__(
        self, in_channels, n_classes, growth_rate=12, block_config=(16, 16, 16),
        compression=0.5,
    ):
        super().__init__()
        _check_int(growth_rate, "growth_rate")
        check_scalar_in_range(compression, "compression", lo=0.0, hi=1.0, lo_open=True)
        if len(block_config) == 0:
            raise ValueError(f"block_config must be non-empty; got {block_config!r}")
        c = 2 * growth_rate
        layers = [nn.Conv2d(in_channels, c, 3, 1, 1, bias=False)]
        for i, n in enumerate(block_config):
            _check_int(n, "block_config[i]")
            for _ in range(n):
                layers.append(_DenseLayer(c, growth_rate))
                c += growth_rate
            if i < len(block_config) - 1:
                c_out = max(1, int(c * compression))
                layers.append(_Transition(c, c_out))
                c = c_out
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, n_classes)
        _init_weights(self)

    def forward(self, x):
        x = self.features(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ----------------------------------------------------------------- SmallCNN
class SmallCNN(nn.Module):
    """A three-convolution network for CPU tests and demos.

    Conv-BN-ReLU with ``width``, ``2 width`` (stride 2) and ``4 width``
    (stride 2) channels, global average pooling and a linear layer.

    Parameters
    ----------
    in_channels : int
        Channels of the input images.
    n_classes : int
        Number of output logits.
    width : int, default=16
        Channels of the first convolution.

    Examples
    --------
    >>> import torch
    >>> SmallCNN(1, 10, width=4)(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([3, 10])
    """

    def __init__(self, in_channels, n_classes, width=16):
        super().__init__()
        _check_int(width, "width")
        w = width
        layers, c_in = [], in_channels
        for c_out, stride in ((w, 1), (2 * w, 2), (4 * w, 2)):
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, n_classes)
        _init_weights(self)

    def forward(self, x):
        x = self.features(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# ------------------------------------------------------------------ registry
def _cifar_resnet(n):
    return lambda c, k, **kw: ResNet(c, k, blocks=(n, n, n), **{"width": 16, **kw})


_FIXED = {
    "small_cnn": lambda c, k, **kw: SmallCNN(c, k, **kw),
    "resnet8": _cifar_resnet(1),
    "resnet20": _cifar_resnet(3),
    "resnet32": _cifar_resnet(5),
    "resnet56": _cifar_resnet(9),
    "resnet110": _cifar_resnet(18),
    "resnet18": lambda c, k, **kw: ResNet(c, k, blocks=(2, 2, 2, 2), **kw),
    "resnet34": lambda c, k, **kw: ResNet(c, k, blocks=(3, 4, 6, 3), **kw),
    "densenet121": lambda c, k, **kw: DenseNet(
        c, k, **{"growth_rate": 32, "block_config": (6, 12, 24, 16), **kw}
    ),
}
_WRN = re.compile(r"^wrn[-_]?(\d+)[-_](\d+)$")
_DENSENET_BC = re.compile(r"^densenet[-_]?bc[-_]?(\d+)$")


def available_networks():
    """Return the names accepted by :func:`build_network`.

    Returns
    -------
    names : list of str
        Fixed names plus the patterns ``"wrn<depth>_<k>"`` and
        ``"densenet_bc<depth>"``.

    Examples
    --------
    >>> "resnet18" in available_networks()
    True
    """
    return sorted(_FIXED) + ["wrn<depth>_<k>", "densenet_bc<depth>"]


def build_network(name, in_channels, n_classes, **kwargs):
    """Build a network by name.

    Parameters
    ----------
    name : str
        One of :func:`available_networks` (case-insensitive): ``"small_cnn"``;
        CIFAR ResNets ``"resnet8"``, ``"resnet20"``, ``"resnet32"``,
        ``"resnet56"``, ``"resnet110"`` (3 stages, width 16); ``"resnet18"``,
        ``"resnet34"`` (4 stages, width 64); Wide ResNets ``"wrn<depth>_<k>"``
        such as ``"wrn16_4"`` or ``"wrn28_10"`` (``"WRN-28-10"`` works too);
        DenseNet-BC ``"densenet_bc<depth>"`` (growth rate 12, depth ``6n+4``,
        e.g. ``"densenet_bc100"``) and ``"densenet121"``.
    in_channels : int
        Channels of the input images.
    n_classes : int
        Number of output logits.
    **kwargs
        Passed to the network's constructor (e.g. ``width`` for the ResNets
        and :class:`SmallCNN`, ``dropout`` for Wide ResNets, ``growth_rate``
        for DenseNets), overriding the defaults of the name.

    Returns
    -------
    module : torch.nn.Module
        An initialised network mapping ``(batch, in_channels, H, W)`` float
        tensors to ``(batch, n_classes)`` logits.

    Raises
    ------
    ValueError
        If ``name`` is unknown.

    Examples
    --------
    >>> import torch
    >>> net = build_network("wrn16_4", 3, 100)
    >>> net(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 100])
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a string; got {name!r}")
    key = name.lower().strip()
    if key in _FIXED:
        return _FIXED[key](in_channels, n_classes, **kwargs)
    match = _WRN.match(key)
    if match:
        depth, k = int(match.group(1)), int(match.group(2))
        return WideResNet(in_channels, n_classes, depth=depth, widen_factor=k, **kwargs)
    match = _DENSENET_BC.match(key)
    if match:
        depth = int(match.group(1))
        if (depth - 4) % 6 or depth < 10:
            raise ValueError(
                f"name={name!r}: DenseNet-BC depth must be 6n+4 (40, 100, 190, ...)"
            )
        n = (depth - 4) // 6
        return DenseNet(in_channels, n_classes, **{"block_config": (n, n, n), **kwargs})
    raise ValueError(
        f"name={name!r} is not a known network; choose one of {available_networks()}"
    )
