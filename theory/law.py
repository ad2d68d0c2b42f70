r"""Learning Law statistics (paper Section 3, Theorem 3.1, and the measures of Section 4.4-4.5).

Inputs are the records of one training run: the policy rows ``gamma: [T', N]`` and contributions

.. math:: CT_{t,n} = \nabla L(\theta_t) \cdot \nabla l_n(\theta_t)

at the record steps ``record_steps: [T']``, the desired-loss curve ``dev_loss: [T+1]`` and the step
sizes ``etas: [T]``. Theorem 3.1 says that along an optimal policy every example in use contributes
equally, at the rate the desired loss falls: :math:`CT_{t,n} = -dL/dt` for all n with
:math:`\gamma_{t,n} > 0`. The statistics below measure how far a run is from that.

Per record step t, with the support :math:`S_t = \{n : \gamma_{t,n} > 0\}`:

- weighted mean :math:`m_t = \sum_n \gamma_{t,n} CT_{t,n}` (rows sum to one);
- spread :math:`s_t = \sqrt{\sum_{n \in S_t} (CT_{t,n} - m_t)^2 / (|S_t| - 1)}`;
- :math:`SIM_t = m_t / s_t` (Section 4.4, as the paper's scripts define it; for the constant policy
  this is mean / std of CT over all examples); NaN when :math:`|S_t| < 2`, inf when :math:`s_t = 0`;
- coefficient of variation on the support :math:`CV_t = s_t / |m_t|`;
- share of :math:`\gamma = 0` among the examples with CT < 0 (property 4.1 of Section 4.5);
- the discrete-time rate :math:`-dL/dt \approx r_t = (L_t - L_{t+1}) / \eta_t`. For GD,
  :math:`L_{t+1} - L_t = -\eta_t \sum_n \gamma_{t,n} CT_{t,n} + O(\eta_t^2)`, so
  :math:`m_t / r_t \to 1` as :math:`\eta \to 0` for *any* policy; the law's content is that every
  support example matches it, measured by :math:`\sqrt{\mathrm{mean}_{n \in S_t} (CT_{t,n} - r_t)^2} / |r_t|`.

Note: ``dev_loss`` is recorded in float32, so :math:`r_t` loses precision once the per-step change
of the loss nears 1e-7 of the loss (late, flat parts of a run).
"""

from __future__ import annotations

import numpy as np

PER_STEP_KEYS = ("record_steps", "dev_loss_t", "support_size", "ct_mean_support", "ct_std_support", "sim_t",
                 "ct_cv_support_t", "n_negative_ct", "n_zero_negative_ct", "zero_share_negative_ct_t",
                 "neg_dldt_t", "ct_to_neg_dldt_ratio_t", "ct_support_rel_dev_t")


def support_stats(gamma: np.ndarray, ct: np.ndarray) -> dict[str, np.ndarray]:
    r"""Weighted mean, spread, SIM and CV of ``ct: [T', N]`` on the support of ``gamma: [T', N]``.

    Returns per-row arrays ``[T']``: ``support_size``, ``ct_mean_support`` (:math:`m_t`),
    ``ct_std_support`` (:math:`s_t`), ``sim_t`` (:math:`m_t / s_t`) and ``ct_cv_support_t``
    (:math:`s_t / |m_t|`), as defined in the module docstring.

    >>> import numpy as np
    >>> out = support_stats(np.array([[0.5, 0.5, 0.0]]), np.array([[1.0, 3.0, -7.0]]))
    >>> float(out["ct_mean_support"][0]), float(out["ct_std_support"][0]), float(out["sim_t"][0])
    (2.0, 1.4142135623730951, 1.414213562373095)
    """
    gamma = np.asarray(gamma, dtype=np.float64)
    ct = np.asarray(ct, dtype=np.float64)
    if gamma.shape != ct.shape or gamma.ndim != 2:
        raise ValueError(f"gamma {gamma.shape} and ct {ct.shape} must both be [T', N]")
    support = gamma > 0
    size = support.sum(axis=1)
    mean = np.sum(gamma * ct, axis=1) / np.sum(gamma, axis=1)
    sq = np.sum(np.where(support, (ct - mean[:, None]) ** 2, 0.0), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.where(size >= 2, np.sqrt(sq / np.maximum(size - 1, 1)), np.nan)
        sim = np.where(size >= 2, mean / std, np.nan)
        cv = std / np.abs(mean)
    return {"support_size": size, "ct_mean_support": mean, "ct_std_support": std, "sim_t": sim,
            "ct_cv_support_t": cv}


def zero_share_negative_ct(gamma: np.ndarray, ct: np.ndarray) -> dict[str, np.ndarray]:
    """Per row: how many examples have CT < 0, how many of them have gamma = 0, and the share (NaN if none)."""
    gamma = np.asarray(gamma)
    neg = np.asarray(ct) < 0
    n_neg = neg.sum(axis=1)
    n_zero = np.sum(neg & (gamma == 0), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n_neg > 0, n_zero / np.maximum(n_neg, 1), np.nan)
    return {"n_negative_ct": n_neg, "n_zero_negative_ct": n_zero, "zero_share_negative_ct_t": share}


def low_weight_share_learned(gamma: np.ndarray, train_loss: np.ndarray, loss_below: float = 1e-6,
                             frac: float = 0.2) -> tuple[float, int]:
    """Property 4.2 / Fig. 9: among the (step, example) pairs whose train loss is below ``loss_below`` (a
    well-learned example), the share with ``gamma < frac * max_n gamma[t]``; and how many pairs there are
    (share NaN when none). The paper reports over 90% at its near-optimal perceptron policy."""
    gamma = np.asarray(gamma, np.float64)
    learned = np.asarray(train_loss) < loss_below
    n = int(learned.sum())
    if not n:
        return float("nan"), 0
    low = gamma < frac * gamma.max(axis=1, keepdims=True)
    return float(np.sum(low & learned) / n), n


def loss_rate(dev_loss: np.ndarray, etas: np.ndarray, steps: np.ndarray) -> np.ndarray:
    r"""Discrete -dL/dt at ``steps``: :math:`(L_t - L_{t+1}) / \eta_t` from ``dev_loss: [T+1]``, ``etas: [T]``."""
    dev_loss = np.asarray(dev_loss, dtype=np.float64)
    etas = np.asarray(etas, dtype=np.float64)
    steps = np.asarray(steps, dtype=np.int64)
    if dev_loss.shape[0] != etas.shape[0] + 1:
        raise ValueError(f"dev_loss has {dev_loss.shape[0]} points, etas {etas.shape[0]}: expected T+1 and T")
    return (dev_loss[steps] - dev_loss[steps + 1]) / etas[steps]


def finite_mean(x: np.ndarray) -> float:
    """Mean of the finite entries of ``x`` (NaN when there are none)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")


def law_table(
    gamma: np.ndarray,
    ct: np.ndarray,
    record_steps: np.ndarray,
    dev_loss: np.ndarray,
    etas: np.ndarray,
    until_loss: float | None = None,
    train_loss: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Learning Law statistics of one run: (per-record-step arrays ``[T']``, run-level scalars).

    Args:
      gamma: ``[T', N]`` policy rows at the record steps (``gamma_recorded.npy``).
      ct: ``[T', N]`` contributions at the same steps (``ct.npy``).
      record_steps: ``[T']`` step indices t of the rows.
      dev_loss: ``[T+1]`` desired loss at theta_0..theta_T.
      etas: ``[T]`` inner step sizes.
      until_loss: if given, the run-level averages are also taken over the record steps with
        ``dev_loss[t] > until_loss`` only (keys ending in ``_until``): the part of the run before it
        reaches that target, e.g. the constant policy's final loss.
      train_loss: ``[T', N]`` per-example train losses at the record steps; with it, ``run`` also has
        ``low_weight_share_learned`` and ``n_learned`` (:func:`low_weight_share_learned`).

    Returns:
      ``per_step``: the keys of ``PER_STEP_KEYS`` (see the module docstring).
      ``run``: ``sim_mean`` (mean_t SIM_t over steps where it is finite), ``ct_cv_support`` (mean_t CV_t),
      ``zero_share_negative_ct`` (pooled over steps: all (CT < 0, gamma = 0) / all CT < 0; NaN when no
      CT < 0), ``ct_to_neg_dldt_ratio`` (median_t m_t / r_t), ``ct_support_rel_dev`` (median_t of the
      relative deviation of support CT from r_t), ``support_fraction`` (mean |S_t| / N), ``n_steps``,
      ``sim_undefined_steps`` (steps with |S_t| < 2 or s_t = 0), and with ``until_loss`` the same means
      with suffix ``_until`` plus ``n_steps_until`` and ``until_loss``.
    """
    gamma = np.asarray(gamma)
    ct = np.asarray(ct)
    record_steps = np.asarray(record_steps, dtype=np.int64)
    if gamma.shape[0] != record_steps.shape[0]:
        raise ValueError(f"gamma has {gamma.shape[0]} rows but record_steps {record_steps.shape[0]}")
    per = {"record_steps": record_steps, "dev_loss_t": np.asarray(dev_loss, dtype=np.float64)[record_steps]}
    per.update(support_stats(gamma, ct))
    per.update(zero_share_negative_ct(gamma, ct))
    rate = loss_rate(dev_loss, etas, record_steps)
    per["neg_dldt_t"] = rate
    with np.errstate(divide="ignore", invalid="ignore"):
        per["ct_to_neg_dldt_ratio_t"] = per["ct_mean_support"] / rate
        support = np.asarray(gamma) > 0
        dev2 = np.sum(np.where(support, (np.asarray(ct, np.float64) - rate[:, None]) ** 2, 0.0), axis=1)
        per["ct_support_rel_dev_t"] = np.sqrt(dev2 / np.maximum(per["support_size"], 1)) / np.abs(rate)

    def summarize(mask: np.ndarray, suffix: str) -> dict[str, float]:
        n_neg = per["n_negative_ct"][mask].sum()
        finite_ratio = per["ct_to_neg_dldt_ratio_t"][mask]
        finite_ratio = finite_ratio[np.isfinite(finite_ratio)]
        rel = per["ct_support_rel_dev_t"][mask]
        rel = rel[np.isfinite(rel)]
        return {
            f"sim_mean{suffix}": finite_mean(per["sim_t"][mask]),
            f"ct_cv_support{suffix}": finite_mean(per["ct_cv_support_t"][mask]),
            f"zero_share_negative_ct{suffix}": (float(per["n_zero_negative_ct"][mask].sum() / n_neg)
                                                if n_neg else float("nan")),
            f"ct_to_neg_dldt_ratio{suffix}": float(np.median(finite_ratio)) if finite_ratio.size else float("nan"),
            f"ct_support_rel_dev{suffix}": float(np.median(rel)) if rel.size else float("nan"),
            f"support_fraction{suffix}": (float(np.mean(per["support_size"][mask]) / gamma.shape[1])
                                          if mask.any() else float("nan")),
        }

    everything = np.ones(record_steps.shape[0], dtype=bool)
    run = summarize(everything, "")
    run["n_steps"] = int(record_steps.shape[0])
    run["sim_undefined_steps"] = int(np.sum(~np.isfinite(per["sim_t"])))
    if train_loss is not None:
        run["low_weight_share_learned"], run["n_learned"] = low_weight_share_learned(gamma, train_loss)
    if until_loss is not None:
        before = per["dev_loss_t"] > until_loss
        run.update(summarize(before, "_until"))
        run["n_steps_until"] = int(before.sum())
        run["until_loss"] = float(until_loss)
    return per, run


# ------------------------------------------------------------------- SIM vs CR (paper Fig. 3B / 7)


def sim_cr_curve(cr, k, a, b):
    r"""The paper's empirical relation between SIM and the compression ratio (Fig. 3B / 7):

    .. math:: SIM = k \ln \frac{a}{b - CR},

    defined for CR < b; SIM -> infinity as CR approaches the asymptote b (the best compression
    reachable, where the Learning Law holds exactly)."""
    return k * np.log(a / (b - np.asarray(cr, dtype=np.float64)))


def fit_sim_cr(cr, sim, *, n_grid: int = 200) -> dict:
    r"""Least-squares fit of :func:`sim_cr_curve` to points (CR_i, SIM_i), e.g. one per outer checkpoint.

    The model is linear in (k, k ln a) for a fixed b, so b is first profiled on a grid above max CR
    (offsets from 1e-3 to 1e3 times the spread of CR, log-spaced); ``scipy.optimize.curve_fit`` then
    refines (k, ln a, b) from the best grid point with b > max CR enforced by a bound.

    Args:
      cr, sim: ``[n]`` finite points, n >= 3 (NaN/inf points are dropped first).

    Returns a dict: ``k``, ``a``, ``b``, their standard errors ``k_se``, ``a_se``, ``b_se`` (from the
    covariance of curve_fit; NaN when it is not defined, e.g. n = 3), ``r2`` (of SIM), ``n``,
    ``rmse``, ``asymptote_identified`` (False when the data do not locate b: no interior minimum of
    the profile, or b's standard error exceeds its distance from max CR). Raises ValueError with fewer than 3 finite points or when CR has no spread.
    """
    from scipy.optimize import curve_fit

    cr = np.asarray(cr, dtype=np.float64).ravel()
    sim = np.asarray(sim, dtype=np.float64).ravel()
    if cr.shape != sim.shape:
        raise ValueError(f"cr and sim must have the same length, got {cr.size} and {sim.size}")
    keep = np.isfinite(cr) & np.isfinite(sim)
    cr, sim = cr[keep], sim[keep]
    if cr.size < 3:
        raise ValueError(f"only {cr.size} finite (CR, SIM) points: need at least 3 for (k, a, b)")
    spread = float(np.ptp(cr))
    if not spread > 0:
        raise ValueError("the compression ratios are all equal: the fit needs CR to vary")
    top = float(np.max(cr))

    def linear(b):
        x = -np.log(b - cr)
        A = np.stack([x, np.ones_like(x)], axis=1)
        coef, *_ = np.linalg.lstsq(A, sim, rcond=None)
        return coef, float(np.sum((A @ coef - sim) ** 2))

    grid = top + spread * np.geomspace(1e-3, 1e3, n_grid)
    sse = [linear(b)[1] for b in grid]
    best = int(np.argmin(sse))
    b0 = float(grid[best])
    (k0, c0), _ = linear(b0)
    k0 = k0 if abs(k0) > 1e-12 else 1e-12
    model = lambda x, k, log_a, b: k * (log_a - np.log(b - x))  # noqa: E731
    lo_b = np.nextafter(top, np.inf) + 1e-12 * max(abs(top), 1.0)
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            p, cov = curve_fit(model, cr, sim, p0=(k0, c0 / k0, b0),
                               bounds=([-np.inf, -np.inf, lo_b], [np.inf, np.inf, np.inf]), maxfev=20000)
    except RuntimeError:  # no convergence: keep the profiled solution, without errors
        p, cov = np.array([k0, c0 / k0, b0]), np.full((3, 3), np.nan)
    k, log_a, b = (float(v) for v in p)
    se = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.full(3, np.nan)
    pred = model(cr, k, log_a, b)
    tot = float(np.sum((sim - sim.mean()) ** 2))
    resid = float(np.sum((sim - pred) ** 2))
    a = float(np.exp(log_a)) if log_a < 700 else float("inf")
    return {"k": k, "a": a, "b": b, "k_se": float(se[0]), "a_se": float(a * se[1]), "b_se": float(se[2]),
            "r2": 1.0 - resid / tot if tot > 0 else float("nan"), "n": int(cr.size),
            "rmse": float(np.sqrt(resid / cr.size)),
            # The data pin the asymptote down only when the profile has an interior minimum and b is
            # known to better than its distance from the largest CR; otherwise SIM is ~linear in CR.
            "asymptote_identified": bool(best < n_grid - 1 and np.isfinite(se[2]) and se[2] < b - top)}
