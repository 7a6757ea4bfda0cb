"""Noisy labels with a small trusted reference set (issue 13): curation vs smoothing vs TS.

Every network is trained on a training split whose labels were corrupted
(``make_noisy_labels``: symmetric 20/50/80 %, class-similarity 40 %) and is
scored on the **clean** test labels. A clean pool of ``--pool`` images per
class, disjoint from the training split, is what the methods may trust:
temperature scaling is fitted on all of it, and the curator uses its first
1, 5 or 20 images per class as the reference set.

Methods (all ``SimilarityLSClassifier``, same network and budget):

``onehot``      one-hot targets on the noisy labels
``uniform``     uniform label smoothing, alpha = 0.1
``ls-we``       class-similarity LS, word-embedding (GloVe) class distances
``ls-l2``       class-similarity LS, L2 pixel class distances (of the noisy classes)
``mixup``       one-hot + mixup (Beta(1, 1))
``ts``          ``onehot`` + temperature scaling on the clean pool
``curator-R``   ``ReferenceCurator`` with R references per class, voting in the
                penultimate features of ``onehot`` (2 rounds, reference
                augmentation); a one-hot-trained network on the curated
                soft labels (``soft_targets``) of the in-distribution
                samples plus the references
(digits only) ``curator-ae-R``: the same, voting in autoencoder latents;
``curator-5-coevo``: co-evolution, the curator's own network retrained on
its labels after each of 2 rounds (``estimator=``), scored as is.

The ``refs`` part is the control: the same network trained on the R clean
references per class alone (``refs-R``, as many optimisation steps as the
main runs), i.e. what the trusted images give without the noisy ones.

The OOD part injects out-of-distribution images (half from classes left out
of the task, half uniform noise) as 10 % of a training set with 20 %
symmetric noise and reports how many the curator flags, and the AUROC of its
OOD score, in the features of the one-hot network and of an autoencoder.

Each run appends one JSON line to ``<out>/runs.jsonl`` (a rerun skips the
runs already there); one-hot models, logits and autoencoders are cached in
``<out>/cache/`` so that later runs of a seed need not retrain them.
``--report`` writes ``results.md``, ``results.csv`` and the figure.

Examples::

    python benchmarks/bench_curation.py --dataset digits --out docs/results/trainref-noisy-labels/digits
    python benchmarks/bench_curation.py --dataset tiny-imagenet \\
        --data-dir ../shared/data/tinyimagenet/tiny-imagenet-200-32px.tar.xz \\
        --word-vectors ../shared/data/wordvectors/glove.6B.50d_tinyimagenet200.txt \\
        --out docs/results/trainref-noisy-labels/tiny-imagenet-32
"""

from __future__ import annotations

import argparse
import json
import pickle
import platform
import sys
import time
from pathlib import Path

import numpy as np

SETTINGS = {
    "sym20": ("symmetric", 0.2),
    "sym50": ("symmetric", 0.5),
    "sym80": ("symmetric", 0.8),
    "sim40": ("similarity", 0.4),
}
REFS = (1, 5, 20)
METHODS = ("onehot", "uniform", "ls-we", "ls-l2", "mixup", "ts") + tuple(
    f"curator-{r}" for r in REFS
)
#: digits only (cheap there): the curator voting in autoencoder latents, and
#: co-evolution (the curator retrains a network on its labels and votes again)
EXTRA_METHODS = tuple(f"curator-ae-{r}" for r in REFS) + ("curator-5-coevo",)
OOD_SETTING = "sym20"
METRICS = ("accuracy", "nll", "hist_ece_p", "hist_ece_o", "kde_ece_p", "kde_ece_o")

#: per-dataset sizes and training budget
CONFIGS = {
    "digits": dict(n_classes=10, n_train=60, pool=20, model="small_cnn", width=32,
                   epochs=60, batch_size=32, lr=3e-3, ood_classes=(8, 9),
                   vectors="../shared/data/wordvectors/glove.6B.50d.top100k.txt.gz"),
    "tiny-imagenet": dict(n_classes=20, n_train=100, pool=20, model="small_cnn", width=32,
                          epochs=20, batch_size=128, lr=2e-3, ood_classes=None, vectors=None),
}


# ----------------------------------------------------------------- data
def load_data(args):
    """All images, labels, class names (and word names) of the dataset."""
    from simcalib.datasets import load_digits_images, load_tiny_imagenet

    if args.dataset == "digits":
        raw = load_digits_images(dtype="float32")
        return dict(images=raw.images, labels=raw.target, test_images=None,
                    test_labels=None, names=list(raw.class_names),
                    word_names=list(raw.class_names))
    raw = load_tiny_imagenet(args.data_dir)
    return dict(images=raw.X_train, labels=raw.y_train, test_images=raw.X_test,
                test_labels=raw.y_test, names=list(raw.class_names),
                word_names=list(raw.class_descriptions))


def split(data, cfg, seed, task_classes):
    """Per class: ``n_train`` training and ``pool`` clean images; the test split."""
    rng = np.random.default_rng(seed)
    y = data["labels"]
    train, pool, test = [], [], []
    for c in task_classes:
        members = rng.permutation(np.flatnonzero(y == c))
        train.append(members[:cfg["n_train"]])
        pool.append(members[cfg["n_train"]:cfg["n_train"] + cfg["pool"]])
        test.append(members[cfg["n_train"] + cfg["pool"]:])
    remap = np.full(y.max() + 1, -1)
    remap[np.asarray(task_classes)] = np.arange(len(task_classes))
    train, pool = np.concatenate(train), np.stack(pool)  # pool: (K, pool), by class

    def take(idx):
        return np.asarray(data["images"][np.sort(idx)]), remap[y[np.sort(idx)]]

    X_train, y_train = take(train)
    # pool ordered rank-major, so the first R * K images hold R per class
    pool_idx = pool.T.ravel()
    X_pool, y_pool = np.asarray(data["images"][pool_idx]), remap[y[pool_idx]]
    if data["test_images"] is None:
        X_test, y_test = take(np.concatenate(test))
    else:
        keep = np.isin(data["test_labels"], task_classes)
        X_test = np.asarray(data["test_images"][keep])
        y_test = remap[data["test_labels"][keep]]
    return dict(X_train=X_train, y_train=y_train, X_pool=X_pool, y_pool=y_pool,
                X_test=X_test, y_test=y_test)


def references(d, r, n_classes):
    return d["X_pool"][: r * n_classes], d["y_pool"][: r * n_classes]


# ------------------------------------------------------------- methods
def classifier(cfg, seed, **kwargs):
    from simcalib.classifier import SimilarityLSClassifier

    return SimilarityLSClassifier(
        cfg["model"], module__width=cfg["width"], max_epochs=cfg["epochs"],
        batch_size=cfg["batch_size"], lr=cfg["lr"], random_state=seed, verbose=0, **kwargs,
    )


def word_similarity(args, cfg, data, task_classes):
    from simcalib.similarity import WordEmbeddingSimilarity

    vectors = args.word_vectors or cfg["vectors"]
    names = [data["word_names"][c] for c in task_classes]
    return WordEmbeddingSimilarity(vectors=vectors, class_names=names, on_missing="skip_word")


def noise_similarity(args, cfg, data, d, task_classes):
    """The class-similarity matrix the 'similarity' noise flips along.

    Tiny-ImageNet: word-embedding class distances (semantic confusions);
    digits: L2 pixel distances of the clean training images (digit names
    carry no visual meaning). Rows: softmax(-2 z) of the z-scored distances.
    """
    from simcalib.similarity import PixelDistanceSimilarity
    from simcalib.smoothing import smooth_labels_from_distances

    if args.dataset == "digits":
        source = PixelDistanceSimilarity(metric="l2").fit(d["X_train"], d["y_train"])
    else:
        source = word_similarity(args, cfg, data, task_classes).fit(
            None, np.arange(len(task_classes)))
    return smooth_labels_from_distances(source.distances_, alpha=1.0, beta=2.0)


def train_kwargs(method, args, cfg, data, task_classes):
    from simcalib.similarity import PixelDistanceSimilarity

    if method == "onehot":
        return dict(similarity="onehot")
    if method == "uniform":
        return dict(similarity="uniform", alpha=0.1)
    if method == "ls-we":
        return dict(similarity=word_similarity(args, cfg, data, task_classes), alpha=0.1)
    if method == "ls-l2":
        return dict(similarity=PixelDistanceSimilarity(metric="l2"), alpha=0.1)
    if method == "mixup":
        return dict(similarity="onehot", mixup_alpha=1.0)
    raise ValueError(method)


def report(y, proba):
    from simcalib.metrics import calibration_report

    full = calibration_report(y, proba)
    return {k: full[k] for k in METRICS}


# ------------------------------------------------------------------ runs
class Store:
    """``runs.jsonl``: one line per finished run; a rerun skips them."""

    def __init__(self, out):
        self.path = Path(out) / "runs.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.done = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line cut by an interruption
                    continue
                self.done[rec["key"]] = rec

    def add(self, rec):
        with self.path.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        self.done[rec["key"]] = rec
        print(f"{rec['key']}: " + ", ".join(
            f"{k} {rec[k]:.4f}" for k in ("accuracy", "hist_ece_p") if k in rec
        ) + f" ({rec.get('train_s', 0):.1f} s)", flush=True)


def cached(path, build):
    path = Path(path)
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        pickle.dump(value, f)
    tmp.replace(path)
    return value


def fit_timed(clf, *args, **kwargs):
    start = time.perf_counter()
    clf.fit(*args, **kwargs)
    return clf, time.perf_counter() - start


def curate(model, d, y_noisy, r, K, seed, **params):
    from simcalib.curation import ReferenceCurator

    X_ref, y_ref = references(d, r, K)
    start = time.perf_counter()
    cur = ReferenceCurator(model, random_state=seed, **params).fit(
        d["X_train"], y_noisy, X_ref, y_ref)
    return cur, X_ref, y_ref, time.perf_counter() - start


def train_curated(cfg, seed, d, cur, X_ref, y_ref, K):
    keep = cur.in_distribution_
    X = np.concatenate([d["X_train"][keep], X_ref])
    soft = np.concatenate([cur.soft_labels_[keep], np.eye(K)[y_ref]]).astype(np.float32)
    labels = np.concatenate([cur.labels_[keep], y_ref])
    return fit_timed(classifier(cfg, seed, similarity="onehot", classes=list(range(K))),
                     X, labels, soft_targets=soft)


def curator_stats(cur, y_clean, y_noisy):
    clean = cur.flags_ == "clean"
    return dict(
        vote_accuracy=float(np.mean(cur.labels_ == y_clean)),
        vote_true_mass=float(np.mean(cur.soft_labels_[np.arange(len(y_clean)), y_clean])),
        frac_clean=float(np.mean(clean)),
        frac_ambiguous=float(np.mean(cur.flags_ == "ambiguous")),
        frac_ood=float(np.mean(cur.flags_ == "ood")),
        clean_precision=float(np.mean(y_noisy[clean] == y_clean[clean])) if clean.any() else None,
        reference_accuracy=cur.reference_accuracy_,
    )


def run_setting(args, cfg, data, store, setting, seed, task_classes):
    from simcalib.calibration import TemperatureScaling
    from simcalib.curation import make_noisy_labels
    from simcalib.similarity import AutoencoderSimilarity

    K = len(task_classes)
    methods = METHODS + (EXTRA_METHODS if args.dataset == "digits" else ())
    if args.methods:
        methods = tuple(m for m in methods if m in args.methods.split(","))
    todo = [m for m in methods if f"{setting}/{m}/seed{seed}" not in store.done]
    if not todo:
        return
    d = split(data, cfg, seed, task_classes)
    kind, rate = SETTINGS[setting]
    sim = noise_similarity(args, cfg, data, d, task_classes) if kind == "similarity" else None
    y_noisy = make_noisy_labels(d["y_train"], rate, kind, similarity=sim, random_state=seed)
    base = dict(dataset=args.dataset, setting=setting, seed=seed, n_train=len(y_noisy),
                noise_rate=float(np.mean(y_noisy != d["y_train"])), n_test=len(d["y_test"]))
    cache = Path(args.out) / "cache" / f"{setting}_seed{seed}_onehot.pkl"

    def build_onehot():
        clf, secs = fit_timed(classifier(cfg, seed, similarity="onehot"), d["X_train"], y_noisy)
        return dict(model=clf, train_s=secs)

    for method in todo:
        key = f"{setting}/{method}/seed{seed}"
        rec = dict(base, key=key, method=method)
        if method in ("onehot", "ts") or method.startswith("curator"):
            onehot = cached(cache, build_onehot)
            model = onehot["model"]
        if method == "onehot":
            rec.update(report(d["y_test"], model.predict_proba(d["X_test"])),
                       train_s=onehot["train_s"])
        elif method == "ts":
            ts = TemperatureScaling().fit(model.decision_function(d["X_pool"]), d["y_pool"])
            rec.update(report(d["y_test"], ts.predict_proba(model.decision_function(d["X_test"]))),
                       train_s=onehot["train_s"], temperature=float(ts.temperature_))
        elif method == "curator-5-coevo":
            est = classifier(cfg, seed, similarity="onehot")
            cur, _, _, cur_s = curate(model, d, y_noisy, 5, K, seed, estimator=est)
            rec.update(report(d["y_test"], cur.estimator_.predict_proba(d["X_test"])),
                       train_s=cur_s, curator_s=0.0,
                       **curator_stats(cur, d["y_train"], y_noisy))
        elif method.startswith("curator"):
            r = int(method.rsplit("-", 1)[1])
            emb = model
            if method.startswith("curator-ae"):
                # the encoder sees only images, so one autoencoder per seed (the
                # labels enter only its class distances, which are not used)
                ae = cached(Path(args.out) / "cache" / f"ae_seed{seed}.pkl", lambda: dict(
                    model=AutoencoderSimilarity(random_state=seed, verbose=0).fit(
                        d["X_train"], d["y_train"])))
                emb = ae["model"]
            cur, X_ref, y_ref, cur_s = curate(emb, d, y_noisy, r, K, seed)
            clf, secs = train_curated(cfg, seed, d, cur, X_ref, y_ref, K)
            rec.update(report(d["y_test"], clf.predict_proba(d["X_test"])), train_s=secs,
                       curator_s=cur_s, **curator_stats(cur, d["y_train"], y_noisy))
        else:
            clf, secs = fit_timed(
                classifier(cfg, seed, **train_kwargs(method, args, cfg, data, task_classes)),
                d["X_train"], y_noisy,
            )
            rec.update(report(d["y_test"], clf.predict_proba(d["X_test"])), train_s=secs)
        store.add(rec)


def run_refs_only(args, cfg, data, store, seed, task_classes):
    """Control: the network trained on the clean references alone, same number of steps."""
    K = len(task_classes)
    todo = [r for r in REFS if f"refs/refs-{r}/seed{seed}" not in store.done]
    if not todo:
        return
    d = split(data, cfg, seed, task_classes)
    bs = cfg["batch_size"]
    steps = cfg["epochs"] * int(np.ceil(len(d["y_train"]) / bs))
    for r in todo:
        X_ref, y_ref = references(d, r, K)
        epochs = int(np.ceil(steps / np.ceil(len(y_ref) / bs)))
        clf, secs = fit_timed(
            classifier(cfg, seed, similarity="onehot").set_params(max_epochs=epochs),
            X_ref, y_ref)
        rec = dict(dataset=args.dataset, setting="refs", seed=seed, key=f"refs/refs-{r}/seed{seed}",
                   method=f"refs-{r}", n_train=len(y_ref), epochs=epochs,
                   n_test=len(d["y_test"]))
        rec.update(report(d["y_test"], clf.predict_proba(d["X_test"])), train_s=secs)
        store.add(rec)


def ood_images(data, cfg, seed, n, ood_classes, shape, dtype):
    """Half images of classes left out of the task, half uniform noise."""
    rng = np.random.default_rng(10_000 + seed)
    idx = rng.choice(np.flatnonzero(np.isin(data["labels"], ood_classes)), size=n // 2,
                     replace=False)
    left_out = np.asarray(data["images"][np.sort(idx)])
    hi = 255 if dtype == np.uint8 else float(np.asarray(data["images"][:100]).max())
    noise = rng.uniform(0, hi, size=(n - n // 2, *shape))
    return left_out, noise.astype(dtype)


def run_ood(args, cfg, data, store, seed, task_classes, ood_classes):
    from sklearn.metrics import roc_auc_score

    from simcalib.curation import make_noisy_labels
    from simcalib.similarity import AutoencoderSimilarity

    K = len(task_classes)
    variants = ["onehot"] + [f"curator-{r}" for r in REFS] + [f"curator-ae-{r}" for r in REFS]
    todo = [v for v in variants if f"ood/{v}/seed{seed}" not in store.done]
    if not todo:
        return
    d = split(data, cfg, seed, task_classes)
    kind, rate = SETTINGS[OOD_SETTING]
    y_noisy = make_noisy_labels(d["y_train"], rate, kind, random_state=seed)
    n_in = len(y_noisy)
    n_ood = int(round(n_in / 9))  # 10 % of the contaminated training set
    left_out, noise = ood_images(data, cfg, seed, n_ood, ood_classes, d["X_train"].shape[1:],
                                 d["X_train"].dtype)
    rng = np.random.default_rng(20_000 + seed)
    X = np.concatenate([d["X_train"], left_out, noise])
    y = np.concatenate([y_noisy, rng.integers(0, K, size=n_ood)])
    is_ood = np.r_[np.zeros(n_in, bool), np.ones(n_ood, bool)]
    kind_ood = np.r_[np.zeros(n_in, int), np.ones(len(left_out), int), np.full(len(noise), 2)]
    dd = dict(d, X_train=X)
    base = dict(dataset=args.dataset, setting="ood", seed=seed, n_train=len(y), n_ood=n_ood,
                n_test=len(d["y_test"]))
    cache = Path(args.out) / "cache"

    def build_onehot():
        clf, secs = fit_timed(classifier(cfg, seed, similarity="onehot"), X, y)
        return dict(model=clf, train_s=secs)

    def build_ae():
        start = time.perf_counter()
        ae = AutoencoderSimilarity(random_state=seed, verbose=0).fit(X, y)
        return dict(model=ae, train_s=time.perf_counter() - start)

    onehot = cached(cache / f"ood_seed{seed}_onehot.pkl", build_onehot)
    for v in todo:
        rec = dict(base, key=f"ood/{v}/seed{seed}", method=v)
        if v == "onehot":
            rec.update(report(d["y_test"], onehot["model"].predict_proba(d["X_test"])),
                       train_s=onehot["train_s"])
            store.add(rec)
            continue
        r = int(v.rsplit("-", 1)[1])
        if v.startswith("curator-ae"):
            ae = cached(cache / f"ood_seed{seed}_ae.pkl", build_ae)
            emb, rec["embedding_s"] = ae["model"], ae["train_s"]
        else:
            emb = onehot["model"]
        cur, X_ref, y_ref, cur_s = curate(emb, dd, y, r, K, seed)
        flagged = cur.flags_ == "ood"
        rec.update(
            curator_s=cur_s,
            flagged_ood=float(np.mean(flagged[is_ood])),
            flagged_left_out=float(np.mean(flagged[kind_ood == 1])),
            flagged_noise=float(np.mean(flagged[kind_ood == 2])),
            flagged_in_dist=float(np.mean(flagged[~is_ood])),
            auroc=float(roc_auc_score(is_ood, cur.ood_score_)),
            auroc_left_out=float(roc_auc_score(is_ood[kind_ood != 2], cur.ood_score_[kind_ood != 2])),
            auroc_noise=float(roc_auc_score(is_ood[kind_ood != 1], cur.ood_score_[kind_ood != 1])),
        )
        if not v.startswith("curator-ae"):
            clf, secs = train_curated(cfg, seed, dd, cur, X_ref, y_ref, K)
            rec.update(report(d["y_test"], clf.predict_proba(d["X_test"])), train_s=secs)
        store.add(rec)


# --------------------------------------------------------------- report
def _fmt(values, scale=100.0):
    values = np.asarray([v for v in values if v is not None], dtype=float) * scale
    if values.size == 0:
        return "-"
    if values.size == 1:
        return f"{values[0]:.2f}"
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def write_report(args, store):
    import csv

    recs = list(store.done.values())
    out = Path(args.out)
    keys = sorted({k for r in recs for k in r})
    with (out / "results.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in sorted(recs, key=lambda r: r["key"]):
            w.writerow(r)
    lines = []
    for setting in list(SETTINGS) + ["refs", "ood"]:
        rows = [r for r in recs if r["setting"] == setting]
        if not rows:
            continue
        methods = (METHODS + EXTRA_METHODS if setting in SETTINGS
                   else sorted({r["method"] for r in rows}, key=lambda m: (len(m), m)))
        lines += [f"### {setting}", "",
                  "| method | seeds | accuracy | NLL | Hist ECE P | Hist ECE O | KDE ECE P "
                  "| KDE ECE O | train s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for m in methods:
            mr = [r for r in rows if r["method"] == m and "accuracy" in r]
            if not mr:
                continue
            cells = [_fmt([r[k] for r in mr], 1.0 if k == "nll" else 100.0) for k in METRICS]
            lines.append(f"| {m} | {len(mr)} | " + " | ".join(cells)
                         + f" | {_fmt([r['train_s'] for r in mr], 1.0)} |")
        lines.append("")
        cur_rows = [r for r in rows if "vote_accuracy" in r]
        if cur_rows:
            lines += ["| curator | vote accuracy | true-class mass | clean | ambiguous | OOD "
                      "| clean precision | reference LOO accuracy | curator s |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for m in [m for m in methods if m.startswith("curator")]:
                mr = [r for r in cur_rows if r["method"] == m]
                if mr:
                    cols = ("vote_accuracy", "vote_true_mass", "frac_clean", "frac_ambiguous",
                            "frac_ood", "clean_precision", "reference_accuracy")
                    lines.append(f"| {m} | " + " | ".join(_fmt([r[c] for r in mr]) for c in cols)
                                 + f" | {_fmt([r['curator_s'] for r in mr], 1.0)} |")
            lines.append("")
        ood_rows = [r for r in rows if "auroc" in r]
        if ood_rows:
            lines += ["| curator | OOD flagged | left-out classes flagged | noise flagged "
                      "| in-dist flagged | AUROC | AUROC left-out | AUROC noise |",
                      "|---|---|---|---|---|---|---|---|"]
            for m in methods:
                mr = [r for r in ood_rows if r["method"] == m]
                if mr:
                    cols = ("flagged_ood", "flagged_left_out", "flagged_noise",
                            "flagged_in_dist", "auroc", "auroc_left_out", "auroc_noise")
                    lines.append(f"| {m} | " + " | ".join(_fmt([r[c] for r in mr]) for c in cols)
                                 + " |")
            lines.append("")
    total = sum(r.get("train_s", 0) + r.get("curator_s", 0) for r in recs
                if r["method"] not in ("ts",))
    (out / "tables.md").write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"total training + curation seconds (one-hot counted once per seed): {total:.0f}")


def draw_figure(args, cfg, data, task_classes, setting="sym80", seed=0, r=5, n_rows=4):
    """The seed page's figure: ambiguous training samples, their soft labels and supporters."""
    import matplotlib

    matplotlib.use("Agg")
    from simcalib.curation import make_noisy_labels
    from simcalib.plotting import plot_curated_samples

    K = len(task_classes)
    path = Path(args.out) / "cache" / f"{setting}_seed{seed}_onehot.pkl"
    if not path.exists():
        print(f"no cached one-hot model for {setting} seed {seed}; no figure", file=sys.stderr)
        return
    with path.open("rb") as f:
        model = pickle.load(f)["model"]
    d = split(data, cfg, seed, task_classes)
    kind, rate = SETTINGS[setting]
    y_noisy = make_noisy_labels(d["y_train"], rate, kind, random_state=seed)
    cur, X_ref, y_ref, _ = curate(model, d, y_noisy, r, K, seed)
    second = np.sort(cur.soft_labels_, axis=1)[:, -2]
    # the ambiguous samples whose vote is most evenly split between two classes
    cand = np.flatnonzero(cur.flags_ == "ambiguous")
    cand = cand[np.argsort(-second[cand], kind="stable")][:n_rows]
    names = [data["names"][c] for c in task_classes]
    fig = plot_curated_samples(cur, cand, d["X_train"], X_ref, class_names=names,
                               given_labels=y_noisy, true_labels=d["y_train"])
    fig.suptitle(f"{args.dataset}: {setting} noise, {r} references per class, seed {seed}",
                 fontsize=9)
    fig.savefig(Path(args.out) / "curated_samples.png", dpi=110)


def write_shift(args, cfg, data, task_classes):
    """Accuracy and mean confidence of each cached one-hot network on its three splits.

    Temperature scaling is fitted on the clean pool and scored on the test
    split; when the two differ in distribution (Tiny-ImageNet: pool from the
    official training images, test = the official validation images) the
    temperature learnt on the pool need not suit the test split.
    """
    header = ["| one-hot model | split | n | accuracy (clean labels) | mean confidence |",
              "|---|---|---|---|---|"]
    target = Path(args.out) / "shift.md"
    # rows of models whose cache is gone (not committed) are kept
    rows = {}
    if target.exists():
        for line in target.read_text().splitlines()[2:]:
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) == 5:
                rows[(cells[0], cells[1])] = line
    for path in sorted((Path(args.out) / "cache").glob("*_seed*_onehot.pkl")):
        setting, seed = path.stem.split("_")[:2]
        if setting not in SETTINGS:
            continue
        with path.open("rb") as f:
            model = pickle.load(f)["model"]
        d = split(data, cfg, int(seed[4:]), task_classes)
        for name in ("train", "pool", "test"):
            X, y = d[f"X_{name}"], d[f"y_{name}"]
            p = model.predict_proba(X)
            rows[(f"{setting} {seed}", name)] = (
                f"| {setting} {seed} | {name} | {len(y)} | "
                f"{100 * np.mean(p.argmax(1) == y):.1f} | {100 * p.max(1).mean():.1f} |")
    order = {"train": 0, "pool": 1, "test": 2}
    lines = header + [rows[k] for k in sorted(
        rows, key=lambda k: (k[0].split()[0], k[0].split()[-1], order.get(k[1], 3)))]
    target.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


# ------------------------------------------------------------------ main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(CONFIGS), required=True)
    parser.add_argument("--data-dir", help="Tiny-ImageNet archive or folder")
    parser.add_argument("--word-vectors", help="GloVe file for ls-we (and sim noise on Tiny)")
    parser.add_argument("--out", required=True, help="results folder")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--settings", default=",".join(SETTINGS) + ",refs,ood")
    parser.add_argument("--methods", default="",
                        help="comma-separated subset of the methods (default: all); "
                             "lets extra seeds go to the most informative ones")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--report", action="store_true", help="only write the report")
    parser.add_argument("--shift", action="store_true",
                        help="only write shift.md: the cached one-hot networks on train / pool / test")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    unknown = set(filter(None, args.methods.split(","))) - set(METHODS + EXTRA_METHODS)
    if unknown:
        parser.error(f"unknown --methods {sorted(unknown)}; choose from {METHODS + EXTRA_METHODS}")
    cfg = CONFIGS[args.dataset]
    store = Store(args.out)
    data = load_data(args)
    if args.dataset == "digits":
        task = list(range(cfg["n_classes"]))
        ood_task = [c for c in range(10) if c not in cfg["ood_classes"]]
        ood_classes = list(cfg["ood_classes"])
    else:
        task = list(range(cfg["n_classes"]))
        ood_task = task
        ood_classes = list(range(100, 200))  # classes no task here uses
    if args.shift:
        write_shift(args, cfg, data, task)
        return
    if not args.report:
        start = time.perf_counter()
        for seed in [int(s) for s in args.seeds.split(",")]:
            for setting in args.settings.split(","):
                if setting == "ood":
                    run_ood(args, cfg, data, store, seed, ood_task, ood_classes)
                elif setting == "refs":
                    run_refs_only(args, cfg, data, store, seed, task)
                else:
                    run_setting(args, cfg, data, store, setting, seed, task)
        wall = time.perf_counter() - start
        with (Path(args.out) / "sessions.log").open("a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(sys.argv)} "
                    f"wall {wall:.0f} s, threads {args.threads}, {platform.processor() or platform.machine()}, "
                    f"torch {torch.__version__}\n")
    # Re-read the records: another call may have added runs to the same
    # folder meanwhile (one call per seed on each core).
    write_report(args, Store(args.out))
    draw_figure(args, cfg, data, task)


if __name__ == "__main__":
    main()
