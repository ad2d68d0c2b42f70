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


def _defs(rec: dict, name: str) -> dict:
    """The run-level numbers of definition ``name`` in a law.json record ({} when absent)."""
    d = (rec or {}).get("definitions", {}).get(name, {})
    return {} if "reason" in d else d


def _paper_series(cps: list[dict], key: str, fmt) -> str:
    return ", ".join(f"{c['outer_step']}: {fmt(_defs(c, 'paper').get(key))}" for c in cps)


def _strict_note(value, band) -> str:
    """The strict measure against the paper's range, said as what it is: another quantity than the figure's."""
    if band is None or value is None or not math.isfinite(value):
        return ""
    where = "inside" if band[0] <= value <= band[1] else "outside"
    return f" ({where} the range, but not the quantity the figure measures)"


def _specific(pp: dict) -> str:
    """Control (c) of Fig. 9: a note when the examples that are not well learned are nearly as low."""
    a, b = pp.get("low_weight_share"), pp.get("low_weight_share_not_learned")
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or a - b >= 0.1:
        return ""
    return f"; **not specific**: the examples not well learned are nearly as low ({_pct(b)})"


def sim_control_text(ctl: dict) -> str:
    """One cell: the SIM rise as the figure shows it, its control (a) and (b), and the verdict."""
    if not ctl or "reason" in ctl:
        return (ctl or {}).get("reason", "n/a")
    return (f"{_num(ctl.get('sim_constant'))} -> {_num(ctl.get('sim_policy'))} (x{_num(ctl.get('growth'), 2)}); "
            f"the constant policy over the same window: {_num(ctl.get('sim_constant_same_window'))} "
            f"(policy / it: x{_num(ctl.get('effect'), 2)}); SIM_t at equal test loss: "
            f"x{_num(ctl.get('equal_loss_ratio'), 2)} ({ctl.get('equal_loss_verdict', 'n/a')}): "
            f"**{ctl.get('verdict', 'n/a')}**")


def other_text(other: dict | None, paper_law: dict) -> str:
    """A paragraph: the policy of the search run beside the preset's, under both definitions ("" without one)."""
    if not other or "law" not in other:
        return ""
    pol = other["law"].get("policy", {})
    pp = _defs(pol, "paper")
    ctl = other["law"].get("controls", {}).get("paper", {})
    zero = _against(pp.get("zero_share"), paper_law.get("zero_share"))
    low = _against(pp.get("low_weight_share"), paper_law.get("low_weight_share")) if pp.get("n_learned") else ""
    return (f"\n\nThe policy of the search beside it (`{other['ev_dir']}/law.json`), `paper` definition: Fig. 8 "
            f"{_pct(pp.get('zero_share'))}{' (' + zero + ')' if zero else ''}, Fig. 9 {_pct(pp.get('low_weight_share'))}"
            f"{' (' + low + ')' if low else ''}; SIM {sim_control_text(ctl)}; `strict`: Fig. 8 "
            f"{_pct(pol.get('zero_share_negative_ct'))}, Fig. 9 {_pct(pol.get('low_weight_share_learned'))}; "
            f"KKT residual {_num(pol.get('kkt_residual'))}.")


def section(traj: dict, law: dict, paper_law: dict | None, command_hint: str = "", other: dict | None = None) -> str:
    """The markdown section "The Learning Law where the paper measured it", under both definitions.

    Args:
      traj: ``optimize/trajectory.json`` (:func:`learning_law.analysis.outer_trajectory`).
      law: ``evaluate/law.json`` (``{"constant": ..., "policy": ..., "controls": ...}``).
      paper_law: the paper's ranges (module docstring), or None when the paper has none for this task.
      command_hint: appended to the closing paragraph (what to try next, with commands).
      other: the search run beside the preset's (``ev_dir`` and its evaluate ``law``), or None.

    Only the ``paper`` definition measures what the paper's figures measure, so only it is set against the
    paper's ranges as inside/outside; the ``strict`` column is the toolkit's own measure of the same policy
    (every record step, exact zeros, dev CT at theta_t), shown beside it, never called a miss.
    """
    cps = traj.get("checkpoints", [])
    paper_law = paper_law or {}
    pol, const = law.get("policy", {}), law.get("constant", {})
    pp, cp = _defs(pol, "paper"), _defs(const, "paper")
    ctl = law.get("controls", {})
    zero_band, low_band = paper_law.get("zero_share"), paper_law.get("low_weight_share")
    band = lambda b: "n/a" if b is None else f"{_pct(b[0])}-{_pct(b[1])}"  # noqa: E731
    has_paper = bool(pp)
    cr = np.array([_defs(c, "paper").get("cr", np.nan) if has_paper else (c.get("cr_paper") or np.nan) for c in cps],
                  float)
    sim = np.array([_defs(c, "paper").get("sim", np.nan) if has_paper else (c.get("sim_mean") or np.nan)
                    for c in cps], float)
    ok = np.isfinite(cr) & np.isfinite(sim)
    rho = float(spearmanr(cr[ok], sim[ok])[0]) if ok.sum() >= 3 else float("nan")
    kkt = [c.get("kkt_residual") for c in cps]
    kkt_ok = [k for k in kkt if k is not None]
    verdicts = [c.get("controls", {}).get("paper", {}).get("verdict") for c in cps[1:]]
    n_learned = pp.get("n_learned") if has_paper else pol.get("n_learned")
    rows = [
        "| | the paper | `paper` definition: evaluated policy (constant policy) | | `strict`: evaluated policy "
        "| per saved policy, `paper` definition (outer step: value) |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| Fig. 8 / Property 4.1: share of zero weights among CT < 0 | {band(zero_band)} at its near-optimal policy "
        f"| {_pct(pp.get('zero_share'))} ({_pct(cp.get('zero_share'))}) | {_against(pp.get('zero_share'), zero_band)} "
        f"| {_pct(pol.get('zero_share_negative_ct'))}{_strict_note(pol.get('zero_share_negative_ct'), zero_band)} "
        f"| {_paper_series(cps, 'zero_share', _pct)} |",
        f"| Fig. 9 / Property 4.2: share with gamma < 0.2 max gamma among well-learned examples (train loss < 1e-6) "
        f"| {band(low_band)} | {_pct(pp.get('low_weight_share'))} ({n_learned or 0:,} example-steps; "
        f"not well learned: {_pct(pp.get('low_weight_share_not_learned'))}) "
        f"| {_against(pp.get('low_weight_share'), low_band) + _specific(pp) if n_learned else 'no well-learned example'} "
        f"| {_pct(pol.get('low_weight_share_learned'))}{_strict_note(pol.get('low_weight_share_learned'), low_band)} "
        f"| {_paper_series(cps, 'low_weight_share', _pct)} |",
        f"| Fig. 3B / 7: SIM, constant -> policy, and its controls | grows with CR, to infinity at the optimum "
        f"| {sim_control_text(ctl.get('paper'))} | Spearman(SIM, CR) over the saved policies = {_num(rho, 2)} "
        f"| {sim_control_text(ctl.get('strict'))} | {_paper_series(cps, 'sim', _num)} |",
        f"| KKT residual (0: first-order optimal, 1: as far as the constant policy) | 0 at the optimum (Theorem 3.1) "
        f"| {_num(pol.get('kkt_residual'))} | {'lowest ' + _num(min(kkt_ok)) if kkt_ok else ''} | (the same) "
        f"| {_series(cps, 'kkt_residual', _num)} |",
    ]
    far = [name for name, v, b in (("Property 4.1", pp.get("zero_share"), zero_band),
                                   ("Property 4.2", pp.get("low_weight_share") if n_learned else None, low_band))
           if b is not None and v is not None and math.isfinite(v) and not b[0] <= v <= b[1]]
    defs = ""
    if has_paper:
        defs = (f"\n\nDefinitions. `paper`: {pp.get('description')} (the authors' scripts; "
                f"its SIM window ends at i* = {pp.get('i_star')}, where the policy's test loss reaches the constant "
                f"run's at T-1). `strict`: {_defs(pol, 'strict').get('description', 'n/a')}.")
    else:
        why = pol.get("definitions", {}).get("paper", {}).get("reason", "no records")
        defs = f"\n\nThe `paper` definition could not be measured ({why}); only the `strict` column is filled."
    controls = ("\n\nControls. A SIM rise is a policy effect only where the policy's SIM exceeds the constant "
                "policy's averaged over the *same* window (a faster policy reaches the target sooner, and SIM_t is "
                "largest in the first steps, so a shorter window alone raises the mean); SIM_t at equal test loss "
                "(Fig. 6's view, the median ratio over 12 loss bins) says whether contributions are more equal at "
                "the same loss. Over the saved policies the `paper` SIM rise is: "
                + (", ".join(f"{c['outer_step']}: {v}" for c, v in zip(cps[1:], verdicts)) or "n/a") + ".")
    closing = ""
    if pol.get("support_fraction") is not None and pol["support_fraction"] >= 1.0 and not has_paper:
        closing += ("\n\nThe evaluated policy has no weight exactly 0, so the `strict` share of property 4.1 is 0 "
                    "by construction: the default search (`auto`, exponentiated gradient) multiplies weights down "
                    "without ever reaching 0.")
    kkt_text = (f"its KKT residual, lowest {_num(min(kkt_ok)) if kkt_ok else 'n/a'} over the search, says how far it "
                "is from the region where Theorem 3.1 constrains a policy.")
    if far:
        closing += (f"\n\nUnder the paper's own definition the policy is outside the paper's range ({', '.join(far)}); "
                    + kkt_text + command_hint)
    elif kkt_ok and min(kkt_ok) > 0.5:
        closing += (("\n\nUnder the paper's own definition the policy is inside the paper's ranges, but "
                     if has_paper and (zero_band or low_band) else "\n\nThe policy is far from an optimum: ")
                    + kkt_text + command_hint)
    return ("## The Learning Law where the paper measured it\n\n"
            "The paper's ranges are read off its Fig. 8 and Fig. 9. Only the `paper` definition (the authors' "
            "figure scripts) measures what those figures measure, so only it is set against their ranges; "
            "the `strict` column is this toolkit's stricter measure of the same policy, for comparison. Numbers "
            "from `evaluate/law.json` and `optimize/trajectory.json`.\n\n"
            + "\n".join(rows) + defs + controls + other_text(other, paper_law) + closing + "\n")
