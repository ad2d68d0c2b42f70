import jax.numpy as jnp
import numpy as np
import pytest

from learning_law import config as C
from learning_law.errors import UsageError
from learning_law.tasks import build_task, perceptron_loss


def test_shapes_and_paper_defaults():
    cfg = C.PerceptronConfig()
    assert (cfg.dim, cfg.n_train, cfg.n_dev, cfg.n_test) == (128, 4096, 512, 512)
    task = build_task("perceptron", C.PerceptronConfig(dim=16, n_train=64, n_dev=20, n_test=24))
    assert task.train["x"].shape == (64, 16) and task.dev["x"].shape == (20, 16)
    assert task.test["y"].shape == (24,) and task.init_params["w"].shape == (16,)
    assert task.n_train == 64 and task.vocab_size == 2


def test_distributions_and_covariate_shift():
    task = build_task("perceptron", C.PerceptronConfig(dim=32, n_train=4000, n_dev=4000, n_test=10))
    xt, xd = np.asarray(task.train["x"]), np.asarray(task.dev["x"])
    assert abs(xt.mean()) < 0.05 and abs(xt.std() - 3.0) < 0.05
    assert abs(xd.mean() - 0.5) < 0.05 and abs(xd.std() - 1.0) < 0.05


def test_labels_are_a_linear_teacher_without_noise():
    task = build_task("perceptron", C.PerceptronConfig(dim=8, n_train=500))
    x, y = np.asarray(task.train["x"], np.float64), np.asarray(task.train["y"])
    # Separable: a least-squares fit of +-1 labels followed by a few perceptron passes finds zero error.
    s = 2 * y - 1
    w = np.linalg.lstsq(x, s, rcond=None)[0]
    for _ in range(2000):
        wrong = np.nonzero(np.sign(x @ w) != s)[0]
        if wrong.size == 0:
            break
        w += s[wrong[0]] * x[wrong[0]]
    assert np.all(np.sign(x @ w) == s)


def test_label_noise_flips_train_labels_only():
    base = C.PerceptronConfig(dim=8, n_train=20000, n_dev=50, n_test=50)
    clean = build_task("perceptron", base)
    noisy = build_task("perceptron", C.override(base, label_noise=0.2))
    flipped = np.mean(np.asarray(clean.train["y"]) != np.asarray(noisy.train["y"]))
    assert abs(flipped - 0.2) < 0.015
    np.testing.assert_array_equal(clean.dev["y"], noisy.dev["y"])


def test_same_seed_same_arrays_other_seed_differs():
    a = build_task("perceptron", C.PerceptronConfig(dim=8, n_train=16, seed=5))
    b = build_task("perceptron", C.PerceptronConfig(dim=8, n_train=16, seed=5))
    c = build_task("perceptron", C.PerceptronConfig(dim=8, n_train=16, seed=6))
    np.testing.assert_array_equal(a.train["x"], b.train["x"])
    assert not np.array_equal(a.train["x"], c.train["x"])


def test_loss_is_logistic():
    params = {"w": jnp.array([1.0, -2.0])}
    batch = {"x": jnp.array([[1.0, 0.0], [0.0, 1.0]]), "y": jnp.array([1.0, 1.0])}
    expected = [np.log1p(np.exp(-1.0)), np.log1p(np.exp(2.0))]
    np.testing.assert_allclose(perceptron_loss(params, batch), expected, rtol=1e-6)


@pytest.mark.parametrize("field,value", [("dim", 0), ("n_train", -3), ("n_dev", 0), ("train_std", 0.0),
                                         ("eval_std", float("nan")), ("label_noise", 0.7), ("init_std", -1.0),
                                         ("seed", -1), ("teacher_scale", 0.0)])
def test_bad_sizes_raise_naming_the_field(field, value):
    with pytest.raises(UsageError, match=field):
        C.PerceptronConfig(**{field: value})
