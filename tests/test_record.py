"""learning_law.record's atomic write: the result appears whole or not at all, with the mode a plain open() gives."""

import os
import stat

import pytest

from learning_law import record as R


def test_atomic_write_leaves_no_temporary_and_uses_the_umask_mode(tmp_path):
    R.write_json(tmp_path / "a.json", {"x": 1})
    assert R.read_json(tmp_path / "a.json") == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o666 & ~mask


def test_a_failing_writer_keeps_the_old_file(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("old")

    def half(f):
        f.write(b"new, half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        R.atomic_write(path, half)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.txt"]
