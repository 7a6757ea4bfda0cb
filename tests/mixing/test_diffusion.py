"""DiffusionGenerator on tiny random diffusers / EDM-style models, offline on CPU."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from simcalib.mixing import DiffusionGenerator, SemanticMixer  # noqa: E402


# ------------------------------------------------------------------ EDM path
class GaussianDenoiser(torch.nn.Module):
    """Exact denoiser D(x; sigma) of data x0 ~ N(m(c), s0^2 I), m(c) = c @ colours."""

    img_channels, img_resolution, label_dim = 1, 3, 3

    def __init__(self, s0=0.5):
        super().__init__()
        self.s0 = s0
        self.register_buffer("colours", torch.tensor([[-0.8], [0.0], [0.6]]))

    def mean(self, class_labels):
        return (class_labels @ self.colours)[:, :, None, None]

    def forward(self, x, sigma, class_labels):
        s = sigma.reshape(-1, 1, 1, 1)
        return (self.s0**2 * x + s**2 * self.mean(class_labels)) / (self.s0**2 + s**2)


def _edm_reference(net, noise, c, sigma_min, sigma_max):
    """Closed form of the probability-flow ODE for Gaussian data, then D at sigma_min.

    x(sigma) - m = (x(sigma_max) - m) * sqrt(s0^2 + sigma^2) / sqrt(s0^2 + sigma_max^2);
    the sampler starts at x = sigma_max * noise and ends with an Euler step
    to sigma = 0, which is D(x; sigma_min).
    """
    m = net.mean(c).double()
    s0 = net.s0
    x_end = m + (sigma_max * noise.double() - m) * np.sqrt(
        (s0**2 + sigma_min**2) / (s0**2 + sigma_max**2)
    )
    return (s0**2 * x_end + sigma_min**2 * m) / (s0**2 + sigma_min**2)


def test_edm_heun_sampler_solves_the_flow_ode_to_second_order():
    net = GaussianDenoiser()
    W = np.array([[1.0, 0.0, 0.0], [0.25, 0.0, 0.75], [0.0, 0.5, 0.5]])
    noise = torch.randn((3, 1, 3, 3), generator=torch.Generator().manual_seed(0))
    ref = _edm_reference(net, noise, torch.tensor(W, dtype=torch.float32), 0.002, 80.0)
    ref = ref.clamp(-1, 1).numpy()
    errors = []
    for steps in (40, 80, 160):
        gen = DiffusionGenerator(net, num_steps=steps, value_range=(-1.0, 1.0))
        errors.append(np.abs(gen.generate(W, random_state=0) - ref).max())
    assert errors[-1] < 1e-3
    # Heun is second order: doubling the steps divides the error by about 4
    assert errors[1] < errors[0] / 3 and errors[2] < errors[1] / 3


def test_edm_same_noise_and_class_index():
    net = GaussianDenoiser()
    # task classes 0, 1 are the model's classes 2 and 0
    gen = DiffusionGenerator(net, num_steps=10, class_index=[2, 0], value_range=(0, 255))
    mixed = gen.generate([[0.5, 0.5]], 4)
    full = DiffusionGenerator(net, num_steps=10, value_range=(0, 255))
    np.testing.assert_array_equal(mixed, full.generate([[0.5, 0.0, 0.5]], 4))
    assert mixed.shape == (1, 1, 3, 3)


# ------------------------------------------------------------- diffusers path
@pytest.fixture(scope="module")
def tiny_unet():
    diffusers = pytest.importorskip("diffusers")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        unet = diffusers.UNet2DModel(
            sample_size=8, in_channels=3, out_channels=3, layers_per_block=1,
            block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4,
            num_class_embeds=4,
        )
    return unet, diffusers


def _plain_ddim(unet, scheduler, labels, noise, steps):
    """The ordinary class-conditional DDIM loop with integer labels (no adapter)."""
    scheduler.set_timesteps(steps)
    x = noise.clone()
    with torch.no_grad():
        for t in scheduler.timesteps:
            eps = unet(x, t, class_labels=labels).sample
            x = scheduler.step(eps, t, x).prev_sample
    return np.clip((x.numpy() + 1) * 127.5, 0, 255)


def test_diffusers_adapter_end_to_end_on_a_tiny_random_unet(tiny_unet):
    unet, diffusers = tiny_unet
    scheduler = diffusers.DDIMScheduler(num_train_timesteps=50)
    gen = DiffusionGenerator(unet, scheduler, num_steps=4, batch_size=2)
    W = np.array([[1.0, 0, 0, 0], [0, 0, 1.0, 0], [0.5, 0, 0.5, 0]])
    images = gen.generate(W, random_state=0)
    assert images.shape == (3, 3, 8, 8) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 255
    # one-hot weights reproduce ordinary class conditioning with the same noise
    noise = torch.randn((3, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    ref = _plain_ddim(unet, diffusers.DDIMScheduler(num_train_timesteps=50),
                      torch.tensor([0, 2, 0]), noise, 4)
    np.testing.assert_allclose(images[:2], ref[:2], atol=1e-3)
    # the mixture, rendered from the same noise, is neither pure class ...
    pure = [_plain_ddim(unet, diffusers.DDIMScheduler(num_train_timesteps=50),
                        torch.tensor([0, 2, c]), noise, 4)[2] for c in (0, 2)]
    assert min(np.abs(images[2] - p).max() for p in pure) > 1e-2
    # ... but the class whose embedding is the mixture of the two class vectors:
    # a copy of the network with class 1's vector set to 0.5 e_0 + 0.5 e_2
    mixed_net = copy.deepcopy(unet)
    with torch.no_grad():
        table = mixed_net.class_embedding.weight
        table[1] = 0.5 * table[0] + 0.5 * table[2]
    ref_mix = _plain_ddim(mixed_net, diffusers.DDIMScheduler(num_train_timesteps=50),
                          torch.tensor([0, 2, 1]), noise, 4)
    np.testing.assert_allclose(images[2], ref_mix[2], atol=1e-3)
    # the caller's scheduler is not mutated, the hooks are removed
    assert scheduler.num_inference_steps is None
    assert not unet.class_embedding._forward_hooks


def test_diffusers_adapter_drives_the_mixer(tiny_unet):
    unet, diffusers = tiny_unet
    gen = DiffusionGenerator(unet, diffusers.DDPMScheduler(num_train_timesteps=20),
                             num_steps=3, class_index=[1, 3])
    mixer = SemanticMixer(gen, lambda x: np.full((len(x), 2), 0.5), n_calibration=4,
                          random_state=0)
    X = np.zeros((2, 3, 8, 8), dtype=np.uint8)
    mixer.fit(X, ["cat", "dog"])
    images, targets = mixer.mix("cat", "dog", [0.0, 0.5, 1.0], random_state=0)
    assert images.dtype == np.uint8 and images.shape == (3, 3, 8, 8)
    # an annotator that sees no evidence either way: every mix is 50/50
    np.testing.assert_allclose(targets, 0.5)


def test_diffusers_adapter_errors(tiny_unet):
    unet, diffusers = tiny_unet
    sched = diffusers.DDIMScheduler(num_train_timesteps=10)
    with pytest.raises(ValueError, match="4 classes; pass class_index"):
        DiffusionGenerator(unet, sched, num_steps=1).generate([[0.5, 0.5]])
    with pytest.raises(ValueError, match=r"class_index must lie in \[0, 4\)"):
        DiffusionGenerator(unet, sched, num_steps=1, class_index=[0, 9]).generate([[0.5, 0.5]])
    with pytest.raises(ValueError, match="repeated"):
        DiffusionGenerator(unet, sched, num_steps=1, class_index=[1, 1]).generate([[0.5, 0.5]])
    plain = diffusers.UNet2DModel(
        sample_size=8, in_channels=3, out_channels=3, layers_per_block=1,
        block_out_channels=(8, 16), down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4,
    )
    with pytest.raises(ValueError, match="has no class_embedding"):
        DiffusionGenerator(plain, sched, num_steps=1).generate([[0.5, 0.5]])
    with pytest.raises(ValueError, match="torch.nn.Embedding"):
        DiffusionGenerator(unet, sched, embedding=torch.nn.Linear(2, 2)).generate([[1, 0, 0, 0]])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_steps": 0}, "num_steps"),
        ({"value_range": (1, 0)}, "value_range"),
        ({"value_range": "0-255"}, "value_range"),
        ({"sigma_min": 0.0}, "sigma_min"),
        ({"sigma_max": 0.001}, "sigma_max"),
        ({"image_shape": (3, 8)}, r"image_shape must be \(C, H, W\)"),
        ({"model": "unet"}, "model must be callable"),
    ],
)
def test_edm_bad_parameters(kwargs, match):
    params = {"model": GaussianDenoiser()}
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        DiffusionGenerator(**params).generate([[1.0, 0.0, 0.0]])


def test_edm_needs_an_image_shape():
    with pytest.raises(ValueError, match="pass image_shape"):
        DiffusionGenerator(lambda x, s, c: x).generate([[1.0, 0.0]])
