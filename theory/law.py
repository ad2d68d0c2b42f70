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

from dataclasses import dataclass

import numpy as np

from theory.sim_cr import fit_sim_cr, sim_cr_curve  # noqa: F401  (re-exported: the SIM vs CR fit)

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


# ------------------------------------------------------------- definitions of the Law's measures (as data)

ZERO_RULES = ("exact", "absolute", "relative")
CT_SPLITS = ("dev", "test")
CT_TIMINGS = ("before", "after")
NEGATIVE_RULES = ("<", "<=")
SIM_WINDOWS = ("records", "until_constant")


@dataclass(frozen=True)
class LawDefinition:
    r"""How the Learning Law's statistics are measured: every knob the paper's figures and this toolkit's
    strict measure differ in, as data (issue 27; the authors' values in ``../shared/PAPER.md``, "How the
    authors measured the Learning Law").

    Attributes:
      name: ``strict`` or ``paper`` (the registry :data:`DEFINITIONS`).
      source: where the definition comes from, one sentence.
      ct_split: the desired gradient of CT: ``dev`` (the split the policy was optimised on) or ``test``.
      ct_timing: ``before``: CT and the train losses at theta_t, the parameters gamma_t is applied to;
        ``after``: at theta_{t+1} (the authors' scripts), still paired with gamma_t.
      zero_rule: a weight counts as zero when ``exact``: gamma == 0; ``absolute``: gamma < zero_value;
        ``relative``: gamma < zero_value / N.
      zero_value: the threshold of the ``absolute`` or ``relative`` rule.
      negative: ``<`` (CT < 0) or ``<=`` (CT <= 0) selects Fig. 8's unhelpful examples.
      clamp: clamp gamma at 0 and renormalise each row before SIM and Fig. 9 (the projection of an
        inexact search may leave tiny negative weights).
      zero_steps: ``(start, stop)`` rows t of Fig. 8 (stop exclusive; None: to the end).
      learned_steps: ``(start, stop)`` rows t of Fig. 9.
      learned_below: a train loss below this is a well-learned example (Fig. 9).
      low_frac: Fig. 9's share is that of gamma / max_n gamma below this.
      sim_window: ``records``: SIM = mean of SIM_t over every record row; ``until_constant``: a policy's
        SIM = mean over t = sim_start..i*, i* the last step whose loss (of ``ct_split``) is above the
        constant run's loss at T-1, and the constant run's over t = sim_start..T-1.
      sim_start: the first row of SIM's window.
      sim_eps: SIM_t = m_t / (s_t + sim_eps).
      cr: ``paper``: CR = log2|V| / AUC over t = 0..T (:func:`theory.objective.compression_ratio_paper`);
        ``scripts``: log2|V| (T-1) / sum_{t=1}^{T-1} L_t (the authors' figure scripts).

    >>> DEFINITIONS["paper"]["perceptron"].zero_steps, DEFINITIONS["paper"]["lm"].zero_value
    ((0, 10), 1e-08)
    """

    name: str
    source: str
    ct_split: str = "dev"
    ct_timing: str = "before"
    zero_rule: str = "exact"
    zero_value: float = 0.0
    negative: str = "<"
    clamp: bool = False
    zero_steps: tuple[int, int | None] = (0, None)
    learned_steps: tuple[int, int | None] = (0, None)
    learned_below: float = 1e-6
    low_frac: float = 0.2
    sim_window: str = "records"
    sim_start: int = 0
    sim_eps: float = 0.0
    cr: str = "paper"

    def __post_init__(self):
        for field_name, allowed in (("ct_split", CT_SPLITS), ("ct_timing", CT_TIMINGS), ("zero_rule", ZERO_RULES),
                                    ("negative", NEGATIVE_RULES), ("sim_window", SIM_WINDOWS),
                                    ("cr", ("paper", "scripts"))):
            if getattr(self, field_name) not in allowed:
                raise ValueError(f"{field_name}={getattr(self, field_name)!r} is invalid: allowed {allowed}")
        for field_name in ("zero_steps", "learned_steps"):
            start, stop = getattr(self, field_name)
            if start < 0 or (stop is not None and stop <= start):
                raise ValueError(f"{field_name}={(start, stop)!r} is invalid: allowed 0 <= start < stop (or stop None)")
        if self.zero_value < 0 or self.learned_below <= 0 or not 0 < self.low_frac <= 1 or self.sim_eps < 0:
            raise ValueError("zero_value >= 0, learned_below > 0, 0 < low_frac <= 1 and sim_eps >= 0 are required")

    @property
    def dense_steps(self) -> int:
        """How many first steps need a record at every step (the end of the Fig. 8 and Fig. 9 windows);
        0 when the definition reads the run's own records."""
        stops = [s for _, s in (self.zero_steps, self.learned_steps)]
        if self.sim_window == "records" and self.ct_split == "dev" and self.ct_timing == "before":
            return 0
        return max(s or 0 for s in stops)

    def describe(self) -> str:
        """One line for reports: the knobs that decide the numbers."""
        zero = {"exact": "gamma = 0 exactly", "absolute": f"gamma < {self.zero_value:g}",
                "relative": f"gamma < {self.zero_value:g}/N"}[self.zero_rule]
        win = lambda w: "all record steps" if w == (0, None) else f"t = {w[0]}..{w[1] - 1}"  # noqa: E731
        sim = ("mean over the record steps" if self.sim_window == "records" else
               f"mean over t = {self.sim_start}..i* (i*: last step above the constant run's loss at T-1)")
        return (f"CT on {self.ct_split} at theta_{'t' if self.ct_timing == 'before' else '{t+1}'}; Fig. 8: {zero} "
                f"among CT {self.negative} 0 over {win(self.zero_steps)}; Fig. 9: {win(self.learned_steps)}, "
                f"train loss < {self.learned_below:g}, {'clamped and renormalised, ' if self.clamp else ''}"
                f"gamma < {self.low_frac:g} max gamma; SIM: {sim}")


STRICT = LawDefinition(
    "strict", "this toolkit's law.json since issue 7: every record step, exact zeros, dev CT at theta_t")
# The authors' perceptron figure scripts (not in their released code; ../shared/PAPER.md): test-split CT
# after the step; Fig. 8 over t = 0..9 with gamma < 1e-4 (0.41/N at N = 4096); Fig. 9 over t = 1..49.
PAPER_PERCEPTRON = LawDefinition(
    "paper", "the authors' perceptron figure scripts (Figs. 7-9)", ct_split="test", ct_timing="after",
    zero_rule="absolute", zero_value=1e-4, clamp=True, zero_steps=(0, 10), learned_steps=(1, 50),
    sim_window="until_constant", sim_start=1, sim_eps=1e-8, cr="scripts")
# Their Transformer scripts differ in Fig. 8 only: gamma < 1e-8 over t = 0..99.
PAPER_LM = LawDefinition(
    "paper", "the authors' Transformer figure scripts (Figs. 7-8)", ct_split="test", ct_timing="after",
    zero_rule="absolute", zero_value=1e-8, clamp=True, zero_steps=(0, 100), learned_steps=(1, 50),
    sim_window="until_constant", sim_start=1, sim_eps=1e-8, cr="scripts")

# {name: {task: definition}}; tasks not named use the perceptron's (the authors' only other scripts).
DEFINITIONS: dict[str, dict[str, LawDefinition]] = {
    "strict": {"perceptron": STRICT, "lm": STRICT},
    "paper": {"perceptron": PAPER_PERCEPTRON, "lm": PAPER_LM},
}


def definition(name: str, task: str = "perceptron") -> LawDefinition:
    """The named definition for ``task`` (``strict`` or ``paper``; a task without its own uses the perceptron's)."""
    if name not in DEFINITIONS:
        raise ValueError(f"definition={name!r} is invalid: allowed {sorted(DEFINITIONS)}")
    return DEFINITIONS[name].get(task, DEFINITIONS[name]["perceptron"])
