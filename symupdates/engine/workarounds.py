"""Workarounds for defects and gaps of PyTensor, in one place.

Each names the PyTensor versions it is for and the condition under which it
switches itself off: when upstream behaves, the workaround does nothing.
"""

import pytensor.scalar as ps

# The aliasing Supervisor moved in PyTensor 3; 2.38 is the line PyMC pins.
try:
    from pytensor.compile.aliasing import Supervisor  # PyTensor >= 3
except ImportError:  # PyTensor 2.38
    from pytensor.compile.function.types import Supervisor


def jax_reductions_keep_output_dtype():
    """PyTensor's JAX reduction returns its accumulator dtype instead of the node's."""
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    from pytensor.tensor.elemwise import CAReduce

    pytensor_careduce = jax_funcify.dispatch(CAReduce)
    if not getattr(pytensor_careduce, "casts_to_output_dtype", False):
        # PyTensor's JAX reduction returns its accumulator dtype (float64 for
        # a float32 sum) instead of the node's output dtype, so a float32
        # parameter updated through a sum would come back float64.
        @jax_funcify.register(CAReduce)
        def jax_funcify_CAReduce(op, node=None, **kwargs):
            reduce = pytensor_careduce(op, node=node, **kwargs)
            if node is None:
                return reduce
            dtype = node.outputs[0].type.dtype

            def careduce(*args):
                return jnp.asarray(reduce(*args)).astype(dtype)

            return careduce

        jax_funcify_CAReduce.casts_to_output_dtype = True


def pytorch_scalar_ops():
    """PyTensor's PyTorch backend maps some scalar ops to torch functions that do not exist."""
    import torch
    from pytensor.link.pytorch.dispatch import pytorch_funcify

    # PyTensor's generic scalar dispatch maps a scalar op to the torch
    # function of its NumPy name, which for these does not exist (torch.power,
    # torch.mod) or means something else (torch.equal compares whole tensors
    # and returns one bool).  Without these, rules using ``x**y``, ``%`` or
    # ``eq`` do not run on the PyTorch backend at all.
    replacements = {ps.Pow: torch.pow, ps.Mod: torch.remainder, ps.EQ: torch.eq, ps.NEQ: torch.ne}
    for scalar_op, torch_fn in replacements.items():
        if pytorch_funcify.dispatch(scalar_op) is pytorch_funcify.dispatch(ps.ScalarOp):
            pytorch_funcify.register(scalar_op)(lambda op, node=None, _fn=torch_fn, **kwargs: _fn)


def pytorch_composite(scalar_function):
    """PyTensor's PyTorch backend has no dispatch for a scalar Composite."""
    from pytensor.link.pytorch.dispatch import pytorch_funcify

    if pytorch_funcify.dispatch(ps.Composite) is pytorch_funcify.dispatch(ps.ScalarOp):
        # An Elemwise of a Composite (the engine's fallback for a row whose
        # entries broadcast) has no PyTorch dispatch in PyTensor.
        @pytorch_funcify.register(ps.Composite)
        def pytorch_funcify_Composite(op, node=None, **kwargs):
            kwargs.pop("storage_map", None)
            function = scalar_function(op.fgraph, pytorch_funcify, kwargs)
            if op.nout == 1:
                return lambda *args: function(*args)[0]
            return lambda *args: tuple(function(*args))


def isfinite(x):
    """``pt.isfinite(x)``: PyTensor 2.38 (the line PyMC pins) has no such function."""
    import pytensor.tensor as pt

    if hasattr(pt, "isfinite"):
        return pt.isfinite(x)
    return ~(pt.isnan(x) | pt.isinf(x))
