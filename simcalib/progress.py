"""Progress bars for simcalib's long loops, shown only on a terminal.

Every long loop of simcalib -- the runs and epochs of ``simcalib
reproduce``, the training epochs of
:class:`~simcalib.classifier.SimilarityLSClassifier`, decoding an image
dataset, class distances over many images (every exact path), autoencoder
training, and the cross-validation grids of
:class:`~simcalib.calibration.DirichletCalibratorCV` and of the
cross-validated columns (``l2-cv``, ``we-cv``) of ``reproduce`` and ``demo``
-- reports its progress through :func:`progress_bar`, a :mod:`tqdm` bar with
one rule:

* a bar is drawn only when its stream (standard error by default) is a
  terminal (``isatty()``). Output piped to a file or captured by a test
  never receives a bar, a carriage return or an ANSI escape code;
* bars are switched off for the whole process by
  :func:`set_progress_bars` (``False``), for a block by the
  :func:`progress_bars` context manager, by the environment variable
  ``SIMCALIB_PROGRESS=0``, and by ``--quiet`` on the command line.

Lines printed while bars are active go through :func:`write`, which clears
the bars, prints the line and redraws them.

Examples
--------
>>> from simcalib.progress import progress_bar, progress_bars
>>> with progress_bars(False):
...     total = sum(progress_bar(range(4), desc="adding"))
>>> total
6
"""

from __future__ import annotations

import contextlib
import os
import re
import sys

__all__ = [
    "progress_bar",
    "set_progress_bars",
    "progress_bars",
    "progress_bars_enabled",
    "is_terminal",
    "write",
    "strip_ansi",
    "joblib_progress",
]

#: The process-wide switch (see :func:`set_progress_bars`).
_ENABLED = True
#: ANSI escape sequences (colours, cursor movement) and carriage returns.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def _env_enabled():
    value = os.environ.get("SIMCALIB_PROGRESS", "").strip().lower()
    return value not in ("0", "false", "no", "off")


def progress_bars_enabled():
    """Whether progress bars may be drawn (the switch and ``SIMCALIB_PROGRESS``).

    A bar is drawn only when this is True *and* its stream is a terminal.

    Returns
    -------
    bool

    Examples
    --------
    >>> with progress_bars(False):
    ...     progress_bars_enabled()
    False
    """
    return _ENABLED and _env_enabled()


def set_progress_bars(enabled):
    """Switch every simcalib progress bar on or off for this process.

    Parameters
    ----------
    enabled : bool
        False: no bar anywhere (as ``--quiet`` on the command line). True:
        bars on terminals (the default).

    Returns
    -------
    previous : bool
        The setting before this call.

    Examples
    --------
    >>> previous = set_progress_bars(False)
    >>> progress_bars_enabled()
    False
    >>> _ = set_progress_bars(previous)
    """
    global _ENABLED
    if not isinstance(enabled, bool):
        raise ValueError(f"enabled must be True or False; got {enabled!r}")
    previous, _ENABLED = _ENABLED, enabled
    return previous


@contextlib.contextmanager
def progress_bars(enabled):
    """Context manager: :func:`set_progress_bars` for the duration of a block.

    Parameters
    ----------
    enabled : bool

    Examples
    --------
    >>> with progress_bars(False):
    ...     progress_bars_enabled()
    False
    """
    previous = set_progress_bars(enabled)
    try:
        yield
    finally:
        set_progress_bars(previous)


def is_terminal(stream):
    """Whether ``stream`` is an interactive terminal (``stream.isatty()``).

    Parameters
    ----------
    stream : file-like object or None

    Returns
    -------
    bool
        False for None, closed streams and objects without ``isatty``.

    Examples
    --------
    >>> import io
    >>> is_terminal(io.StringIO())
    False
    """
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed file
        return False


def strip_ansi(text):
    """``text`` without ANSI escape sequences (colours, cursor movement).

    Examples
    --------
    >>> strip_ansi("\\x1b[32m0.5000\\x1b[0m")
    '0.5000'
    """
    return _ANSI.sub("", text)


def progress_bar(iterable=None, *, total=None, desc=None, unit="it", leave=False,
                 enabled=True, file=None, delay=0.0, **kwargs):
    """A :class:`tqdm.tqdm` bar that is drawn only on a terminal.

    Parameters
    ----------
    iterable : iterable, default=None
        What to iterate over; None for a bar updated by hand (``update``).
    total : int, default=None
        Number of steps (``len(iterable)`` when it has one).
    desc : str, default=None
        Text before the bar.
    unit : str, default="it"
        Name of one step.
    leave : bool, default=False
        Keep the finished bar on screen.
    enabled : bool, default=True
        The caller's own switch (e.g. its ``verbose``); the bar is drawn only
        when this, :func:`progress_bars_enabled` and ``is_terminal(file)``
        are all true.
    file : file-like object, default=None
        Where to draw; None is standard error (looked up at call time).
    delay : float, default=0.0
        Seconds before the bar first appears (a loop that ends sooner shows
        nothing).
    **kwargs
        Passed to :class:`tqdm.tqdm`.

    Returns
    -------
    bar : tqdm.tqdm
        Iterable like ``iterable``; when not drawn, ``update``,
        ``set_postfix`` and ``close`` do nothing.

    Examples
    --------
    >>> import io
    >>> bar = progress_bar(total=3, file=io.StringIO())  # not a terminal: not drawn
    >>> bar.update(3); bar.disable
    True
    >>> bar.close()
    """
    from tqdm import tqdm

    stream = sys.stderr if file is None else file
    draw = bool(enabled) and progress_bars_enabled() and is_terminal(stream)
    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave,
                disable=not draw, file=stream, delay=delay, dynamic_ncols=True, **kwargs)


def write(line, file=None):
    """Print ``line`` without breaking the progress bars on screen.

    Parameters
    ----------
    line : str
    file : file-like object, default=None
        Standard output when None (looked up at call time).

    Examples
    --------
    >>> write("epoch 1 done")
    epoch 1 done
    """
    from tqdm import tqdm

    stream = sys.stdout if file is None else file
    tqdm.write(str(line), file=stream)
    with contextlib.suppress(AttributeError, ValueError, OSError):
        stream.flush()


@contextlib.contextmanager
def joblib_progress(*, total=None, desc=None, unit="fit", enabled=True, file=None, delay=0.0,
                    **kwargs):
    """Show the tasks finished by the next :class:`joblib.Parallel` call as a bar.

    scikit-learn's :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate` and friends run their
    fits through joblib; joblib reports every finished task to
    ``Parallel.print_progress``, which this context manager extends (for the
    first ``Parallel`` call made inside the block, in this process) to
    advance a :func:`progress_bar`. Sequential and parallel backends both
    report. Nothing is drawn when the output is not a terminal.

    Parameters
    ----------
    total : int, default=None
        Number of tasks, e.g. ``n_candidates * n_splits`` of a grid search.
    desc : str, default=None
        Text before the bar.
    unit : str, default="fit"
        Name of one task.
    enabled : bool, default=True
        The caller's own switch.
    file : file-like object, default=None
        Where to draw (standard error when None).
    delay : float, default=0.0
        Seconds before the bar first appears.
    **kwargs
        Passed to :func:`progress_bar` (and on to :class:`tqdm.tqdm`).

    Yields
    ------
    bar : tqdm.tqdm

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0]}, cv=3)
    >>> with joblib_progress(total=6, desc="grid") as bar:
    ...     _ = search.fit(X, y)
    >>> bar.n
    6
    """
    import joblib

    bar = progress_bar(total=total, desc=desc, unit=unit, enabled=enabled, file=file,
                       delay=delay, **kwargs)
    original = joblib.Parallel.print_progress
    owner = []

    def print_progress(parallel):
        if not owner:
            owner.append(parallel)  # nested Parallel calls inside a fit do not count
        if parallel is owner[0]:
            if bar.disable:  # a hidden bar ignores update(); keep its count anyway
                bar.n = parallel.n_completed_tasks
            else:
                bar.update(parallel.n_completed_tasks - bar.n)
        return original(parallel)

    joblib.Parallel.print_progress = print_progress
    try:
        yield bar
    finally:
        joblib.Parallel.print_progress = original
        bar.close()
