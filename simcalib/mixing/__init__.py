"""Calibration-aware semantic mixing: generated class mixes with re-annotated soft labels.

The data flow (Luo et al., ICML 2025, "CSM")::

    class pair (a, b), ratio lam  ->  generator         ->  mixed images
                                  ->  annotator         ->  evidence of a vs b
                                  ->  isotonic map g    ->  soft label g(lam) on a, 1 - g(lam) on b
                                  ->  classifier trained on real + mixed samples
                                      (per-sample soft targets; CE + L2 loss)

Generators share one interface, ``generate(class_weights (n, K), random_state)
-> images (n, C, H, W)``; any callable of that shape works:

``PixelMixGenerator``
    mixup / CutMix of real images (the degenerate baseline; numpy only).
``ConditionalVAEGenerator``
    a class-conditional VAE that trains on a CPU in minutes.
``AutoencoderLatentGenerator``
    decodes interpolated class latents of the AE similarity's autoencoder.
``DiffusionGenerator``
    a local class-conditional diffusion model (diffusers or EDM-style).

:class:`SemanticMixer` draws the pairs (uniformly or from a class
similarity), calls the generator and re-annotates; the training side takes
its output as per-sample soft targets of
:class:`~simcalib.classifier.SimilarityLSClassifier`, either a pre-generated
set (:meth:`SemanticMixer.augment`) or fresh mixes every epoch
(:class:`SemanticMixingClassifier`, :class:`MixedSampleRefresh`).
"""

from importlib import import_module

from simcalib.mixing._annotation import PrototypeAnnotator, annotate, pair_evidence
from simcalib.mixing._diffusion import DiffusionGenerator
from simcalib.mixing._figure import plot_mixing_grid
from simcalib.mixing._generators import (
    BaseGenerator,
    PixelMixGenerator,
    check_class_weights,
    generate_images,
)
from simcalib.mixing._latent import AutoencoderLatentGenerator
from simcalib.mixing._mixer import SemanticMixer
from simcalib.mixing._vae import ConditionalVAEGenerator

__all__ = [
    "SemanticMixer",
    "BaseGenerator",
    "PixelMixGenerator",
    "ConditionalVAEGenerator",
    "AutoencoderLatentGenerator",
    "DiffusionGenerator",
    "PrototypeAnnotator",
    "annotate",
    "pair_evidence",
    "check_class_weights",
    "generate_images",
    "plot_mixing_grid",
    "SemanticMixingClassifier",
    "MixedSampleRefresh",
]


def __getattr__(name):
    # the training side needs skorch and torch; load it on first use
    if name in ("SemanticMixingClassifier", "MixedSampleRefresh"):
        return getattr(import_module("simcalib.mixing._training"), name)
    raise AttributeError(f"module 'simcalib.mixing' has no attribute {name!r}")
