"""The Learning Law where the paper measured it: one section of a reproduction's report.

Four comparisons, each over the search's saved policies (``optimize/trajectory.json``) and at the evaluated
policy (``evaluate/law.json``), beside the paper's reading:

- Fig. 8 / Property 4.1: the share of gamma = 0 among the examples with CT < 0, per saved policy vs its CR;
- Fig. 9 / Property 4.2: among well-learned examples (train loss < 1e-6), the share with
  gamma < 0.2 * max gamma at that step (:func:`theory.law.low_weight_share_learned`);
- Fig. 3B / 7: SIM vs CR over the saved policies (the fitted asymptote is in the report's SIM paragraph);
- the KKT residual per saved policy (0 at a first-order optimal policy, 1 for the constant policy's
  distance; :mod:`theory.certificate`).

Every number is read from those files; the paper's values are typed in the experiment modules (``law``
of :class:`experiments.reproduce.Experiment`: ``{"zero_share": (low, high), "low_weight_share": (low,
high)}``, from the paper's figures).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import spearmanr


def _pct(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def _num(x, d: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{d}g}"


def _against(value, band) -> str:
    """'inside' the paper's range, or 'outside' with the distance in percentage points."""
    if band is None or value is None or not math.isfinite(value):
        return ""
    low, high = band
    if low <= value <= high:
        return "inside the paper's range"
    gap = (low - value) if value < low else (value - high)
    return f"**outside**: {100 * gap:.1f} percentage points {'below' if value < low else 'above'}"


def _series(cps: list[dict], key: str, fmt) -> str:
    return ", ".join(f"{c['outer_step']}: {fmt(c.get(key))}" for c in cps)


def section(traj: dict, law: dict, paper_law: dict | None, command_hint: str = "") -> str:
    """The markdown section "The Learning Law where the paper measured it".

    Args:
      traj: ``optimize/trajectory.json`` (:func:`learning_law.analysis.outer_trajectory`).
      law: ``evaluate/law.json`` (``{"constant": ..., "policy": ...}``).
      paper_law: the paper's ranges (module docstring), or None when the paper has none for this task.
      command_hint: appended to the closing paragraph (what to try next, with commands).
    """
    cps = traj.get("checkpoints", [])
    paper_law = paper_law or {}
    pol = law.get("policy", {})
    zero_band, low_band = paper_law.get("zero_share"), paper_law.get("low_weight_share")
    band = lambda b: "n/a" if b is None else f"{_pct(b[0])}-{_pct(b[1])}"  # noqa: E731
    cr = np.array([c.get("cr_paper") if c.get("cr_paper") is not None else np.nan for c in cps], float)
    sim = np.array([c.get("sim_mean") if c.get("sim_mean") is not None else np.nan for c in cps], float)
    ok = np.isfinite(cr) & np.isfinite(sim)
    rho = float(spearmanr(cr[ok], sim[ok])[0]) if ok.sum() >= 3 else float("nan")
    sim_cr = ", ".join(f"{c['outer_step']}: {_num(c.get('sim_mean'))} (CR {_num(c.get('cr_paper'))})" for c in cps)
    kkt = [c.get("kkt_residual") for c in cps]
    kkt_ok = [k for k in kkt if k is not None]
    rows = [
        "| | the paper | the evaluated policy | per saved policy (outer step: value) | |",
        "| --- | --- | --- | --- | --- |",
        f"| Fig. 8 / Property 4.1: share of gamma = 0 among CT < 0 | {band(zero_band)} at its near-optimal policy "
        f"| {_pct(pol.get('zero_share_negative_ct'))} | {_series(cps, 'zero_share_negative_ct', _pct)} "
        f"| {_against(pol.get('zero_share_negative_ct'), zero_band)} |",
        f"| Fig. 9 / Property 4.2: share with gamma < 0.2 max gamma among well-learned examples (train loss "
        f"< 1e-6) | {band(low_band)} | {_pct(pol.get('low_weight_share_learned'))} "
        f"({pol.get('n_learned') or 0:,} example-steps) | {_series(cps, 'low_weight_share_learned', _pct)} "
        f"| {_against(pol.get('low_weight_share_learned'), low_band) if pol.get('n_learned') else 'no well-learned example'} |",
        f"| Fig. 3B / 7: SIM vs CR | grows with CR, to infinity at the optimum | SIM {_num(pol.get('sim_mean'))} "
        f"| {sim_cr} "
        f"| Spearman(SIM, CR) = {_num(rho, 2)}{'' if not math.isfinite(rho) or rho > 0 else ' (**does not grow**)'} |",
        f"| KKT residual (0: first-order optimal, 1: as far as the constant policy) | 0 at the optimum (Theorem 3.1) "
        f"| {_num(pol.get('kkt_residual'))} | {_series(cps, 'kkt_residual', _num)} "
        f"| {'lowest ' + _num(min(kkt_ok)) if kkt_ok else ''} |",
    ]
    far = [name for name, v, b in (("Property 4.1", pol.get("zero_share_negative_ct"), zero_band),
                                   ("Property 4.2", pol.get("low_weight_share_learned"), low_band))
           if b is not None and v is not None and math.isfinite(v) and not b[0] <= v <= b[1]]
    closing = ""
    if pol.get("support_fraction") is not None and pol["support_fraction"] >= 1.0:
        closing += ("\n\nThe evaluated policy has no weight exactly 0 (support 100% of the examples at every record "
                    "step), so property 4.1's share is 0 by construction: the default search (`auto`, exponentiated "
                    "gradient) multiplies weights down without ever reaching 0. Its KKT residual, continuous in "
                    "gamma, is the measure that applies; `--search apg` (projected gradient) sets weights to 0.")
    if far or (kkt_ok and min(kkt_ok) > 0.5):
        closing += (f"\n\nThe policy is far from the paper's near-optimal one ({', '.join(far) or 'KKT residual'}): "
                   "a policy whose KKT residual stays near 1 has not reached the region where Theorem 3.1 "
                   "constrains it, so the zero-weight properties are not expected yet." + command_hint)
    return ("## The Learning Law where the paper measured it\n\n"
            "The paper's ranges are read off its Fig. 8 and Fig. 9; SIM and the KKT residual of every saved "
            "policy come from `optimize/trajectory.json`, the evaluated policy's from `evaluate/law.json`.\n\n"
            + "\n".join(rows) + closing + "\n")
