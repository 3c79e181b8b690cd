"""optax on the harness problem: the golden trajectories of the optax sources.

A library of ``tests/reference/generate.py``; needs jax and optax
(test-time tools only).  JAX runs in float64 (``jax_enable_x64``).  The
cases, with the optax function and its arguments (written out in full,
independently of symupdates' defaults), are the table's
(``tests/optimizers.py``): ``optax_adam`` (the Adam family, optax.contrib's
adopt and schedule_free_adamw), ``optax_sign`` (lion, sign_sgd, signum, and
where optax's SGD, RMSprop, Adagrad and Adadelta differ from torch's),
``optax_layerwise`` (LAMB, LARS, NovoGrad, Fromage, Adafactor, Muon, SM3).

A reference name is an optax alias (``"adam"``, ``"contrib.muon"``) or a
builder of this module (:data:`BUILDERS`): optax's own transforms with a
schedule or decay rate in float64 where optax computes it in float32.

optax's SM3 does not accept 0-d parameters; for those it runs on the
parameter as a 1-element vector (an SM3 accumulator of one element), and the
trajectory stores it reshaped back to 0-d.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for harness

import harness  # noqa: E402


def float64_warmup_schedule_free_adamw(learning_rate, warmup_steps, weight_decay):
    """optax.contrib.schedule_free_adamw(learning_rate, warmup_steps, weight_decay=...), float64 schedule.

    optax's warmup schedule computes in float32 even under jax_enable_x64.
    """
    import jax.numpy as jnp
    import optax

    def schedule(count):
        return learning_rate * jnp.minimum(jnp.asarray(count, jnp.float64) / warmup_steps, 1.0)

    base = optax.chain(
        optax.scale_by_rms(decay=0.999, eps=1e-8, eps_in_sqrt=False, bias_correction=True),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(schedule),
    )
    return optax.contrib.schedule_free(base, learning_rate=schedule, b1=0.9, weight_lr_power=2.0)


def adafactor_float64_decay(learning_rate, decay_rate=0.8, clipping_threshold=1.0, eps=1e-30,
                            min_dim_size_to_factor=128):
    """optax.adafactor's chain (no momentum, no weight decay) with a float64 decay rate."""
    import jax.numpy as jnp
    import optax
    from optax._src import factorized

    def decay_rate_fn(step, exponent):
        return 1.0 - jnp.asarray(step + 1, jnp.float64) ** (-exponent)

    return optax.chain(
        factorized.scale_by_factored_rms(True, decay_rate, 0, min_dim_size_to_factor, eps, decay_rate_fn),
        optax.clip_by_block_rms(clipping_threshold),
        optax.scale_by_learning_rate(learning_rate, flip_sign=False),
        optax.scale_by_param_block_rms(),
        optax.scale(-1),
    )


BUILDERS = {"float64_warmup_schedule_free_adamw": float64_warmup_schedule_free_adamw,
            "adafactor_float64_decay": adafactor_float64_decay}


def optimizer_of(name, kwargs):
    import optax

    if name in BUILDERS:
        return BUILDERS[name](**kwargs)
    found = optax
    for part in name.split("."):
        found = getattr(found, part)
    return found(**kwargs)


def trajectory(case):
    """The trajectory of the case's optax optimizer, computed now."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    optimizer = optimizer_of(*case.reference)
    problem = case.problem()
    as_vector = case.rule == "sm3"
    shapes = [np.shape(v) for v in problem["init"]]

    def to_optax(arrays):
        return [jnp.asarray(a.reshape(1) if as_vector and a.ndim == 0 else a) for a in arrays]

    params = to_optax(problem["init"])
    state = optimizer.init(params)
    result = []
    for t in range(problem["steps"]):
        numpy_params = [np.asarray(p).reshape(s) for p, s in zip(params, shapes)]
        grads = to_optax(harness.numpy_grads(problem, numpy_params, t))
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        step = [np.asarray(p).reshape(s) for p, s in zip(params, shapes)]
        assert all(x.dtype == problem["dtype"] for x in step), "optax changed the dtype"
        result.append(step)
    return result


def version():
    import optax

    return "optax " + optax.__version__
