import pytest

torch = pytest.importorskip("torch")

from simcalib.nn import (  # noqa: E402
    DenseNet,
    ResNet,
    SmallCNN,
    WideResNet,
    available_networks,
    build_network,
)

# small versions of every family, so the shape checks stay fast on a CPU
TINY = {
    "small_cnn": {"width": 4},
    "resnet8": {"width": 4},
    "resnet18": {"width": 4},
    "resnet34": {"width": 2},
    "wrn10_1": {},
    "densenet_bc10": {"growth_rate": 4},
    "densenet121": {"growth_rate": 2},
}


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [8, 32, 64])
def test_output_shape(name, channels, size):
    torch.manual_seed(0)
    net = build_network(name, channels, 7, **TINY[name]).eval()
    with torch.no_grad():
        out = net(torch.randn(2, channels, size, size))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


def test_registry_builds_the_named_architectures():
    r18 = build_network("resnet18", 3, 10)
    assert isinstance(r18, ResNet)
    # ResNet-18 on CIFAR-10: 11.17 M parameters (the usual CIFAR figure)
    assert sum(p.numel() for p in r18.parameters()) == 11_173_962
    r34 = build_network("resnet34", 3, 10)
    assert sum(len(s) for s in r34.stages) == 3 + 4 + 6 + 3
    wrn = build_network("WRN-28-10", 3, 100)
    assert isinstance(wrn, WideResNet)
    # WRN-28-10 on CIFAR-100: 36.5 M parameters (Zagoruyko & Komodakis, table 1)
    assert round(sum(p.numel() for p in wrn.parameters()) / 1e6, 1) == 36.5
    wrn16 = build_network("wrn16_4", 3, 10)
    assert sum(len(s) for s in wrn16.stages) == 6
    dense = build_network("densenet_bc100", 3, 10)
    assert isinstance(dense, DenseNet)
    # DenseNet-BC (L=100, k=12): 0.8 M parameters (Huang et al., table 2)
    assert round(sum(p.numel() for p in dense.parameters()) / 1e6, 1) == 0.8
    assert isinstance(build_network("small_cnn", 1, 2), SmallCNN)
    assert "resnet18" in available_networks()


def test_cifar_stem_keeps_resolution():
    net = ResNet(3, 10, blocks=(1,), width=4)
    feats = net.stem(torch.zeros(1, 3, 32, 32))
    assert feats.shape[-2:] == (32, 32)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: build_network("vgg", 3, 10), "name='vgg'"),
        (lambda: build_network("densenet_bc11", 3, 10), "6n\\+4"),
        (lambda: WideResNet(3, 10, depth=27), "depth"),
        (lambda: ResNet(0, 10), "in_channels"),
        (lambda: DenseNet(3, 10, compression=0.0), "compression"),
        (lambda: WideResNet(3, 10, depth=16, dropout=1.5), "dropout"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
