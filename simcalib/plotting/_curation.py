"""Why a curated sample got its soft label: the sample, its top classes, its supporters."""

from __future__ import annotations

import numpy as np

from simcalib._validation import _is_torch_tensor, check_scalar_in_range

__all__ = ["plot_curated_samples"]


def _as_image(x):
    """A (C, H, W) or (H, W) sample as something ``imshow`` shows (min-max scaled)."""
    x = x.detach().cpu().numpy() if _is_torch_tensor(x) else np.asarray(x)
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    if x.ndim not in (2, 3):
        raise ValueError(f"samples must be images (C, H, W) or (H, W); got shape {x.shape}")
    if x.dtype == np.uint8:
        return x
    x = x.astype(np.float64)
    lo, hi = np.nanmin(x), np.nanmax(x)
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _name(label, class_names):
    if class_names is None:
        return str(label)
    if isinstance(class_names, dict):
        return str(class_names.get(label, label))
    return str(class_names[int(label)])


def plot_curated_samples(curator, indices, X, X_reference, *, class_names=None, top_k=5,
                         n_supporters=4, given_labels=None, true_labels=None, fig=None):
    """Draw curated samples as TrainRef's project page does: sample, soft label, supporters.

    One row per sample: the training image (titled with its given label and
    flag), a bar chart of the ``top_k`` classes of its soft label, and its
    ``n_supporters`` most influential supporters, each titled with its
    label, vote weight and whether it is a trusted reference or an
    augmented training sample.

    Parameters
    ----------
    curator : ReferenceCurator
        Fitted on ``X`` and ``X_reference``.
    indices : int or sequence of int
        Training samples to draw.
    X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
        The training images given to ``fit``.
    X_reference : array-like of shape (n_references, C, H, W) or (n_references, H, W)
        The reference images given to ``fit``.
    class_names : sequence or dict, default=None
        Name of each class: indexed by label (a sequence, for integer
        labels ``0..K-1``) or a mapping; None shows the labels.
    top_k : int, default=5
        Classes of the soft label shown.
    n_supporters : int, default=4
        Supporters shown.
    given_labels : array-like of shape (n_samples,), default=None
        The (noisy) labels given to ``fit``, shown above each sample.
    true_labels : array-like of shape (n_samples,), default=None
        Clean labels when known (benchmarks), shown too.
    fig : matplotlib Figure, default=None
        Where to draw; a new figure otherwise.

    Returns
    -------
    fig : matplotlib.figure.Figure

    References
    ----------
    .. [1] "Learning Distributional Labels with Minimal Reference for Noisy
       Data Curation" (TrainRef), project page: soft labels of ambiguous
       samples with their four most influential reference supporters.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.curation import ReferenceCurator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((20, 1, 4, 4)); y = np.arange(20) % 2
    >>> cur = ReferenceCurator("pixels").fit(X, y, X[:4], y[:4])
    >>> fig = plot_curated_samples(cur, [0, 1], X, X[:4])
    >>> len(fig.axes)
    12
    """
    import matplotlib.pyplot as plt

    indices = np.atleast_1d(np.asarray(indices))
    if indices.ndim != 1 or indices.size == 0 or indices.dtype.kind not in "iu":
        raise ValueError(f"indices must be one or more sample indices; got {indices!r}")
    check_scalar_in_range(top_k, "top_k", lo=1, integer=True)
    check_scalar_in_range(n_supporters, "n_supporters", lo=1, integer=True)
    rows = len(indices)
    if fig is None:
        fig = plt.figure(figsize=(2.0 * (n_supporters + 3.2), 2.3 * rows), layout="constrained")
    grid = fig.add_gridspec(rows, n_supporters + 3, width_ratios=[1, 2.2] + [0.25] + [1] * n_supporters)
    for row, i in enumerate(indices):
        info = curator.explain(int(i), top_k=top_k, n_supporters=n_supporters)
        ax = fig.add_subplot(grid[row, 0])
        ax.imshow(_as_image(X[int(i)]), cmap="gray")
        title = []
        if given_labels is not None:
            title.append(f"label: {_name(np.asarray(given_labels)[int(i)], class_names)}")
        if true_labels is not None:
            title.append(f"true: {_name(np.asarray(true_labels)[int(i)], class_names)}")
        title.append(f"[{info.flag}]")
        ax.set_title("\n".join(title), fontsize=8)
        ax.set_axis_off()

        ax = fig.add_subplot(grid[row, 1])
        names = [_name(c, class_names) for c in info.top_classes]
        ax.barh(np.arange(len(names))[::-1], info.top_probabilities, color="tab:blue")
        ax.set_yticks(np.arange(len(names))[::-1], names, fontsize=8)
        for y_pos, p in zip(np.arange(len(names))[::-1], info.top_probabilities):
            ax.text(min(p, 0.98) + 0.01, y_pos, f"{p:.2f}", va="center", fontsize=7)
        ax.set_xlim(0, 1.15)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(f"soft label (top {len(names)})", fontsize=8)

        for j in range(n_supporters):
            ax = fig.add_subplot(grid[row, 3 + j])
            ax.set_axis_off()
            if j >= len(info.supporter_pool):
                continue
            source = info.supporter_source[j]
            image = (X_reference if source == "reference" else X)[int(info.supporter_index[j])]
            ax.imshow(_as_image(image), cmap="gray")
            kind = "ref" if source == "reference" else "aug"
            ax.set_title(
                f"{_name(info.supporter_labels[j], class_names)}\n"
                f"w={info.supporter_weights[j]:.2f} ({kind})",
                fontsize=7,
            )
    return fig
