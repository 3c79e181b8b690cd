"""Every workaround in ``symupdates.engine.workarounds`` is still needed.

Each test asks the installed PyTensor whether the defect a workaround is
for is still there (the module's ``upstream_*`` probes, which look at
PyTensor's own dispatch, never at ours), and checks that the workaround is
on.  When a PyTensor release fixes a defect, the workaround switches itself
off and its test here fails, naming the workaround to delete.
"""

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
import pytest

import symupdates  # noqa: F401  (installs the backends' registration)
from symupdates.engine import workarounds

PYTENSOR_MAJOR = int(pytensor.__version__.split(".")[0])


def test_jax_sum_of_float32_is_still_float64_upstream():
    import pytensor.link.jax.dispatch  # noqa: F401  (PyTensor loads its JAX backend: the workaround decides)

    assert not workarounds.upstream_jax_sum_keeps_dtype(), (
        "PyTensor's JAX reductions keep the node's dtype now: delete workarounds.jax_reductions_keep_output_dtype")
    assert workarounds.ACTIVE["jax_reductions_keep_output_dtype"]
    x = pt.vector("x", dtype="float32")
    assert pytensor.function([x], x.sum(), mode="JAX")(np.ones(3, dtype="float32")).dtype == np.float32


@pytest.mark.parametrize("scalar_op", list(workarounds.PYTORCH_SCALAR_OPS), ids=lambda op: op.__name__)
def test_pytorch_still_has_no_dispatch_for(scalar_op):
    import pytensor.link.pytorch.dispatch  # noqa: F401

    assert not workarounds.upstream_pytorch_dispatch(scalar_op), (
        "PyTensor's PyTorch backend dispatches %s now: remove it from workarounds.PYTORCH_SCALAR_OPS"
        % scalar_op.__name__)
    assert workarounds.ACTIVE["pytorch_scalar_ops.%s" % scalar_op.__name__]


def test_pytorch_still_has_no_composite_dispatch():
    import pytensor.link.pytorch.dispatch  # noqa: F401

    assert not workarounds.upstream_pytorch_dispatch(ps.Composite), (
        "PyTensor's PyTorch backend dispatches Composite now: delete workarounds.pytorch_composite")
    assert workarounds.ACTIVE["pytorch_composite"]


def test_pytorch_scalar_ops_run_with_the_workarounds():
    """What the PyTorch workarounds make possible: ``**``, ``%``, ``==``, ``!=`` in one composite."""
    x = pt.vector("x")
    y = pt.switch(pt.eq(x % 2.0, 1.0), x**2, pt.neq(x, 0.0) * 1.0)
    s = ps.float64("s")
    composite = ps.Composite([s], [ps.switch(ps.eq(s % 2.0, 1.0), s**2, ps.neq(s, 0.0) * 1.0)])
    value = np.array([0.0, 1.0, 2.0, 3.0])
    expected = np.where(value % 2 == 1, value**2, (value != 0) * 1.0)
    np.testing.assert_array_equal(pytensor.function([x], y, mode="PYTORCH")(value), expected)
    z = pt.elemwise.Elemwise(composite)(x)
    np.testing.assert_array_equal(pytensor.function([x], z, mode="PYTORCH")(value), expected)


def test_cvm_still_scans_its_outputs_upstream():
    pytensor.function([], [], mode="CVM")  # PyTensor imports its C VM: the workaround decides
    assert workarounds.upstream_cvm_scans_outputs(), (
        "PyTensor's C VM no longer scans its outputs when freeing: delete workarounds.cvm_frees_in_linear_time")
    assert workarounds.ACTIVE["cvm_frees_in_linear_time"]


def _compile_with(vm_class, inputs, outputs, updates):
    import pytensor.link.c.cvm as cvm

    ours, cvm.CVM = cvm.CVM, vm_class
    try:
        return pytensor.function(inputs, outputs, updates=updates, mode="CVM")
    finally:
        cvm.CVM = ours


def test_linear_cvm_computes_and_frees_as_pytensors():
    """Same values, and the same storage freed after each call, as PyTensor's own C VM.

    The graph has intermediates read by several nodes (a value read by every
    later node), an update, an output that is also an intermediate, and a
    lazy ``ifelse`` (whose untaken branch is never computed).
    """
    import pytensor.link.c.cvm as cvm
    from pytensor.ifelse import ifelse

    x, flag = pt.vector("x"), pt.scalar("flag")
    s = pytensor.shared(np.zeros(3), name="s")
    shared_term = pt.exp(x)
    chain = [shared_term]
    for k in range(5):
        chain.append(pt.tanh(chain[-1] * (k + 1)) + shared_term)
    branch = ifelse(flag > 0, chain[-1].sum(), pt.log1p(chain[2] ** 2).sum())
    outputs = [branch, chain[3]]
    functions = [_compile_with(vm, [x, flag], outputs, {s: s + chain[-1]}) for vm in (cvm.CVM, cvm.CVM.upstream_class)]
    assert type(functions[0].vm).__name__ == "LinearCVM" and type(functions[1].vm).__name__ == "CVM"
    freed, values = [], []
    for f in functions:
        s.set_value(np.zeros(3))
        runs = [f(np.linspace(-1, 1, 3) * k, float(k % 2)) for k in range(3)]
        values.append(runs + [s.get_value()])
        order = [v for node in f.maker.fgraph.toposort() for v in node.outputs]
        freed.append([f.vm.storage_map[v][0] is None for v in order])
    for a, b in zip(values[0], values[1]):
        for u, w in zip(a if isinstance(a, list) else [a], b if isinstance(b, list) else [b]):
            np.testing.assert_array_equal(u, w)
    assert freed[0] == freed[1] and any(freed[0])


def test_one_output_per_node_keeps_one_output_of_each_node():
    # variables 0-5; 0 and 1 have no owner, 2-3 are node 0's outputs, 4-5 node 1's
    var_owner = [None, None, 0, 0, 1, 1]
    assert workarounds.one_output_per_node([[2, 3, 4, 5], [0, 1], [5, 2, 4], []], var_owner) == [
        [2, 4], [0, 1], [5, 2], []]
