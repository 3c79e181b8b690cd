"""The tracer: a rule's element-wise formula, traced once into a scalar Composite.

Most update rules are element-wise: the new value of each parameter element
and of its state depends only on the same element of the gradient and state
and on a few scalars (learning rate, betas, the step number).  A rule states
that formula once, as a ``formula`` function written with ordinary PyTensor
operations on scalars::

    def formula(param, grad, m, v, lr, beta1, beta2, epsilon, t):
        m = beta1 * m + (1 - beta1) * grad
        ...
        return m, v, param - a_t * m / (pt.sqrt(v) + epsilon)

:func:`trace_elementwise` traces ``formula`` once per dtype on 0-d
placeholders, splits the traced graph into

* the *loop-invariant* part, which depends on hyperparameters only
  (``a_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)``): it stays an ordinary
  graph and is computed once per step, and
* the *element-wise* part, which becomes a single scalar
  :class:`~pytensor.scalar.basic.Composite`,

and applies the composite to all parameters at once.  Why: compile time.
PyTensor's rewriter re-validates the whole graph at each replacement, so a
graph with a handful of element-wise nodes per parameter compiles in time
quadratic in the number of parameters.  A graph built already fused leaves
the rewriter nothing to do per parameter, and the apply stage
(:func:`symupdates.engine.apply.apply_composite`) can hand all parameters of a group to one node.
"""

import numpy as np
import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor.graph.basic import Constant
from pytensor.tensor.elemwise import DimShuffle, Elemwise

__all__ = ["trace_elementwise", "NotElementwiseError"]


class NotElementwiseError(TypeError):
    """A ``formula`` function used an operation that is not element-wise."""


def specialize_elementwise(outputs):
    """``outputs`` after PyTensor's canonicalize and specialize rewrites.

    The composite is built from the traced graph, so it would otherwise miss
    the rewrites FAST_RUN applies to element-wise graphs: ``grad**2`` would
    stay a ``pow`` call per element (ten times the cost of a multiply)
    instead of ``sqr``.  ``x**n`` is not turned into a nested-squaring
    ``Composite``: the traced graph's loop-invariant part (which may hold a
    loss's gradient) must stay differentiable, and PyTensor's ``Composite``
    has no gradient.  Falls back to the graph as traced if a rewrite
    produced something that is not element-wise.
    """
    from pytensor.graph.rewriting.utils import rewrite_graph
    from pytensor.graph.traversal import apply_ancestors

    rewritten = rewrite_graph(list(outputs), include=("canonicalize", "specialize"), exclude=("inplace", "fusion", "local_pow_to_nested_squaring"))
    rewritten = [pt.as_tensor_variable(o) for o in rewritten]
    if any(o.type != r.type for o, r in zip(outputs, rewritten)):
        return outputs
    before = set(apply_ancestors(outputs))
    for node in apply_ancestors(rewritten):
        if node not in before and not isinstance(node.op, (Elemwise, DimShuffle)):
            return outputs
    return rewritten


def literals_in_dtype(outputs, dtype):
    """``outputs`` rebuilt with every float literal of their graph in ``dtype``.

    A literal in a formula takes the formula's float dtype: with PyTensor's
    casting rules ``0.96 ** (t * decay)`` on float32 values is float64, so
    the loop-invariant part of a float32 rule would be computed in float64.
    """
    from pytensor.graph.replace import clone_replace
    from pytensor.graph.traversal import ancestors

    replace = {
        var: pt.constant(np.asarray(var.data, dtype=dtype))
        for var in ancestors(outputs)
        if isinstance(var, Constant) and var.ndim == 0 and var.dtype.startswith("float") and var.dtype != dtype
    }
    if not replace:
        return outputs
    try:
        return clone_replace(outputs, replace=replace)
    except TypeError:  # an op with fixed input types (e.g. a schedule's ifelse): keep the graph
        return outputs


def trace_elementwise(formula, input_dtypes, output_dtypes, hyper, name="formula"):
    """Trace ``formula`` into a scalar ``Composite``.

    Parameters
    ----------
    formula : callable
        ``formula(*elements, **hyper) -> output or tuple of outputs``.
    input_dtypes : sequence of str
        The dtype of each element argument.
    output_dtypes : sequence of str
        The dtype of each output; the formula is cast to it inside the kernel.
    hyper : dict of str -> 0-d tensor
        The hyperparameters, already cast.

    Returns
    -------
    composite : Composite
        Inputs: one scalar per element argument, then one per entry of
        ``invariants``.
    invariants : list of 0-d tensors
        The loop-invariant values the composite reads (functions of the
        hyperparameters only), to be passed after the element arguments.
    """
    placeholders = [pt.tensor(dtype=d, shape=(), name="element%d" % i) for i, d in enumerate(input_dtypes)]
    outputs = formula(*placeholders, **hyper)
    if not isinstance(outputs, (tuple, list)):
        outputs = (outputs,)
    float_dtype = output_dtypes[0]
    outputs = literals_in_dtype([pt.as_tensor_variable(o) for o in outputs], float_dtype)
    outputs = specialize_elementwise(outputs)

    scalar_of = {ph: ps.get_scalar_type(ph.dtype)() for ph in placeholders}
    elementwise = {ph: True for ph in placeholders}
    invariants, invariant_scalars = [], []

    def depends_on_elements(var):
        if var not in elementwise:
            owner = var.owner
            elementwise[var] = owner is not None and any(depends_on_elements(i) for i in owner.inputs)
        return elementwise[var]

    def to_scalar(var):
        if var in scalar_of:
            return scalar_of[var]
        if var.ndim != 0:
            raise NotElementwiseError(
                "%s: the formula produced %s with %d dimensions; only scalar "
                "(element-wise) operations may be used" % (name, var, var.ndim)
            )
        if not depends_on_elements(var):
            if isinstance(var, Constant):
                # A literal in a formula takes the formula's float dtype:
                # ``0.1 * grad`` must not upcast a float32 kernel.
                dtype = float_dtype if var.dtype.startswith("float") else var.dtype
                scalar_of[var] = ps.constant(var.data.item(), dtype=dtype)
            else:
                if var.dtype.startswith("float") and var.dtype != float_dtype:
                    var_in_kernel = pt.cast(var, float_dtype)  # the kernel computes in one float dtype
                else:
                    var_in_kernel = var
                scalar_of[var] = ps.get_scalar_type(var_in_kernel.dtype)()
                invariants.append(var_in_kernel)
                invariant_scalars.append(scalar_of[var])
            return scalar_of[var]
        node = var.owner
        if isinstance(node.op, Elemwise):
            scalar_outputs = node.op.scalar_op.make_node(*[to_scalar(i) for i in node.inputs]).outputs
            scalar_of.update(zip(node.outputs, scalar_outputs))
        elif isinstance(node.op, DimShuffle) and node.inputs[0].ndim == 0:
            scalar_of[var] = to_scalar(node.inputs[0])
        else:
            raise NotElementwiseError(
                "%s: %s is not an element-wise operation; write the formula with "
                "scalar arithmetic (+, *, sqrt, maximum, switch, ...)" % (name, node.op)
            )
        return scalar_of[var]

    if len(outputs) != len(output_dtypes):
        raise ValueError("%s returned %d values for %d targets" % (name, len(outputs), len(output_dtypes)))
    scalar_outputs = []
    for out, dtype in zip(outputs, output_dtypes):
        s = to_scalar(out)
        if s.type.dtype != dtype:
            s = ps.cast(s, dtype)
        if s.owner is None:
            s = ps.identity(s)  # a Composite output may not be one of its inputs
        scalar_outputs.append(s)
    composite = ps.Composite([scalar_of[ph] for ph in placeholders] + invariant_scalars, scalar_outputs)
    return composite, invariants
