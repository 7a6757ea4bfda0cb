"""Projected Newton-CG for a penalised multinomial linear map (Dirichlet / ODIR).

Minimises, over ``W`` (K, K) and ``b`` (K,),

    mean_i -log softmax(W f_i + b)[y_i] + sum(w_pen * W**2) + b_pen * sum(b**2)

with ``w_pen >= 0`` elementwise (ODIR: zero on the diagonal). Written as
``Theta = [W, b]`` (K, K + 1) acting on ``[f_i, 1]``, the problem has three
properties that a generic quasi-Newton method does not see, and that make
L-BFGS take hundreds of iterations at K = 200 (and stop far from the optimum
when its relative-decrease test fires first):

* **Shift invariance.** Adding the same vector ``v`` to every row of
  ``Theta`` leaves the softmax unchanged, so the NLL is flat along the K + 1
  directions ``1 v^T``; only the small penalty curves them. At the optimum
  the NLL gradient sums to zero over the rows of each column, hence so does
  the penalty gradient: every column ``m`` satisfies
  ``sum_j pen_jm Theta_jm = 0``. The solver works in that linear subspace
  (a cheap projection per column), which removes the near-null directions
  and loses nothing.
* **Kronecker-structured curvature.** The Hessian of the NLL is
  ``mean_i (diag(p_i) - p_i p_i^T) (x) x_i x_i^T`` with ``x_i = [f_i, 1]``;
  a Hessian-vector product costs two (n, K+1, K) matrix products, like a
  gradient. Its per-class diagonal blocks
  ``mean_i p_ij (1 - p_ij) x_i x_i^T`` hold the badly conditioned part (the
  columns of ``log p`` are large, shifted and correlated) and make a good
  preconditioner; the rows whose weight ``p_ij (1 - p_ij)`` is negligible
  are left out of each block, which makes them cheap to build.
* **Convexity, and cheap lines.** Newton's method converges from the
  temperature-scaling start in 10-20 iterations, each solving the Newton
  system only loosely (preconditioned conjugate gradients to a relative
  residual of 0.1). Along a step the logits move linearly, so the step
  length is chosen by minimising the objective along the line with passes
  over the (n, K) logits and no matrix product.

The gradient and the objective are float64, so the iteration converges to
the float64 optimum; the Hessian-vector products and the preconditioner,
which only steer the steps, use float32 matrix products (twice the BLAS
throughput).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotri
from threadpoolctl import threadpool_info, threadpool_limits

__all__ = ["NewtonResult", "fit_linear_newton"]

#: Relative residual at which the conjugate-gradient solve of each Newton
#: system stops (a truncated Newton method: loose solves far from the
#: optimum cost fewer products and lose no outer iterations).
_CG_RTOL = 0.1

#: ... or when the relative improvement of the quadratic model, times the
#: iteration count, falls below this (Nash & Sofer 1990), whichever first.
_CG_MODEL_RTOL = 0.25

#: Cap on conjugate-gradient iterations per Newton step.
_CG_MAX_ITER = 100

#: Relative residual, and cap on iterations, of the accurate solve that
#: confirms convergence before the solver stops.
_CG_CONFIRM_RTOL = 1e-4
_CG_CONFIRM_MAX_ITER = 200

#: A row enters the preconditioner block of class j when its curvature
#: weight p_ij (1 - p_ij) is at least this fraction of the class's largest.
_BLOCK_ROW_THRESHOLD = 1e-3

#: Most rows that enter one preconditioner block, per block dimension
#: (K + 1), and at least ``_BLOCK_MIN_ROWS``.
_BLOCK_ROWS_PER_DIM = 10
_BLOCK_MIN_ROWS = 2048

#: Largest memory of the block preconditioner (float64 blocks and float32
#: inverses, 12 K (K + 1)^2 bytes: 97 MB at K = 200); with more classes
#: (K > 348) the solver preconditions with the blocks' diagonals instead,
#: O(K^2) memory like the problem itself.
_BLOCK_MEMORY_BYTES = 2**29

#: Fewest samples per worker thread of the passes over the samples.
_MIN_ROWS_PER_WORKER = 2048

#: The blocks are rebuilt after a Newton step whose solve needed more
#: conjugate-gradient iterations than this (the probabilities have moved).
_REBUILD_AFTER_CG = 20


@dataclass
class NewtonResult:
    """Outcome of :func:`fit_linear_newton`.

    Attributes
    ----------
    coef : ndarray of shape (n_classes, n_classes)
    intercept : ndarray of shape (n_classes,)
    fun : float
        Penalised mean NLL at the solution.
    nll : float
        Mean NLL at the solution (without the penalty).
    n_iter : int
        Newton iterations.
    n_hessp : int
        Hessian-vector products (conjugate-gradient iterations).
    n_fun : int
        Objective and gradient evaluations (including the line search).
    n_precond : int
        Preconditioner builds.
    converged : bool
        Whether a stopping test was met (see :func:`fit_linear_newton`).
    message : str
        Why the iteration stopped.
    state : dict
        Preconditioner to warm-start a fit on the same features.
    """

    coef: np.ndarray
    intercept: np.ndarray
    fun: float
    nll: float
    n_iter: int
    n_hessp: int
    n_fun: int
    n_precond: int
    converged: bool
    message: str
    state: dict

    # the names of scipy's OptimizeResult, for the shared convergence report
    @property
    def success(self):
        return self.converged

    @property
    def nit(self):
        return self.n_iter


def _n_workers(n):
    """Threads for the passes over the samples: the BLAS thread count, at most
    one per ``_MIN_ROWS_PER_WORKER`` samples.

    The BLAS setting is what users (``OMP_NUM_THREADS``, threadpoolctl) and
    joblib's workers already control; inside the fit BLAS itself runs
    single-threaded.
    """
    blas = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    threads = max(blas) if blas else 1
    return int(max(1, min(threads, n // _MIN_ROWS_PER_WORKER)))


class _Problem:
    """Objective, gradient, Hessian-vector products and projection.

    The samples are split into one contiguous part per worker thread; every
    pass over the samples (logits, gradient, line search, Hessian-vector
    products) runs on the parts in parallel, each with single-threaded
    BLAS, and the parts' sums are added in a fixed order. Multithreaded
    BLAS on these products slowed a fit fivefold as soon as another job
    held a core of a 2-core machine (its threads wait on one another at
    every call); threads that each own a share of the samples do not.
    """

    def __init__(self, F, y, w_pen, b_pen, pool=None, n_parts=1):
        n, k = F.shape
        self.n, self.k = n, k
        self.y = y
        self.rows = np.arange(n)
        self.pool = pool
        X = np.empty((n, k + 1))
        X[:, :k] = F
        X[:, k] = 1.0
        self.X = X
        self.X32 = X.astype(np.float32)
        edges = np.linspace(0, n, n_parts + 1).astype(int)
        self.slices = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
        # per part: its rows' labels, and the transposed features, contiguous
        self.y_p = [y[sl] for sl in self.slices]
        # per-class (K+1, K+1) blocks, or only their diagonals when the blocks
        # would not fit in _BLOCK_MEMORY_BYTES
        self.diagonal = 12 * k * (k + 1) ** 2 > _BLOCK_MEMORY_BYTES
        self.block_shape = (k, k + 1) if self.diagonal else (k, k + 1, k + 1)
        edges = np.linspace(0, k, n_parts + 1).astype(int)
        self.class_groups = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
        self.XT_p = [np.ascontiguousarray(X[sl].T) for sl in self.slices]
        self.XT32_p = [np.ascontiguousarray(self.X32[sl].T) for sl in self.slices]
        # 1/2 Theta^T diag(D) Theta is the penalty
        D = np.zeros((k, k + 1))
        if w_pen is not None:
            D[:, :k] = 2.0 * w_pen
            D[:, k] = 2.0 * b_pen
        self.D = D
        # subspace of the optimum: sum_j A_jm Theta_jm = 0 for every column m
        # (A = D; without a penalty on a column any representative is
        # optimal, and zero column sums pick one)
        A = D.copy()
        A[:, ~np.any(A > 0, axis=0)] = 1.0
        # the same constraints with every column scaled to a largest entry of
        # 1 (tiny penalties would make sum(A**2) underflow to 0)
        A /= A.max(axis=0)
        self.A = A
        self.A_sq = np.einsum("jm,jm->m", A, A)
        self.A_sum = A.sum(axis=0)

    def map(self, fn, items):
        """``[fn(item) for item in items]``, on the worker threads if any."""
        if self.pool is None:
            return [fn(item) for item in items]
        return list(self.pool.map(fn, items))

    def project(self, R):
        """Orthogonal projection onto the subspace (for directions)."""
        return R - self.A * (np.einsum("jm,jm->m", self.A, R) / self.A_sq)

    def shift_into(self, Theta):
        """The point of the subspace with the same softmax (adds ``1 v^T``)."""
        return Theta - np.einsum("jm,jm->m", self.A, Theta) / self.A_sum

    def logits(self, Theta):
        """(n, K) logits ``X Theta^T`` (float64)."""
        out = np.empty((self.n, self.k))
        ThetaT = np.ascontiguousarray(Theta.T)

        def part(sl):
            np.matmul(self.X[sl], ThetaT, out=out[sl])

        self.map(part, self.slices)
        return out

    def fun_grad(self, L, Theta):
        """(objective, NLL, gradient (K, K+1), probabilities (n, K)) at logits L."""
        P = np.empty_like(L)

        def part(p):
            sl, y = self.slices[p], self.y_p[p]
            Ps = P[sl]
            rows = np.arange(Ps.shape[0])
            np.subtract(L[sl], L[sl].max(axis=1, keepdims=True), out=Ps)
            z_y = Ps[rows, y]
            np.exp(Ps, out=Ps)
            s = Ps.sum(axis=1)
            nll_sum = float(np.sum(np.log(s)) - np.sum(z_y))
            Ps /= s[:, None]
            G = Ps.copy()
            G[rows, y] -= 1.0
            return nll_sum, self.XT_p[p] @ G  # (K+1, K)

        parts = self.map(part, range(len(self.slices)))
        nll = sum(p[0] for p in parts) / self.n
        grad = sum(p[1] for p in parts).T / self.n + self.D * Theta
        fun = nll + 0.5 * float(np.sum(self.D * Theta * Theta))
        return fun, nll, grad, P

    def line_search(self, L, dL, Theta, step, slope0):
        """Minimise the objective along ``Theta + alpha * step`` (convex in alpha).

        The logits along the line are ``L + alpha dL``, so each trial costs
        one pass over the (n, K) logits and no matrix product. Safeguarded
        Newton iterations on alpha, from 1, until the directional derivative
        has shrunk to a tenth of its value at 0.
        """
        Dt = self.D * Theta
        c1 = float(np.sum(Dt * step))
        c2 = float(np.sum(self.D * step * step))
        dL_y_mean = float(np.mean(dL[self.rows, self.y]))

        def part(sl, alpha):
            """Sums over the part's rows of E_p[dL] and Var_p[dL] at alpha."""
            La = L[sl] + alpha * dL[sl]
            La -= La.max(axis=1, keepdims=True)
            np.exp(La, out=La)
            La /= La.sum(axis=1, keepdims=True)  # probabilities at alpha
            pd = np.einsum("ij,ij->i", La, dL[sl])
            La *= dL[sl]
            pd2 = np.einsum("ij,ij->i", La, dL[sl])
            return float(np.sum(pd)), float(np.sum(pd2 - pd * pd))

        lo, hi, alpha = 0.0, np.inf, 1.0
        for _ in range(30):
            sums = self.map(lambda sl, a=alpha: part(sl, a), self.slices)
            d1 = sum(s[0] for s in sums) / self.n - dL_y_mean + c1 + alpha * c2
            d2 = sum(s[1] for s in sums) / self.n + c2
            if abs(d1) <= 0.1 * abs(slope0):
                break
            if d1 > 0:
                hi = alpha
            else:
                lo = alpha
            nxt = alpha - d1 / d2 if d2 > 0 else np.inf
            if not lo < nxt < hi:
                nxt = 0.5 * (lo + hi) if np.isfinite(hi) else 2.0 * alpha
            alpha = nxt
        return alpha

    def hessp_factory(self, P):
        """Hessian-vector product at probabilities ``P`` (float32 products)."""
        # per part: the transposed probabilities (K, rows), contiguous
        PT_p = self.map(
            lambda sl: np.ascontiguousarray(P[sl].T, dtype=np.float32), self.slices
        )
        n, D = self.n, self.D

        def part(p, V32):
            U = V32 @ self.XT32_p[p]  # (K, rows): directional logits
            PT = PT_p[p]
            U *= PT
            U -= PT * U.sum(axis=0)  # (diag(p) - p p^T) u per sample
            return U @ self.X32[self.slices[p]]

        def hessp(V):
            V32 = V.astype(np.float32)
            parts = self.map(lambda p: part(p, V32), range(len(self.slices)))
            return sum(parts).astype(np.float64) / n + D * V

        return hessp

    def nll_blocks(self, P):
        """Per-class diagonal blocks of the NLL Hessian (K, K+1, K+1).

        Block j is ``mean_i w_ij x_i x_i^T`` with ``w_ij = p_ij (1 - p_ij)``,
        from the rows whose weight is not negligible, and at most
        ``max(2048, 10 (K + 1))`` of them (an evenly spaced subset,
        reweighted to the same total weight): a preconditioner only needs
        the shape of the curvature, and the full blocks would cost as much
        as 25 Hessian-vector products to build. With too many classes for
        the blocks (``_BLOCK_MEMORY_BYTES``), their diagonals (K, K+1), from
        every row.
        """
        k, n = self.k, self.n
        if self.diagonal:  # only the diagonals: mean_i w_ij x_i^2, (K, K+1)

            def diagonals(sl):
                return (P[sl] * (1.0 - P[sl])).T @ np.square(self.X[sl])

            return sum(self.map(diagonals, self.slices)) / n
        max_rows = max(_BLOCK_MIN_ROWS, _BLOCK_ROWS_PER_DIM * (k + 1))
        Wt = np.ascontiguousarray((P * (1.0 - P)).T)  # (K, n) curvature weights
        blocks = np.empty((k, k + 1, k + 1))

        def block(j):
            w = Wt[j]
            keep = np.flatnonzero(w >= _BLOCK_ROW_THRESHOLD * w.max())
            total = w[keep].sum()
            if keep.size > max_rows:
                keep = keep[:: -(-keep.size // max_rows)]
            wk = w[keep] * (total / max(w[keep].sum(), 1e-300))
            Xj = self.X32[keep] * np.sqrt(wk).astype(np.float32)[:, None]
            blocks[j] = Xj.T @ Xj

        self.map(block, range(k))
        blocks /= n
        return blocks

    def block_inverses(self, blocks):
        """Inverses of the blocks plus the penalty (the preconditioner), float32.

        Cholesky inversion per block (a third of the work of a general
        inverse); float32 halves the memory traffic of every application,
        and a preconditioner needs no more precision.
        """
        if self.diagonal:
            d = blocks + self.D
            d += 1e-8 * (d.mean(axis=1, keepdims=True) + 1e-12)
            return (1.0 / d).astype(np.float32)
        k1 = self.k + 1
        out = np.empty(blocks.shape, dtype=np.float32)
        lower = np.tril(np.ones((k1, k1), dtype=bool), -1)

        def invert(j):
            B = blocks[j].copy()
            d = np.einsum("ii->i", B)
            # the penalty, and a relative damping that keeps every block
            # positive definite (a class with no weight, collinear
            # features, no penalty)
            d += self.D[j] + 1e-8 * (d.mean() + 1e-12)
            for _ in range(8):
                c, info = dpotrf(B, lower=1, clean=0)
                if info == 0:
                    break
                d += 1e-6 * (d.mean() + 1e-12)  # rounding made it indefinite
            inv, info = dpotri(c, lower=1)
            inv[lower.T] = 0.0  # potri fills the lower triangle only
            inv += np.tril(inv, -1).T
            out[j] = inv

        self.map(invert, range(self.k))
        return out


def _pcg(hessp, precond, b, rtol, max_iter, model_rtol=None):
    """Preconditioned conjugate gradients for ``H x = b``.

    Stops at a relative residual ``rtol``, or (``model_rtol``) when the
    quadratic model stops improving. Returns ``(x, iterations, solved)``,
    ``solved`` telling whether the residual reached ``rtol``.
    """
    x = np.zeros_like(b)
    q_prev = 0.0
    r = b.copy()
    z = precond(r)
    p = z.copy()
    rz = float(np.sum(r * z))
    target = rtol * np.linalg.norm(b)
    for it in range(1, max_iter + 1):
        Hp = hessp(p)
        pHp = float(np.sum(p * Hp))
        if pHp <= 0.0:  # only rounding can do this (the problem is convex)
            return (x if it > 1 else p), it, False
        alpha = rz / pHp
        x += alpha * p
        r -= alpha * Hp
        if np.linalg.norm(r) <= target:
            return x, it, True
        # the quadratic model -x.(b + r)/2 has stopped improving (Nash and
        # Sofer's truncation test): later iterations would refine the step
        # far more than a Newton step away from the optimum is worth
        if model_rtol is not None:
            q = -0.5 * float(np.sum(x * (b + r)))
            if it > 1 and it * (1.0 - q_prev / q) <= model_rtol:
                return x, it, False
            q_prev = q
        z = precond(r)
        rz_new = float(np.sum(r * z))
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x, max_iter, False


def _power_of_two_scale(F):
    """A power of two near ``max |F|`` (1 for an all-zero ``F``).

    Dividing the features by it is exact in floating point, and puts them
    in [0.5, 2] in magnitude whatever the size of the logits: the float32
    products stay far from overflow (logits of 1e10 made them overflow) and
    their rounding is relative to entries of order 1.
    """
    largest = float(np.max(np.abs(F))) if F.size else 0.0
    if not largest > 0.0:
        return 1.0
    return float(2.0 ** np.round(np.log2(largest)))


def fit_linear_newton(
    F,
    y,
    *,
    w_pen,
    b_pen,
    coef_init,
    intercept_init,
    tol=1e-6,
    max_iter=100,
    state=None,
    confirm=True,
):
    """Minimise the penalised mean NLL of ``softmax(F W^T + b)`` by Newton-CG.

    Parameters
    ----------
    F : ndarray of shape (n_samples, n_classes)
        Features (``log p`` for Dirichlet calibration), float64.
    y : ndarray of shape (n_samples,)
        Integer labels in ``[0, n_classes)``.
    w_pen : ndarray of shape (n_classes, n_classes) or None
        Penalty weight of each ``W_ij`` (``None``: no penalty at all).
    b_pen : float
        Penalty weight of each ``b_j``.
    coef_init, intercept_init : ndarray
        Starting point, shapes (n_classes, n_classes) and (n_classes,).
    tol : float, default=1e-6
        Stop when the decrease that the Newton step predicts,
        ``g^T H^{-1} g / 2`` (an estimate of the distance to the optimum in
        objective), is at most ``tol * max(1, |objective|)``; that step is
        still taken. Also stop when a step decreases the objective by less
        than ``tol * 1e-3 * max(1, |objective|)`` (no minimum to reach, e.g.
        separable data without a penalty).
    max_iter : int, default=100
        Maximum number of Newton iterations.
    state : dict or None
        ``NewtonResult.state`` of a previous fit on the same ``F`` (a warm
        start along a regularisation path reuses its preconditioner).
    confirm : bool, default=True
        Whether the stopping test is confirmed by an accurate solve of the
        Newton system (relative residual 1e-4). Without it the solver stops
        as soon as a loose solve predicts a decrease below the tolerance:
        several times fewer Hessian-vector products, but the loose solves
        can underestimate the remaining distance (by 2e-4 in objective with
        a poorly fitting preconditioner). For screening fits whose results
        are checked afterwards (``DirichletCalibratorCV``).

    Returns
    -------
    result : NewtonResult
        ``converged`` is False, with the reason in ``message``, when
        ``max_iter`` was reached, when no step along the Newton direction
        decreases the objective while the model still predicts a decrease
        above the tolerance, or when the objective is not finite.
    """
    # W acts on F / s as W s: an exact change of variables (s a power of
    # two) under which the penalty on W becomes w_pen / s^2
    s = _power_of_two_scale(F)
    if w_pen is not None:
        w_pen = w_pen / (s * s)
    n_workers = _n_workers(F.shape[0])
    # BLAS single-threaded inside the fit; the samples are shared among
    # worker threads instead (see _Problem)
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(n_workers) if n_workers > 1 else nullcontext() as pool,
    ):
        prob = _Problem(F / s, y, w_pen, b_pen, pool, n_workers)
        k = prob.k
        Theta = np.empty((k, k + 1))
        Theta[:, :k] = np.asarray(coef_init) * s
        Theta[:, k] = intercept_init
        Theta = prob.shift_into(Theta)
        L = prob.logits(Theta)
        fun, nll, grad, P = prob.fun_grad(L, Theta)
        n_fun, n_hessp, n_precond = 1, 0, 0
        blocks = None if state is None else state.get("nll_blocks")
        if blocks is not None and blocks.shape != prob.block_shape:
            blocks = None
        binv = None if blocks is None else prob.block_inverses(blocks)
        rebuild = blocks is None
        converged = False
        message = f"the iteration limit max_iter={max_iter} was reached"
        n_iter = 0
        while n_iter < max_iter:
            if not np.isfinite(fun):
                message = "the objective is not finite"
                break
            n_iter += 1
            if rebuild:
                blocks = prob.nll_blocks(P)
                binv = prob.block_inverses(blocks)
                n_precond += 1

            def precond(R, binv=binv):
                R = prob.project(R).astype(np.float32)
                Z = np.empty_like(R)

                def apply(g):  # the blocks of a group of classes
                    if prob.diagonal:
                        Z[g] = binv[g] * R[g]
                    else:
                        Z[g] = np.matmul(binv[g], R[g, :, None])[:, :, 0]

                prob.map(apply, prob.class_groups)
                return prob.project(Z.astype(np.float64))

            product = prob.hessp_factory(P)

            def hessp(V, product=product):
                return prob.project(product(V))

            rhs = -prob.project(grad)
            step, n_cg, _ = _pcg(
                hessp, precond, rhs, _CG_RTOL, _CG_MAX_ITER, _CG_MODEL_RTOL
            )
            n_hessp += n_cg
            rebuild = n_cg > _REBUILD_AFTER_CG
            predicted = -float(np.sum(grad * step))
            scale = max(1.0, abs(fun))
            confirmed = False
            if confirm and 0.0 < predicted / 2.0 <= tol * scale:
                # a loose solve underestimates the distance to the optimum,
                # by far when the preconditioner fits badly: before stopping,
                # an accurate solve confirms it (and gives the step to take)
                accurate, n_more, confirmed = _pcg(
                    hessp, precond, rhs, _CG_CONFIRM_RTOL, _CG_CONFIRM_MAX_ITER
                )
                n_hessp += n_more
                more = -float(np.sum(grad * accurate))
                if np.isfinite(more) and more > 0.0:
                    step, predicted = accurate, more
            if not np.isfinite(predicted):
                message = "the Newton step is not finite"
                break
            if predicted <= 0.0:  # the gradient is rounding noise: the optimum
                converged, message = True, "the gradient vanished"
                break
            dL = prob.logits(step)
            alpha = prob.line_search(L, dL, Theta, step, -predicted)
            L_new = L + alpha * dL
            new = prob.fun_grad(L_new, Theta + alpha * step)
            n_fun += 1
            if not new[0] < fun:
                # no decrease along a descent direction: float64 cannot resolve
                # one (the optimum, when the model agrees) -- or the search failed
                converged = predicted / 2.0 <= tol * scale
                message = (
                    "the optimum was reached to float64 precision"
                    if converged
                    else "the line search found no decrease of the objective"
                )
                break
            decrease = fun - new[0]
            Theta = Theta + alpha * step
            L = L_new
            fun, nll, grad, P = new
            if (confirmed or not confirm) and predicted / 2.0 <= tol * scale:
                converged, message = True, "the predicted decrease fell below tol"
                break
            if decrease <= tol * 1e-3 * scale:
                converged, message = True, "the objective stopped decreasing"
                break
        return NewtonResult(
            coef=Theta[:, :k] / s,
            intercept=Theta[:, k].copy(),
            fun=fun,
            nll=nll,
            n_iter=n_iter,
            n_hessp=n_hessp,
            n_fun=n_fun,
            n_precond=n_precond,
            converged=converged,
            message=message,
            state={"nll_blocks": blocks},
        )
