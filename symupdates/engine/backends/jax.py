"""The JAX implementation of :class:`~symupdates.engine.op.MultiElemwise`.

Registered with PyTensor's ``jax_funcify`` when PyTensor loads its JAX
backend (see :mod:`symupdates.engine.backends`).
"""

from .. import workarounds
from ..finite import AllFinite
from ..op import MultiElemwise, reference_position, row_slices


def register():
    try:
        import jax
        import jax.numpy as jnp
        from pytensor.link.jax.dispatch import jax_funcify
    except ImportError:
        return

    workarounds.jax_reductions_keep_output_dtype()

    @jax_funcify.register(MultiElemwise)
    def jax_funcify_MultiElemwise(op, node, **kwargs):
        n_rows, width, nout, start = row_slices(op, node)
        scalar_fn = jax_funcify(op.scalar_op.fgraph)
        ref = reference_position(op.zero_dim)
        out_dtypes = [o.type.dtype for o in op.scalar_op.outputs]

        # Jitted once per row shape: tracing the formula's jnp calls for
        # every row is most of the compile time of a many-tensor graph, and
        # rows of equal shapes reuse one trace.
        @jax.jit
        def row_fn(*row_and_invariants):
            shape = jnp.shape(row_and_invariants[ref])
            values = scalar_fn(*row_and_invariants)
            return tuple(jnp.broadcast_to(jnp.asarray(v, dtype=d), shape) for v, d in zip(values, out_dtypes))

        def multi_elemwise(*inputs):
            invariants = inputs[start:]
            outs = []
            for r in range(n_rows):
                outs.extend(row_fn(*inputs[r * width:(r + 1) * width], *invariants))
            return outs[0] if len(outs) == 1 else tuple(outs)

        return multi_elemwise

    @jax_funcify.register(AllFinite)
    def jax_funcify_AllFinite(op, node, **kwargs):
        def all_finite(*inputs):
            return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in inputs]))

        return all_finite
