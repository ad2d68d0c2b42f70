"""The Transformer LM and its task: loss against an independent numpy forward pass, padding, causality,
symbol probabilities, the meta-gradient against finite differences, validation."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learning_law.errors import UsageError
from learning_law.models import transformer as T
from learning_law.tasks import lm as LM

PAD = 0


def _cfg(**kw):
    base = dict(vocab_size=11, max_len=8, d_model=8, n_heads=2, d_ff=12, n_layers=2)
    return T.TransformerConfig(**{**base, **kw})


def _seqs(key, n, length, vocab, pad_tail=()):
    """Random sequences [n, length] of non-pad ids; row i ends with pad_tail[i] pads."""
    s = np.array(jax.random.randint(jax.random.key(key), (n, length), 1, vocab), dtype=np.int32)
    for i, k in enumerate(pad_tail):
        if k:
            s[i, length - k:] = PAD
    return s


# ---- an independent float64 numpy forward pass of the same architecture -------------------------------
def _np_norm(x, p, kind, eps=1e-6):
    if kind == "rms":
        return x / np.sqrt(np.mean(x**2, -1, keepdims=True) + eps) * p["scale"]
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) * p["scale"] + p["bias"]


def _np_logits(cfg, params, tokens):
    P = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), params)
    n, length = tokens.shape
    h, dh = cfg.n_heads, cfg.d_model // cfg.n_heads
    x = P["embed"][tokens] + P["pos"][:length][None]
    for i in range(cfg.n_layers):
        b = P["blocks"][i]
        y = _np_norm(x, b["norm1"], cfg.norm) @ b["qkv"]["kernel"]
        q, k, v = (y[..., j * cfg.d_model:(j + 1) * cfg.d_model].reshape(n, length, h, dh) for j in range(3))
        out = np.zeros((n, length, h, dh))
        for t in range(length):  # position t attends to 0..t only
            s = np.einsum("nhd,nshd->nhs", q[:, t], k[:, : t + 1]) / math.sqrt(dh)
            w = np.exp(s - s.max(-1, keepdims=True))
            w /= w.sum(-1, keepdims=True)
            out[:, t] = np.einsum("nhs,nshd->nhd", w, v[:, : t + 1])
        x = x + out.reshape(n, length, cfg.d_model) @ b["proj"]["kernel"]
        f = np.maximum(_np_norm(x, b["norm2"], cfg.norm) @ b["ff1"]["kernel"], 0.0)
        x = x + f @ b["ff2"]["kernel"]
    return _np_norm(x, P["norm"], cfg.norm) @ P["head"]["kernel"]


def _np_losses(cfg, params, seqs, pad):
    z = _np_logits(cfg, params, seqs[:, :-1])
    logp = z - z.max(-1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))  # explicit log-softmax
    out = []
    for i in range(seqs.shape[0]):
        nll = [-logp[i, t, seqs[i, t + 1]] for t in range(seqs.shape[1] - 1) if seqs[i, t + 1] != pad]
        out.append(np.mean(nll) if nll else 0.0)
    return np.array(out)


@pytest.mark.parametrize("norm", ["rms", "layer"])
def test_loss_matches_independent_forward_pass(norm):
    cfg = _cfg(norm=norm)
    params = T.init_params(cfg, jax.random.key(0))
    # Perturb every table so scales/biases are not at their trivial initial values.
    params = jax.tree_util.tree_map(
        lambda a: a + 0.3 * jax.random.normal(jax.random.key(a.size), a.shape), params)
    seqs = _seqs(1, 5, 9, cfg.vocab_size, pad_tail=(0, 3, 7, 8, 0))
    got = np.asarray(T.TransformerLoss(cfg, PAD)(params, {"tokens": jnp.asarray(seqs)}))
    want = _np_losses(cfg, params, seqs, PAD)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    assert got[3] == 0.0  # only padding targets: loss 0


def test_param_count_and_plain_float32_pytree():
    cfg = T.TransformerConfig(vocab_size=5000, max_len=64)  # the paper's model: ~1.7M parameters
    assert T.n_params(cfg) == 5000 * 128 * 2 + 64 * 128 + 2 * (4 * 128 * 128 + 2 * 128 * 512 + 2 * 128) + 128
    params = T.init_params(_cfg(), jax.random.key(0))
    leaves = jax.tree_util.tree_leaves(params)
    assert all(isinstance(a, jax.Array) and a.dtype == jnp.float32 for a in leaves)

    def plain(node):  # nested builtin dicts down to the arrays: no nnx.State, no Variables
        return isinstance(node, jax.Array) or (type(node) is dict and all(plain(v) for v in node.values()))

    assert plain(params)


def test_padding_never_contributes():
    cfg = _cfg(max_len=12)
    params = T.init_params(cfg, jax.random.key(2))
    seqs = _seqs(3, 4, 9, cfg.vocab_size, pad_tail=(2, 4, 0, 8))
    base = np.asarray(T.TransformerLoss(cfg, PAD)(params, {"tokens": jnp.asarray(seqs)}))
    # Appending padding leaves every loss unchanged.
    longer = np.concatenate([seqs, np.full((4, 3), PAD, np.int32)], axis=1)
    np.testing.assert_allclose(T.TransformerLoss(cfg, PAD)(params, {"tokens": jnp.asarray(longer)}), base,
                               rtol=1e-5, atol=1e-6)
    # Which id fills the padded positions does not matter: use id 5 as padding instead.
    other = np.where(seqs == PAD, 5, seqs)
    other[(seqs != PAD) & (seqs == 5)] = 6  # keep 5 for padding only
    changed = seqs.copy()
    changed[(seqs != PAD) & (seqs == 5)] = 6
    ref = np.asarray(T.TransformerLoss(cfg, PAD)(params, {"tokens": jnp.asarray(changed)}))
    np.testing.assert_allclose(T.TransformerLoss(cfg, 5)(params, {"tokens": jnp.asarray(other)}), ref,
                               rtol=1e-5, atol=1e-6)


def test_row_without_targets_has_zero_loss_and_finite_gradient():
    cfg = _cfg()
    params = T.init_params(cfg, jax.random.key(4))
    seqs = _seqs(5, 3, 9, cfg.vocab_size, pad_tail=(8, 0, 8))
    loss = T.TransformerLoss(cfg, PAD)
    values = loss(params, {"tokens": jnp.asarray(seqs)})
    assert float(values[0]) == 0.0 and float(values[2]) == 0.0 and float(values[1]) > 0
    g = jax.grad(lambda p: loss(p, {"tokens": jnp.asarray(seqs)})[0])(params)
    assert all(bool(jnp.all(a == 0)) for a in jax.tree_util.tree_leaves(g))


def test_causality():
    cfg = _cfg()
    params = T.init_params(cfg, jax.random.key(6))
    tokens = _seqs(7, 3, 8, cfg.vocab_size)
    z = np.asarray(T.logits(cfg, params, jnp.asarray(tokens)))
    for j in (0, 3, 7):
        changed = tokens.copy()
        changed[:, j] = changed[:, j] % (cfg.vocab_size - 1) + 1  # a different non-pad id
        assert (changed[:, j] != tokens[:, j]).all()
        z2 = np.asarray(T.logits(cfg, params, jnp.asarray(changed)))
        np.testing.assert_allclose(z2[:, :j], z[:, :j], rtol=1e-5, atol=1e-5)
        assert np.abs(z2[:, j] - z[:, j]).max() > 1e-4  # position j itself does see the change


def test_micro_batched_loss_equals_whole_batch():
    cfg = _cfg(n_layers=1)
    params = T.init_params(cfg, jax.random.key(8))
    seqs = jnp.asarray(_seqs(9, 7, 9, cfg.vocab_size, pad_tail=(0, 2, 0, 8, 1, 0, 3)))
    whole = T.TransformerLoss(cfg, PAD)
    chunked = T.TransformerLoss(cfg, PAD, micro_batch=3)  # 2 full chunks and a remainder of 1
    np.testing.assert_allclose(chunked(params, {"tokens": seqs}), whole(params, {"tokens": seqs}), rtol=1e-6)
    w = jnp.linspace(0.1, 1.0, 7)
    g1 = jax.grad(lambda p: jnp.dot(w, whole(p, {"tokens": seqs})))(params)
    g2 = jax.grad(lambda p: jnp.dot(w, chunked(p, {"tokens": seqs})))(params)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_symbol_probs_consistent_with_loss():
    cfg = _cfg()
    params = T.init_params(cfg, jax.random.key(10))
    seqs = _seqs(11, 4, 9, cfg.vocab_size, pad_tail=(0, 2, 5, 8))
    batch = {"tokens": jnp.asarray(seqs)}
    probs, targets, mask = (np.asarray(a) for a in T.TransformerSymbolProbs(cfg, PAD)(params, batch))
    assert probs.shape == (4, 8, cfg.vocab_size) and targets.dtype == np.int32 and mask.dtype == bool
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(targets, seqs[:, 1:])
    np.testing.assert_array_equal(mask, seqs[:, 1:] != PAD)
    nll = -np.log(np.take_along_axis(probs, targets[..., None], -1)[..., 0].astype(np.float64))
    count = mask.sum(1)
    want = np.where(count > 0, (nll * mask).sum(1) / np.maximum(count, 1), 0.0)
    np.testing.assert_allclose(T.TransformerLoss(cfg, PAD)(params, batch), want, rtol=1e-4, atol=1e-5)


def test_equal_configs_give_equal_static_losses_and_one_compilation():
    a = T.TransformerLoss(_cfg(), PAD)
    b = T.TransformerLoss(_cfg(), PAD)
    assert a == b and hash(a) == hash(b) and a is not b
    assert a != T.TransformerLoss(_cfg(d_ff=16), PAD) and a != T.TransformerLoss(_cfg(), 3)

    @jax.jit
    def unused(x):  # a fresh jitted function whose cache we can count
        return x

    f = jax.jit(lambda loss_fn, p, s: loss_fn(p, {"tokens": s}), static_argnums=0)
    params = T.init_params(_cfg(), jax.random.key(0))
    s = jnp.asarray(_seqs(0, 2, 9, 11))
    f(a, params, s)
    f(b, params, s)
    assert f._cache_size() == 1


def test_meta_gradient_through_the_model_matches_finite_differences():
    """dAUC/dgamma through a 3-step scanned run of the Transformer, float64, central differences."""
    from learning_law.metagrad import auc_and_grad, auc_of_policy

    with jax.enable_x64(True):
        cfg = _cfg(d_model=4, n_heads=2, d_ff=6, n_layers=1, vocab_size=7, max_len=5)
        loss = T.TransformerLoss(cfg, PAD)
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64),
                                        T.init_params(cfg, jax.random.key(1)))
        train = {"tokens": jnp.asarray(_seqs(2, 4, 6, 7, pad_tail=(0, 2, 0, 0)))}
        dev = {"tokens": jnp.asarray(_seqs(3, 3, 6, 7))}
        steps = 3
        gamma = jnp.asarray(np.random.default_rng(0).dirichlet(np.ones(4), steps))
        etas = jnp.full((steps,), 0.5, jnp.float64)
        _, grad = auc_and_grad(loss, params, train, dev, gamma, etas, "block", 2)
        direction = np.random.default_rng(1).normal(size=(steps, 4))
        h = 1e-5
        f = lambda g: float(auc_of_policy(loss, params, train, dev, g, etas))  # noqa: E731
        fd = (f(gamma + h * direction) - f(gamma - h * direction)) / (2 * h)
        assert float(jnp.sum(grad * direction)) == pytest.approx(fd, rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("changes, field", [
    (dict(n_heads=3), "n_heads"), (dict(d_model=0), "d_model"), (dict(seq_len=0), "seq_len"),
    (dict(seq_len=16, positions=8), "positions"), (dict(vocab_size=3), "vocab_size"),
    (dict(norm="batch"), "norm"), (dict(noise_fraction=1.5), "noise_fraction"),
    (dict(noise_edits=-1), "noise_edits"), (dict(n_train=0), "n_train"), (dict(micro_batch=-2), "micro_batch"),
    (dict(corpus=""), "corpus"), (dict(seed=-1), "seed"), (dict(n_layers=0), "n_layers"),
])
def test_bad_lm_options_raise_usage_error_naming_the_field(changes, field):
    with pytest.raises(UsageError, match=field):
        LM.LMConfig(**changes)


def test_norm_names_agree():
    assert LM.NORMS == T.NORMS


def test_presets_and_paper_sizes():
    p = LM.LM_PRESETS["paper"]
    assert (p.task.n_train, p.task.n_dev, p.task.n_test, p.task.seq_len, p.task.vocab_size) == (16384, 512, 512, 64, 5000)
    assert (p.task.d_model, p.task.n_heads, p.task.d_ff, p.task.n_layers) == (128, 8, 512, 2)
    ref = p.reference  # reproduce runs the authors' fixed step; every command's default search is auto
    assert (p.inner.steps, p.inner.lr, ref.outer_steps, ref.outer_lr, ref.memory) == (4000, 0.1, 15, 0.4, "block")
    assert (p.outer.search, p.outer.outer_steps, p.outer.memory) == ("auto", 15, "block")
    assert LM.LM_PRESETS["paper-figures"].reference.outer_lr == 0.6
    assert (p.task.noise_fraction, p.task.noise_edits) == (0.5, 20) and p.task.micro_batch > 0
    f = LM.LM_PRESETS["paper-figures"].task
    assert (f.noise_fraction, f.noise_edits) == (0.8, 30)
    assert {"paper", "cpu", "tiny"} <= set(LM.LM_PRESETS)


@pytest.mark.filterwarnings("ignore:the tokenizer")  # tiny vocabulary: the irreducible loss is unknown
def test_make_lm_tiny_task():
    cfg = LM.LM_PRESETS["tiny"].task
    task = LM.make_lm(cfg)
    data = LM.lm_data(cfg)
    assert task.name == "lm" and task.vocab_size == data.vocab_size
    assert task.train["tokens"].shape == (cfg.n_train, cfg.seq_len + 1)
    assert task.dev["tokens"].shape == (cfg.n_dev, cfg.seq_len + 1)
    assert task.test["tokens"].shape == (cfg.n_test, cfg.seq_len + 1)
    losses = np.asarray(task.per_example_loss(task.init_params, task.dev))
    assert np.all(np.isfinite(losses)) and losses.shape == (cfg.n_dev,)
    # Near ln|V| at initialisation (small random logits), far above the irreducible loss.
    assert abs(losses.mean() - math.log(task.vocab_size)) < 1.0
    h = LM.irreducible_loss(cfg)
    assert h is None or 0 < h < losses.mean()
    # A second build of the same config shares the static loss (no recompilation).
    again = LM.make_lm(dataclasses.replace(cfg))
    assert again.per_example_loss == task.per_example_loss
    np.testing.assert_array_equal(again.train["tokens"], task.train["tokens"])
