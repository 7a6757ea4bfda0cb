"""Calibration-aware semantic mixing (CSM) against one-hot, mixup, CutMix, LS and TS.

Trains, for each seed, a small CNN in an over-confident regime and compares

* baselines: one-hot cross-entropy, temperature scaling of it on a held-out
  split (TS), uniform label smoothing, class-similarity label smoothing
  from GloVe word embeddings of the class names (WE), mixup;
* semantic mixing with each offline generator -- pixel mixup, CutMix
  (:class:`~simcalib.mixing.PixelMixGenerator`) and the class-conditional
  VAE (:class:`~simcalib.mixing.ConditionalVAEGenerator`; on digits also
  the autoencoder-latent generator) -- with raw-ratio labels or calibrated
  re-annotation, and with cross-entropy or cross-entropy + L2
  (:class:`~simcalib.nn.CrossEntropyL2`); plus the full CSM configuration
  with class pairs drawn from the WE similarity.

Semantic mixing trains on the real images plus ``n_mixed`` fresh mixes per
epoch (:class:`~simcalib.mixing.SemanticMixingClassifier`). The annotator of
the re-annotation is the seed's one-hot network, temperature-scaled on the
held-out split (a classifier trained on the clean data and calibrated on
held-out data: no extra data, no pretrained model). The raw-ratio variant
"cutmix/raw/ce" is CutMix as an added-sample augmentation, the CutMix
baseline.

Every run is stored as ``<out>/runs/<method>__s<seed>.json`` (metrics and
training seconds) and skipped when present, so an interrupted invocation
resumes where it stopped; networks and generators that several runs share
(the one-hot annotator, the VAE, the fitted mixers) are pickled in
``--cache-dir``. ``<out>/results.md`` and ``results.csv`` are rewritten from
all stored runs at the end, with the figures ``mixing_grid.png`` and
``confidence_maps.png``.

Examples::

    python benchmarks/bench_semantic_mixing.py --dataset digits \\
        --word-vectors ../shared/data/wordvectors/glove.6B.50d.top100k.txt.gz \\
        --out docs/results/semantic-mixing-digits
    python benchmarks/bench_semantic_mixing.py --dataset tiny-imagenet \\
        --data-dir ../shared/data/tinyimagenet/tiny-imagenet-200-32px.tar.xz \\
        --word-vectors ../shared/data/wordvectors/glove.6B.50d_tinyimagenet200.txt \\
        --out docs/results/semantic-mixing-tiny-imagenet-32
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# ----------------------------------------------------------------- settings
@dataclass
class Preset:
    """Data sizes, network and training budget of one dataset."""

    train_per_class: int
    holdout_per_class: int
    width: int
    epochs: int
    batch_size: int
    lr: float
    lr_schedule: str | None
    n_mixed: int
    vae: dict
    ae: dict | None
    classes: int | None = None
    #: extra smoothing strengths for uniform and WE label smoothing
    extra_alphas: tuple = ()


PRESETS = {
    # the lead's over-confident digits regime (notes/REGIME.md): a tiny
    # training split, no weight decay, many epochs at a constant lr
    "digits": Preset(
        train_per_class=4, holdout_per_class=10, width=32, epochs=200, batch_size=10,
        lr=3e-3, lr_schedule=None, n_mixed=20,
        vae={"latent_dim": 8, "width": 16, "epochs": 300, "batch_size": 40,
             "aux_weight": 1.0},
        ae={"latent_dim": 16, "epochs": 300, "batch_size": 40},
        # alpha = 0.1 leaves these networks under-confident: a weaker one too
        extra_alphas=(0.02,),
    ),
    # Tiny-ImageNet-32, first 20 classes, 100 training images per class, a
    # width-32 small CNN without weight decay for 40 epochs: one-hot test
    # confidence 0.45 at 35 % accuracy (measured before the benchmark)
    "tiny-imagenet": Preset(
        train_per_class=100, holdout_per_class=20, width=32, epochs=40, batch_size=128,
        lr=2e-3, lr_schedule="onecycle", n_mixed=1000, classes=20,
        vae={"latent_dim": 16, "width": 16, "epochs": 20, "batch_size": 128,
             "aux_weight": 100.0},
        ae=None,
    ),
}

ALPHA, BETA, MIXUP_ALPHA, L2_WEIGHT = 0.1, 2.0, 0.2, 1.0
#: Tiny-ImageNet: unused training images per class kept as an in-distribution
#: test set beside the official validation split
IN_TEST_PER_CLASS = 50


@dataclass(frozen=True)
class Method:
    key: str  # file name
    label: str  # table row
    kind: str  # "train", "ts" or "mix"
    generator: str | None = None
    labels: str | None = None  # "raw" or "cal"
    loss: str | None = None  # "ce" or "l2"
    pairs: str = "uniform"


@dataclass(frozen=True)
class SmoothingMethod(Method):
    alpha: float = ALPHA


def methods_for(dataset):
    out = [
        Method("one-hot", "One-hot", "train"),
        Method("ts", "TS", "ts"),
        Method("one-hot-l2", "One-hot · CE+L2 (no mixes)", "train"),
        SmoothingMethod("uniform", f"Uniform LS α={ALPHA:g}", "train"),
        SmoothingMethod("we", f"WE LS α={ALPHA:g}", "train"),
    ]
    for a in PRESETS[dataset].extra_alphas:
        out += [SmoothingMethod(f"uniform-a{a:g}", f"Uniform LS α={a:g}", "train", alpha=a),
                SmoothingMethod(f"we-a{a:g}", f"WE LS α={a:g}", "train", alpha=a)]
    out.append(Method("mixup", "Mixup", "train"))
    generators = ["pixmix", "cutmix", "cvae"] + (["ae"] if dataset == "digits" else [])
    names = {"pixmix": "pixel mixup", "cutmix": "CutMix", "cvae": "CVAE", "ae": "AE latent"}
    for gen in generators:
        for labels in ("raw", "cal"):
            for loss in ("ce", "l2"):
                out.append(Method(
                    f"{gen}-{labels}-{loss}",
                    f"{names[gen]} · {'λ' if labels == 'raw' else 'g(λ)'} · "
                    f"{'CE' if loss == 'ce' else 'CE+L2'}",
                    "mix", gen, labels, loss,
                ))
    out.append(Method("cvae-cal-l2-wepairs", "CVAE · g(λ) · CE+L2 · WE pairs", "mix",
                      "cvae", "cal", "l2", "we"))
    return out


# --------------------------------------------------------------------- data
@dataclass
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_hold: np.ndarray
    y_hold: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    word_names: list
    class_names: list
    #: in-distribution test images (unused training images), or None
    X_in: np.ndarray | None = None
    y_in: np.ndarray | None = None


def _per_class(y, counts, rng):
    """Disjoint random index sets with counts[j] images of every class."""
    parts = [[] for _ in counts]
    for k in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == k))
        start = 0
        for j, c in enumerate(counts):
            parts[j].append(idx[start:start + c])
            start += c
    return [np.sort(np.concatenate(p)) for p in parts]


def load_split(args, preset, seed):
    rng = np.random.default_rng(1000 + seed)
    if args.dataset == "digits":
        from simcalib.datasets import load_digits_images

        d = load_digits_images()
        X, y = np.asarray(d.images, dtype=np.float32), np.asarray(d.target)
        tr, ho = _per_class(y, [preset.train_per_class, preset.holdout_per_class], rng)
        rest = np.setdiff1d(np.arange(len(y)), np.concatenate([tr, ho]))
        names = list(d.class_names)
        return Split(X[tr], y[tr], X[ho], y[ho], X[rest], y[rest], names, names)
    from simcalib.datasets import load_tiny_imagenet

    d = load_tiny_imagenet(args.data_dir, classes=preset.classes)
    y = np.asarray(d.y_train)
    tr, ho, ins = _per_class(
        y, [preset.train_per_class, preset.holdout_per_class, IN_TEST_PER_CLASS], rng)
    X = d.X_train
    return Split(np.asarray(X[tr]), y[tr], np.asarray(X[ho]), y[ho],
                 np.asarray(d.X_test), np.asarray(d.y_test),
                 list(d.class_descriptions), list(d.class_names),
                 np.asarray(X[ins]), y[ins])


# ----------------------------------------------------------------- training
def make_classifier(preset, seed, similarity="onehot", alpha=0.0, mixup=0.0, l2=False):
    from simcalib.classifier import SimilarityLSClassifier
    from simcalib.nn import CrossEntropyL2, SoftTargetCrossEntropy

    kwargs = {}
    if l2:
        kwargs = {"criterion": CrossEntropyL2, "criterion__l2_weight": L2_WEIGHT}
    else:
        kwargs = {"criterion": SoftTargetCrossEntropy}
    return SimilarityLSClassifier(
        "small_cnn", similarity=similarity, alpha=alpha, beta=BETA, mixup_alpha=mixup,
        module__width=preset.width, max_epochs=preset.epochs, batch_size=preset.batch_size,
        lr=preset.lr, lr_schedule=preset.lr_schedule, optimizer__weight_decay=0.0,
        random_state=seed, device="cpu", verbose=0, **kwargs,
    )


def we_similarity(args, split):
    from simcalib.similarity import WordEmbeddingSimilarity

    if args.word_vectors is None:
        raise SystemExit("the WE methods need --word-vectors")
    return WordEmbeddingSimilarity(vectors=str(args.word_vectors),
                                   class_names=split.word_names, on_missing="skip_word")


class Cache:
    """Pickled objects shared by several runs of one seed."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def get(self, name, build):
        path = self.root / f"{name}.pkl"
        if path.exists():
            with open(path, "rb") as fh:
                return pickle.load(fh)
        start = time.perf_counter()
        value = build()
        seconds = time.perf_counter() - start
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump((value, seconds), fh)
        os.replace(tmp, path)
        return value, seconds


def one_hot_network(cache, preset, split, seed):
    def build():
        return make_classifier(preset, seed).fit(split.X_train, split.y_train)

    return cache.get(f"onehot_s{seed}", build)


def annotator(cache, preset, split, seed):
    from sklearn.frozen import FrozenEstimator

    from simcalib.calibration import CalibratedClassifier, TemperatureScaling

    clf, _ = one_hot_network(cache, preset, split, seed)
    return CalibratedClassifier(FrozenEstimator(clf), TemperatureScaling()).fit(
        split.X_hold, split.y_hold)


def generator(cache, preset, split, seed, name):
    from simcalib.mixing import (
        AutoencoderLatentGenerator,
        ConditionalVAEGenerator,
        PixelMixGenerator,
    )
    from simcalib.similarity import AutoencoderSimilarity

    if name == "pixmix":
        return PixelMixGenerator("mixup").fit(split.X_train, split.y_train), 0.0
    if name == "cutmix":
        return PixelMixGenerator("cutmix").fit(split.X_train, split.y_train), 0.0
    if name == "cvae":
        return cache.get(f"cvae_s{seed}", lambda: ConditionalVAEGenerator(
            **preset.vae, random_state=seed, device="cpu").fit(split.X_train, split.y_train))
    if name == "ae":
        return cache.get(f"ae_s{seed}", lambda: AutoencoderLatentGenerator(
            AutoencoderSimilarity(**preset.ae, random_state=seed, verbose=0, device="cpu"),
        ).fit(split.X_train, split.y_train))
    raise ValueError(name)


def mixer_for(cache, args, preset, split, seed, method):
    from simcalib.mixing import SemanticMixer

    # fit (or load) the generator first: the mixer's time must not include it
    gen, _ = generator(cache, preset, split, seed, method.generator)

    def build():
        ann = annotator(cache, preset, split, seed) if method.labels == "cal" else None
        pairs = we_similarity(args, split) if method.pairs == "we" else "uniform"
        return SemanticMixer(
            gen, ann, labels="calibrated" if method.labels == "cal" else "lambda",
            pairs=pairs, pair_beta=BETA, n_calibration=1000, random_state=seed,
        ).fit(split.X_train, split.y_train)

    return cache.get(f"mixer_{method.generator}_{method.labels}_{method.pairs}_s{seed}", build)


def run_method(method, args, preset, split, seed, cache):
    """A ``predict_proba`` function, training seconds and extra facts of one run."""
    extra = {}
    if method.key == "one-hot":
        clf, seconds = one_hot_network(cache, preset, split, seed)
        return clf.predict_proba, seconds, extra
    if method.kind == "ts":
        from simcalib.calibration import TemperatureScaling

        clf, _ = one_hot_network(cache, preset, split, seed)
        start = time.perf_counter()
        ts = TemperatureScaling().fit(clf.decision_function(split.X_hold), split.y_hold)
        extra["temperature"] = ts.temperature_
        return (lambda X: ts.predict_proba(clf.decision_function(X)),
                time.perf_counter() - start, extra)
    if method.kind == "train":
        if method.key.startswith("uniform"):
            clf = make_classifier(preset, seed, "uniform", method.alpha)
        elif method.key.startswith("we"):
            clf = make_classifier(preset, seed, we_similarity(args, split), method.alpha)
        elif method.key == "one-hot-l2":
            clf = make_classifier(preset, seed, l2=True)
        elif method.key == "mixup":
            clf = make_classifier(preset, seed, mixup=MIXUP_ALPHA)
        else:
            raise ValueError(method.key)
        start = time.perf_counter()
        clf.fit(split.X_train, split.y_train)
        return clf.predict_proba, time.perf_counter() - start, extra
    from simcalib.mixing import SemanticMixingClassifier

    mixer, mixer_seconds = mixer_for(cache, args, preset, split, seed, method)
    _, gen_seconds = generator(cache, preset, split, seed, method.generator)
    grid = np.linspace(0, 1, 11)
    extra.update(
        confidence_grid=mixer.confidence(grid).round(4).tolist(),
        mixer_seconds=round(float(mixer_seconds), 2),
        generator_seconds=round(float(gen_seconds), 2),
    )
    model = SemanticMixingClassifier(
        make_classifier(preset, seed, l2=method.loss == "l2"), mixer,
        n_mixed=preset.n_mixed, random_state=seed,
    )
    start = time.perf_counter()
    model.fit(split.X_train, split.y_train)
    return model.predict_proba, time.perf_counter() - start, extra


# ------------------------------------------------------------------- report
METRICS = ("accuracy", "hist_ece_p", "hist_ece_o", "kde_ece_p", "kde_ece_o", "nll")
HEADS = ("Accuracy", "Hist P", "Hist O", "KDE P", "KDE O", "NLL")


def _fmt(values, key):
    v = np.asarray(values, dtype=float)
    if key == "nll":
        return f"{v.mean():.3f} ± {v.std(ddof=1) if v.size > 1 else 0:.3f}"
    return f"{100 * v.mean():.2f} ± {100 * (v.std(ddof=1) if v.size > 1 else 0):.2f}"


def write_report(out, methods, args, preset, command, elapsed, n_new):
    runs = {}
    for path in sorted((out / "runs").glob("*.json")):
        rec = json.loads(path.read_text())
        runs.setdefault(rec["method"], []).append(rec)
    rows = []
    for m in methods:
        for rec in sorted(runs.get(m.key, []), key=lambda r: r["seed"]):
            rows.append(rec)
    import csv

    keys = ["method", "seed", *METRICS, "brier", *(f"in_{k}" for k in METRICS),
            "train_seconds"]
    with open(out / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    seeds = sorted({r["seed"] for r in rows})
    total = sum(r["train_seconds"] for r in rows)
    # generators and fitted mixers are shared by several runs of a seed
    shared = {}
    for r in rows:
        if "generator_seconds" in r:
            gen = r["method"].split("-")[0]
            shared[("gen", gen, r["seed"])] = r["generator_seconds"]
            shared[("mixer", r["method"].split("-")[1], gen, r["seed"],
                    "we" in r["method"])] = r["mixer_seconds"]
    shared_total = sum(shared.values())
    counts = {}
    for r in rows:
        counts[r.get("threads", "?")] = counts.get(r.get("threads", "?"), 0) + 1
    threads = ", ".join(f"{t} ({n} runs)" for t, n in sorted(counts.items(), key=str))
    lines = [
        f"# Semantic mixing (CSM) benchmark: {args.dataset}",
        "",
        "Command (from the repository root; it resumes, and the stored runs may come from "
        "several invocations restricted with `--seeds` / `--methods` / `--threads`):",
        "",
        "```",
        command,
        "```",
        "",
        f"- data: {describe(args, preset)}",
        f"- network: small_cnn width {preset.width}, {preset.epochs} epochs, batch "
        f"{preset.batch_size}, AdamW lr {preset.lr:g} ({preset.lr_schedule or 'constant'}), "
        "weight decay 0, no augmentation",
        f"- LS alpha {ALPHA:g}, WE beta {BETA:g}, mixup alpha {MIXUP_ALPHA:g}, "
        f"CE+L2 weight {L2_WEIGHT:g}; semantic mixing: {preset.n_mixed} fresh mixes per "
        "epoch, uniform ratio, uniform pairs (unless 'WE pairs'), re-annotation by the "
        "seed's one-hot network + TS on the held-out split (1000 calibration mixes)",
        f"- CVAE: {preset.vae}" + (f"; AE latent generator: {preset.ae}" if preset.ae else ""),
        f"- seeds: {', '.join(map(str, seeds))} (each seed draws its own training / held-out "
        "split and initialisation); entries are mean ± std (ddof=1) over the seeds "
        "listed in each row",
        f"- device: cpu, torch threads per run: {threads} ({platform.machine()}, "
        f"{os.cpu_count()} cores, machine shared with other jobs); python "
        f"{platform.python_version()}",
        f"- time: {total:.0f} s of network training summed over the {len(rows)} runs, plus "
        f"{shared_total:.0f} s fitting the generators and mixers that runs of a seed share "
        "(runs of earlier invocations included: the benchmark resumes); the last "
        f"invocation trained {n_new} of these runs in {elapsed:.0f} s of wall time",
        "",
        "Accuracy and ECE in %, NLL in nats (15 bins; KDE: triweight kernel, the "
        "reference bandwidth). Train s: mean training seconds of one run (they depend on "
        "the torch threads and on the load of the shared machine).",
        "",
    ]
    if any("in_accuracy" in r for r in rows):
        lines += ["## Official validation split (the test set of the regime)", ""]
    lines += _table(runs, methods, "")
    if any("in_accuracy" in r for r in rows):
        lines += ["", f"## In-distribution test: {IN_TEST_PER_CLASS} unused training images "
                  "per class", "",
                  "The same networks on images drawn from the official *training* split "
                  "(disjoint from the training and held-out images).", ""]
        lines += _table(runs, methods, "in_")
    lines += ["", "## Re-annotation maps g(λ) (mean over seeds)", "",
              "| generator | " + " | ".join(f"{v:.1f}" for v in np.linspace(0, 1, 11)) + " |",
              "|---|" + "---:|" * 11]
    for m in methods:
        if m.kind == "mix" and m.labels == "cal" and m.loss == "l2" and m.pairs == "uniform":
            recs = runs.get(m.key, [])
            if recs:
                g = np.mean([r["confidence_grid"] for r in recs], axis=0)
                lines.append(f"| {m.generator} | " + " | ".join(f"{v:.2f}" for v in g) + " |")
    lines += ["", "![mixing grid](mixing_grid.png)", "", "![maps](confidence_maps.png)", ""]
    (out / "results.md").write_text("\n".join(lines))


def _table(runs, methods, prefix):
    lines = ["| method | " + " | ".join(HEADS) + " | train s | seeds |",
             "|---|" + "---:|" * (len(HEADS) + 2)]
    for m in methods:
        recs = [r for r in runs.get(m.key, []) if f"{prefix}accuracy" in r]
        if not recs:
            continue
        cells = [_fmt([r[prefix + k] for r in recs], k) for k in METRICS]
        secs = np.mean([r["train_seconds"] for r in recs])
        n = ",".join(str(r["seed"]) for r in sorted(recs, key=lambda r: r["seed"]))
        lines.append(f"| {m.label} | " + " | ".join(cells) + f" | {secs:.0f} | {n} |")
    return lines


def describe(args, preset):
    if args.dataset == "digits":
        return (f"scikit-learn digits (8x8), {preset.train_per_class} training and "
                f"{preset.holdout_per_class} held-out images per class, test = the other "
                "1657 images")
    return (f"Tiny-ImageNet-32, first {preset.classes} classes, {preset.train_per_class} "
            f"training + {preset.holdout_per_class} held-out images per class drawn from the "
            "official training split, test = the official validation split "
            f"({50 * preset.classes} images); a second, in-distribution test set of "
            f"{IN_TEST_PER_CLASS} further training images per class")


def figures(out, args, preset, split, cache, seed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simcalib.mixing import plot_mixing_grid

    gens = ["pixmix", "cutmix", "cvae"] + (["ae"] if preset.ae else [])
    names = {"pixmix": "pixel mixup", "cutmix": "CutMix", "cvae": "CVAE", "ae": "AE latent"}
    mixers = {}
    for g in gens:
        m = Method("", "", "mix", g, "cal", "l2")
        mixers[names[g]] = mixer_for(cache, args, preset, split, seed, m)[0]
    # the pair of classes nearest in the word embedding
    sim = we_similarity(args, split).fit(None, np.unique(split.y_train))
    D = sim.distances_ + np.diag(np.full(len(sim.distances_), np.inf))
    a, b = np.unravel_index(np.argmin(D), D.shape)
    classes = np.unique(split.y_train)
    value_range = (0, 1) if args.dataset == "digits" else (0, 255)
    fig = plot_mixing_grid(mixers, classes[a], classes[b], n_rows=2, random_state=seed,
                           class_names=split.class_names, value_range=value_range)
    fig.savefig(out / "mixing_grid.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(mixers), figsize=(3.0 * len(mixers), 3.0), squeeze=False)
    grid = np.linspace(0, 1, 201)
    for ax, (name, mixer) in zip(axes[0], mixers.items()):
        ax.scatter(mixer.calibration_lambdas_, mixer.calibration_evidence_, s=3, alpha=0.25,
                   color="tab:gray", label="annotations")
        ax.plot(grid, mixer.confidence(grid), color="tab:red", label="g(λ) (isotonic)")
        ax.plot([0, 1], [0, 1], ls="--", color="k", lw=0.8, label="λ")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("mixing ratio λ (weight of a)")
        ax.set_aspect("equal")
    axes[0, 0].set_ylabel("evidence of a: p_a / (p_a + p_b)")
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"calibrated re-annotation, seed {seed}: annotator = one-hot net + TS",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "confidence_maps.png", dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------- main
def _strip_options(argv, names):
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in names:
            skip = True
        elif not a.startswith(tuple(n + "=" for n in names)):
            kept.append(a)
    return kept


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(PRESETS), required=True)
    parser.add_argument("--data-dir", help="Tiny-ImageNet archive or folder")
    parser.add_argument("--word-vectors", help="GloVe vectors (word2vec text format)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="all",
                        help="comma-separated method keys (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--figures-seed", type=int, default=0,
                        help="seed whose generators the figures show (drawn when that seed "
                        "is among --seeds)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--cache-dir", default=None,
                        help="shared networks/generators (default: ~/.cache/simcalib/...)")
    args = parser.parse_args(argv)

    import torch

    from simcalib.metrics import calibration_report

    torch.set_num_threads(args.threads)
    preset = PRESETS[args.dataset]
    methods = methods_for(args.dataset)
    if args.methods != "all":
        wanted = set(args.methods.split(","))
        unknown = wanted - {m.key for m in methods}
        if unknown:
            raise SystemExit(f"unknown methods {sorted(unknown)}; choose from "
                             f"{[m.key for m in methods]}")
        methods = [m for m in methods if m.key in wanted]
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    cache_root = Path(args.cache_dir) if args.cache_dir else (
        Path(os.environ.get("SIMCALIB_CACHE", Path.home() / ".cache" / "simcalib"))
        / "bench-semantic-mixing" / args.dataset)
    # The command without --seeds/--methods/--threads: the stored runs may come from
    # several invocations restricted by those options (the benchmark resumes); the
    # report states the seeds and the threads of every run.
    command = "python benchmarks/bench_semantic_mixing.py " + " ".join(
        _strip_options(argv if argv is not None else sys.argv[1:],
                       ("--seeds", "--methods", "--threads", "--figures-seed")))
    started = time.perf_counter()
    n_new = 0
    for seed in seeds:
        split = load_split(args, preset, seed)
        cache = Cache(cache_root / f"seed{seed}")
        for m in methods:
            path = out / "runs" / f"{m.key}__s{seed}.json"
            if path.exists():
                continue
            predict_proba, seconds, extra = run_method(m, args, preset, split, seed, cache)
            rep = calibration_report(split.y_test, predict_proba(split.X_test))
            rec = {"method": m.key, "seed": seed, "threads": args.threads,
                   "train_seconds": round(float(seconds), 2),
                   **{k: float(v) for k, v in rep.items()}, **extra}
            if split.X_in is not None:
                rep_in = calibration_report(split.y_in, predict_proba(split.X_in))
                rec.update({f"in_{k}": float(v) for k, v in rep_in.items()})
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(rec, indent=1))
            os.replace(tmp, path)
            n_new += 1
            print(f"[seed {seed}] {m.key:22s} acc {100 * rep['accuracy']:.2f} "
                  f"hist P {100 * rep['hist_ece_p']:.2f} nll {rep['nll']:.3f} "
                  f"({seconds:.0f} s)", flush=True)
        if seed == args.figures_seed:
            figures(out, args, preset, split, cache, seed)
    write_report(out, methods_for(args.dataset), args, preset, command,
                 time.perf_counter() - started, n_new)
    print(f"wrote {out / 'results.md'}")


if __name__ == "__main__":
    main()
