"""The numbers of a reproduction over several seeds: each seed's headline numbers read back from its
folder, and their mean, standard deviation and Student t interval (:mod:`theory.intervals`), the contents of
``summary.json`` (:mod:`experiments.seeds` runs the seeds, :mod:`experiments.seeds_report` writes the report).
"""

from __future__ import annotations

import math
from pathlib import Path

from learning_law import record as R
from theory import intervals as I

LEVEL = 0.95

# (name in summary.json, label in the report, file of a seed folder, keys inside that file). The names
# that are keys of an Experiment's `paper` dict get the paper's value beside them.
HEADLINE = (
    ("speedup", "speed-up on the test loss (T / t*)", "evaluate/summary.json", ("speedup",)),
    ("speedup_dev", "speed-up on the dev loss (the split the policy was optimised on)", "evaluate/summary.json",
     ("speedup_dev",)),
    ("auc_constant", "AUC (mean dev loss over t = 0..T, nats), constant", "evaluate/summary.json",
     ("auc_constant",)),
    ("auc_policy", "AUC, optimised policy", "evaluate/summary.json", ("auc_policy",)),
    ("cr_paper_constant", "CR, paper's convention (log2|V| / mean loss), constant", "evaluate/summary.json",
     ("cr_paper_constant",)),
    ("cr_paper_policy", "CR, paper's convention, optimised", "evaluate/summary.json", ("cr_paper_policy",)),
    ("cr_bits_constant", "CR in bits (raw bits / code bits), constant", "evaluate/summary.json",
     ("cr_bits_constant",)),
    ("cr_bits_policy", "CR in bits, optimised", "evaluate/summary.json", ("cr_bits_policy",)),
    ("B_constant", "Table 1: B, constant (paper's fit)", "figures/scaling_fits.json",
     ("fits", "paper", "constant", "B")),
    ("beta_constant", "Table 1: beta, constant (paper's fit)", "figures/scaling_fits.json",
     ("fits", "paper", "constant", "beta")),
    ("B_policy", "Table 1: B, optimised (paper's fit)", "figures/scaling_fits.json",
     ("fits", "paper", "policy", "B")),
    ("beta_policy", "Table 1: beta, optimised (paper's fit)", "figures/scaling_fits.json",
     ("fits", "paper", "policy", "beta")),
    ("sim_constant", "SIM (mean_t SIM_t), constant", "evaluate/law.json", ("constant", "sim_mean")),
    ("sim_policy", "SIM, optimised", "evaluate/law.json", ("policy", "sim_mean")),
    ("zero_share_negative_ct", "share of gamma = 0 among CT < 0, optimised (property 4.1), `strict`", "evaluate/law.json",
     ("policy", "zero_share_negative_ct")),
    ("low_weight_share_learned", "share of gamma < 0.2 max gamma among well-learned examples, optimised "
     "(property 4.2), `strict`", "evaluate/law.json", ("policy", "low_weight_share_learned")),
    # The same policy measured as the paper's figure scripts measured it (theory.law, definition `paper`), and the
    # SIM controls against the constant policy (theory.law_measures.controls).
    ("zero_share_paper", "share of zero weights among CT < 0, optimised, `paper` definition (Fig. 8)",
     "evaluate/law.json", ("policy", "definitions", "paper", "zero_share")),
    ("low_weight_share_paper", "share of gamma < 0.2 max gamma among well-learned examples, optimised, `paper` "
     "definition (Fig. 9)", "evaluate/law.json", ("policy", "definitions", "paper", "low_weight_share")),
    ("low_weight_share_not_learned_paper", "the same among examples not well learned (control), `paper` definition",
     "evaluate/law.json", ("policy", "definitions", "paper", "low_weight_share_not_learned")),
    ("sim_constant_paper", "SIM, constant, `paper` definition (t = 1..T-1)", "evaluate/law.json",
     ("constant", "definitions", "paper", "sim")),
    ("sim_policy_paper", "SIM, optimised, `paper` definition (t = 1..i*)", "evaluate/law.json",
     ("policy", "definitions", "paper", "sim")),
    ("sim_growth_paper", "SIM optimised / constant, each over its own window (what Fig. 7 compares)",
     "evaluate/law.json", ("controls", "paper", "growth")),
    ("sim_constant_same_window_paper", "SIM, constant over the optimised policy's window (control a)",
     "evaluate/law.json", ("controls", "paper", "sim_constant_same_window")),
    ("sim_effect_paper", "SIM optimised / constant over the same window (a policy effect when above 1)",
     "evaluate/law.json", ("controls", "paper", "effect")),
    ("sim_equal_loss_paper", "SIM_t optimised / constant at equal test loss (control b)", "evaluate/law.json",
     ("controls", "paper", "equal_loss_ratio")),
    ("kkt_residual_constant", "KKT residual, constant", "evaluate/law.json", ("constant", "kkt_residual")),
    ("kkt_residual_policy", "KKT residual, optimised", "evaluate/law.json", ("policy", "kkt_residual")),
)


def seed_dir(out: str | Path, seed: int) -> Path:
    """The folder of one seed's reproduction inside ``out``."""
    return Path(out) / f"seed-{seed}"


FITS = "figures/scaling_fits.json"


def at_bound(folder: str | Path) -> set[str]:
    """The Table 1 names (:data:`HEADLINE` entries read from the scaling fits) of one seed whose fit put L0
    on a bound of its range (``at_bound`` in ``scaling_fits.json``; ‡ in the seed's report): there Eq. 8
    does not describe the curve and B, beta take whatever values absorb it, so they are not averaged."""
    fits = R.read_json(Path(folder) / FITS).get("fits", {}).get("paper", {})
    return {name for name, _, rel, keys in HEADLINE
            if rel == FITS and (fits.get(keys[2]) or {}).get("at_bound")}


def read_headline(folder: str | Path) -> dict[str, float | None]:
    """{name: value} of :data:`HEADLINE` read from one finished one-seed reproduction folder (None where a
    fit failed, put L0 on a bound (:func:`at_bound`) or a number is missing)."""
    folder, files, out = Path(folder), {}, {}
    bound = at_bound(folder) if (folder / FITS).exists() else set()
    for name, _, rel, keys in HEADLINE:
        if rel not in files:
            files[rel] = R.read_json(folder / rel)
        value = files[rel]
        for k in keys:
            value = value.get(k) if isinstance(value, dict) else None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and name not in bound
        out[name] = float(value) if ok else None
    return out


def aggregate(seed_dirs: dict[int, Path], level: float = LEVEL, other_search: str | None = None) -> dict:
    """summary.json of several seeds: for every name of :data:`HEADLINE`, ``{"mean", "sd", "ci_low",
    "ci_high", "n", "values"}`` (``values`` one per seed in the order of ``seed_dirs``, None where missing
    or left out; the statistics over the finite ones), and for the Table 1 coefficients ``at_bound``, the
    seeds left out because their fit put L0 on a bound (:func:`at_bound`); with ``other_search``,
    ``"other"``: :func:`aggregate_other`."""
    per_seed = {s: read_headline(d) for s, d in seed_dirs.items()}
    bound = {s: at_bound(d) if (Path(d) / FITS).exists() else set() for s, d in seed_dirs.items()}
    out: dict = {"seeds": list(seed_dirs), "level": level,
                 "interval": "Student t interval of the mean over seeds: mean +- t_{(1+level)/2, n-1} sd / sqrt(n)"}
    for name, _, rel, _ in HEADLINE:
        values = [per_seed[s][name] for s in seed_dirs]
        out[name] = {**I.interval(values, level)._asdict(), "values": values}
        if rel == FITS:
            out[name]["at_bound"] = [s for s in seed_dirs if name in bound[s]]
    if other_search is not None:
        out["other"] = aggregate_other(seed_dirs, other_search, level)
    return out


def aggregate_other(seed_dirs: dict[int, Path], search: str, level: float = LEVEL) -> dict:
    """The search a preset runs beside its own (``evaluate-SEARCH`` in every seed folder) against the
    preset's (``evaluate``), seed by seed: both test speed-ups and test AUCs, the ratio of the speed-ups
    (other / the preset's) and the number of seeds where the other search's policy has the lower test AUC;
    each number with its interval over the seeds."""
    def read(folder: Path, key: str) -> float | None:
        value = R.read_json(folder / "summary.json").get(key) if (folder / "summary.json").exists() else None
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    cols = {"speedup_own": [read(d / "evaluate", "speedup") for d in seed_dirs.values()],
            "speedup_other": [read(d / f"evaluate-{search}", "speedup") for d in seed_dirs.values()],
            "auc_test_own": [read(d / "evaluate", "auc_test_policy") for d in seed_dirs.values()],
            "auc_test_other": [read(d / f"evaluate-{search}", "auc_test_policy") for d in seed_dirs.values()]}
    cols["speedup_ratio"] = [o / m if o is not None and m else None
                             for o, m in zip(cols["speedup_other"], cols["speedup_own"])]
    pairs = [(o, m) for o, m in zip(cols["auc_test_other"], cols["auc_test_own"]) if o is not None and m is not None]
    return {"search": search, "lower_test_auc_seeds": sum(o < m for o, m in pairs), "compared_seeds": len(pairs),
            **{k: {**I.interval(v, level)._asdict(), "values": v} for k, v in cols.items()}}
