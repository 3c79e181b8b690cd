"""Our side of the benchmark: symupdates rules compiled by PyTensor on each backend."""

import os
import sys
import time

import numpy as np

from measure import peak_rss_since_reset_mb, reset_peak_rss, rss_mb, time_step, timed_compile
from problems import DTYPE, HYPER, arrays, compile_shapes, layout_shapes

# run.py snapshots the package at the start of a run, so that every measurement
# of the run sees the same code even while the checkout changes
sys.path.insert(0, os.environ.get("SYMUPDATES_BENCH_SOURCE") or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402
from pytensor.compile.mode import Mode, get_mode  # noqa: E402

import symupdates  # noqa: E402

BACKENDS = ("c", "numba", "jax")


def mode_of(backend):
    """The PyTensor compilation mode of a backend name ("default": PyTensor's default mode)."""
    if backend == "default":
        return get_mode(None)
    if backend == "c":
        return Mode(linker="cvm")
    if backend == "numba":
        return get_mode("NUMBA")
    if backend == "jax":
        import jax  # noqa: F401  (fail here, as "n/a", when JAX is missing)

        return get_mode("JAX")
    raise ValueError("unknown backend %r; use one of %s" % (backend, ", ".join(BACKENDS)))


def rule_updates(rule, grads, params):
    return getattr(symupdates, rule)(grads, params, **HYPER[rule])


def node_count(function):
    return len(function.maker.fgraph.apply_nodes)


def compile_update_graph(spec):
    """Compile (``pytensor.function`` plus first call) a rule's updates of many tensors.

    The gradients are inputs of the function, so the graph is the update
    graph alone.
    """
    mode = mode_of(spec["backend"])
    shapes = compile_shapes(spec["n_tensors"])
    params = [pytensor.shared(v, name="p%d" % i) for i, v in enumerate(arrays(shapes))]
    grads = [pt.tensor(dtype=DTYPE, shape=(None,) * len(s), name="g%d" % i) for i, s in enumerate(shapes)]
    grad_values = arrays(shapes, seed=1)
    start = time.perf_counter()
    updates = rule_updates(spec["rule"], grads, params)
    build_s = time.perf_counter() - start
    compiled = {}

    def compile_and_call():
        compiled["f"] = pytensor.function(grads, [], updates=updates, mode=mode)
        compiled["f"](*grad_values)

    result = timed_compile(compile_and_call)
    result.update(build_s=build_s, nodes=node_count(compiled["f"]))
    return result


def mlp(n_tensors, width=32, batch=64):
    """An MLP of ``n_tensors / 2`` tanh layers: inputs, loss and parameters."""
    layers = n_tensors // 2
    x = pt.matrix("x", dtype=DTYPE)
    y = pt.matrix("y", dtype=DTYPE)
    values = arrays([(width, width), (width,)] * layers, scale=0.1)
    params = [pytensor.shared(v, name="%s%d" % ("W" if i % 2 == 0 else "b", i // 2)) for i, v in enumerate(values)]
    hidden = x
    for W, b in zip(params[0::2], params[1::2]):
        hidden = pt.tanh(hidden @ W + b)
    loss = pt.mean((hidden - y) ** 2)
    data = arrays([(batch, width), (batch, width)], seed=2)
    return x, y, loss, params, data


def lasagne_style_adam(grads, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adam as a plain port writes it (Lasagne's ``adam``): one Elemwise graph per parameter."""
    one = pt.constant(1, dtype=DTYPE)
    learning_rate, beta1, beta2, epsilon = (pt.constant(np.asarray(h, dtype=DTYPE))
                                            for h in (learning_rate, beta1, beta2, epsilon))
    t_prev = pytensor.shared(np.asarray(0, dtype=DTYPE), name="t")
    t = t_prev + 1
    a_t = learning_rate * pt.sqrt(one - beta2**t) / (one - beta1**t)
    updates = {}
    for param, g in zip(params, grads):
        value = param.get_value(borrow=True)
        m_prev = pytensor.shared(np.zeros_like(value), name=param.name + ".m")
        v_prev = pytensor.shared(np.zeros_like(value), name=param.name + ".v")
        m_t = beta1 * m_prev + (one - beta1) * g
        v_t = beta2 * v_prev + (one - beta2) * g**2
        updates[m_prev] = m_t
        updates[v_prev] = v_t
        updates[param] = param - a_t * m_t / (pt.sqrt(v_t) + epsilon)
    updates[t_prev] = t
    return updates


#: The update sets of the training-function benchmark: none, a plain port, symupdates rules and compositions.
TRAINING_UPDATES = {
    "port": lasagne_style_adam,
    "adam": lambda grads, params: symupdates.adam(grads, params, **HYPER["adam"]),
    "skip_nonfinite(adam)": lambda grads, params: symupdates.skip_nonfinite(
        lambda g, p: symupdates.adam(g, p, **HYPER["adam"]))(grads, params),
    "chain(clip_by_global_norm,adamw)": lambda grads, params: symupdates.chain(
        symupdates.clip_by_global_norm(max_norm=1.0), symupdates.adamw(learning_rate=1e-3))(grads, params),
    "lookahead(adam)": lambda grads, params: symupdates.lookahead(symupdates.adam(grads, params, **HYPER["adam"]), params),
}


def compile_training(spec):
    """Compile the training function of an MLP, with or without updates.

    ``spec["updates"]`` is "none" (the function returns the loss and the
    gradients, so every variant computes the same loss and gradient graph),
    "port" or a key of :data:`TRAINING_UPDATES`.
    """
    mode = mode_of(spec["backend"])
    x, y, loss, params, data = mlp(spec["n_tensors"])
    grads = pytensor.grad(loss, params)
    if spec["updates"] != "none":
        outputs, updates = loss, TRAINING_UPDATES[spec["updates"]](grads, params)
    else:
        outputs, updates = [loss] + grads, None
    compiled = {}

    def compile_and_call():
        compiled["f"] = pytensor.function([x, y], outputs, updates=updates, mode=mode)
        compiled["f"](*data)

    result = timed_compile(compile_and_call)
    result["nodes"] = node_count(compiled["f"])
    return result


def _blocker(shared):
    """A callable that waits for ``shared``'s value (JAX computes asynchronously)."""

    def block():
        value = shared.get_value(borrow=True, return_internal_type=True)
        if hasattr(value, "block_until_ready"):
            value.block_until_ready()

    return block


def step_time(spec):
    """Milliseconds per step of a rule over ``n_tensors`` tensors of ``size`` elements.

    Gradients live in shared variables, as ``p.grad`` does for torch, so a
    step is a call of a compiled function without inputs.
    """
    mode = mode_of(spec["backend"])
    shapes = layout_shapes(spec["n_tensors"], spec["size"])
    params = [pytensor.shared(v, name="p%d" % i) for i, v in enumerate(arrays(shapes))]
    grads = [pytensor.shared(v, name="g%d" % i) for i, v in enumerate(arrays(shapes, seed=1, scale=1e-3))]
    updates = rule_updates(spec["rule"], grads, params)
    start = time.perf_counter()
    f = pytensor.function([], [], updates=updates, mode=mode)
    f()
    compile_s = time.perf_counter() - start
    block = _blocker(params[-1])

    def step():
        f()
        block()

    # Memory a step adds on top of the data (parameters, gradients, state), at
    # its peak: per-step temporaries show up here, in-place updates do not.
    step()
    baseline = rss_mb()
    reset_peak_rss()
    result = time_step(step, spec["samples"], spec["min_sample_s"])
    param_set = set(params)
    state = [var for var in updates if var not in param_set]
    result.update(compile_s=compile_s, nodes=node_count(f),
                  step_extra_mb=max(0.0, peak_rss_since_reset_mb() - baseline),
                  state_mb=sum(var.get_value(borrow=True).nbytes for var in state) / 2**20)
    return result


def prime(spec):
    """Compile a tiny function on each backend: fills a new compile directory with
    what every function needs (PyTensor's own C modules), so that a measurement
    in a copy of it compiles its own graph only."""
    x = pt.vector("x", dtype=DTYPE)
    primed = []
    for backend in spec["backends"]:
        try:
            mode = mode_of(backend)
        except ImportError:
            continue
        pytensor.function([x], pt.exp(x) * 2 + 1, mode=mode)(np.ones(3, DTYPE))
        primed.append(backend)
    return {"primed": primed}
