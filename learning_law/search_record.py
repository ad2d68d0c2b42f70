"""What a policy search writes besides its checkpoints: one metrics line per outer step, the summary, and
the words that explain how it stopped (:mod:`learning_law.optimize` runs the loop).

A stop is named in ``summary.json["stop_reason"]`` (:data:`learning_law.selection.STOPS`): ``completed``
(all outer steps ran), ``stationary`` (no move of the weights promises a decrease float32 can resolve),
``patience``, ``stalled`` (the first-order model still promised a decrease but no trial step realised it:
the step collapsed) and ``kkt`` (``--until-kkt``: the certificate fell below the threshold). A stall also
writes ``summary["stall"]`` with what to try, and is printed; so is a selected policy slower than the constant
one on test.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from learning_law import policy as P
from learning_law import record as R
from learning_law import search as S
from learning_law import selection as SEL
from learning_law.distributed import is_writer, to_host
from learning_law.selection import EVAL_FIELDS, STOPS, SearchState
from learning_law.sharding import place_policy

STEP_COLLAPSE = 1e-3  # a trial step this far below the first accepted one is reported as collapsing


def step_mode(search: str, before, after) -> float:
    """Which of ``auto``'s parts took the step from state ``before`` to ``after`` (their ``t_prev``: 1 eg,
    ``QN_MODE`` qn, ``ROWS_MODE`` rows; the step that switches to rows is rows'); 1 for every other rule.
    The parts measure their step in different units (eg: on F's scale; qn: a share of the quasi-Newton
    step; rows: dimensionless), so a collapse is judged against the first step of the same part."""
    if search != "auto":
        return 1.0
    return S.ROWS_MODE if float(after.t_prev) == S.ROWS_MODE else float(before.t_prev)


def collapsed(first_step: dict, mode: float, step: float) -> float | None:
    """``step`` over the first accepted step of its part (remembered in ``first_step``) when below
    :data:`STEP_COLLAPSE`, else None."""
    ratio = step / first_step.setdefault(mode, step)
    return ratio if ratio < STEP_COLLAPSE else None


def metrics_line(k: int, st: SearchState) -> str:
    """The metrics.jsonl row of outer step k: the AUC (and KKT residual) of the policy it started from,
    its step and trials, and the evaluation fields when it was evaluated."""
    row = {"outer_step": k, "auc": float(st.auc[k]), "step_size": float(st.step_size[k]),
           "trials": int(st.trials[k])}
    if np.isfinite(st.kkt[k]):
        row["kkt_residual"] = float(st.kkt[k])
    row.update({name: float(v) for name, v in zip(EVAL_FIELDS, st.evals[k]) if not np.isnan(v)})
    return json.dumps(row) + "\n"


def rewrite_metrics(out: Path, st: SearchState, done: int) -> None:
    """metrics.jsonl as the state says (a resume rewrites it, so no row is doubled or half-written)."""
    rows = range(done + 1 if STOPS[st.stop] == "kkt" and done < len(st.auc) else done)
    lines = "".join(metrics_line(k, st) for k in rows if np.isfinite(st.auc[k]))
    R.atomic_write(out / "metrics.jsonl", lambda f: f.write(lines.encode()))


def dev_rises(curve) -> int:
    """How many inner steps raised the dev loss: more than a few and the run oscillates (its lr is too large)."""
    c = np.asarray(curve, np.float64)
    return int(np.sum(np.diff(c) > 0))


def stall_info(st: SearchState, k: int, trials: int, const_dev=None) -> dict:
    """What a stalled search reports: where, its step against the first accepted one, and what to try."""
    steps = st.step_size[: k + 1][np.isfinite(st.step_size[: k + 1])]
    first = float(steps[0]) if steps.size else math.nan
    rises = dev_rises(const_dev) if const_dev is not None else None
    cause = (f"the constant run's dev loss rose at {rises} of its {len(const_dev) - 1} inner steps: the inner "
             "run oscillates, so the meta-gradient predicts the AUC only within a tiny step"
             if rises else "the meta-gradient does not predict the AUC beyond a tiny step")
    return {"outer_step": k, "trials_last_step": int(trials), "step_first": _num(first),
            "step_last": _num(st.step_size[k]) if np.isfinite(st.step_size[k]) else None,
            "kkt_residual": _num(st.kkt[k]), "dev_loss_rises_constant": rises,
            "message": f"the search stalled at outer step {k}: {cause}. Try a smaller inner lr (--lr), "
                       "or --search apg; the policy returned is the best before the stall"}


def stop_message(st: SearchState, patience: int, has_val: bool, until_kkt, const_dev=None) -> str:
    """One line on why the search stopped early."""
    reason = STOPS[st.stop]
    if reason == "stationary":
        return "no trial step lowers the AUC (a stationary point to float precision)"
    if reason == "kkt":
        return f"the KKT residual fell below --until-kkt {until_kkt} (a certified near-stationary policy)"
    if reason == "stalled":
        return "STALLED: " + stall_info(st, st.done, int(st.trials[st.done]), const_dev)["message"]
    return f"no better {'validation' if has_val else 'dev'} AUC for {patience} outer steps (--patience)"


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def finish(task, inner, outer, out, st: SearchState, etas, opt, value, val, wall, resumed_from=0, curves_of=None,
           const_curves=None) -> dict:
    """Select, evaluate and save the policy the search keeps; write summary.json last (the run is then
    finished) and return it with ``gamma``, the selected policy."""
    last = to_host(st.gamma)
    auc_last = float(value(st.gamma)[0]) if np.all(np.isfinite(last)) else math.nan
    auc0 = float(st.auc[0])
    if task.val is None:  # the last policy of a fixed search has not been a candidate yet
        st.consider(st.gamma, auc_last, auc_last, st.done, auc0)
    gamma = to_host(st.best_gamma)
    sel = int(st.best[2])
    if sel and np.isnan(st.evals[sel - 1, 0]):  # selected between evaluations: measure it as the others
        keep_gamma, keep_done = st.gamma, st.done
        st.gamma, st.done = st.best_gamma, sel
        if const_curves is None:
            const = P.constant(*st.shape, task.constant_row)
            const_curves = (curves_of(place_policy(const, task.mesh))[:2] if curves_of is not None else
                            SEL.curves(task, const, etas, opt))
        SEL.evaluate_policy(st, task, const_curves, etas, opt, val, curves_of)
        st.gamma, st.done = keep_gamma, keep_done
        R.save_npy(out / "outer_evals.npy", st.evals)
    R.save_npy(out / "gamma.npy", gamma)
    if sel != st.done and np.all(np.isfinite(last)):
        R.save_npy(out / "gamma_last.npy", last)
    R.save_npy(out / "outer_auc.npy", st.auc)
    R.save_npy(out / "outer_evals.npy", st.evals)
    ran = st.done - resumed_from
    kkts = st.kkt[np.isfinite(st.kkt)]
    trials = st.trials[: st.done]
    row = st.evals[st.done - 1] if st.done else np.full(len(EVAL_FIELDS), np.nan)
    summary = {
        "finished": True,
        "search": outer.search,
        "outer_steps": outer.outer_steps,
        "outer_steps_run": st.done,
        "stop_reason": STOPS[st.stop],
        "auc_constant": _num(auc0),
        "auc_final": _num(st.best[1]),  # of gamma.npy, the selected policy
        "auc_last": _num(auc_last),
        "selected_outer_step": sel,
        "selected_by": val.name if val is not None else "dev AUC",
        "auc_val_constant": _num(np.mean(val.const)) if val is not None else None,
        "auc_val_selected": _num(st.evals[sel - 1, 4]) if val is not None and sel else None,
        "last_is_selected": sel == st.done,
        "forward_trials": int(trials.sum()),
        "rejected_trials": int(np.maximum(trials - 1, 0).sum()),
        "trials_per_step": _num(trials.mean()) if outer.search in S.BACKTRACKING and st.done else None,
        "wall_time_s": round(wall, 2),
        "seconds_per_outer_step": round(wall / ran, 4) if ran else None,
        "resumed_from_outer_step": resumed_from,
        "zero_weight_share": float(np.mean(gamma == 0)),
        "kkt_residual_last": _num(kkts[-1]) if kkts.size else None,
        "until_kkt": outer.until_kkt,
        "switched_to_rows": bool(st.scalars[2] == S.ROWS_MODE) if outer.search == "auto" else None,
        "dev_loss_rises_constant": dev_rises(const_curves[0]) if const_curves is not None else None,
        **{f"final_{name}": _num(v) for name, v in zip(EVAL_FIELDS, row)},
        **({f"selected_{name}": _num(v) for name, v in zip(EVAL_FIELDS, st.evals[sel - 1])} if sel else {}),
    }
    if STOPS[st.stop] == "stalled":
        summary["stall"] = stall_info(st, st.done, int(st.trials[st.done]),
                                      const_curves[0] if const_curves is not None else None)
    if sel != st.done and is_writer():
        print(f"note: the last policy (after {st.done} outer steps) is not the best; gamma.npy is the one after "
              f"{sel} ({summary['selected_by']}); the last is gamma_last.npy", file=sys.stderr)
    R.write_json(out / "summary.json", summary)
    return {**summary, "gamma": gamma}
