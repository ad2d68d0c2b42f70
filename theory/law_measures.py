r"""The Learning Law's statistics under a :class:`theory.law.LawDefinition`, and the controls that tell a
policy's effect from an artefact of the measure (issue 27).

Inputs are one run's records, pure arrays:

- ``dense``: ``{"steps": [K], "gamma": [K, N], "ct": [K, N], "train_loss": [K, N]}``, rows at the steps
  that Fig. 8 and Fig. 9 read (every step t < K for the ``paper`` definition, the record steps for
  ``strict``); CT and the train losses at the split and timing the definition names;
- ``sim_t: [S]`` at ``sim_steps: [S]``: SIM_t of :func:`sim_rows` (for ``paper`` every step, reduced
  chunk by chunk by the replay so that no [T, N] array is kept);
- ``loss: [T+1]``: the mean loss of the definition's split at theta_0..theta_T.

The statistics (definitions: ../shared/PAPER.md, "How the authors measured the Learning Law"):

- Fig. 8 / Property 4.1, :func:`zero_share`: among the pairs (t, n) of the window with CT < 0 (or <= 0),
  the share whose weight counts as zero;
- Fig. 9 / Property 4.2, :func:`low_weight_share`: among the pairs of the window whose train loss is
  below ``learned_below``, the share with gamma / max_n gamma < ``low_frac`` (gamma clamped at 0 and
  renormalised when the definition says so);
- Fig. 3B / 7, :func:`sim_rows` and :func:`sim_window`: SIM_t = m_t / (s_t + eps) with m_t the weighted
  mean of CT and s_t the std (ddof 1) of CT on the support gamma > 0; a run's SIM is its mean over the
  definition's window.

Controls (:func:`controls`), wherever SIM or a share is reported:

(a) the constant policy's SIM over the *same window* as the policy's: a SIM that rises only because a
    faster policy's window is shorter (and the first steps, where SIM is large, weigh more) rises for the
    constant policy too;
(b) SIM_t at *equal loss* (:func:`sim_at_equal_loss`, the Fig. 6 view): the median over loss bins of the
    ratio of the two runs' SIM_t in the bin;
(c) Fig. 9's share among the examples that are *not* well learned (``learned=False``).

A SIM rise is called a policy effect only where it exceeds its control (a) (:func:`sim_verdict`);
control (b) says whether contributions are more equal at the same loss (:func:`equal_loss_verdict`).
"""

from __future__ import annotations

import math

import numpy as np

from theory.law import LawDefinition, finite_mean, support_stats

# A ratio within 10% of 1 is "no effect": float32 contributions and 12 loss bins do not resolve less
# (a policy equal to the constant one gives exactly 1).
EFFECT_TOLERANCE = 0.1


def clamp_rows(gamma: np.ndarray) -> np.ndarray:
    """``gamma: [R, N]`` clamped at 0 and each row renormalised to sum 1 (float64; a row of zeros stays 0).

    >>> clamp_rows(np.array([[0.6, 0.6, -0.2]])).tolist()
    [[0.5, 0.5, 0.0]]
    """
    g = np.clip(np.asarray(gamma, np.float64), 0.0, None)
    total = g.sum(axis=1, keepdims=True)
    return np.divide(g, total, out=np.zeros_like(g), where=total > 0)


def in_window(steps: np.ndarray, window: tuple[int, int | None]) -> np.ndarray:
    """Boolean mask of the ``steps`` inside ``window = (start, stop)`` (stop exclusive, None: no end)."""
    steps = np.asarray(steps)
    start, stop = window
    return (steps >= start) & (True if stop is None else steps < stop)


def is_zero(gamma: np.ndarray, d: LawDefinition) -> np.ndarray:
    """Which weights of ``gamma: [R, N]`` count as zero under ``d.zero_rule``.

    >>> from theory.law import STRICT, PAPER_PERCEPTRON
    >>> g = np.array([[0.0, 5e-5, 0.99995]])
    >>> is_zero(g, STRICT).tolist(), is_zero(g, PAPER_PERCEPTRON).tolist()
    ([[True, False, False]], [[True, True, False]])
    """
    gamma = np.asarray(gamma, np.float64)
    if d.zero_rule == "exact":
        return gamma == 0
    limit = d.zero_value if d.zero_rule == "absolute" else d.zero_value / gamma.shape[1]
    return gamma < limit


def zero_share(gamma: np.ndarray, ct: np.ndarray, steps: np.ndarray, d: LawDefinition) -> dict[str, float]:
    """Fig. 8 / Property 4.1: pooled over the rows of ``d.zero_steps``, the share of zero weights among the
    pairs with CT < 0 (``d.negative`` "<") or CT <= 0 ("<=").

    Returns ``share`` (NaN when no pair has a negative CT), ``n_negative``, ``n_zero``, ``n_rows``.

    >>> from theory.law import STRICT
    >>> zero_share(np.array([[0.0, 1.0], [0.5, 0.5]]), np.array([[-1.0, 2.0], [-1.0, 1.0]]), np.array([0, 1]), STRICT)
    {'share': 0.5, 'n_negative': 2, 'n_zero': 1, 'n_rows': 2}
    """
    rows = in_window(steps, d.zero_steps)
    ct = np.asarray(ct)[rows]
    neg = ct < 0 if d.negative == "<" else ct <= 0
    zero = is_zero(np.asarray(gamma)[rows], d)
    n_neg, n_zero = int(neg.sum()), int((neg & zero).sum())
    return {"share": n_zero / n_neg if n_neg else float("nan"), "n_negative": n_neg, "n_zero": n_zero,
            "n_rows": int(rows.sum())}


def relative_weights(gamma: np.ndarray, d: LawDefinition) -> np.ndarray:
    """gamma / max_n gamma per row (clamped and renormalised first when ``d.clamp``), as Fig. 9 plots it."""
    g = clamp_rows(gamma) if d.clamp else np.asarray(gamma, np.float64)
    top = g.max(axis=1, keepdims=True)
    return np.divide(g, top, out=np.zeros_like(g), where=top > 0)


def low_weight_share(gamma: np.ndarray, train_loss: np.ndarray, steps: np.ndarray, d: LawDefinition,
                     learned: bool = True) -> dict[str, float]:
    """Fig. 9 / Property 4.2: over the rows of ``d.learned_steps``, among the well-learned pairs (train loss
    < ``d.learned_below``; with ``learned=False`` the others, control (c)), the share with
    gamma / max gamma < ``d.low_frac``.

    Returns ``share`` (NaN when no pair qualifies) and ``n`` (how many pairs).

    >>> from theory.law import STRICT
    >>> low_weight_share(np.array([[0.05, 0.45, 0.5]]), np.array([[0.0, 0.0, 1.0]]), np.array([0]), STRICT)
    {'share': 0.5, 'n': 2}
    """
    rows = in_window(steps, d.learned_steps)
    rel = relative_weights(np.asarray(gamma)[rows], d)
    good = np.asarray(train_loss)[rows] < d.learned_below
    mask = good if learned else ~good
    n = int(mask.sum())
    return {"share": float(np.sum((rel < d.low_frac) & mask) / n) if n else float("nan"), "n": n}


def sim_rows(gamma: np.ndarray, ct: np.ndarray, d: LawDefinition) -> np.ndarray:
    r"""SIM_t per row: :math:`m_t / (s_t + \epsilon)` with :math:`m_t = \sum_n \gamma_{t,n} CT_{t,n}` over
    the (clamped, renormalised when ``d.clamp``) row and :math:`s_t` the std (ddof 1) of CT on
    :math:`\gamma_{t,n} > 0` around :math:`m_t` (:func:`theory.law.support_stats`); NaN when the
    support has fewer than 2 examples. With ``d.clamp`` False and ``d.sim_eps`` 0 this is
    :func:`theory.law.support_stats`'s ``sim_t`` exactly.

    >>> from theory.law import PAPER_PERCEPTRON
    >>> sim_rows(np.array([[0.5, 0.5, 0.0]]), np.array([[1.0, 3.0, -7.0]]), PAPER_PERCEPTRON).round(6).tolist()
    [1.414214]
    """
    g = clamp_rows(gamma) if d.clamp else np.asarray(gamma, np.float64)
    stats = support_stats(g, ct)
    if not d.sim_eps:
        return stats["sim_t"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(stats["support_size"] >= 2, stats["ct_mean_support"] / (stats["ct_std_support"] + d.sim_eps),
                        np.nan)


def loss_at_rows(loss: np.ndarray, steps: np.ndarray, d: LawDefinition) -> np.ndarray:
    """The loss paired with the rows at ``steps``: L(theta_t) (timing ``before``) or L(theta_{t+1}) (``after``)."""
    return np.asarray(loss, np.float64)[np.asarray(steps) + (d.ct_timing == "after")]


def last_above(loss: np.ndarray, target: float, start: int = 0) -> int:
    """i*: the last step t in [start, T-1] with ``loss[t] > target`` (``loss: [T+1]``); start - 1 when none."""
    loss = np.asarray(loss, np.float64)[: loss.shape[0] - 1]
    above = np.flatnonzero(loss[start:] > target)
    return int(start + above[-1]) if above.size else start - 1


def sim_window(sim_t: np.ndarray, sim_steps: np.ndarray, d: LawDefinition, *, stop: int | None = None) -> float:
    """A run's SIM under ``d``: the mean of the finite SIM_t over ``sim_start <= t <= stop`` (``stop`` None:
    every row; the ``records`` window ignores ``stop`` and ``sim_start``)."""
    sim_t, sim_steps = np.asarray(sim_t, np.float64), np.asarray(sim_steps)
    if d.sim_window == "records":
        return finite_mean(sim_t)
    mask = (sim_steps >= d.sim_start) & (True if stop is None else sim_steps <= stop)
    return finite_mean(sim_t[mask])


def compression_ratio(loss: np.ndarray, vocab_size: int, d: LawDefinition) -> float:
    """CR under ``d.cr``: ``paper``: log2|V| / mean_{t=0..T} L_t; ``scripts``: log2|V| (T-1) / sum_{t=1}^{T-1} L_t."""
    loss = np.asarray(loss, np.float64)
    if d.cr == "paper":
        return float(math.log2(vocab_size) / loss.mean())
    t = loss.shape[0] - 1
    return float(math.log2(vocab_size) * (t - 1) / loss[1:t].sum())


def measure(dense: dict, sim_t: np.ndarray, sim_steps: np.ndarray, loss: np.ndarray, d: LawDefinition, *,
            vocab_size: int, target: float | None = None) -> dict:
    """Every run-level statistic of one run under ``d`` (module docstring for the inputs).

    Args:
      target: the constant run's loss at T-1 (``until_constant`` windows): the policy's SIM is averaged
        over t <= i* (:func:`last_above`); None: over every row (what the constant run itself uses).

    Returns a dict: ``definition``, ``zero_share`` (+ ``n_negative``, ``n_zero``), ``low_weight_share``
    (+ ``n_learned``), ``low_weight_share_not_learned`` (+ ``n_not_learned``, control (c)), ``sim``,
    ``i_star`` (the last row of SIM's window), ``cr``.
    """
    z = zero_share(dense["gamma"], dense["ct"], dense["steps"], d)
    lw = low_weight_share(dense["gamma"], dense["train_loss"], dense["steps"], d)
    nl = low_weight_share(dense["gamma"], dense["train_loss"], dense["steps"], d, learned=False)
    stop = None if target is None else last_above(loss, target, d.sim_start)
    return {"definition": d.name, "zero_share": z["share"], "n_negative": z["n_negative"], "n_zero": z["n_zero"],
            "low_weight_share": lw["share"], "n_learned": lw["n"], "low_weight_share_not_learned": nl["share"],
            "n_not_learned": nl["n"], "sim": sim_window(sim_t, sim_steps, d, stop=stop),
            "i_star": int(np.asarray(sim_steps)[-1]) if stop is None else stop,
            "cr": compression_ratio(loss, vocab_size, d)}


def sim_at_equal_loss(sim_p: np.ndarray, loss_p: np.ndarray, sim_c: np.ndarray, loss_c: np.ndarray,
                      n_bins: int = 12) -> dict:
    """Control (b), the Fig. 6 view: SIM_t of a policy and of the constant run compared at equal loss.

    The loss range both runs cover is cut into ``n_bins`` log-spaced bins; in each bin holding rows of both
    runs, the ratio of the medians of SIM_t (policy / constant, where the constant's median is > 0).

    Returns ``ratio`` (the median over the bins; NaN when no bin qualifies), ``ratios`` and ``edges``.

    >>> s, l = np.linspace(1.0, 2.0, 50), np.geomspace(1.0, 0.1, 50)
    >>> sim_at_equal_loss(s, l, s, l)["ratio"]
    1.0
    """
    sim_p, loss_p = np.asarray(sim_p, np.float64), np.asarray(loss_p, np.float64)
    sim_c, loss_c = np.asarray(sim_c, np.float64), np.asarray(loss_c, np.float64)
    ok_p = np.isfinite(sim_p) & np.isfinite(loss_p) & (loss_p > 0)
    ok_c = np.isfinite(sim_c) & np.isfinite(loss_c) & (loss_c > 0)
    out = {"ratio": float("nan"), "ratios": [], "edges": []}
    if not ok_p.any() or not ok_c.any():
        return out
    lo = max(loss_p[ok_p].min(), loss_c[ok_c].min())
    hi = min(loss_p[ok_p].max(), loss_c[ok_c].max())
    if not hi > lo:
        return out
    edges = np.geomspace(lo, hi, n_bins + 1)
    ratios = []
    for a, b in zip(edges[:-1], edges[1:]):
        in_p = ok_p & (loss_p >= a) & (loss_p <= b)
        in_c = ok_c & (loss_c >= a) & (loss_c <= b)
        if in_p.any() and in_c.any():
            mc = float(np.median(sim_c[in_c]))
            ratios.append(float(np.median(sim_p[in_p])) / mc if mc > 0 else float("nan"))
        else:
            ratios.append(float("nan"))
    finite = [r for r in ratios if math.isfinite(r)]
    return {"ratio": float(np.median(finite)) if finite else float("nan"), "ratios": ratios, "edges": edges.tolist()}


def _ratio(a: float, b: float) -> float:
    return a / b if (math.isfinite(a) and math.isfinite(b) and b > 0) else float("nan")


def sim_verdict(growth: float, effect: float, tol: float = EFFECT_TOLERANCE) -> str:
    """What a Fig. 7 SIM rise is, from ``growth`` = SIM_policy / SIM_constant as the figure compares them
    (each over its own window) and ``effect`` = SIM_policy / the constant's SIM over the policy's window
    (control a).

    ``policy effect`` when ``effect`` > 1 + tol; ``lower`` when it is below 1 - tol; ``artefact of the
    window`` when ``growth`` exceeds 1 + tol but ``effect`` does not; ``no effect`` otherwise;
    ``undefined`` when a ratio is not finite.

    >>> sim_verdict(1.0, 1.0), sim_verdict(5.0, 1.01), sim_verdict(5.0, 1.5)
    ('no effect', 'artefact of the window', 'policy effect')
    """
    if not (math.isfinite(growth) and math.isfinite(effect)):
        return "undefined"
    if effect > 1 + tol:
        return "policy effect"
    if effect < 1 - tol:
        return "lower"
    return "artefact of the window" if growth > 1 + tol else "no effect"


def equal_loss_verdict(ratio: float, tol: float = EFFECT_TOLERANCE) -> str:
    """Control (b) read alone: ``more equal`` (SIM_t above the constant run's at equal loss by more than
    tol), ``less equal``, ``no effect`` or ``undefined``.

    >>> equal_loss_verdict(1.5), equal_loss_verdict(1.02), equal_loss_verdict(float("nan"))
    ('more equal', 'no effect', 'undefined')
    """
    if not math.isfinite(ratio):
        return "undefined"
    return "more equal" if ratio > 1 + tol else "less equal" if ratio < 1 - tol else "no effect"


def controls(policy: dict, constant: dict, d: LawDefinition) -> dict:
    """The SIM controls (a) and (b) of a policy run against the constant run, both measured under ``d``.

    Args:
      policy, constant: ``{"measure": measure(...), "sim_t": [S], "sim_steps": [S], "loss": [T+1]}``, the
        policy's measure taken with ``target`` = the constant run's loss at T-1.

    Returns ``sim_policy``, ``sim_constant`` (its own window), ``sim_constant_same_window`` (control a:
    over the policy's t <= i*), ``growth``, ``effect``, ``equal_loss_ratio`` (control b) with the ratio
    per bin ``equal_loss_ratios``, ``verdict`` (:func:`sim_verdict`) and ``equal_loss_verdict``.
    """
    stop = policy["measure"]["i_star"]
    same = sim_window(constant["sim_t"], constant["sim_steps"], d, stop=stop)
    sp, sc = policy["measure"]["sim"], constant["measure"]["sim"]
    eq = sim_at_equal_loss(policy["sim_t"], loss_at_rows(policy["loss"], policy["sim_steps"], d),
                           constant["sim_t"], loss_at_rows(constant["loss"], constant["sim_steps"], d))
    growth, effect = _ratio(sp, sc), _ratio(sp, same)
    return {"sim_policy": sp, "sim_constant": sc, "sim_constant_same_window": same, "growth": growth,
            "effect": effect, "equal_loss_ratio": eq["ratio"], "equal_loss_ratios": eq["ratios"],
            "verdict": sim_verdict(growth, effect), "equal_loss_verdict": equal_loss_verdict(eq["ratio"])}
