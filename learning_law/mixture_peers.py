r"""Data-mixture methods as per-step domain-weight rules in one scanned run (the peers of per-domain policies).

Each method chooses the domain weights :math:`w_t` (on the simplex over the D sources of ``Task.groups``)
at step t from what it sees at :math:`\theta_t`; a *proxy* run trains with
:math:`\gamma_t = \mathrm{expand}(w_t)` (:func:`learning_law.domains.expand`,
:math:`\gamma_{t,n} = w_{t,g(n)}/|g(n)|`) through the inner optimiser (:func:`learning_law.optimizers.step`),
all as one ``jax.lax.scan`` (:func:`run_mixture_proxy`, the shape of :func:`learning_law.peers.run_peer`).
As both papers do, the method's answer is the *average* of the weights over the proxy run,
:math:`\bar w = \frac1T \sum_t w_t`, and the model is then retrained under that fixed mixture
(:func:`static_mixture_run`); :func:`run_mixture_method` does both.

``doremi`` -- DoReMi (Xie et al., NeurIPS 2023, "DoReMi: Optimizing Data Mixtures Speeds Up Language Model
  Pretraining", Algorithm 1). A reference model :math:`\theta_{ref}` is trained first, on the train split
  under the reference mixture (uniform domain weights by default, as in their GLaM runs; ``natural`` is
  offered) for the same T steps. Then, from :math:`\alpha_0 = u = 1/D`, at every step

  .. math:: \lambda_t[d] = \frac{1}{|g_d|} \sum_{n \in g_d} \max(l_n(\theta_t) - l_n(\theta_{ref}), 0),
            \qquad \alpha_t = (1 - c)\, \frac{\alpha_{t-1} \odot e^{\eta_w \lambda_t}}
            {\sum_d \alpha_{t-1}[d]\, e^{\eta_w \lambda_t[d]}} + c\, u,

  and the proxy steps with :math:`w_t = \alpha_t`. The smoothed :math:`\alpha_t` is carried to the next
  step, as in their Algorithm 1 and code. Their clipping is per *token*; here the loss of an example is
  one number (a sequence's mean token loss for a language model), so it is clipped per *example*.
  Defaults are theirs: :math:`\eta_w = 1`, c = 1e-3. The proxy's step uses the (unclipped) weighted loss,
  :math:`\sum_d \alpha_t[d] \bar l_d`, whose gradient is their DRO objective's.

``doge`` -- DoGE (Fan et al., ICML 2024, "DoGE: Domain Reweighting with Generalization Estimation"),
  out-of-domain variant: the target is the desired (dev) loss :math:`L_{dev}`, and at every step

  .. math:: W_t[d] = \langle \nabla \bar l_d(\theta_t), \nabla L_{dev}(\theta_t) \rangle, \qquad
            \alpha_t = \frac{\alpha_{t-1} \odot e^{\eta_t^w W_t}}{\sum_d \alpha_{t-1}[d]\, e^{\eta^w_t W_t[d]}},

  a mirror-descent (exponentiated-gradient) step on the simplex from :math:`\alpha_0 = u`; the proxy steps
  with :math:`w_t = \alpha_t`. :math:`W_t` costs one gradient of :math:`L_{dev}` and one ``jax.jvp`` of the
  D domain means along it (no per-domain gradient). Their step :math:`\eta^w` is tuned per setting; W has
  the units of a squared gradient, which change by orders of magnitude over a run and between tasks, so
  the default here is scale-free: :math:`\eta^w_t = \beta / \max_d |W_t[d]|` (so every step's exponent
  lies in :math:`[-\beta, \beta]`) with :math:`\beta = \sqrt{2 \ln D / T}`, the fixed step of Hedge for
  rewards in [-1, 1] over T rounds (Freund & Schapire 1997): the log-odds of two domains move by at most
  :math:`\sqrt{2 T \ln D}` over the run. ``eta_w=`` a number uses their raw fixed step instead,
  ``base_lr=`` overrides :math:`\beta`.

``natural`` -- the fixed mixture :math:`w_d = |g_d| / N` (the constant policy 1/N); ``desired`` -- all the
  weight on the one source that is the desired distribution (``desired=`` its id).

The domain signals (:math:`\lambda_t`, :math:`W_t`) use the whole train split; with mini-batches
(``batch_size > 0``) only the proxy's steps draw batches (renormalised weights, as every policy is trained).
"""

from __future__ import annotations

import dataclasses
import math
import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from learning_law import config as C
from learning_law import domains as DM
from learning_law import optimizers as O
from learning_law.errors import NumericalError, UsageError, require
from learning_law.inner import eval_losses, lr_schedule, mean_loss
from learning_law.tasks.base import PerExampleLoss, PyTree, Task

METHODS = ("doremi", "doge", "natural", "desired")
PROXY_METHODS = ("doremi", "doge")


@dataclasses.dataclass(frozen=True)
class MixtureRule:
    """A proxy run's domain-weight rule (hashable: a static argument of :func:`run_mixture_proxy`).

    Attributes:
      name: ``doremi`` or ``doge``.
      eta_w: the step of the exponentiated update (DoReMi's eta; DoGE's raw step when ``normalised`` is False).
      smoothing: c, the weight of the uniform mixture mixed into every alpha_t (DoReMi; 0 for DoGE).
      normalised: DoGE only: the step is ``eta_w / max_d |W_t[d]|`` (scale-free), not ``eta_w``.
    """

    name: str
    eta_w: float = 1.0
    smoothing: float = 0.0
    normalised: bool = False

    def __post_init__(self):
        require(self.name in PROXY_METHODS, "name", self.name, f"one of {PROXY_METHODS}")
        require(isinstance(self.eta_w, float) and math.isfinite(self.eta_w) and self.eta_w > 0, "eta_w", self.eta_w,
                "a finite number > 0")
        require(isinstance(self.smoothing, float) and 0.0 <= self.smoothing <= 1.0, "smoothing", self.smoothing,
                "[0, 1]")


def excess_losses(losses: Array, ref_losses: Array, groups: Array, sizes: Array) -> Array:
    r"""DoReMi's per-domain excess losses ``[D]``: :math:`\frac{1}{|g_d|} \sum_{n \in g_d}
    \max(l_n - l^{ref}_n, 0)` (clipped per example).

    >>> np.asarray(excess_losses(jnp.array([1.0, 2.0, 0.5]), jnp.array([0.5, 2.5, 0.0]), jnp.array([0, 0, 1]),
    ...                          jnp.array([2.0, 1.0])))
    array([0.25, 0.5 ], dtype=float32)
    """
    return DM.domain_means(jnp.maximum(losses - ref_losses, 0.0), groups, sizes)


def generalization_estimates(loss_fn: PerExampleLoss, params: PyTree, train: PyTree, dev: PyTree, groups: Array,
                             sizes: Array) -> tuple[Array, Array]:
    r"""(per-example train losses ``[N]``, DoGE's :math:`W[d] = \nabla \bar l_d \cdot \nabla L_{dev}` ``[D]``):
    one gradient of the dev loss, then one ``jax.jvp`` of the N train losses along it, averaged per domain
    (the JVP is linear, so the mean of the examples' directional derivatives is the domain mean's)."""
    g_dev = jax.grad(lambda p: mean_loss(loss_fn, p, dev))(params)
    losses, ct = jax.jvp(lambda p: loss_fn(p, train), (params,), (g_dev,))
    return losses, DM.domain_means(ct, groups, sizes)


def _update(rule: MixtureRule, log_alpha: Array, signal: Array) -> Array:
    """log alpha_t from log alpha_{t-1} and the step's signal (lambda_t or W_t): the exponentiated step,
    normalised (in log space: no underflow), then DoReMi's smoothing."""
    step = rule.eta_w
    if rule.normalised:
        top = jnp.max(jnp.abs(signal))
        step = jnp.where(top > 0, rule.eta_w / jnp.where(top > 0, top, 1.0), 0.0)
    alpha = jax.nn.softmax(log_alpha + step * signal)
    if rule.smoothing:
        alpha = (1.0 - rule.smoothing) * alpha + rule.smoothing / alpha.shape[0]
    return jnp.log(alpha)


@partial(jax.jit, static_argnames=("loss_fn", "rule", "opt"))
def run_mixture_proxy(loss_fn: PerExampleLoss, rule: MixtureRule, params0: PyTree, train: PyTree, dev: PyTree,
                      test: PyTree, groups: Array, sizes: Array, ref_losses: Array, etas: Array,
                      opt: O.InnerOpt = O.GD) -> tuple[PyTree, dict]:
    """The proxy run: T = ``etas.shape[0]`` steps under ``rule`` as one ``lax.scan``.

    Args:
      groups: ``[N]`` int32 source ids; sizes: ``[D]`` float32 |g_d|.
      ref_losses: ``[N]`` the train losses at theta_ref (``doremi``; ignored by ``doge``).

    Returns:
      (theta_T, {"dev_loss", "test_loss": [T] before each step, "w": [T, D] the weights each step trained
      with, "signal": [T, D] lambda_t (doremi) or W_t (doge) at theta_t}).
    """
    d = sizes.shape[0]

    def step(carry, xs):
        params, s, log_alpha = carry
        eta, t = xs
        if rule.name == "doremi":
            signal = excess_losses(loss_fn(params, train), ref_losses, groups, sizes)
        else:
            signal = generalization_estimates(loss_fn, params, train, dev, groups, sizes)[1]
        log_alpha = _update(rule, log_alpha, signal)
        w = jnp.exp(log_alpha)
        gamma_t = DM.expand_rows(w, groups, sizes)
        out = {"dev_loss": mean_loss(loss_fn, params, dev), "test_loss": mean_loss(loss_fn, params, test),
               "w": w, "signal": signal}
        params, s = O.step(loss_fn, opt, params, s, train, gamma_t, eta, t)
        return (params, s, log_alpha), out

    log_u = jnp.full((d,), -jnp.log(jnp.float32(d)), jnp.float32)
    ts = jnp.arange(etas.shape[0])
    (params, _, _), rec = jax.lax.scan(step, (params0, O.init_state(opt, params0), log_u), (etas, ts))
    return params, rec


def _mixture(task: Task, w, inner: C.InnerConfig, name: str = "w") -> np.ndarray:
    """``[T, D]`` rows on the simplex from a fixed mixture ``[D]`` or a schedule ``[T, D]``."""
    w = np.asarray(w, np.float64)
    d = task.n_groups
    if w.shape not in ((d,), (inner.steps, d)):
        raise UsageError(f"{name} has shape {w.shape}: expected a mixture [D={d}] or a schedule "
                         f"[steps={inner.steps}, D={d}]")
    return np.tile(w, (inner.steps, 1)) if w.ndim == 1 else w


def static_mixture_run(task: Task, w, inner: C.InnerConfig, *, out=None, policy_name: str = "mixture",
                       progress: bool = False, extra_config: dict | None = None) -> dict:
    """Train ``task`` under a fixed mixture ``w: [D]`` (every step) or a schedule ``[T, D]``, expanded to
    gamma = :func:`learning_law.domains.expand` (w): :func:`learning_law.train.train` (its dict: ``dev_loss,
    test_loss: [T+1]``, ``params_final``, ``summary``, records; a run record in ``out`` when given).

    Raises :class:`NumericalError` naming the step of a NaN/inf (or diverged) loss.
    """
    from learning_law.train import train

    if task.groups is None:
        raise UsageError(DM.NO_GROUPS)
    gamma = DM.expand(_mixture(task, w, inner), task.groups)
    return train(task, gamma, inner, out=out, policy_name=policy_name, progress=progress, desc=policy_name,
                 extra_config=extra_config)


def reference_losses(task: Task, inner: C.InnerConfig, weights) -> np.ndarray:
    """``[N]``: the train losses under DoReMi's reference model, theta_0 trained for ``inner.steps`` steps
    on the train split under the fixed mixture ``weights: [D]``."""
    res = static_mixture_run(task, weights, inner, policy_name="doremi-reference")
    return np.asarray(task.per_example_loss(res["params_final"], task.train), np.float32)


def _rule(task: Task, name: str, inner: C.InnerConfig, hparams: dict) -> tuple[MixtureRule, dict]:
    """The rule of ``name`` and the hyper-parameters it resolved (for the summary), checked."""
    allowed = {"doremi": ("eta_w", "smoothing", "reference"), "doge": ("eta_w", "base_lr")}[name]
    for key in hparams:
        require(key in allowed, "hyper-parameter", key, f"one of {allowed} for {name}")
    if name == "doremi":
        reference = hparams.get("reference", "uniform")
        require(isinstance(reference, str) and reference in ("uniform", "natural"), "reference", reference,
                "'uniform' or 'natural'")
        eta_w, smoothing = hparams.get("eta_w"), hparams.get("smoothing")
        rule = MixtureRule("doremi", 1.0 if eta_w is None else float(eta_w),
                           1e-3 if smoothing is None else float(smoothing))
        return rule, {"eta_w": rule.eta_w, "smoothing": rule.smoothing, "reference": reference}
    if hparams.get("eta_w") is not None:
        require("base_lr" not in hparams, "base_lr", hparams.get("base_lr"), "None when eta_w is given")
        rule = MixtureRule("doge", float(hparams["eta_w"]))
        return rule, {"eta_w": rule.eta_w, "normalised": False}
    d = task.n_groups
    base = hparams.get("base_lr")
    base = math.sqrt(2.0 * math.log(d) / inner.steps) if base is None else float(base)
    if d == 1:
        base = 1.0  # one source: the weights cannot move; any step will do
    rule = MixtureRule("doge", base, normalised=True)
    return rule, {"base_lr": base, "normalised": True}


def _check_curves(curves: dict, what: str, lr: float) -> None:
    bad = ~(np.isfinite(curves["dev_loss"]) & np.isfinite(curves["test_loss"]))
    if bad.any():
        raise NumericalError(f"loss became NaN/inf at inner step {int(np.argmax(bad))} of the {what} run "
                             f"(lr={lr}): try a smaller --lr")


def run_mixture_method(task: Task, name: str, inner: C.InnerConfig, *, desired: int | None = None,
                       progress: bool = False, **hparams) -> dict:
    r"""The mixture ``name`` (:data:`METHODS`) and the run retrained under it, as the papers report it.

    Args:
      task: a task with ``groups`` (D sources).
      name: ``doremi``, ``doge`` (proxy run, then the averaged weights), ``natural`` (|g_d| / N) or
        ``desired`` (one-hot on source ``desired``).
      inner: the inner run (steps T, lr, optimiser) of the proxy, the reference model and the final run.
      desired: the id in [0, D) of the source that is the desired distribution (``desired`` only).
      hparams: ``doremi``: ``eta_w`` (1.0), ``smoothing`` (1e-3), ``reference`` (``uniform`` or ``natural``);
        ``doge``: ``eta_w`` (None: scale-free), ``base_lr`` (None: sqrt(2 ln D / T)).

    Returns:
      ``{"w": [T, D]`` the weights used at each step (the proxy's for doremi/doge, else w_final at every
      step), ``"w_final": [D]`` the mixture (mean of ``w`` over the steps), ``"dev_loss", "test_loss": [T+1]``
      of the run retrained under ``w_final``, ``"params_final"``, for doremi/doge also ``"proxy_dev_loss",
      "proxy_test_loss": [T+1]`` and ``"signal": [T, D]`` (lambda_t or W_t), and ``"summary"``: the final
      run's summary plus ``method``, ``hparams``, ``w_final``, ``auc_proxy``, ``wall_time_s`` (all stages)}.

    Raises:
      UsageError: no groups, an unknown name or hyper-parameter, ``desired`` missing or out of range.
      NumericalError: a NaN/inf loss, naming the step and the run (proxy, reference or final).
    """
    from learning_law.train import summarize

    if task.groups is None:
        raise UsageError(DM.NO_GROUPS)
    require(name in METHODS, "name", name, f"one of {METHODS}")
    d, steps = task.n_groups, inner.steps
    if inner.batch_size > task.n_train:
        raise UsageError(f"batch_size={inner.batch_size} is invalid: allowed [0, n_train={task.n_train}]")
    t0 = time.perf_counter()
    extra: dict = {}
    if name in ("natural", "desired"):
        require(not hparams, "hyper-parameters", sorted(hparams), f"none for {name}")
        if name == "natural":
            w_final = DM.natural_weights(task.groups, d)
        else:
            require(desired is not None and isinstance(desired, (int, np.integer)) and 0 <= desired < d,
                    "desired", desired, f"the id of the desired source, an integer in [0, D={d})")
            w_final = np.eye(d, dtype=np.float32)[int(desired)]
        w = np.tile(w_final, (steps, 1))
        resolved: dict = {} if name == "natural" else {"desired": int(desired)}
    else:
        rule, resolved = _rule(task, name, inner, hparams)
        groups = jnp.asarray(task.groups, jnp.int32)
        sizes = jnp.asarray(DM.group_sizes(task.groups, d), jnp.float32)
        if name == "doremi":
            ref_w = (np.full(d, 1.0 / d) if resolved["reference"] == "uniform"
                     else DM.natural_weights(task.groups, d))
            ref = reference_losses(task, inner, ref_w)
        else:
            ref = np.zeros(task.n_train, np.float32)
        etas = jnp.asarray(lr_schedule(steps, inner.lr, inner.warmup_steps))
        params, rec = run_mixture_proxy(task.per_example_loss, rule, task.init_params, task.train, task.dev,
                                        task.test, groups, sizes, jnp.asarray(ref), etas, O.from_config(inner))
        rec = jax.device_get(rec)
        final = [float(v) for v in eval_losses(task.per_example_loss, params, task.dev, task.test)]
        proxy = {k: np.append(rec[k], v).astype(np.float32) for k, v in zip(("dev_loss", "test_loss"), final)}
        _check_curves(proxy, f"{name} proxy", inner.lr)
        w = np.asarray(rec["w"], np.float32)
        w_mean = w.astype(np.float64).mean(axis=0)
        w_final = (w_mean / w_mean.sum()).astype(np.float32)  # the papers' answer: the average weights
        extra = {"proxy_dev_loss": proxy["dev_loss"], "proxy_test_loss": proxy["test_loss"],
                 "signal": np.asarray(rec["signal"], np.float32)}
    res = static_mixture_run(task, w_final, inner, policy_name=name, progress=progress)
    wall = time.perf_counter() - t0
    summary = summarize(res["dev_loss"], res["test_loss"], task.vocab_size, wall)
    summary.update(method=name, policy=name, hparams=resolved, w_final=[float(x) for x in w_final],
                   group_names=list(task.group_names))
    if "proxy_dev_loss" in extra:
        summary["auc_proxy"] = float(np.mean(extra["proxy_dev_loss"]))
    return {"w": w, "w_final": w_final, "dev_loss": res["dev_loss"], "test_loss": res["test_loss"],
            "params_final": res["params_final"], **extra, "summary": summary}


__all__ = ["METHODS", "MixtureRule", "excess_losses", "generalization_estimates", "run_mixture_proxy",
           "static_mixture_run", "reference_losses", "run_mixture_method"]
