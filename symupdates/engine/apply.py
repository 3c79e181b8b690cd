"""The engine's front doors: a traced formula applied to every parameter.

:func:`elementwise_rule` is how a rule is built: it creates the state,
traces the rule's ``formula`` (:mod:`symupdates.engine.trace`) and
applies it to all parameters with O(1) :class:`~symupdates.engine.op.MultiElemwise`
nodes per group of tensors (:func:`apply_composite`).
"""

from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt
from pytensor.tensor.elemwise import Elemwise

from ..core import as_hyperparameter, as_type_of, check_hyperparameters, check_params, get_or_compute_grads, new_global_state, new_state, step_counter
from .gradient import differentiable
from .op import multi_elemwise, row_layout
from .trace import trace_elementwise

__all__ = ["elementwise_rule", "elementwise_updates", "elementwise_values", "apply_composite", "parameter_updates"]

#: Formulas abbreviate some arguments; errors name the rule's argument.
ARGUMENT_NAMES = {"lr": "learning_rate"}


def apply_composite(composite, rows, invariants, targets=None):
    """Apply ``composite`` element-wise to every row, with O(1) graph nodes.

    ``rows`` is a list of tuples of tensors, one tuple per parameter; 0-d
    entries broadcast.  ``invariants`` (0-d) are appended to every row.
    ``targets`` (optional, one tuple per row) names the variable each output
    replaces; an output may then overwrite that input in place.  Returns a
    list of output lists, one per row.

    Rows that share a layout go into one :class:`~symupdates.engine.op.MultiElemwise`
    node; a row the multi-tensor kernel cannot take (entries broadcasting
    against each other) gets an ``Elemwise`` of its own.
    """
    results = [None] * len(rows)
    groups = OrderedDict()
    for index, row in enumerate(rows):
        layout = row_layout(row)
        if layout is None:
            outs = Elemwise(differentiable(composite))(*row, *invariants)
            results[index] = list(outs) if isinstance(outs, (list, tuple)) else [outs]
            continue
        candidates = (-1,) * composite.nout
        if targets is not None:
            candidates = tuple(
                next((k for k, x in enumerate(row) if x is target), -1)
                for target in targets[index]
            )
        groups.setdefault((layout, candidates), []).append(index)
    for (layout, candidates), indices in groups.items():
        outputs = multi_elemwise(composite, [rows[i] for i in indices], invariants, candidates)
        for i, outs in zip(indices, outputs):
            results[i] = outs
    return results


def elementwise_values(formula, rows, like, name="formula", **hyper):
    """The outputs of an element-wise ``formula`` for every row, as expressions.

    Parameters
    ----------
    formula : callable
        ``formula(*row, **hyper)`` returns one output per entry of
        the row's ``like``.
    rows : sequence of tuples of tensors
        For each parameter, the element-wise arguments of ``formula`` (for
        example ``(param, grad, m, v)``).  0-d tensors broadcast.
    like : sequence of tuples of variables
        For each row, one variable per output, whose type the output takes
        (its dtype is the one the formula is computed in).
    **hyper
        Hyperparameters (numbers or symbolic scalars), cast to the dtype of
        each row group's first output.

    Returns
    -------
    list of lists of expressions, row by row.
    """
    return _elementwise(formula, rows, like, hyper, name, overwrite=False)


def cast_hyperparameters(hyper, dtype):
    """``hyper`` as 0-d expressions of ``dtype`` (the step number ``t`` too), named as the rule's arguments."""
    return {k: as_hyperparameter(v, dtype, name=ARGUMENT_NAMES.get(k, k)) for k, v in hyper.items()}


def _elementwise(formula, rows, like, hyper, name, overwrite):
    """:func:`elementwise_values`; with ``overwrite``, an output may replace
    the row input that is its ``like`` in place (an update of that variable)."""
    hyper = hyper or {}
    rows = [tuple(pt.as_tensor_variable(x) for x in row) for row in rows]
    like = [tuple(t) for t in like]
    groups = OrderedDict()
    for index, (row, row_like) in enumerate(zip(rows, like)):
        key = (tuple(x.dtype for x in row), tuple(t.dtype for t in row_like))
        groups.setdefault(key, []).append(index)

    results = [None] * len(rows)
    for (input_dtypes, output_dtypes), indices in groups.items():
        dtype = output_dtypes[0]
        composite, invariants = trace_elementwise(formula, input_dtypes, output_dtypes, cast_hyperparameters(hyper, dtype),
                                                  name)
        targets = [like[i] for i in indices] if overwrite else None
        outputs = apply_composite(composite, [rows[i] for i in indices], invariants, targets)
        for i, outs in zip(indices, outputs):
            results[i] = [as_type_of(expr, var) for var, expr in zip(like[i], outs)]
    return results


def elementwise_updates(formula, rows, targets, hyper=None, name="formula"):
    """Updates ``{target: formula(*row)}`` for element-wise rules.

    As :func:`elementwise_values`, with ``targets`` the shared variables
    that receive the outputs (for example ``(m, v, param)``), which the
    outputs may overwrite in place, and ``hyper`` a dict.

    Returns
    -------
    OrderedDict
        ``{target: expression}``, row by row, in target order.
    """
    values = _elementwise(formula, rows, targets, hyper, name, overwrite=True)
    return OrderedDict(
        (var, expr) for target, outs in zip(targets, values) for var, expr in zip(target, outs)
    )


def elementwise_rule(formula, loss_or_grads, params, rule, slots=(), counter=False, scalar_slots=(), scalar_formula=None,
                     **hyper):
    """Updates of a rule whose state is element-wise: the front door of rules.

    Creates, for each parameter, one state variable per slot (named
    ``<param>.<rule>.<slot>``; a slot is a name, or a ``(name, initial
    value)`` pair whose value may be a function of the parameter's value),
    and with ``counter=True`` one integer step counter whose next value is
    passed to ``formula`` as ``t`` (1 on the first step).
    ``formula(param, grad, *slots, **hyper)`` returns the new slots followed by
    the new parameter.

    ``scalar_slots`` (``(name, initial value)`` pairs) are state of the
    whole rule, one scalar ``<rule>.<name>`` for all parameters, in the
    widest parameter dtype: ``scalar_formula(*scalar_slots, **hyper)`` (``t``
    cast to that dtype) returns their new values, computed once per step
    outside the element-wise kernel and passed to ``formula`` by name.

    The result maps slots then parameter, parameter by parameter, then the
    counter, then the scalar slots.
    """
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    check_hyperparameters(params, **{ARGUMENT_NAMES.get(k, k): v for k, v in hyper.items()})
    slots = [(s, 0.0) if isinstance(s, str) else tuple(s) for s in slots]
    states = [[new_state(p, rule, name, init(p.get_value(borrow=True)) if callable(init) else init)
               for name, init in slots] for p in params]
    if counter:
        count, hyper["t"] = step_counter(rule)
    scalar_updates = scalar_state_updates(rule, params, scalar_slots, scalar_formula, hyper)
    updates = parameter_updates(formula, params, grads, states, hyper, rule)
    if counter:
        updates[count] = hyper["t"]
    updates.update(scalar_updates)
    return updates


def scalar_state_updates(rule, params, scalar_slots, scalar_formula, hyper):
    """The scalar slots of :func:`elementwise_rule`: creates them, puts their
    new values into ``hyper`` and returns ``[(slot, new value)]``."""
    if not scalar_slots:
        return []
    # The widest parameter dtype: no float64 arithmetic in a float32 graph.
    dtype = np.result_type(*[p.dtype for p in params]).name
    slots = [new_global_state(rule, name, init, dtype) for name, init in scalar_slots]
    values = scalar_formula(*slots, **cast_hyperparameters(hyper, dtype))
    values = values if isinstance(values, (list, tuple)) else [values]
    updates = []
    for (name, _), slot, value in zip(scalar_slots, slots, values):
        hyper[name] = value
        updates.append((slot, as_type_of(value, slot)))
    return updates


def parameter_updates(formula, params, grads, states, hyper, rule):
    """:func:`elementwise_updates` of ``formula(param, grad, *state)`` for every
    parameter, its outputs replacing the state then the parameter."""
    return elementwise_updates(
        formula,
        rows=[(p, g, *s) for p, g, s in zip(params, grads, states)],
        targets=[(*s, p) for p, s in zip(params, states)],
        hyper=hyper,
        name=rule,
    )
