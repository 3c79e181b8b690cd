"""How a rule is built: state, stages, and traced formulas applied to every parameter.

:func:`elementwise_rule` is the one way rules are built: it creates the
state, runs the rule's stages (:mod:`symupdates.engine.stages`), tracing
each element-wise formula once (:mod:`symupdates.engine.trace`) and
applying it to all parameters with O(1) :class:`~symupdates.engine.op.MultiElemwise`
nodes per group of tensors (:func:`apply_composite`).
:func:`elementwise_updates` and :func:`elementwise_values` apply a formula
to rows given directly: the wrappers of updates (``apply_momentum``) and
the lazy row-sparse updates use them.
"""

from collections import OrderedDict

import pytensor.tensor as pt
from pytensor.tensor.elemwise import Elemwise

from ..core import as_hyperparameter, as_type_of, check_hyperparameters, check_params, get_or_compute_grads, new_global_state, new_state, step_counter
from .gradient import differentiable
from .op import multi_elemwise, row_layout
from .stages import ARGUMENT_NAMES, Values, entries_of, check_bindings, elementwise, run_stages
from .trace import trace_elementwise

__all__ = ["elementwise_rule", "apply_composite"]

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


def elementwise_rule(formula, loss_or_grads, params, rule, slots=(), counter=False, scalar_slots=(), lazy=False,
                     **hyper):
    """The updates of a rule: the one way rules are built.

    ``formula`` is the rule's element-wise formula, ``formula(param, grad,
    <slots>, <hyperparameters>)`` returning the new slots then the new
    parameter, or a list of stages (:mod:`symupdates.engine.stages`:
    :class:`elementwise`, :class:`per_tensor`, :class:`across_tensors`)
    that leave the new values under the slots' names and ``param``.  Their
    arguments are looked up by name among the tensor's values (``param``,
    ``grad``, ``index``, the slots, what earlier stages returned) and the
    rule's (the hyperparameters, ``t``, the scalar slots).

    ``slots``: the state of each parameter, named ``<param>.<rule>.<slot>``.
    A slot is a name, a ``(name, initial value)`` pair whose value may be a
    function of the parameter's value, or a ``(name, initial value, shape)``
    triple for a slot not shaped like its parameter: ``shape(dims)`` is
    called with the parameter's value shape and with its static shape
    (``None`` for unknown lengths) and returns the slot's; a list of shapes
    gives a tuple of state variables ``<slot>0``, ``<slot>1``, ...

    ``counter=True`` adds an integer step counter ``<rule>.t``; its next value
    is the rule's value ``t`` (1 on the first step).  A ``(counter, next
    value)`` pair from :func:`symupdates.core.step_counter` shares one
    counter between several calls (the caller registers its update).

    ``scalar_slots`` (``(name, initial value)`` pairs) are state of the whole
    rule, one scalar ``<rule>.<name>`` in the widest parameter dtype, which
    an :class:`across_tensors` stage updates.

    ``lazy=True`` updates only the rows a row-sparse gradient touches
    (:func:`symupdates.rowsparse.lazy_elementwise_rule`; one formula only).

    The result maps the slots then the parameter, parameter by parameter,
    then the counter, then the scalar slots.  Hyperparameters are checked
    and all arguments bound before any state is created.
    """
    if lazy is not False:
        if not callable(formula):
            raise TypeError("%s: lazy updates take one element-wise formula, not stages" % rule)
        from ..rowsparse import lazy_elementwise_rule

        return lazy_elementwise_rule(formula, loss_or_grads, params, rule, lazy=lazy, slots=slots, counter=counter,
                                     **hyper)
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    check_hyperparameters(params, **{ARGUMENT_NAMES.get(k, k): v for k, v in hyper.items()})
    slots = [slot_spec(s) for s in slots]
    names = [name for name, _, _ in slots]
    stages = [elementwise(formula, returns=(*names, "param"))] if callable(formula) else list(formula)
    own_counter = counter is True
    rule_values = dict(hyper)
    scalars = [(name, init) for name, init in scalar_slots]
    # placeholders: the stages' arguments are bound before any state exists
    rule_values.update((name, None) for name in ["t"] * (counter is not False) + [name for name, _ in scalars])
    tensors = [OrderedDict([("param", p), ("grad", g), ("index", i)] + [(name, None) for name in names])
               for i, (p, g) in enumerate(zip(params, grads))]
    values = Values(rule, params, tensors, rule_values)
    check_bindings(stages, values)

    if counter is not False:
        count, rule_values["t"] = step_counter(rule) if own_counter else counter
    states = [OrderedDict([(name, new_slot(p, rule, spec)) for name, spec in zip(names, slots)] + [("param", p)])
              for p in params]
    for tensor, state in zip(tensors, states):
        tensor.update(state)
    scalar_vars = [new_global_state(rule, name, init, values.wide_dtype) for name, init in scalars]
    rule_values.update((name, var) for (name, _), var in zip(scalars, scalar_vars))
    run_stages(stages, values, states)

    pairs = []
    for tensor, state in zip(tensors, states):
        for name, var in state.items():
            pairs += zip(entries_of(var), entries_of(tensor[name]))
    if own_counter:
        pairs.append((count, rule_values["t"]))
    pairs += [(var, rule_values[name]) for (name, _), var in zip(scalars, scalar_vars)]
    return OrderedDict((var, as_type_of(value, var)) for var, value in pairs if value is not var)


def slot_spec(slot):
    """``(name, initial value, shape function or None)`` of a slot as :func:`elementwise_rule` takes it."""
    slot = (slot,) if isinstance(slot, str) else tuple(slot)
    return slot + (0.0, None)[len(slot) - 1:]


def new_slot(param, rule, spec):
    """The state variable (or tuple of them) of one slot of ``param``."""
    name, init, shape = spec
    value = param.get_value(borrow=True)
    if callable(init):
        init = init(value)
    if shape is None:
        return new_state(param, rule, name, init)
    shapes, static = shape(tuple(value.shape)), shape(tuple(param.type.shape))
    if isinstance(shapes, list):
        return tuple(new_state(param, rule, "%s%d" % (name, k), init, shape=s, static_shape=z)
                     for k, (s, z) in enumerate(zip(shapes, static)))
    return new_state(param, rule, name, init, shape=shapes, static_shape=static)
