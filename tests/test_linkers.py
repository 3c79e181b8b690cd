"""MultiElemwise runs under every PyTensor linker with the Python linker's numbers.

tests/test_backends.py covers every rule on the C VM, Numba, JAX and
PyTorch; this file covers the remaining linkers and modes for two rules:
PyTensor's C linker ("C" mode: the whole graph one C module, so the op's
``c_code``), the Python VM, the per-op C linker with Python fallback
("c|py"), the Python linker and FAST_COMPILE.
"""

import numpy as np
import pytest
from pytensor.compile.mode import Mode

import symupdates
from harness import assert_trajectories_close, make_problem, run_rule
from symupdates.engine import MultiElemwise

LINKERS = {
    "C": lambda: "C",
    "vm": lambda: Mode(linker="vm", optimizer="fast_run"),
    "c|py": lambda: Mode(linker="c|py", optimizer="fast_run"),
    "py": lambda: Mode(linker="py", optimizer="fast_run"),
    "FAST_COMPILE": lambda: "FAST_COMPILE",
}
SHAPES = [(), (3,), (2, 3)]
TOLERANCE = {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}


def adam_and_momentum(grads, params):
    n = len(SHAPES)
    updates = symupdates.adam(grads[:n], params[:n], learning_rate=0.01)
    updates.update(symupdates.momentum(grads[n:], params[n:], learning_rate=0.05))
    return updates


_reference = {}


def reference(dtype):
    if dtype not in _reference:
        problem = make_problem(steps=3, shapes=SHAPES * 2, dtype=dtype)
        _reference[dtype] = run_rule(adam_and_momentum, problem, mode=Mode(linker="py", optimizer="fast_run"))
    return _reference[dtype]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("linker", list(LINKERS))
def test_every_linker_gives_the_python_linkers_numbers(linker, dtype):
    problem = make_problem(steps=3, shapes=SHAPES * 2, dtype=dtype)
    ours = run_rule(adam_and_momentum, problem, mode=LINKERS[linker]())
    expected = reference(dtype)
    for step in ours:
        for value, init in zip(step, problem["init"]):
            assert np.asarray(value).dtype == np.dtype(dtype) and np.shape(value) == init.shape
    assert_trajectories_close([[np.asarray(v) for v in s] for s in ours], expected, **TOLERANCE[dtype])
    assert all(not np.array_equal(v, i) for v, i in zip(expected[-1], problem["init"]))


def test_c_linker_compiles_the_op_into_the_graphs_module():
    """In "C" mode the op is C code inside the one module of the graph, in place."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.link.c.basic import CLinker

    params = [pytensor.shared(np.ones(s), name="p%d" % i) for i, s in enumerate([(3,), (2, 2)])]
    grads = [pt.tensor(dtype="float64", shape=(None,) * p.ndim) for p in params]
    f = pytensor.function(grads, [], updates=symupdates.adam(grads, params), mode="C")
    assert isinstance(f.maker.linker, CLinker)
    nodes = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, MultiElemwise)]
    assert nodes and all(n.op.destroy_map for n in nodes)
    buffers = [p.get_value(borrow=True) for p in params]
    f(np.full(3, 0.5), np.full((2, 2), -0.5))
    for p, buffer in zip(params, buffers):
        assert p.get_value(borrow=True) is buffer  # updated in place
    np.testing.assert_allclose(params[0].get_value(), 1 - 1e-3, rtol=1e-6)
    np.testing.assert_allclose(params[1].get_value(), 1 + 1e-3, rtol=1e-6)
