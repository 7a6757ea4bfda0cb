"""Bad numbers to the torch building blocks and the training callbacks: each refused
by name (NaN, infinity, booleans, strings and out-of-range values alike)."""

import pytest

torch = pytest.importorskip("torch")

from simcalib.classifier import (  # noqa: E402
    DeviceBatchIterator,
    ImageTensorDataset,
    LRSchedule,
    TrainingCheckpoint,
)
from simcalib.nn import build_network, random_crop_flip  # noqa: E402
from simcalib.nn.autoencoder import ConvAutoencoder  # noqa: E402

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "name, kwargs, match",
    [("small_cnn", dict(width=0), "width"),
     ("small_cnn", dict(width=2.5), "width"),
     ("small_cnn", dict(width=True), "width"),
     ("resnet8", dict(width=NAN), "width"),
     ("wrn10_1", dict(dropout=NAN), "dropout"),
     ("wrn10_1", dict(dropout=1.0), "dropout"),
     ("wrn10_1", dict(dropout="0.1"), "dropout"),
     ("wrn10_1", dict(dropout=True), "dropout"),
     ("densenet_bc40", dict(compression=NAN), "compression"),
     ("densenet_bc40", dict(compression="half"), "compression"),
     ("densenet_bc40", dict(growth_rate=0), "growth_rate"),
     ("resnet9999", {}, "not a known network")],
)
def test_bad_network_arguments(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_network(name, 3, 10, **kwargs)


@pytest.mark.parametrize(
    "args, match",
    [((0, 8, 4), "in_channels"), ((1, 8, NAN), "latent_dim"), ((1, (8, 0), 4), "image_size"),
     ((1, 8, 2.5), "latent_dim"), ((True, 8, 4), "in_channels")],
)
def test_bad_autoencoder_sizes(args, match):
    with pytest.raises(ValueError, match=match):
        ConvAutoencoder(*args)


@pytest.mark.parametrize("padding", [-1, 2.5, True, NAN, "4"])
def test_bad_crop_padding(padding):
    with pytest.raises(ValueError, match="padding"):
        random_crop_flip(torch.zeros(2, 1, 8, 8), padding=padding,
                         generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(kind="step"), "kind"), (dict(pct_start=NAN), "pct_start"),
     (dict(pct_start=1.0), "pct_start"), (dict(div_factor=NAN), "div_factor"),
     (dict(div_factor=0.0), "div_factor"), (dict(final_div_factor=INF), "final_div_factor"),
     (dict(pct_start="x"), "pct_start")],
)
def test_bad_lr_schedule(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LRSchedule(**kwargs).initialize()


@pytest.mark.parametrize("every", [0, 1.5, True, NAN])
def test_bad_checkpoint_interval(every, tmp_path):
    with pytest.raises(ValueError, match="every"):
        TrainingCheckpoint(tmp_path, every=every).initialize()


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(batch_size=0), "batch_size"), (dict(batch_size=NAN), "batch_size"),
     (dict(batch_size=True), "batch_size"), (dict(num_replicas=0), "num_replicas"),
     (dict(num_replicas=2, rank=2), "rank"), (dict(rank=-1), "rank"),
     (dict(shuffle=True), "generator")],
)
def test_bad_batch_iterator_arguments(kwargs, match):
    ds = ImageTensorDataset(torch.zeros(4, 1, 2, 2), torch.arange(4))
    with pytest.raises(ValueError, match=match):
        DeviceBatchIterator(ds, **kwargs)
