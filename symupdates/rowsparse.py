"""Row-sparse gradients: the rows of a matrix a minibatch used, and updates of those rows only.

An embedding ``E`` read as ``E[idx]`` has a gradient that is zero outside
the rows ``idx``.  PyTensor builds it in one of two forms:

* dense: ``inc_subtensor(zeros_like(E)[idx], g)`` (an ``AdvancedIncSubtensor``
  on zeros), the gradient of ``E[idx]``;
* sparse: a ``pytensor.sparse`` CSC matrix with one (possibly repeated) row
  per index, the gradient of ``pytensor.sparse.sparse_grad(E[idx])``.

:func:`as_dense_gradient` turns the second form into the first, so that
every transform, wrapper and rule sees ordinary tensors and computes the
dense rule's numbers.  :func:`touched_rows` reads the first form back from
the graph: the distinct rows and their summed ("coalesced") gradient rows.
A rule with ``lazy=True`` then updates only those rows of the parameter and
of its state (:func:`lazy_elementwise_rule`), as ``set_subtensor`` on the
shared variables, which PyTensor runs in place: the dense gradient is never
computed and a step costs in the number of touched rows, not the rows of
the matrix.
"""

import warnings
from collections import OrderedDict, namedtuple

import pytensor.scalar as ps
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.raise_op import Assert
from pytensor.tensor.basic import get_underlying_scalar_constant_value
from pytensor.tensor.elemwise import Elemwise
from pytensor.tensor.exceptions import NotScalarConstantError
from pytensor.tensor.shape import Shape
from pytensor.tensor.subtensor import AdvancedIncSubtensor, AdvancedIncSubtensor1


__all__ = ["RowGradient", "as_dense_gradient", "touched_rows", "squared_norm", "checked_part",
           "gated_update"]


#: The distinct rows a gradient touches (int64 vector) and their summed gradient rows (rows x columns).
RowGradient = namedtuple("RowGradient", "rows values")


def _is_sparse(var):
    from pytensor.sparse.type import SparseTensorType

    return isinstance(getattr(var, "type", None), SparseTensorType)


def _is_zeros(var):
    try:
        return get_underlying_scalar_constant_value(var) == 0
    except NotScalarConstantError:
        return False


def _known_shape(var):
    """The value shape of ``var`` if it is known when the graph is built, else None."""
    if isinstance(var, SharedVariable):
        return tuple(var.get_value(borrow=True).shape)
    shape = getattr(var.type, "shape", None)
    if shape is not None and all(s is not None for s in shape):
        return tuple(shape)
    return None


# ---------------------------------------------------------------------------
# pytensor.sparse gradients as dense tensors


def as_dense_gradient(grad, param, label):
    """``grad`` as a dense tensor of ``param``'s shape, in the row-sparse form for a sparse one.

    A ``pytensor.sparse`` gradient becomes ``inc_subtensor(zeros_like(param)[rows], values)``
    (equal to densifying it, duplicates summed).  Raises ``ValueError`` for
    a sparse gradient of a parameter that is not a matrix, or of another
    shape than the parameter's (at once when both shapes are known, else
    when the step runs).
    """
    if not _is_sparse(grad):
        return grad
    if param.ndim != 2:
        raise ValueError(
            "the gradient of %s is a pytensor.sparse matrix but %s has %d dimensions; sparse "
            "gradients are for matrices (embeddings): pass a dense gradient for it"
            % (label, label, param.ndim)
        )
    rows, columns, values, shape = _sparse_entries(grad)
    expected, given = _known_shape(param), _known_shape(shape)
    if expected is not None and given is not None and expected != given:
        raise ValueError(
            "the sparse gradient of %s has shape %s but %s has shape %s; give each parameter "
            "the gradient of its own shape" % (label, given, label, expected)
        )
    if given is None:
        same = pt.all(pt.eq(pt.as_tensor_variable(shape), param.shape))
        message = "the sparse gradient of %s has another shape than %s" % (label, label)
        values = Assert(message)(values, same)
    values = pt.cast(values, param.dtype)
    if columns is None:
        return pt.inc_subtensor(pt.zeros_like(param)[rows], values)
    return pt.inc_subtensor(pt.zeros_like(param)[rows, columns], values)


def _sparse_entries(grad):
    """``(rows, columns, values, shape)`` of a sparse matrix; ``columns`` is None for whole rows.

    The gradient of ``sparse_grad(E[idx])`` is read from its graph: row
    ``idx[i]`` gets ``values[i]``.  Any other sparse matrix gives its
    non-zero entries one by one.
    """
    from pytensor.sparse import csm_properties
    from pytensor.sparse.basic import ConstructSparseFromList

    node = grad.owner
    if node is not None and isinstance(node.op, ConstructSparseFromList):
        shape, values, rows = node.inputs
        if shape.owner is not None and isinstance(shape.owner.op, Shape):
            shape = shape.owner.inputs[0]  # the matrix whose shape the gradient has
        return rows, None, values, shape
    data, indices, indptr, shape = csm_properties(grad)
    counts = indptr[1:] - indptr[:-1]
    if grad.format == "csc":
        rows, columns = indices, pt.repeat(pt.arange(shape[1]), counts)
    else:
        rows, columns = pt.repeat(pt.arange(shape[0]), counts), indices
    return rows, columns, data, shape


# ---------------------------------------------------------------------------
# reading the touched rows back from a dense gradient's graph


def _row_index(node):
    """The integer index of an increment that indexes whole rows (axis 0 only), else None."""
    op = node.op
    if isinstance(op, AdvancedIncSubtensor1):
        return node.inputs[2]
    if not isinstance(op, AdvancedIncSubtensor):
        return None
    indices = node.inputs[2:]
    idx_list = getattr(op, "idx_list", None)
    if idx_list is not None:  # PyTensor 3: the index list names axes; the inputs are the arrays
        if not idx_list or idx_list[0] != 0 or any(e != slice(None) for e in idx_list[1:]) or len(indices) != 1:
            return None
    elif len(indices) != 1:
        return None
    index = indices[0]
    if not str(getattr(index.type, "dtype", "")).startswith(("int", "uint")):
        return None
    return index


def _row_parts(grad):
    """``(parts, other)``: the ``(index, values)`` increments into zeros that ``grad`` sums, and
    whether it also sums in anything else (a dense use of the parameter)."""
    node = grad.owner
    if node is None:
        return [], not _is_zeros(grad)
    op = node.op
    if isinstance(op, (AdvancedIncSubtensor, AdvancedIncSubtensor1)) and not op.set_instead_of_inc:
        index = _row_index(node)
        if index is not None:
            base, values = node.inputs[:2]
            parts, other = ([], False) if _is_zeros(base) else _row_parts(base)
            return parts + [(index, values)], other
    if type(op).__name__ == "AddSD":  # pytensor.sparse's gradient plus a dense one
        rows, columns, values, _ = _sparse_entries(node.inputs[0])
        parts, other = _row_parts(node.inputs[1])
        if columns is None:
            return parts + [(rows, values)], other
        return parts, True
    if isinstance(op, Elemwise) and isinstance(op.scalar_op, ps.Add):
        parts, other = [], False
        for term in node.inputs:
            if term.type.broadcastable != grad.type.broadcastable:
                return [], True
            term_parts, term_other = _row_parts(term)
            parts += term_parts
            other = other or term_other
        return parts, other
    if isinstance(op, Elemwise) and isinstance(op.scalar_op, (ps.Mul, ps.Neg, ps.Cast)):
        # A row-sparse gradient times scalars (clipping, loss scaling) stays row-sparse.
        spread = [x for x in node.inputs if not all(x.type.broadcastable)]
        if len(spread) == 1 and spread[0].type.broadcastable == grad.type.broadcastable:
            parts, other = _row_parts(spread[0])
            if parts and not other:
                rebuilt = [(index, _apply_elemwise(node, spread[0], values)) for index, values in parts]
                return rebuilt, False
    return [], not _is_zeros(grad)


def _apply_elemwise(node, replaced, values):
    """``node``'s operation with ``values`` in place of its input ``replaced``."""
    inputs = [values if x is replaced else x for x in node.inputs]
    return Elemwise(node.op.scalar_op)(*inputs)


def touched_rows(grad, param, label="param", warn=True):
    """The rows a row-sparse gradient touches, as a :data:`RowGradient`; None for any other gradient.

    ``rows`` are distinct (negative indices counted from the end), ``values``
    the sum of the gradient rows given for each, in ``param``'s dtype.  An
    index outside the matrix raises ``IndexError`` when the step runs.  A
    gradient that adds a dense term to row increments (the parameter is
    also used densely elsewhere in the loss) gives None with a warning.
    """
    if param.ndim != 2:
        return None
    parts, other = _row_parts(grad)
    if not parts:
        return None
    if other:
        if not warn:
            return None
        warnings.warn(
            "lazy update: %s is also used densely in the loss (its gradient is not only rows), "
            "so all its rows are updated" % label,
            stacklevel=4,
        )
        return None
    columns = param.shape[1]
    index = pt.concatenate([pt.cast(i, "int64").ravel() for i, _ in parts])
    values = pt.concatenate([
        pt.cast(pt.broadcast_to(v, (*i.shape, columns)), param.dtype).reshape((-1, columns)) for i, v in parts
    ])
    count = pt.cast(param.shape[0], "int64")
    index = pt.where(index < 0, index + count, index)
    inside = pt.all((index >= 0) & (index < count))
    index = Assert("lazy update of %s: a row index is out of range" % label)(index, inside)
    # Sorting groups repeated rows; unique(return_inverse) would run in Numba's object mode.
    order = pt.argsort(index)
    ordered = index[order]
    first = pt.concatenate([pt.ones((1,), dtype="bool"), pt.neq(ordered[1:], ordered[:-1])])
    group = pt.cumsum(pt.cast(first, "int64")) - 1
    rows = ordered[first.nonzero()[0]]
    summed = pt.inc_subtensor(pt.zeros((rows.shape[0], columns), dtype=param.dtype)[group], values[order])
    return RowGradient(rows, summed)


# ---------------------------------------------------------------------------
# the toolkit on row-sparse gradients and row updates


def squared_norm(grad, label="param"):
    """``sum(grad**2)``; for a row-sparse gradient from its touched rows only (same value)."""
    rows = touched_rows(grad, grad, label, warn=False) if grad.ndim == 2 else None
    return pt.sum(pt.sqr(grad if rows is None else rows.values))


def _row_update(var, expr):
    """``(rows, values)`` if ``expr`` is ``set_subtensor(var[rows], values)``, else None."""
    node = expr.owner
    if node is None or not isinstance(node.op, (AdvancedIncSubtensor, AdvancedIncSubtensor1)):
        return None
    if not node.op.set_instead_of_inc or node.inputs[0] is not var:
        return None
    rows = _row_index(node)
    return None if rows is None else (rows, node.inputs[1])


def checked_part(expr, var=None):
    """What of ``expr`` must be finite: the new rows of a row update of ``var``, the touched
    rows of a row-sparse gradient, else all of it."""
    row_update = _row_update(var, expr) if var is not None else None
    if row_update is not None:
        return row_update[1]
    rows = touched_rows(expr, expr, warn=False) if expr.ndim == 2 else None
    return expr if rows is None else rows.values


def gated_update(var, expr, condition):
    """``switch(condition, expr, var)``; for a row update, the switch on the new rows only."""
    row_update = _row_update(var, expr)
    if row_update is None:
        return pt.switch(condition, expr, var)
    rows, values = row_update
    return pt.set_subtensor(var[rows], pt.switch(condition, values, var[rows]))


# ---------------------------------------------------------------------------
# the lazy front door of element-wise rules


def lazy_elementwise_rule(formula, loss_or_grads, params, rule, lazy=False, slots=(), counter=False, **hyper):
    """:func:`symupdates.engine.elementwise_rule`; with ``lazy=True``, row-sparse parameters updated at their touched rows.

    For a parameter whose gradient is row-sparse (:func:`touched_rows`),
    ``formula`` is applied to its touched rows only: parameter rows, gradient
    rows and state rows are gathered, and the new rows are written back with
    ``set_subtensor``; the other rows of the parameter and of its state keep
    their values.  Every other parameter gets the dense update.  State,
    counter and the order of the updates are those of ``elementwise_rule``,
    so state files and ``get_state_values`` work alike with and without
    ``lazy``.
    """
    from .core import check_hyperparameters, check_params, get_or_compute_grads, make_updates, param_label, step_counter
    from .engine.apply import elementwise_rule, elementwise_updates, elementwise_values, new_slot, slot_spec
    from .engine.stages import ARGUMENT_NAMES
    from .rules.options import check_switch

    if not check_switch("lazy", lazy):
        return elementwise_rule(formula, loss_or_grads, params, rule, slots=slots, counter=counter, **hyper)
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    touched = [touched_rows(g, p, param_label(p, i)) for i, (g, p) in enumerate(zip(grads, params))]
    if all(t is None for t in touched):
        return elementwise_rule(formula, grads, params, rule, slots=slots, counter=counter, **hyper)
    check_hyperparameters(params, **{ARGUMENT_NAMES.get(k, k): v for k, v in hyper.items()})
    slots = [slot_spec(s) for s in slots]
    names = [name for name, _, _ in slots]
    states = [[new_slot(p, rule, spec) for spec in slots] for p in params]

    def positional(param, grad, *state, **rule_values):  # the engine binds a formula's arguments by name
        return formula(param=param, grad=grad, **dict(zip(names, state)), **rule_values)

    if counter:
        count, hyper["t"] = step_counter(rule)
    dense = [i for i, t in enumerate(touched) if t is None]
    lazy = [i for i, t in enumerate(touched) if t is not None]
    new = OrderedDict()
    if dense:
        new.update(elementwise_updates(
            positional,
            rows=[(params[i], grads[i], *states[i]) for i in dense],
            targets=[(*states[i], params[i]) for i in dense],
            hyper=hyper,
            name=rule,
        ))
    gathered = [[var[touched[i].rows] for var in (*states[i], params[i])] for i in lazy]
    new_rows = elementwise_values(
        positional,
        rows=[(old[-1], touched[i].values, *old[:-1]) for i, old in zip(lazy, gathered)],
        like=gathered,
        name=rule,
        **hyper,
    )
    for i, values in zip(lazy, new_rows):
        for var, value in zip((*states[i], params[i]), values):
            new[var] = pt.set_subtensor(var[touched[i].rows], value)
    updates = make_updates((var, new[var]) for i in range(len(params)) for var in (*states[i], params[i]))
    if counter:
        updates[count] = hyper["t"]
    return updates
