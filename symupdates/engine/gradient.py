"""The gradient of :class:`~symupdates.engine.op.MultiElemwise`.

Each row of the op computes what ``Elemwise(composite)(*row, *invariants)``
would, so the row's gradient is that Elemwise's gradient: element-wise for
the row's tensors, summed over the row's elements for its 0-d entries and
for the invariants; an invariant's gradient is the sum over all rows.

PyTensor's scalar ``Composite`` has no gradient of its own.  The backward
formula is therefore derived from the composite's inner graph written out
with tensor operations (:func:`expand_composite`), differentiated with
:func:`pytensor.grad`, and traced back into one backward composite applied
to all rows at once by the engine's own front door
(:func:`~symupdates.engine.apply.apply_composite`).  A model's backward
pass through the update rule is then O(1) nodes too.

Operations with no useful derivative (``sign``, comparisons, rounding) get
PyTensor's conventions: zero gradient, and ``maximum``/``minimum`` pass the
gradient to the selected argument.
"""

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor import config
from pytensor.gradient import DisconnectedType, NullType
from pytensor.tensor.elemwise import Elemwise

__all__ = ["multi_elemwise_l_op", "expand_composite"]


def expand_composite(composite, inputs):
    """The outputs of ``composite`` on the 0-d tensors ``inputs``, written
    as one ``Elemwise`` per scalar operation (so that they have a gradient)."""
    tensor_of = dict(zip(composite.fgraph.inputs, inputs))

    def as_tensor(var):
        if var not in tensor_of:
            if var.owner is not None or not hasattr(var, "data"):
                raise ValueError("expand_composite: %s is neither an input nor a constant" % var)
            tensor_of[var] = pt.constant(np.asarray(var.data, dtype=var.type.dtype))
        return tensor_of[var]

    for node in composite.fgraph.toposort():
        op = node.op
        args = [as_tensor(i) for i in node.inputs]
        if isinstance(op, ps.Composite):
            outs = expand_composite(op, args)
        else:
            outs = Elemwise(op)(*args)
            outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        tensor_of.update(zip(node.outputs, outs))
    return [as_tensor(o) for o in composite.fgraph.outputs]


def _is_float(var):
    return str(var.type.dtype).startswith("float")


def multi_elemwise_l_op(op, inputs, outputs, output_grads):
    """``op.L_op``: the gradients of every input of a MultiElemwise node."""
    from .apply import apply_composite
    from .trace import trace_elementwise

    width, nout = op.row_width, op.nout_row
    n_rows = (len(inputs) - op.n_invariants) // width
    invariants = list(inputs[n_rows * width:])
    for g in output_grads:
        if isinstance(g.type, NullType):
            return [g] * len(inputs)
    if all(isinstance(g.type, DisconnectedType) for g in output_grads):
        return [DisconnectedType()() for _ in inputs]

    def backward(*elements, **named_invariants):
        """Gradients of one element of a row: of its entries, then of the invariants."""
        row, gz = elements[:width], elements[width:]
        invs = [named_invariants["i%d" % k] for k in range(len(invariants))]
        outs = expand_composite(op.scalar_op, list(row) + invs)
        wrt = [x for x in list(row) + invs if _is_float(x)]
        # One element's vector-Jacobian product is the gradient of a scalar:
        # (known_grads would drop what an output receives through the others).
        cost = pt.add(*[o * g for o, g in zip(outs, gz) if _is_float(o)])
        return pytensor.grad(cost, wrt=wrt, disconnected_inputs="ignore", return_disconnected="zero")

    # Disconnected output gradients are zeros (0-d, broadcast by the kernel).
    grad_rows = []
    for r in range(n_rows):
        row = list(inputs[r * width:(r + 1) * width])
        gz = []
        for j in range(nout):
            g, out = output_grads[r * nout + j], outputs[r * nout + j]
            if isinstance(g.type, DisconnectedType) or not _is_float(out):
                g = pt.zeros((), dtype=out.dtype if _is_float(out) else config.floatX)
            gz.append(g)
        grad_rows.append(row + gz)

    row_inputs = list(inputs[:width])
    float_positions = [k for k, x in enumerate(row_inputs) if _is_float(x)]
    float_invariants = [k for k, x in enumerate(invariants) if _is_float(x)]
    input_dtypes = [x.dtype for x in row_inputs] + [g.dtype for g in grad_rows[0][width:]]
    output_dtypes = [row_inputs[k].dtype for k in float_positions] + [invariants[k].dtype for k in float_invariants]
    if not output_dtypes:
        return [_zero_gradient(x) for x in inputs]
    # The traced formula computes in the first output's float dtype; the
    # gradients of invariants of another dtype are cast back below.
    composite, backward_invariants = trace_elementwise(
        backward, input_dtypes, output_dtypes, {"i%d" % k: v for k, v in enumerate(invariants)},
        name="%s gradient" % op.scalar_op,
    )
    results = apply_composite(composite, grad_rows, backward_invariants)

    grads = [None] * len(inputs)
    invariant_sums = [[] for _ in invariants]
    for r, outs in enumerate(results):
        outs = list(outs)
        for k, x in enumerate(row_inputs):
            target = inputs[r * width + k]
            if k in float_positions:
                g = outs[float_positions.index(k)]
                if target.ndim < g.ndim:
                    g = g.sum()
                grads[r * width + k] = pt.cast(g, target.dtype) if g.dtype != target.dtype else g
            else:
                grads[r * width + k] = _zero_gradient(target)
        for n, k in enumerate(float_invariants):
            invariant_sums[k].append(outs[len(float_positions) + n].sum())
    for k, x in enumerate(invariants):
        if k in float_invariants:
            total = pt.add(*invariant_sums[k]) if len(invariant_sums[k]) > 1 else invariant_sums[k][0]
            grads[n_rows * width + k] = pt.cast(total, x.dtype)
        else:
            grads[n_rows * width + k] = _zero_gradient(x)
    return grads


def _zero_gradient(var):
    """The gradient of an integer input: zero, as PyTensor's own ops give it."""
    return var.zeros_like(dtype=config.floatX)
