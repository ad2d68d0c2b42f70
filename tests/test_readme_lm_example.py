"""docs/api.md "A language model on your own texts": the causal-LM example runs exactly as written, in a fresh Python (as a user runs
it, so that lm_task can apply the LM's XLA CPU flags before JAX's backend starts), prints its line in the
documented format, and the numbers the page quotes are the ones it prints (issue 32)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from learning_law import xla_flags as XF

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"dev AUC (\d+\.\d{4}) -> (\d+\.\d{4}), test speed-up (\d+\.\d{2})x, weight on the stories "
                  r"(\d\.\d{2})")


def _section() -> str:
    text = (ROOT / "docs" / "api.md").read_text()
    start = text.index("## A language model on your own texts")
    return text[start:text.index("\n## ", start + 1)]


def test_the_lm_example_runs_as_written_and_prints_the_readme_numbers(tmp_path):
    section = _section()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "ll.lm_task(" in b]
    assert len(blocks) == 1
    env = {k: v for k, v in os.environ.items() if k != XF.OPT_OUT}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    epilogue = "\nimport os, sys\nprint('XLA_FLAGS=' + os.environ.get('XLA_FLAGS', ''), file=sys.stderr)\n"
    proc = subprocess.run([sys.executable, "-c", blocks[0] + epilogue], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.strip().splitlines()
    assert len(out) == 1 and LINE.fullmatch(out[0]), proc.stdout
    auc0, auc1, speedup, share = (float(x) for x in LINE.fullmatch(out[0]).groups())
    assert auc1 < auc0 and speedup > 1 and share > 0.5  # the search moved the weight onto the stories
    # lm_task applied the flags (jaxlib versions they are known for), and nothing said they came too late
    assert "cannot take effect" not in proc.stderr
    if XF.apply({}):
        flags = next(line for line in proc.stderr.splitlines() if line.startswith("XLA_FLAGS="))
        flags = flags.removeprefix("XLA_FLAGS=").split()
        assert set(XF.CPU_FLAGS) <= set(flags)
    # the page quotes what the example prints (to float rounding of another CPU)
    quoted = LINE.search(section.split(blocks[0], 1)[1])
    assert quoted, "docs/api.md does not quote the example's line after its code block"
    q = [float(x) for x in quoted.groups()]
    assert (auc0, auc1) == pytest.approx(q[:2], rel=0.02) and speedup == pytest.approx(q[2], rel=0.15)
    assert share == pytest.approx(q[3], abs=0.05)
    assert f"1/{quoted.group(3)} of the steps" in " ".join(section.split())
