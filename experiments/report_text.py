"""The text of a reproduction's report: how numbers print, the verdicts against the paper, and the paragraphs
built from a run's numbers (:func:`experiments.reproduce.report` assembles them)."""

from __future__ import annotations

import math

from scipy.stats import spearmanr

from learning_law import config as C
from learning_law import search as S

CLOSE = 0.2  # a number of ours is "close" to the paper's within this relative difference


def search_text(outer: C.OuterConfig) -> str:
    """One phrase naming a search and its step."""
    if outer.search == "auto":
        return (f"the default search (`auto`: exponentiated gradient with backtracking for {S.EG_STEPS} outer steps, then "
                "L-BFGS on the softmax logits; each row's step normalised after a stall; no step to set)")
    if outer.search == "qn":
        return "the `qn` search (L-BFGS on the softmax logits, Armijo backtracking; no step to set)"
    if outer.search == "eg":
        return "the `eg` search (exponentiated gradient, one step for the whole policy, backtracking; no step to set)"
    if outer.search == "rows":
        return "the `rows` search (exponentiated gradient, each row's step normalised, backtracking; no step to set)"
    if outer.search == "apg":
        return "the `apg` search (monotone accelerated projected gradient with backtracking, no step to set)"
    return f"a fixed outer lr {outer.outer_lr:g} ({outer.schedule})"


def which_search(p: C.Preset) -> str:
    """One sentence: which search this reproduction ran as its main one, and why."""
    if p.reference is not None:
        return (f"Search: this is a reproduction, so it runs the hand-set step of the setting explicitly "
                f"({search_text(p.reference)}); `learning-law optimize` with this preset runs the default search "
                f"(`{p.outer.search}`) unless given `--search fixed` or `--outer-lr`"
                + (f", and it runs beside it here ({p.other_outer.search})." if p.other_outer is not None else "."))
    return (f"Search: the default search (`{p.outer.search}`), as `learning-law optimize` runs it with this preset"
            + (f"; {search_text(p.other_outer)} runs beside it." if p.other_outer is not None else "."))


def _comparison(p, opt: dict, ev: dict, other: dict | None) -> str:
    """The preset's search and the other one side by side (markdown), from their summaries."""
    if other is None:
        return ""
    rows = [("search", p.reproduce_outer, opt, ev, "`optimize/`, `evaluate/`"),
            ("beside it", other["outer"], other["opt"], other["ev"], f"`{other['opt_dir']}/`, `{other['ev_dir']}/`")]
    lines = ["| | search | outer steps run (stop) | selected step | seconds | rejected trials | dev AUC: constant -> "
             "selected | test speed-up | dev speed-up | test AUC | folders |", "|" + " --- |" * 11]
    for name, outer, o, e, where in rows:
        lines.append(f"| {name} | {search_text(outer)} | {fmt(o.get('outer_steps_run'))} ({o.get('stop_reason', 'n/a')}) "
                     f"| {fmt(o.get('selected_outer_step'))} | {fmt(o.get('wall_time_s'))} | {fmt(o.get('rejected_trials'))} "
                     f"| {fmt(o.get('auc_constant'))} -> {fmt(o.get('auc_final'))} | {fmt(e['speedup'])} | "
                     f"{fmt(e['speedup_dev'])} | {fmt(e['auc_test_policy'])} | {where} |")
    return ("## The two searches\n\nThe numbers above are of the preset's search; the other search ran on the "
            "same task, validation split and selection:\n\n" + "\n".join(lines) + "\n"
            + "".join(slower_than_constant(search_text(outer), e) for _, outer, _, e, _ in rows))


def slower_than_constant(search: str, ev: dict) -> str:
    """A loud paragraph when a search's evaluated policy never reaches the constant run's final test loss
    (test speed-up below 1), with both test AUCs; "" otherwise."""
    speedup = ev.get("speedup")
    if speedup is None or not math.isfinite(speedup) or speedup >= 1:
        return ""
    auc_c, auc_p = ev.get("auc_test_constant"), ev.get("auc_test_policy")
    early = (f" Its test AUC, {fmt(auc_p)}, is below the constant run's {fmt(auc_c)}: it learns faster early and "
             "ends worse." if auc_c is not None and auc_p is not None and auc_p < auc_c else "")
    return (f"\n**Slower than constant training on held-out data:** {search} selected a policy that never reaches "
            f"the constant run's final test loss (test speed-up {fmt(speedup)} < 1).{early} On this setting do "
            "not use that search's policy for its end point.\n")


def fmt(x, digits: int = 4) -> str:
    """How every number of ours is printed in the report (tests parse it back)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, bool) or isinstance(x, str):
        return str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def verdict(paper, ours) -> str:
    """'close' within :data:`CLOSE` relative difference, else 'differs' and by how much (ours / paper's)."""
    if not isinstance(paper, (int, float)) or ours is None or not math.isfinite(ours) or paper == 0:
        return ""
    ratio = ours / paper
    if abs(ratio - 1) <= CLOSE:
        return f"close ({ratio:.2f}x the paper's)"
    return f"**differs** ({ratio:.2g}x the paper's)"


def _interval(p: dict, key: str) -> str:
    lo, hi = p.get(f"{key}_interval") or (None, None)
    return "" if lo is None or hi is None else f" [{fmt(lo, 3)}, {fmt(hi, 3)}]"


def _overfit_note(ev: dict, p, hint: str) -> str:
    """A sentence, from the numbers, when the dev and test speed-ups disagree."""
    dev, test = ev["speedup_dev"], ev["speedup"]
    if dev <= 1.5 * test:
        return (f"The speed-up on the held-out test split ({test:.2f}x) is close to the one on the dev split "
                f"({dev:.2f}x): the policy generalises across draws of the desired distribution.\n")
    n_dev = getattr(p.task, "n_dev", "the")
    return (f"**The policy over-fits the desired examples.** On the {n_dev} dev examples it was optimised "
            f"on, it learns {dev:.2f}x faster; on the held-out test split of the same distribution only "
            f"{test:.2f}x. A policy has T x N = {p.inner.steps * p.task.n_train:,} free weights, enough to steer "
            f"theta towards the dev set itself; see `figures/speedup_progress.png` for when the gap opens{hint}.\n")


def _sim_trend(traj: dict, simfit: dict) -> tuple[str, str]:
    """(ours, verdict) for the paper's claim that SIM grows with CR towards an asymptote.

    Measured as the paper measured it (the ``paper`` definition of :mod:`theory.law`) when the trajectory has
    it, with control (a): the constant policy's SIM over the last policy's window. A rise that the control
    matches is reported as the window's, not as a policy effect; the ``strict`` measure (every record step)
    is the fallback, named as such."""
    cps = traj["checkpoints"]
    paper = [c.get("definitions", {}).get("paper", {}) for c in cps]
    if paper and all("sim" in p for p in paper):
        sims, crs = [p["sim"] for p in paper], [p["cr"] for p in paper]
        ok = [(c, s) for c, s in zip(crs, sims) if s is not None and c is not None and math.isfinite(s)]
        rho = float(spearmanr(*zip(*ok))[0]) if len(ok) >= 3 else None
        ctl = cps[-1].get("controls", {}).get("paper", {})
        first, last = sims[0], sims[-1]
        ours = (f"{fmt(first)} -> {fmt(last)} (`paper` definition; Spearman(SIM, CR) over {len(cps)} policies = "
                f"{fmt(rho, 3)}); the constant policy over the last policy's window: "
                f"{fmt(ctl.get('sim_constant_same_window'))}; SIM_t at equal test loss x{fmt(ctl.get('equal_loss_ratio'), 3)}")
        grows = last is not None and first is not None and last > first and (rho is None or rho > 0.5)
        if grows and ctl.get("verdict") == "policy effect":
            return ours, "same direction, a policy effect (above its control)"
        if grows:
            return ours, f"same direction, but {ctl.get('verdict', 'no control')}: the control rises as much"
        if last is not None and first is not None and last > first:
            return ours, (f"**partly**: final SIM above the constant's but not monotone in CR (paper's definition); "
                          f"against the same-window control: {ctl.get('verdict', 'n/a')}")
        return ours, "**misses**: SIM does not grow (paper's definition)"
    first, last = cps[0].get("sim_mean"), cps[-1].get("sim_mean")
    rho = simfit.get("spearman_sim_cr")
    ours = f"{fmt(first)} -> {fmt(last)} (`strict`); Spearman(SIM, CR) over {len(cps)} policies = {fmt(rho, 3)}"
    if first is None or last is None:
        return ours, ""
    if last > first and (rho is None or rho > 0.5):
        return ours, "same direction"
    if last > first:
        return ours, "**partly**: final SIM above the constant's, but not monotone in CR"
    return ours, "**misses**: SIM does not grow (`strict` measure: not the paper's definition)"


def _law_hint(exp, other: dict | None) -> str:
    """The Learning-Law section's closing hint: the other search's policy (when one ran), then the experiment's."""
    first = (f" The policy of the search beside it: `learning-law law OUT/{other['ev_dir']}`." if other else "")
    return first + exp.law_hint


def stop_text(opt: dict, ev: dict | None = None) -> str:
    """Loud lines for what a reader must not miss: a stalled search, a policy slower than constant on test."""
    out = []
    if opt.get("stop_reason") == "stalled" and opt.get("stall"):
        out.append(f"**The search stalled**: {opt['stall']['message']}.")
    if ev is not None and ev.get("slower_than_constant"):
        out.append(f"**The policy evaluated is slower than the constant one on test** (speed-up "
                   f"{ev['speedup']:.3g}x): it fits the dev split but does not carry to the test split.")
    return "\n\n".join(out) + ("\n\n" if out else "")


def _sizes_note(exp) -> str:
    if not exp.paper:
        return ""
    return " They are for the paper's own sizes (the `paper` preset); a smaller preset\nis not expected to match them."


def _search_flags(outer: C.OuterConfig) -> str:
    if outer.search in C.BACKTRACKING:
        return f"--search {outer.search}"
    return f"--search fixed --outer-lr {outer.outer_lr:g} --schedule {outer.schedule}"


def _val_text(p) -> str:
    n = getattr(p.task, "n_val", 0)
    return (f"{n} validation examples, a draw of the desired distribution no search fits and the test split "
            "never used for a choice" if n else "no validation split: the dev AUC decides")


def _sizes(p) -> str:
    parts = []
    for key, label in (("n_dev", "dev"), ("n_test", "test"), ("dim", "d"), ("vocab_size", "|V|"),
                       ("seq_len", "length")):
        if hasattr(p.task, key):
            parts.append(f"{label} = {getattr(p.task, key)}")
    return (", " + ", ".join(parts)) if parts else ""


def _sim_fit_text(simfit: dict) -> str:
    if "error" in simfit:
        return f"SIM vs CR: no fit ({simfit['error']})."
    head = (f"SIM vs CR (Fig. 3B/7): fitted SIM = k ln(a / (b - CR)) over {simfit['n']} policies: "
            f"k = {fmt(simfit['k'], 3)}, a = {fmt(simfit['a'], 3)}, b = {fmt(simfit['b'], 3)}, R^2 = "
            f"{fmt(simfit['r2'], 3)}.")
    if simfit["asymptote_identified"]:
        return head + f" The fitted asymptote, the best compression the curve points to, is CR = {fmt(simfit['b'], 3)}."
    return head + (" These points do not locate the asymptote (b sits at the edge of its search, or its standard "
                   f"error {fmt(simfit['b_se'], 2)} exceeds its distance from the largest CR): the paper's "
                   "SIM -> infinity as CR -> b is not resolved by this run.")
