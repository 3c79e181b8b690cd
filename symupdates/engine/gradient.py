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

from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor import config
from pytensor.gradient import DisconnectedType, NullType
from pytensor.graph.replace import clone_replace
from pytensor.tensor.elemwise import Elemwise

__all__ = ["multi_elemwise_l_op", "expand_composite", "DifferentiableComposite"]


class DifferentiableComposite(ps.Composite):
    """A ``Composite`` with a gradient: reverse mode through its inner scalar graph.

    For the rows the multi-tensor kernel cannot take (entries broadcasting
    against each other), which get an ``Elemwise`` of the composite.
    """

    def pullback(self, inputs, outputs, output_grads):
        # The inner graph rebuilt on ``inputs``, then reverse mode node by node.
        value = dict(zip(self.fgraph.inputs, inputs))
        nodes = []
        for node in self.fgraph.toposort():
            new = node.op.make_node(*[value.get(i, i) for i in node.inputs])
            value.update(zip(node.outputs, new.outputs))
            nodes.append(new)
        grads = {}
        for out, g in zip(self.fgraph.outputs, output_grads):
            if not isinstance(g.type, (DisconnectedType, NullType)):
                out = value.get(out, out)
                grads[out] = grads[out] + g if out in grads else g
        for node in reversed(nodes):
            gz = [grads.get(o) for o in node.outputs]
            if all(g is None for g in gz):
                continue
            gz = [o.zeros_like() if g is None else g for o, g in zip(node.outputs, gz)]
            for i, g in zip(node.inputs, node.op.L_op(node.inputs, node.outputs, gz)):
                if g is None or isinstance(g.type, (DisconnectedType, NullType)):
                    continue
                grads[i] = grads[i] + g if i in grads else g
        return [
            grads[x] if x in grads and _is_float(x) else x.zeros_like(dtype=config.floatX if not _is_float(x) else None)
            for x in inputs
        ]

    L_op = pullback


def differentiable(composite):
    """``composite`` as a :class:`DifferentiableComposite` (same formula)."""
    if isinstance(composite, DifferentiableComposite):
        return composite
    return DifferentiableComposite(composite.inputs, composite.outputs)


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

    width, nout = op.row_width, op.nout_row
    n_rows = (len(inputs) - op.n_invariants) // width
    invariants = list(inputs[n_rows * width:])
    for g in output_grads:
        if isinstance(g.type, NullType):
            return [g] * len(inputs)
    if all(isinstance(g.type, DisconnectedType) for g in output_grads):
        return [DisconnectedType()() for _ in inputs]

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
    composite, backward_invariants, placeholders = backward_composite(
        op, input_dtypes, output_dtypes, [x.dtype for x in invariants]
    )
    if backward_invariants:
        backward_invariants = clone_replace(backward_invariants, replace=dict(zip(placeholders, invariants)))
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


#: Backward composites already traced, by forward formula and dtypes:
#: tracing runs PyTensor's rewriter, and an unrolled loop has the same node
#: at every step.
_BACKWARD_CACHE = OrderedDict()
_BACKWARD_CACHE_SIZE = 256


def backward_composite(op, input_dtypes, output_dtypes, invariant_dtypes):
    """The backward formula of ``op``'s rows, traced into a composite.

    Its element inputs are a row's entries then one output gradient per
    output; its outputs the gradients of the row's float entries then of
    the float invariants, element by element.  Returns ``(composite,
    invariants, placeholders)``: the invariants are expressions of the
    placeholders, which the caller replaces by the node's invariants.
    """
    from .trace import trace_elementwise

    key = (op.scalar_op, tuple(input_dtypes), tuple(output_dtypes), tuple(invariant_dtypes))
    if key in _BACKWARD_CACHE:
        return _BACKWARD_CACHE[key]
    width = op.row_width
    placeholders = [pt.tensor(dtype=d, shape=(), name="invariant%d" % k) for k, d in enumerate(invariant_dtypes)]

    def backward(*elements, **named_invariants):
        """Gradients of one element of a row: of its entries, then of the invariants."""
        row, gz = elements[:width], elements[width:]
        invs = [named_invariants["i%d" % k] for k in range(len(placeholders))]
        outs = expand_composite(op.scalar_op, list(row) + invs)
        wrt = [x for x in list(row) + invs if _is_float(x)]
        # One element's vector-Jacobian product is the gradient of a scalar
        # (known_grads would drop what an output receives through the others).
        terms = [o * g for o, g in zip(outs, gz) if _is_float(o)]
        cost = pt.add(*terms) if len(terms) > 1 else terms[0]
        return pytensor.grad(cost, wrt=wrt, disconnected_inputs="ignore", return_disconnected="zero")

    # The traced formula computes in the first output's float dtype; the
    # gradients of invariants of another dtype are cast back by the caller.
    composite, invariants = trace_elementwise(
        backward, input_dtypes, output_dtypes, {"i%d" % k: v for k, v in enumerate(placeholders)},
        name="%s gradient" % op.scalar_op,
    )
    _BACKWARD_CACHE[key] = (composite, invariants, placeholders)
    if len(_BACKWARD_CACHE) > _BACKWARD_CACHE_SIZE:
        _BACKWARD_CACHE.popitem(last=False)
    return _BACKWARD_CACHE[key]


def _zero_gradient(var):
    """The gradient of an integer input: zero, as PyTensor's own ops give it."""
    return var.zeros_like(dtype=config.floatX)
