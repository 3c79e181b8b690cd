"""The peers, measured in the same run: torch.optim, optax, a hand-written Numba loop,
and the memory-bandwidth limit.

Each function takes a spec (rule, number of tensors, size, threads, ...) and
returns the median milliseconds per step; a missing package raises
``ImportError``, which the worker reports as "n/a".
"""

import math
import os

import numpy as np

from measure import time_step, timed_compile
from problems import HYPER, STREAMS, arrays, compile_shapes, layout_shapes


def _shapes(spec):
    return layout_shapes(spec["n_tensors"], spec["size"])


# ---------------------------------------------------------------------------
# torch.optim


def torch_step(spec):
    """torch.optim.Adam / SGD(momentum) with ``foreach=True`` or ``fused=True``."""
    import torch

    torch.set_num_threads(spec["threads"])
    shapes = _shapes(spec)
    params = [torch.from_numpy(a).requires_grad_() for a in arrays(shapes)]
    for p, g in zip(params, arrays(shapes, seed=1, scale=1e-3)):
        p.grad = torch.from_numpy(g)
    flag = {spec["variant"]: True}  # foreach=True or fused=True
    hyper = HYPER[spec["rule"]]
    if spec["rule"] == "adam":
        optimizer = torch.optim.Adam(
            params, lr=hyper["learning_rate"], betas=(hyper["beta1"], hyper["beta2"]), eps=hyper["epsilon"], **flag
        )
    else:
        optimizer = torch.optim.SGD(params, lr=hyper["learning_rate"], momentum=hyper["momentum"], **flag)
    result = time_step(optimizer.step, spec["samples"], spec["min_sample_s"])
    result["threads_used"] = torch.get_num_threads()
    return result


# ---------------------------------------------------------------------------
# optax under jax.jit, parameters and state donated


def _optax_update(rule):
    import jax
    import optax

    hyper = HYPER[rule]
    if rule == "adam":
        optimizer = optax.adam(hyper["learning_rate"], b1=hyper["beta1"], b2=hyper["beta2"], eps=hyper["epsilon"])
    else:
        optimizer = optax.sgd(hyper["learning_rate"], momentum=hyper["momentum"])

    def update(params, grads, state):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return optimizer, jax.jit(update, donate_argnums=(0, 2))


def _optax_setup(rule, shapes):
    import warnings

    import jax
    import jax.numpy as jnp

    warnings.filterwarnings("ignore", message=".*donated buffers.*")
    optimizer, update = _optax_update(rule)
    params = [jnp.asarray(a) for a in arrays(shapes)]
    grads = [jnp.asarray(a) for a in arrays(shapes, seed=1, scale=1e-3)]
    return jax, update, params, grads, optimizer.init(params)


def optax_step(spec):
    """An optax step: ``jax.jit`` of update + apply_updates, buffers donated."""
    jax, update, params, grads, state = _optax_setup(spec["rule"], _shapes(spec))
    carry = {"params": params, "state": state}

    def step():
        carry["params"], carry["state"] = update(carry["params"], grads, carry["state"])
        jax.block_until_ready(carry["params"])

    result = time_step(step, spec["samples"], spec["min_sample_s"])
    result["threads_used"] = os.cpu_count() if spec["threads"] != 1 else 1
    return result


def optax_compile(spec):
    """Compile time (trace, XLA compile, first call) of the optax step for many tensors."""
    jax, update, params, grads, state = _optax_setup(spec["rule"], compile_shapes(spec["n_tensors"]))
    return timed_compile(lambda: jax.block_until_ready(update(params, grads, state)))


# ---------------------------------------------------------------------------
# a hand-written single-pass Numba loop, and the bandwidth limit


def _numba_kernels():
    # Statements in the loops are kept simple on purpose: numba 0.65's
    # parallel backend silently skipped a prange body that unpacked a tuple
    # of list items (``p, g = ps[k], gs[k]``); numba_loop_step checks its
    # kernel against NumPy before timing it.
    import numba
    from numba import prange

    @numba.njit(parallel=True)
    def adam_within(ps, gs, ms, vs, step_size, b1, c1, b2, c2, eps):
        # few large tensors: the threads share each tensor
        for k in range(len(ps)):
            p = ps[k]
            g = gs[k]
            m = ms[k]
            v = vs[k]
            for i in prange(p.size):
                mi = b1 * m[i] + c1 * g[i]
                vi = b2 * v[i] + c2 * g[i] * g[i]
                m[i] = mi
                v[i] = vi
                p[i] = p[i] - step_size * mi / (np.sqrt(vi) + eps)

    @numba.njit(parallel=True)
    def adam_across(ps, gs, ms, vs, step_size, b1, c1, b2, c2, eps):
        # many small tensors: the threads share the tensors
        for k in prange(len(ps)):
            p = ps[k]
            g = gs[k]
            m = ms[k]
            v = vs[k]
            for i in range(p.size):
                mi = b1 * m[i] + c1 * g[i]
                vi = b2 * v[i] + c2 * g[i] * g[i]
                m[i] = mi
                v[i] = vi
                p[i] = p[i] - step_size * mi / (np.sqrt(vi) + eps)

    @numba.njit(parallel=True)
    def momentum_within(ps, gs, vs, lr, mu):
        for k in range(len(ps)):
            p = ps[k]
            g = gs[k]
            v = vs[k]
            for i in prange(p.size):
                vi = mu * v[i] - lr * g[i]
                v[i] = vi
                p[i] = p[i] + vi

    @numba.njit(parallel=True)
    def momentum_across(ps, gs, vs, lr, mu):
        for k in prange(len(ps)):
            p = ps[k]
            g = gs[k]
            v = vs[k]
            for i in range(p.size):
                vi = mu * v[i] - lr * g[i]
                v[i] = vi
                p[i] = p[i] + vi

    @numba.njit(parallel=True)
    def stream_4r3w(a, b, c, d):
        # reads 4 arrays, writes 3: the bytes of an Adam step
        for i in prange(a.size):
            s = (a[i] + b[i] + c[i] + d[i]) * np.float32(0.25)
            a[i] = s
            c[i] = s
            d[i] = s

    @numba.njit(parallel=True)
    def stream_3r2w(a, b, c):
        # reads 3 arrays, writes 2: the bytes of an SGD-with-momentum step
        for i in prange(a.size):
            s = (a[i] + b[i] + c[i]) * np.float32(1.0 / 3.0)
            a[i] = s
            c[i] = s

    return {
        ("adam", "within"): adam_within,
        ("adam", "across"): adam_across,
        ("momentum", "within"): momentum_within,
        ("momentum", "across"): momentum_across,
        "adam": stream_4r3w,
        "momentum": stream_3r2w,
    }


def _set_numba_threads(threads):
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return numba.get_num_threads()


def _numpy_first_step(rule, params, grads):
    """The parameters after one step from zero state, in NumPy (float64)."""
    hyper = HYPER[rule]
    out = []
    for p, g in zip(params, grads):
        p, g = p.astype("float64"), g.astype("float64")
        if rule == "adam":
            m = (1 - hyper["beta1"]) * g
            v = (1 - hyper["beta2"]) * g**2
            step_size = hyper["learning_rate"] * math.sqrt(1 - hyper["beta2"]) / (1 - hyper["beta1"])
            out.append(p - step_size * m / (np.sqrt(v) + hyper["epsilon"]))
        else:
            out.append(p - hyper["learning_rate"] * g)
    return out


def numba_loop_step(spec):
    """One parallel Numba call per step over all tensors (``prange``), float32 throughout."""
    from numba.typed import List

    threads = _set_numba_threads(spec["threads"])
    rule, shapes = spec["rule"], _shapes(spec)
    # small tensors: one thread per tensor; large ones: all threads per tensor
    split = "across" if len(shapes) >= 4 * threads and spec["size"] < 65536 else "within"
    kernel = _numba_kernels()[(rule, split)]
    initial, grad_values = arrays(shapes), arrays(shapes, seed=1, scale=1e-3)
    flat = lambda values: List([v.reshape(-1) for v in values])  # noqa: E731
    zeros = lambda: flat([np.zeros(s, "float32") for s in shapes])  # noqa: E731
    params, grads = flat([a.copy() for a in initial]), flat(grad_values)
    f32 = np.float32
    hyper = HYPER[rule]
    if rule == "adam":
        m, v = zeros(), zeros()
        b1, b2, lr = hyper["beta1"], hyper["beta2"], hyper["learning_rate"]
        t = [0]

        def step():
            t[0] += 1
            step_size = lr * math.sqrt(1 - b2 ** t[0]) / (1 - b1 ** t[0])
            kernel(params, grads, m, v, f32(step_size), f32(b1), f32(1 - b1), f32(b2), f32(1 - b2), f32(hyper["epsilon"]))
    else:
        velocity = zeros()
        lr, mu = f32(hyper["learning_rate"]), f32(hyper["momentum"])

        def step():
            kernel(params, grads, velocity, lr, mu)

    step()
    expected = _numpy_first_step(rule, initial, grad_values)
    if not all(np.allclose(p.reshape(e.shape), e, rtol=1e-5, atol=1e-7) for p, e in zip(params, expected)):
        raise RuntimeError("the Numba loop's first step differs from NumPy's: the kernel is miscompiled")
    result = time_step(step, spec["samples"], spec["min_sample_s"])
    result.update(threads_used=threads, split=split)
    return result


def bandwidth_step(spec):
    """The memory-bandwidth limit: a streaming kernel moving the rule's bytes per parameter.

    One flat array per stream, of the layout's total size: the least memory
    traffic any implementation of the rule needs per step.
    """
    threads = _set_numba_threads(spec["threads"])
    reads, writes = STREAMS[spec["rule"]]
    total = spec["n_tensors"] * spec["size"]
    streams = arrays([(total,)] * reads)
    kernel = _numba_kernels()[spec["rule"]]
    result = time_step(lambda: kernel(*streams), spec["samples"], spec["min_sample_s"])
    moved = total * 4 * (reads + writes)
    result.update(threads_used=threads, gb_per_s=moved / (result["ms"] * 1e-3) / 1e9)
    return result
