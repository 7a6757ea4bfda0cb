"""One validating pass over a probability matrix, in cache-sized row blocks.

Every metric needs the same checks on its (n, K) probabilities -- finite,
inside [0, 1] (within a tolerance, then clipped), rows summing to 1 -- and
most need the arg-max of each row. Done one after the other on a 100000 x
200 matrix, each check is a pass over 160 MB of memory, and the checks cost
more than the metric. Here they are fused: the matrix is read in blocks of
rows small enough to stay in the CPU cache, and each block is checked and
reduced (arg-max, top-label confidence) while it is there. A block is
converted to float64 and clipped only as a cache-sized temporary, so a
float32 input is never copied whole and the extra memory of a metric stays
a small fraction of its input.

When a block fails a check, the exact check
(:func:`simcalib._validation.check_probabilities`) runs on the whole input
to raise the same message, naming the argument and the first bad row, as the
unfused path always gave.
"""

from __future__ import annotations

import numpy as np

from simcalib._validation import ROW_SUM_ATOL, check_labels, check_probabilities

__all__ = ["ProbabilityBlocks", "prediction_inputs", "BLOCK_BYTES"]

#: Size of one float64 block: with its few row-length temporaries it stays
#: inside a 1-2 MiB per-core L2 cache, and blocks are large enough that the
#: per-block Python overhead is small against the arithmetic.
BLOCK_BYTES = 2**20

_NUMERIC_KINDS = "fiub"
#: The bits of 1.0 as an unsigned integer (see :meth:`ProbabilityBlocks.blocks`).
_ONE_BITS = np.array(1.0).view(np.uint64)[()]


class ProbabilityBlocks:
    """Probabilities of shape (n, K), validated while they are read in blocks.

    Construction checks only the shape (cheap). The first complete
    iteration over :meth:`blocks` checks every entry; a failure raises the
    :class:`ValueError` of :func:`~simcalib._validation.check_probabilities`.
    Nothing is copied up front: each block is a float64, C-ordered view or a
    block-sized copy.

    Parameters
    ----------
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities; a 1-D array is the positive-class
        probability of a binary problem (read as ``[1 - p, p]``).
    name : str, default="y_prob"
        Name used in error messages.
    atol : float, default=1e-4
        Tolerance on the row sums and on entries below 0 or above 1.

    Attributes
    ----------
    n_samples : int
    n_classes : int
    validated : bool
        Whether one complete pass has checked every entry.
    clipped : bool
        Whether some entry lay (within ``atol``) outside [0, 1]; known after
        validation.
    """

    def __init__(self, y_prob, *, name="y_prob", atol=ROW_SUM_ATOL):
        self._original = y_prob
        self.name = name
        self.atol = atol
        array = _numeric_array(y_prob, name)
        if array.ndim == 1:
            if array.shape[0] == 0:
                raise ValueError(f"{name} is empty: it has 0 samples")
            self._binary = True
            n, k = array.shape[0], 2
        elif array.ndim == 2:
            if array.shape[0] == 0:
                raise ValueError(f"{name} is empty: it has 0 samples")
            if array.shape[1] < 2:
                raise ValueError(
                    f"{name} must have at least 2 columns; got shape {array.shape}"
                )
            self._binary = False
            n, k = array.shape
        else:
            raise ValueError(
                f"{name} must be 2-D (n_samples, n_columns); got shape {array.shape}"
            )
        self._array = array
        self._plain = (
            not self._binary and array.dtype == np.float64 and array.flags.c_contiguous
        )
        self.n_samples, self.n_classes = int(n), int(k)
        self.validated = False
        self.clipped = False

    @property
    def nbytes(self):
        """Bytes of the input array (as given, before any conversion)."""
        return int(self._array.nbytes)

    def block_rows(self):
        """Rows per block: :data:`BLOCK_BYTES` of float64, at least 1."""
        return max(1, BLOCK_BYTES // (8 * self.n_classes))

    def _raw_block(self, start, stop):
        block = self._array[start:stop]
        if self._plain:  # float64, C-ordered: a view
            return block
        if self._binary:
            p = np.asarray(block, dtype=np.float64)
            return np.column_stack([1.0 - p, p])
        return np.asarray(block, dtype=np.float64, order="C")

    def blocks(self):
        """Yield ``(start, block, pred, conf)`` for consecutive row blocks.

        ``block`` has shape (rows, K), dtype float64, entries in [0, 1];
        ``pred`` is the arg-max of each row (ties to the first class) and
        ``conf`` its value, the top-label confidence. The first complete
        iteration validates the input; do not modify ``block``.
        """
        rows = self.block_rows()
        # flat offsets of the rows: ``flat.take(offsets + col)`` picks one
        # entry per row, several times faster than ``block[rows, col]``
        offsets = np.arange(rows) * self.n_classes
        atol = self.atol
        check = not self.validated
        for start in range(0, self.n_samples, rows):
            stop = min(start + rows, self.n_samples)
            block = self._raw_block(start, stop)
            off = offsets[: stop - start]
            # Read as unsigned integers, the bits of the floats in [+0, 1]
            # are ordered like the floats and lie at or below those of 1.0;
            # a negative float (sign bit set), NaN or infinity has larger
            # bits. So one arg-max gives the top label of a valid row, and
            # the bits it picks are all at or below 1.0 exactly when every
            # entry of the block lies in [+0, 1] and is finite.
            bits = block.view(np.uint64)
            pred = bits.argmax(axis=1)
            top_bits = bits.reshape(-1).take(off + pred)
            if top_bits.max() <= _ONE_BITS:
                conf = top_bits.view(np.float64)
            else:  # out of [0, 1] (perhaps within atol), -0.0, NaN or infinity
                lo, hi = block.min(), block.max()
                if check and not (lo >= -atol and hi <= 1.0 + atol):
                    self._fail()
                if lo < 0.0 or hi > 1.0:
                    self.clipped = True
                    block = np.clip(block, 0.0, 1.0)
                pred = block.argmax(axis=1)
                conf = block.reshape(-1).take(off + pred)
            if check:
                # a row sum is one more pass, done while the block is in cache
                sums = np.einsum("ij->i", block)  # the fastest row sum here
                sums -= 1.0
                np.abs(sums, out=sums)
                if not sums.max() <= atol:  # the exact check's comparison
                    self._fail()
            yield start, block, pred, conf
        self.validated = True

    def validate(self):
        """Check every entry now (one pass); return ``self``."""
        if not self.validated:
            for _ in self.blocks():
                pass
        return self

    def to_array(self):
        """The validated, clipped probabilities as one float64 (n, K) array.

        Returns ``(array, is_copy)``: the input itself when it is a float64
        (n, K) array that needed no clipping (do not modify it), else a new
        array the caller may overwrite. Only for the computation that needs
        all values at once (equal-mass edges of the pooled output ECE).
        """
        self.validate()
        if self._plain and not self.clipped:
            return self._array, False
        out = np.empty((self.n_samples, self.n_classes))
        for start, block, _, _ in self.blocks():
            out[start : start + block.shape[0]] = block
        return out, True

    def column(self, j):
        """Column ``j`` as a validated, clipped float64 array of shape (n,)."""
        self.validate()
        if self._binary:
            p = np.asarray(self._array, dtype=np.float64)
            column = p if j == 1 else 1.0 - p
        else:
            column = np.array(self._array[:, j], dtype=np.float64)
        if self.clipped:
            np.clip(column, 0.0, 1.0, out=column)
        return column

    def _fail(self):
        # The exact check names the problem (and the first bad row) as it
        # always did; it allocates, but only on the way to an error.
        check_probabilities(self._original, name=self.name, atol=self.atol)
        # Only reachable when the fused row sums (einsum) and the exact
        # ones (a pairwise sum) round differently at the tolerance itself.
        return None


def _numeric_array(y_prob, name):
    """``y_prob`` as an ndarray of a real numeric dtype, copied only if it must be."""
    try:
        array = np.asarray(y_prob)
    except (TypeError, ValueError) as exc:  # ragged nested lists, for example
        raise ValueError(f"{name} must be a numeric array; got {exc}") from None
    if array.dtype.kind == "c":
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.dtype.kind not in _NUMERIC_KINDS:
        if array.dtype.kind in "USV":
            raise ValueError(f"{name} must be a numeric array; got dtype {array.dtype}")
        try:  # object arrays of numbers
            array = np.asarray(array, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be a numeric array; got {exc}") from None
    return array


def prediction_inputs(y_true, y_prob, *, labels=None, atol=ROW_SUM_ATOL):
    """Labels as class indices and the probabilities as :class:`ProbabilityBlocks`.

    The shapes and the labels are checked here; the probability values are
    checked during the first pass over the blocks.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (class indices, or entries of ``labels``).
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities.
    labels : array-like of shape (n_classes,), default=None
        Class label of each column of ``y_prob``.
    atol : float, default=1e-4
        Tolerance on row sums and range.

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype=int64
    probs : ProbabilityBlocks
    """
    probs = ProbabilityBlocks(y_prob, atol=atol)
    y = check_labels(y_true, probs.n_classes, labels=labels)
    if y.shape[0] != probs.n_samples:
        raise ValueError(
            f"y_true and y_prob have different numbers of samples: "
            f"{y.shape[0]} and {probs.n_samples}"
        )
    return y, probs


class TopLabel:
    """Per-sample results of one pass: top-label confidence, hit, true-class value.

    Attributes
    ----------
    confidence : ndarray of shape (n_samples,)
        ``max_k p_ik`` (after clipping into [0, 1]).
    hit : ndarray of shape (n_samples,), dtype=bool
        Whether the arg-max class (ties to the first) is the true class.
    true_value : ndarray of shape (n_samples,) or None
        ``p_{i, y_i}``, the probability of the true class (None when the
        pass did not collect it).
    """

    def __init__(self, confidence, hit, true_value):
        self.confidence = confidence
        self.hit = hit
        self.true_value = true_value


def scan(y, probs, consumers=(), *, true_values=None):
    """Validate ``probs`` and reduce it in one pass over its blocks.

    Parameters
    ----------
    y : ndarray of shape (n_samples,), dtype=int64
        Class indices.
    probs : ProbabilityBlocks
        The probabilities.
    consumers : sequence
        Objects with a method ``add(start, block, true_value)`` called with
        every validated block (``true_value`` is ``block[i, y_i]`` per row),
        for the metrics that need every entry (output ECE, Brier, ...).
    true_values : bool, default=None
        Whether to collect ``p[i, y_i]``; by default only when there are
        consumers.

    Returns
    -------
    top : TopLabel
    """
    n = probs.n_samples
    collect = bool(consumers) if true_values is None else true_values
    confidence = np.empty(n)
    hit = np.empty(n, dtype=bool)
    true_value = np.empty(n) if collect else None
    offsets = np.arange(probs.block_rows()) * probs.n_classes
    for start, block, pred, conf in probs.blocks():
        stop = start + conf.shape[0]
        yb = y[start:stop]
        confidence[start:stop] = conf
        np.equal(pred, yb, out=hit[start:stop])
        if collect:
            tv = block.reshape(-1).take(offsets[: stop - start] + yb)
            true_value[start:stop] = tv
            for consumer in consumers:
                consumer.add(start, block, tv)
    return TopLabel(confidence, hit, true_value)
