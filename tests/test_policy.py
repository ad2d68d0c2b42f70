import numpy as np
import pytest

from learning_law import policy as P
from learning_law import record as R
from learning_law.errors import UsageError


def test_constant_rows_on_simplex():
    g = P.constant(5, 7)
    assert g.shape == (5, 7) and g.dtype == np.float32
    np.testing.assert_allclose(g.sum(1), 1.0, rtol=1e-6)
    P.validate(g, 5, 7)


@pytest.mark.parametrize("gamma,match", [
    (np.full((4, 3), 1 / 3), r"shape \(4, 3\)"),
    (np.full((5, 3, 1), 1 / 3), "shape"),
    (np.array([[0.5, 0.6, -0.1]] * 5), "< 0"),
    (np.array([[0.5, 0.5, np.nan]] * 5), "non-finite"),
    (np.array([[0.5, 0.4, 0.0]] * 5), "sums to 0.9"),
    (np.ones((5, 3), dtype=np.int32), "dtype"),
])
def test_bad_policies_are_rejected(gamma, match):
    with pytest.raises(UsageError, match=match):
        P.validate(gamma, 5, 3)


def test_load_from_file_and_folder(tmp_path):
    g = P.one_hot(4, 6, 2)
    R.save_npy(tmp_path / "g.npy", g)
    R.save_npy(tmp_path / "run" / "gamma.npy", g)
    for spec in (tmp_path / "g.npy", tmp_path / "run"):
        gamma, _ = P.resolve(str(spec), 4, 6)
        np.testing.assert_array_equal(gamma, g)
    with pytest.raises(UsageError, match="no such file"):
        P.resolve(str(tmp_path / "missing.npy"), 4, 6)
    (tmp_path / "junk.npy").write_text("not an array")
    with pytest.raises(UsageError, match="not a readable"):
        P.resolve(str(tmp_path / "junk.npy"), 4, 6)
