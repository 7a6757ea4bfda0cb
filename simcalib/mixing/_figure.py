"""Figure: rows of two-class mixes at increasing ratio, captioned with their labels."""

from __future__ import annotations

import numpy as np

from simcalib.mixing._annotation import annotate, pair_evidence

__all__ = ["plot_mixing_grid"]

DEFAULT_LAMBDAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _display(images, value_range):
    """(n, C, H, W) images -> list of (H, W) or (H, W, 3) arrays in [0, 1]."""
    x = images.astype(np.float64)
    lo, hi = value_range if value_range is not None else (x.min(), x.max())
    x = np.clip((x - lo) / max(hi - lo, 1e-12), 0.0, 1.0)
    if x.shape[1] == 1:
        return list(x[:, 0])
    return list(x[:, :3].transpose(0, 2, 3, 1))


def plot_mixing_grid(
    mixers,
    a,
    b,
    *,
    lambdas=DEFAULT_LAMBDAS,
    n_rows=1,
    random_state=0,
    class_names=None,
    value_range=None,
    image_size=1.1,
):
    """Rows of mixes of classes ``a`` and ``b``, each captioned with its soft label.

    Column ``j`` shows the mix at ratio ``lambdas[j]`` (the weight of
    ``a``); every row renders one noise (or one pair of source images) at
    all ratios. Under each image: its soft label for ``a``, ``conf`` (the
    re-annotated ``g(lam)``, or ``lam`` itself for ``labels="lambda"``),
    and, when the mixer has an annotator, ``ann``: the evidence
    ``p_a / (p_a + p_b)`` that the annotator finds in that very image.

    Parameters
    ----------
    mixers : SemanticMixer or dict of str -> SemanticMixer
        Fitted mixers; a dict gives ``n_rows`` rows per entry, labelled with
        its key.
    a, b : label
        The two classes (labels from the mixers' ``classes_``).
    lambdas : sequence of float in [0, 1], default=(0, 0.25, 0.5, 0.75, 1)
        Ratios, one per column.
    n_rows : int, default=1
        Rows (noise draws) per mixer.
    random_state : int, default=0
        Seed of the noise; row ``r`` uses the ``r``-th draw of it.
    class_names : sequence of str or None, default=None
        Name of each class (indexed like ``classes_``) for the title.
    value_range : (float, float) or None, default=None
        Pixel range mapped to black..white; None: the range of all the
        images of the grid.
    image_size : float, default=1.1
        Inches per image.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.mixing import PixelMixGenerator, SemanticMixer
    >>> X = np.stack([np.full((1, 4, 4), v) for v in (0.0, 0.0, 1.0, 1.0)])
    >>> gen = PixelMixGenerator().fit(X, [0, 0, 1, 1])
    >>> mixer = SemanticMixer(gen, labels="lambda").fit(X, [0, 0, 1, 1])
    >>> fig = plot_mixing_grid(mixer, 0, 1)
    >>> len(fig.axes)
    5
    """
    import matplotlib.pyplot as plt

    if not isinstance(mixers, dict):
        mixers = {"": mixers}
    lambdas = np.asarray(lambdas, dtype=np.float64)
    if lambdas.ndim != 1 or lambdas.size == 0:
        raise ValueError(f"lambdas must be a non-empty 1-D sequence; got {lambdas!r}")
    rows = []
    for name, mixer in mixers.items():
        columns = []
        for lam in lambdas:
            images, targets = mixer.mix(
                np.repeat(a, n_rows), np.repeat(b, n_rows), np.full(n_rows, lam),
                random_state=random_state,
            )
            ia = int(np.flatnonzero(mixer.classes_ == a)[0])
            ib = int(np.flatnonzero(mixer.classes_ == b)[0])
            ann = None
            if mixer.annotator is not None:
                proba = annotate(mixer.annotator, images, mixer.classes_)
                ann = pair_evidence(proba, np.full(n_rows, ia), np.full(n_rows, ib))
            columns.append((images, targets[:, ia], ann))
        for r in range(n_rows):
            rows.append((name, [(c[0][r:r + 1], c[1][r], None if c[2] is None else c[2][r])
                                for c in columns]))
    if value_range is None:  # one range for the whole grid, so cells compare
        every = np.concatenate([cell[0] for _, cells in rows for cell in cells])
        value_range = (float(every.min()), float(every.max()))
    n_cols = lambdas.size
    fig, axes = plt.subplots(
        len(rows), n_cols, figsize=(image_size * n_cols + 0.9, (image_size + 0.45) * len(rows)),
        squeeze=False,
    )
    for i, (name, cells) in enumerate(rows):
        for j, (image, conf, ann) in enumerate(cells):
            ax = axes[i, j]
            picture = _display(image, value_range)[0]
            ax.imshow(picture, cmap="gray" if picture.ndim == 2 else None,
                      vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            caption = f"conf {conf:.2f}"
            if ann is not None:
                caption += f"\nann {ann:.2f}"
            ax.set_xlabel(caption, fontsize=7, labelpad=2)
            if i == 0:
                ax.set_title(f"λ = {lambdas[j]:g}", fontsize=8)
            if j == 0 and name:
                ax.set_ylabel(name, fontsize=8)
    if class_names is not None:
        first = next(iter(mixers.values()))
        ia = int(np.flatnonzero(first.classes_ == a)[0])
        ib = int(np.flatnonzero(first.classes_ == b)[0])
        names = (class_names[ia], class_names[ib])
    else:
        names = (str(a), str(b))
    fig.suptitle(
        f"mixes of '{names[0]}' (weight λ) and '{names[1]}'\nconf: soft label of "
        f"'{names[0]}'; ann: the annotator's evidence for it",
        fontsize=8,
    )
    fig.tight_layout()
    return fig
