"""benchmarks/lm_profile.py runs end to end at the LM's tiny preset (--quick), and its JSON holds the parts of an
outer step, the FLOP counts and the floor arithmetic its docstring states."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "lm_profile.py"
BENCH = SCRIPT.parent
ENV = {**os.environ, "JAX_PLATFORMS": "cpu",  # cheap LLVM settings: compile time dominates at tiny sizes
       "XLA_FLAGS": "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"}


def _commands(tmp: Path) -> dict[str, list[str]]:
    """Every benchmark process this module checks, by name: {name: argv}."""
    py = sys.executable
    return {
        "profile": [py, str(SCRIPT), "--quick", "--out", str(tmp / "lm_profile.json")],
        "variants": [py, str(BENCH / "lm_variants.py"), "--quick", "--out", str(tmp / "lm_variants.json")],
        "unroll": [py, str(BENCH / "lm_unroll.py"), "--quick", "--unroll", "1,3", "--rounds", "1", "--out",
                   str(tmp / "lm_unroll.json")],
        "unroll_bad": [py, str(BENCH / "lm_unroll.py"), "--quick", "--unroll", "0"],
        "metagrad": [py, str(BENCH / "lm_metagrad_variants.py"), "--quick", "--skip-flags", "--out",
                     str(tmp / "v.json")],
        "metagrad_child": [py, str(BENCH / "lm_metagrad_variants.py"), "--quick", "--child", "1"],
    }


NEEDS = {"test_lm_profile_quick": ("profile",), "test_lm_variants_quick_forms_agree": ("variants",),
         "test_lm_unroll_quick_gives_the_same_gradient_for_every_unroll": ("unroll", "unroll_bad"),
         "test_lm_metagrad_variants_quick_compute_the_same_meta_gradient": ("metagrad", "metagrad_child")}


@pytest.fixture(scope="module")
def bench(request, tmp_path_factory):
    """The benchmark processes of the tests selected in this module, all started at once: each is a mostly
    single-threaded compile of tiny programs, so on 2 cores their waits overlap (the module's wall time
    was the sum of ~10 such processes, one after the other). Each test waits for its own and checks it;
    nothing here depends on the processes' timings being taken on idle cores."""
    tmp = tmp_path_factory.mktemp("bench")
    selected = {item.originalname for item in request.session.items if item.module is request.module}
    cmds = _commands(tmp)
    procs = {name: subprocess.Popen(cmds[name], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for test, names in NEEDS.items() if test in selected for name in names}
    yield tmp, procs
    for proc in procs.values():  # a failed test leaves no process behind
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _finished(bench, name: str, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = bench[1][name]
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_lm_profile_quick(bench):
    out = bench[0] / "lm_profile.json"
    proc = _finished(bench, "profile")
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["quick"] and res["sizes"]["preset"] == "tiny" and len(res["load_average"]) == 3
    rows = {r["part"]: r for r in res["rows"]}
    memory = res["sizes"]["outer_memory"]
    fwd, mg = rows["forward run (AUC only)"], rows[f"meta-gradient ({memory})"]
    for r in (fwd, mg, rows["projection of gamma [T, N]"], rows["evaluation (1 run: dev, test, val)"]):
        assert r["wall_s"] > 0 and r["cpu_s"] > 0 and r["compile_s"] > 0
    assert mg["reverse_wall_s"] == pytest.approx(mg["wall_s"] - fwd["wall_s"])
    # Analytic FLOPs: the inner step is 3 x the train forward + the dev forward; the meta-gradient 3 x the run.
    fl, s = res["flops"]["analytic_GFLOP"], res["sizes"]
    assert fl["metagrad_useful"] == pytest.approx(3 * fl["forward_run"])
    assert fl["forward_run"] == pytest.approx(s["steps"] * fl["inner_step"] + fl["inner_step"] / (
        3 * s["n_train"] / s["n_dev"] + 1))
    # XLA's count of step x T is the same order as the analytic one (softmax etc. are not in the analytic count).
    xla = res["flops"]["xla_step_x_T_GFLOP"]
    assert 0.5 < xla["forward_run"] / fl["forward_run"] < 2 and 0.5 < xla["metagrad_full"] / fl["metagrad_useful"] < 2
    refs, floor = res["references"], res["floor"]
    assert refs["matmul_peak_GFLOP/s"] > 0 and refs["lm_shapes_GFLOP/s"] > 0 and len(refs["lm_shapes"]) == 17
    # the rates are per matmul the faster of this process (the CLI's flags) and a fresh one with XLA's defaults
    assert [r["label"] for r in refs["per_flags"]] == ["this process", "XLA defaults"]
    assert refs["per_flags"][1]["XLA_FLAGS"] == "(none)"
    assert refs["lm_shapes_GFLOP/s"] >= max(r["lm_shapes_GFLOP/s"] for r in refs["per_flags"]) * (1 - 1e-9)
    assert floor["floor_at_lm_rate_s"] == pytest.approx(fl["metagrad_useful"] / refs["lm_shapes_GFLOP/s"])
    assert floor["target_3x_s"] == pytest.approx(17.0 / 3)
    proj = rows["projection of gamma [T, N]"]["wall_s"]
    step = floor["outer_step_s"][memory]  # a search that evaluates by a separate forward run
    assert step == pytest.approx(mg["wall_s"] + proj + rows["evaluation (1 run: dev, test, val)"]["wall_s"]
                                 / s["eval_every"])
    # the search's own: its meta-gradient, the update, and what recording the evaluation adds, per outer step
    off = rows["meta-gradient (fixed search's program)"]["wall_s"]
    on = rows["meta-gradient (the same, recording the evaluation)"]["wall_s"]
    assert floor["outer_step_s"]["search"] == pytest.approx(off + proj + max(on - off, 0.0) / s["eval_every"])
    assert floor["reference/outer_step"] == pytest.approx(17.0 / floor["outer_step_s"]["search"])
    prof = res["profile"]
    assert "error" in prof or (prof["op_seconds_total"] > 0 and set(prof["share"]) == {"matmul", "logits-sized",
                                                                                          "other"})
    assert "wrote" in proc.stdout


def test_lm_variants_quick_forms_agree(bench):
    """benchmarks/lm_variants.py (--quick, the tiny LM): the attention forms and the two adjoint steps it times
    compute the same numbers, so the timings compare like with like."""
    out = bench[0] / "lm_variants.json"
    proc = _finished(bench, "variants")
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert [r["form"] for r in res["attention"]][0] == "einsum (today)" and len(res["attention"]) == 3
    assert all(r["max abs diff to today"] < 1e-4 and r["jvp(grad) ms"] > 0 for r in res["attention"])
    assert res["adjoint_max_rel_diff"] < 1e-4 and len(res["adjoint_step"]) == 3


def test_lm_unroll_quick_gives_the_same_gradient_for_every_unroll(bench):
    """benchmarks/lm_unroll.py (--quick, the tiny LM): unrolling the scans changes the program (its compile
    time) but not the meta-gradient, so its timings compare like with like (both compiled with the same
    cheap LLVM settings here)."""
    out = bench[0] / "lm_unroll.json"
    proc = _finished(bench, "unroll")
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert [r["unroll"] for r in res["rows"]] == [1, 3] and res["grad_sum_max_rel_diff"] < 1e-5
    assert all(r["meta-gradient s (best of 2)"] > 0 and r["auc"] == res["rows"][0]["auc"] for r in res["rows"])
    bad = _finished(bench, "unroll_bad")
    assert bad.returncode == 2 and "--unroll" in bad.stderr


def test_lm_metagrad_variants_quick_compute_the_same_meta_gradient(bench):
    """benchmarks/lm_metagrad_variants.py (--quick, the tiny LM): every variant computes today's AUC and
    meta-gradient (so its timing compares like with like), the attention ablation another one, and a
    fresh-process row (``--child``) reports today's."""
    out = bench[0] / "v.json"
    proc = _finished(bench, "metagrad")
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    rows, ablation = res["rows"][:-1], res["rows"][-1]
    assert rows[0]["variant"].startswith("today") and len(rows) == 7 and res["flag_rows"] == []
    # the ablation without attention is another model (so it did replace the attention: no stale trace)
    assert ablation["variant"].startswith("attention removed") and ablation["meta-gradient s"] > 0
    assert abs(ablation["auc"] - rows[0]["auc"]) > 1e-4
    for r in rows:
        assert r["meta-gradient s"] > 0
        assert r["auc"] == pytest.approx(rows[0]["auc"], rel=1e-5)
        assert r["sum |dAUC/dgamma|"] == pytest.approx(rows[0]["sum |dAUC/dgamma|"], rel=1e-4)
    child = _finished(bench, "metagrad_child")
    assert child.returncode == 0, child.stderr[-3000:]
    one_core = json.loads(child.stdout.strip().splitlines()[-1])
    assert one_core["sum |dAUC/dgamma|"] == pytest.approx(rows[0]["sum |dAUC/dgamma|"], rel=1e-4)
