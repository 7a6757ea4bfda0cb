"""The projected Newton-CG solver of Dirichlet calibration, piece by piece."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from simcalib.calibration._linear import _penalty_weights
from simcalib.calibration._newton import _pcg, _Problem, fit_linear_newton

from ._helpers import overconfident_logits


def _problem(reg="odir", lam=0.5, mu=0.2, n=300, k=4, seed=0):
    Z, y = overconfident_logits(n, k, scale=3.0, seed=seed)
    F = log_softmax(Z, axis=1)
    w_pen, b_pen = _penalty_weights(reg, lam, mu, k)
    return F, y, w_pen, b_pen


def _objective(theta, F, y, w_pen, b_pen):
    """The penalised mean NLL, written out on its own."""
    k = F.shape[1]
    W, b = theta[: k * k].reshape(k, k), theta[k * k :]
    logp = log_softmax(F @ W.T + b, axis=1)
    pen = 0.0 if w_pen is None else np.sum(w_pen * W**2) + b_pen * np.sum(b**2)
    return -logp[np.arange(len(y)), y].mean() + pen


@pytest.mark.parametrize("reg", ["odir", "l2"])
def test_gradient_and_hessian_products_match_finite_differences(rng, reg):
    F, y, w_pen, b_pen = _problem(reg)
    prob = _Problem(F, y, w_pen, b_pen)
    k = F.shape[1]
    Theta = rng.normal(size=(k, k + 1))
    fun, nll, grad, P = prob.fun_grad(prob.logits(Theta), Theta)
    theta = np.concatenate([Theta[:, :k].ravel(), Theta[:, k]])
    assert fun == pytest.approx(_objective(theta, F, y, w_pen, b_pen), rel=1e-12)
    V = rng.normal(size=Theta.shape)
    eps = 1e-6
    fp = prob.fun_grad(prob.logits(Theta + eps * V), Theta + eps * V)
    fm = prob.fun_grad(prob.logits(Theta - eps * V), Theta - eps * V)
    assert np.sum(grad * V) == pytest.approx((fp[0] - fm[0]) / (2 * eps), rel=1e-6)
    Hv = prob.hessp_factory(P)(V)  # float32 products: ~1e-6 relative
    np.testing.assert_allclose(Hv, (fp[2] - fm[2]) / (2 * eps), rtol=2e-4, atol=1e-6)
    # the Hessian is symmetric
    U = rng.normal(size=Theta.shape)
    hess = prob.hessp_factory(P)
    assert np.sum(U * hess(V)) == pytest.approx(np.sum(V * hess(U)), rel=1e-5)


@pytest.mark.parametrize("reg", ["odir", "l2", "none"])
def test_subspace_projection_and_shift(rng, reg):
    F, y, w_pen, b_pen = _problem(reg)
    prob = _Problem(F, y, w_pen, b_pen)
    k = F.shape[1]
    Theta = rng.normal(size=(k, k + 1))
    shifted = prob.shift_into(Theta)
    # same softmax (a vector added to every row) ...
    np.testing.assert_allclose(
        softmax(prob.logits(shifted), axis=1), softmax(prob.logits(Theta), axis=1)
    )
    # ... and in the subspace, where the projection leaves it unchanged
    np.testing.assert_allclose(prob.project(shifted), shifted, atol=1e-12)
    R = rng.normal(size=Theta.shape)
    np.testing.assert_allclose(prob.project(prob.project(R)), prob.project(R))
    # the penalty-minimising shift: no other shift has a smaller penalty
    if w_pen is not None:
        D = prob.D
        for _ in range(5):
            other = shifted + rng.normal(size=k + 1)[None, :]
            assert np.sum(D * other**2) >= np.sum(D * shifted**2) - 1e-12


@pytest.mark.parametrize("reg", ["odir", "l2"])
def test_the_optimum_lies_in_the_subspace(reg):
    # at the optimum the NLL gradient sums to zero over rows, hence so does
    # the penalty gradient: the solver loses nothing by staying there
    F, y, w_pen, b_pen = _problem(reg)
    k = F.shape[1]
    ref = minimize(
        _objective,
        np.concatenate([np.eye(k).ravel(), np.zeros(k)]),
        args=(F, y, w_pen, b_pen),
        method="BFGS",
        options={"gtol": 1e-10},
    )
    prob = _Problem(F, y, w_pen, b_pen)
    Theta = np.hstack([ref.x[: k * k].reshape(k, k), ref.x[k * k :, None]])
    np.testing.assert_allclose(prob.shift_into(Theta), Theta, atol=1e-5)


def test_preconditioned_cg_solves_a_spd_system(rng):
    A = rng.normal(size=(30, 30))
    H = A @ A.T + 30 * np.eye(30)
    b = rng.normal(size=30)
    x, it, solved = _pcg(lambda v: H @ v, lambda r: r / np.diag(H), b, 1e-10, 200)
    assert solved
    np.testing.assert_allclose(H @ x, b, atol=1e-8)
    assert it <= 30  # at most n iterations in exact arithmetic (plus rounding)


def test_block_inverses(rng):
    F, y, w_pen, b_pen = _problem()
    prob = _Problem(F, y, w_pen, b_pen)
    k = F.shape[1]
    B = rng.normal(size=(k, k + 1, k + 1))
    B = np.einsum("jab,jcb->jac", B, B)
    got = prob.block_inverses(B)
    for j in range(k):
        M = B[j] + np.diag(prob.D[j] + 1e-8 * (np.diag(B[j]).mean() + 1e-12))
        np.testing.assert_allclose(got[j], np.linalg.inv(M), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "reg,lam,mu", [("odir", 0.5, 0.2), ("odir", 5.0, 0.05), ("l2", 1.0, None)]
)
def test_reaches_the_bfgs_optimum(reg, lam, mu):
    F, y, w_pen, b_pen = _problem(reg, lam, mu, n=400, k=3, seed=3)
    k = F.shape[1]
    ref = minimize(
        _objective,
        np.concatenate([np.eye(k).ravel(), np.zeros(k)]),
        args=(F, y, w_pen, b_pen),
        method="BFGS",
        options={"gtol": 1e-10},
    )
    res = fit_linear_newton(
        F,
        y,
        w_pen=w_pen,
        b_pen=b_pen,
        coef_init=np.eye(k),
        intercept_init=np.zeros(k),
        tol=1e-12,
    )
    assert res.converged
    assert res.fun == pytest.approx(ref.fun, abs=1e-10)
    # odir: the optimum is unique; l2 likewise (every entry penalised)
    np.testing.assert_allclose(res.coef, ref.x[: k * k].reshape(k, k), atol=1e-5)
    np.testing.assert_allclose(res.intercept, ref.x[k * k :], atol=1e-5)


def test_any_start_and_a_stale_preconditioner_reach_the_same_optimum(rng):
    F, y, w_pen, b_pen = _problem(n=300, k=5, seed=4)
    k = F.shape[1]
    a = fit_linear_newton(
        F,
        y,
        w_pen=w_pen,
        b_pen=b_pen,
        coef_init=np.eye(k),
        intercept_init=np.zeros(k),
        tol=1e-12,
    )
    other_F, other_y, _, _ = _problem(n=300, k=5, seed=5)
    stale = fit_linear_newton(
        other_F,
        other_y,
        w_pen=w_pen,
        b_pen=b_pen,
        coef_init=np.eye(k),
        intercept_init=np.zeros(k),
    ).state
    b = fit_linear_newton(
        F,
        y,
        w_pen=w_pen,
        b_pen=b_pen,
        coef_init=rng.normal(size=(k, k)),
        intercept_init=rng.normal(size=k),
        tol=1e-12,
        state=stale,
    )
    assert b.fun == pytest.approx(a.fun, abs=1e-11)
    np.testing.assert_allclose(b.coef, a.coef, atol=1e-5)


def test_max_iter_stops_early():
    F, y, w_pen, b_pen = _problem(n=300, k=4)
    res = fit_linear_newton(
        F,
        y,
        w_pen=w_pen,
        b_pen=b_pen,
        coef_init=np.eye(4),
        intercept_init=np.zeros(4),
        tol=1e-14,
        max_iter=1,
    )
    assert res.n_iter == 1 and not res.converged


def test_separable_data_without_penalty_terminates():
    # no optimum exists: the objective only decreases towards 0; the
    # decrease test must stop the iteration instead of running max_iter
    F = np.log(np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]]))
    y = np.array([0, 0, 1, 1])
    res = fit_linear_newton(
        F,
        y,
        w_pen=None,
        b_pen=0.0,
        coef_init=np.eye(2),
        intercept_init=np.zeros(2),
        tol=1e-6,
        max_iter=500,
    )
    assert res.converged and res.n_iter < 500
    assert res.nll < 1e-3


def test_cg_model_truncation_stops_earlier_with_a_descent_step(rng):
    # eigenvalues spread over 1e4: many iterations to a small residual, but
    # the quadratic model stops improving long before
    Q, _ = np.linalg.qr(rng.normal(size=(60, 60)))
    H = Q @ np.diag(np.logspace(0, 4, 60)) @ Q.T
    b = rng.normal(size=60)
    x_full, it_full, solved = _pcg(lambda v: H @ v, lambda r: r, b, 1e-12, 500)
    x_cut, it_cut, cut_solved = _pcg(lambda v: H @ v, lambda r: r, b, 1e-12, 500, model_rtol=0.25)
    assert it_cut < it_full and solved and not cut_solved
    model = lambda x: 0.5 * x @ H @ x - b @ x  # noqa: E731
    # a truncated CG iterate still decreases the model, monotonically towards
    # the full solve's value
    assert model(x_full) <= model(x_cut) < model(np.zeros(60))


def test_huge_features_reach_the_optimum():
    # features of 1e12 made the float32 products overflow and the fit stop
    # after one iteration at a far worse objective; the solver works on
    # F / s (s a power of two) and must reach the optimum of the problem as
    # posed, found here by BFGS on its own change of variables W = W' / c
    F, y, w_pen, b_pen = _problem("odir", 0.5, 0.2, n=300, k=3, seed=6)
    k, c = F.shape[1], 1e12
    F_big = F * c

    def scaled(theta):  # the objective of F_big at W = W' / c
        W = theta[: k * k].reshape(k, k) / c
        return _objective(np.concatenate([W.ravel(), theta[k * k :]]), F_big, y,
                          w_pen, b_pen)

    ref = minimize(scaled, np.concatenate([np.eye(k).ravel(), np.zeros(k)]),
                   method="BFGS", options={"gtol": 1e-10})
    res = fit_linear_newton(F_big, y, w_pen=w_pen, b_pen=b_pen,
                            coef_init=np.eye(k) / c, intercept_init=np.zeros(k),
                            tol=1e-12)
    assert res.converged, res.message
    assert res.fun == pytest.approx(ref.fun, abs=1e-9)
    theta = np.concatenate([res.coef.ravel(), res.intercept])
    assert _objective(theta, F_big, y, w_pen, b_pen) == pytest.approx(res.fun, abs=1e-12)


def test_a_failed_line_search_is_not_reported_as_convergence(monkeypatch):
    # a step that never decreases the objective: the fit stops, unconverged,
    # and says why (it used to report convergence)
    F, y, w_pen, b_pen = _problem(n=300, k=4)
    monkeypatch.setattr(_Problem, "line_search", lambda self, *args: 1e6)
    res = fit_linear_newton(F, y, w_pen=w_pen, b_pen=b_pen, coef_init=np.eye(4),
                            intercept_init=np.zeros(4))
    assert not res.converged and not res.success
    assert "line search" in res.message
    assert res.n_iter == res.nit == 1


@pytest.mark.parametrize("n_workers", [2, 3])
def test_worker_threads_reach_the_same_optimum(monkeypatch, n_workers):
    # the samples split among threads (each part's sums added in a fixed
    # order): the same optimum as one part, and the same result every time
    from simcalib.calibration import _newton

    F, y, w_pen, b_pen = _problem(n=500, k=6, seed=7)
    kwargs = dict(w_pen=w_pen, b_pen=b_pen, coef_init=np.eye(6),
                  intercept_init=np.zeros(6), tol=1e-12)
    one = fit_linear_newton(F, y, **kwargs)
    monkeypatch.setattr(_newton, "_n_workers", lambda n: n_workers)
    parts = [fit_linear_newton(F, y, **kwargs) for _ in range(2)]
    assert parts[0].fun == pytest.approx(one.fun, abs=1e-12)
    np.testing.assert_allclose(parts[0].coef, one.coef, atol=1e-6)
    np.testing.assert_array_equal(parts[0].coef, parts[1].coef)
    np.testing.assert_array_equal(parts[0].intercept, parts[1].intercept)


def test_worker_count_follows_the_blas_setting():
    from threadpoolctl import threadpool_limits

    from simcalib.calibration._newton import _MIN_ROWS_PER_WORKER, _n_workers

    with threadpool_limits(limits=1, user_api="blas"):
        assert _n_workers(10**6) == 1
    with threadpool_limits(limits=2, user_api="blas"):
        assert _n_workers(10**6) == 2
        assert _n_workers(_MIN_ROWS_PER_WORKER) == 1  # too few samples to share


@pytest.mark.parametrize("reg,lam,mu", [("odir", 0.5, 0.2), ("l2", 1.0, None)])
def test_diagonal_preconditioner_for_many_classes_reaches_the_optimum(
    monkeypatch, reg, lam, mu
):
    # with more classes than the block preconditioner's memory allows, the
    # blocks' diagonals precondition instead: the same optimum (BFGS on the
    # written-out objective), a warm start reuses them
    from simcalib.calibration import _newton

    F, y, w_pen, b_pen = _problem(reg, lam, mu, n=400, k=3, seed=3)
    k = F.shape[1]
    ref = minimize(_objective, np.concatenate([np.eye(k).ravel(), np.zeros(k)]),
                   args=(F, y, w_pen, b_pen), method="BFGS", options={"gtol": 1e-10})
    monkeypatch.setattr(_newton, "_BLOCK_MEMORY_BYTES", 0)
    assert _Problem(F, y, w_pen, b_pen).diagonal
    kwargs = dict(w_pen=w_pen, b_pen=b_pen, intercept_init=np.zeros(k), tol=1e-12)
    res = fit_linear_newton(F, y, coef_init=np.eye(k), **kwargs)
    assert res.converged, res.message
    assert res.state["nll_blocks"].shape == (k, k + 1)
    assert res.fun == pytest.approx(ref.fun, abs=1e-10)
    np.testing.assert_allclose(res.coef, ref.x[: k * k].reshape(k, k), atol=1e-5)
    warm = fit_linear_newton(F, y, coef_init=res.coef, state=res.state, **kwargs)
    assert warm.fun == pytest.approx(ref.fun, abs=1e-10) and warm.n_precond == 0
