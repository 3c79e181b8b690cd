"""Several optimizer steps as one graph: :func:`unroll`.

A rule's updates are a pure function of the current values of the shared
variables they update (parameters, state, counters) and of the loss's
inputs.  Substituting, step after step, the previous step's values for the
shared variables gives the values after ``k`` steps as one expression.  It
serves twice:

* as ``updates=`` of ``pytensor.function``: one call runs ``k`` steps;
* as an expression: a validation loss evaluated at the unrolled parameters
  is differentiable with respect to the hyperparameters and the initial
  parameters (hypergradients, MAML-style inner loops).  The engine's
  :class:`~symupdates.engine.op.MultiElemwise` is differentiable
  (:mod:`symupdates.engine.gradient`).

Gradients through operations with no useful derivative follow PyTensor's
conventions: ``sign`` and comparisons have zero derivative and ``maximum``
passes the gradient to the larger argument.  For sign-based rules
(``sign_sgd``, ``signum``, ``lion``, ``rprop``) the gradient with respect to
the learning rate is exact almost everywhere, but no gradient flows through
the gradient's sign, so the gradient with respect to the initial parameters
sees only their direct path (``d p_k / d p_0`` is the identity).
"""

import inspect
import numbers
from collections import OrderedDict

import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.traversal import ancestors, toposort
from pytensor.scalar.basic import Second
from pytensor.tensor.elemwise import Elemwise
from pytensor.raise_op import Assert

from .core import as_type_of, check_params

__all__ = ["unroll", "UNROLL_METHODS"]

#: ``"unrolled"``: ``steps`` copies of the step graph (fastest calls for a
#: few steps, graph size grows with ``steps``); ``"scan"``: one
#: ``pytensor.scan`` loop (graph size independent of ``steps``).
UNROLL_METHODS = ("auto", "unrolled", "scan")

#: ``method="auto"`` unrolls up to this many steps and loops beyond.
AUTO_UNROLL_MAX_STEPS = 16


def _check_steps(steps):
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError("steps must be a positive Python int, got %r" % (steps,))
    if steps < 1:
        raise ValueError("steps must be at least 1, got %d" % steps)
    return int(steps)


def _check_sequences(sequences, steps, loss):
    """``[(input, sequence)]`` with each sequence's leading axis checked.

    A leading axis known statically must equal ``steps`` (``ValueError``
    now); one known only at run time is checked by an ``Assert`` in the
    graph.
    """
    if sequences is None:
        return []
    if not isinstance(sequences, dict):
        raise TypeError("sequences must be a dict {symbolic input: tensor of leading axis steps}, got %r"
                        % (sequences,))
    loss_ancestors = set(ancestors([loss]))
    checked = []
    for var, seq in sequences.items():
        if not isinstance(var, Variable) or isinstance(var, SharedVariable) or var.owner is not None:
            raise TypeError("sequences: the key %r is not a symbolic input (a variable such as pt.matrix())"
                            % (var,))
        if var not in loss_ancestors:
            raise ValueError("sequences: the loss does not depend on %s" % (var,))
        seq = pt.as_tensor_variable(seq)
        if seq.ndim != var.ndim + 1:
            raise ValueError(
                "sequences[%s]: expected %d dimensions (steps, then the input's %d), got %d"
                % (var, var.ndim + 1, var.ndim, seq.ndim)
            )
        length = seq.type.shape[0]
        if length is not None and length != steps:
            raise ValueError(
                "sequences[%s] has a leading axis of length %d, but steps=%d: give one slice per step"
                % (var, length, steps)
            )
        if length is None:
            seq = Assert("sequences[%s]: the leading axis must have length steps=%d" % (var, steps))(
                seq, pt.eq(seq.shape[0], steps)
            )
        if seq.dtype != var.dtype:
            seq = pt.cast(seq, var.dtype)
        checked.append((var, seq))
    return checked


def _fills_read_shapes_only(values):
    """``values`` with every ``fill(s, v)`` of a static shape replaced by ``v`` (broadcast).

    The gradient of a sum starts from ``fill(loss, 1)``, and its terms from
    ``fill(term, g)``: they read the forward pass for its shape alone.  Where
    that shape is static, ``v`` broadcast to it is the same value, and the
    forward pass (the loss and every node only it needs) drops out of each
    unrolled step instead of being copied ``steps`` times for PyTensor's
    rewriter to remove (quadratic in the graph's size).  A shape known only
    at run time may change from step to step (rows a sparse gradient
    touches), so such a fill stays.
    """
    fgraph = FunctionGraph(outputs=list(values), clone=True, copy_inputs=False)
    for node in fgraph.toposort():
        if isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, Second):
            value, out = node.inputs[1], node.outputs[0]
            if value.type.dtype == out.type.dtype and None not in out.type.shape:
                new = value if value.type.shape == out.type.shape else pt.alloc(value, *out.type.shape)
                fgraph.replace(out, new, import_missing=True)
    return list(fgraph.outputs)


def _substitute(outputs, replace):
    """``outputs`` with ``replace`` applied, as new nodes only where a value changes.

    Unlike ``clone_replace``, a node that does not depend on a replaced
    variable (a constant gradient, hyperparameter arithmetic) is kept, not
    copied once per step for PyTensor's merge rewrite to find again.
    """
    memo = dict(replace)
    for node in toposort(outputs):
        inputs = [memo.get(x, x) for x in node.inputs]
        if any(new is not old for new, old in zip(inputs, node.inputs)):
            memo.update(zip(node.outputs, node.clone_with_new_inputs(inputs, strict=False).outputs))
    return [memo.get(o, o) for o in outputs]


def unroll(rule, loss, params, steps, sequences=None, method="auto"):
    """The values of the parameters and the optimizer state after ``steps`` steps.

    Parameters
    ----------
    rule : callable
        A rule with its hyperparameters applied (``adam(learning_rate=lr)``)
        or a :func:`~symupdates.chain`: ``rule(loss, params)`` gives updates.
        Hyperparameters may be symbolic (differentiate with respect to them).
    loss : scalar expression
        Of the shared ``params`` and of symbolic inputs.
    params : list of shared variables
    steps : int
        The number of steps, at least 1.
    sequences : dict, optional
        ``{input: tensor}``: step ``k`` (0-based) uses ``tensor[k]`` for
        ``input``, so each tensor's leading axis has length ``steps``
        (checked now when static, by an ``Assert`` at run time otherwise).
        Inputs not listed are the same at every step.
    method : {"auto", "unrolled", "scan"}
        ``"unrolled"`` builds ``steps`` copies of the step graph,
        ``"scan"`` one ``pytensor.scan`` loop; ``"auto"`` (default) unrolls
        up to 16 steps.

    Returns
    -------
    OrderedDict
        ``{shared variable: value after steps steps}`` for every variable
        the rule updates: parameters, state, step and schedule counters.
        Use it as ``updates=`` (one call runs ``steps`` steps, with the
        numbers of ``steps`` calls of the one-step function), or substitute
        it into another expression with ``pytensor.clone_replace``.

    Raises
    ------
    ValueError, TypeError
        For ``steps < 1``, a sequence whose leading axis is not ``steps``,
        a loss that does not depend on every parameter, an unknown method;
        before any optimizer state is created.
    """
    steps = _check_steps(steps)
    if method not in UNROLL_METHODS:
        raise ValueError("method must be one of %s, got %r" % (", ".join(UNROLL_METHODS), method))
    params = check_params(params)
    loss = pt.as_tensor_variable(loss)
    if loss.ndim != 0:
        raise ValueError("the loss must be a scalar, got an expression with %d dimensions" % loss.ndim)
    loss_ancestors = set(ancestors([loss]))
    unused = [p for p in params if p not in loss_ancestors]
    if unused:
        raise ValueError(
            "the loss does not depend on the parameter(s) %s: unrolled steps would never change them; "
            "pass only parameters the loss is computed from" % ", ".join(str(p) for p in unused)
        )
    sequences = _check_sequences(sequences, steps, loss)
    if method == "auto":
        method = "unrolled" if steps <= AUTO_UNROLL_MAX_STEPS else "scan"

    updates = rule(loss, params)
    if not isinstance(updates, dict):
        raise TypeError("rule(loss, params) returned %r, not a dict of updates" % type(updates).__name__)
    carried = list(updates.keys())
    step_values = _fills_read_shapes_only([as_type_of(v, s) for s, v in updates.items()])
    inputs = [var for var, _ in sequences]

    def one_step(slices, current):
        replace = dict(zip(inputs, slices))
        replace.update((s, c) for s, c in zip(carried, current) if s is not c)
        return [as_type_of(v, s) for v, s in zip(_substitute(step_values, replace), carried)]

    if method == "unrolled":
        current = list(carried)
        for k in range(steps):
            current = one_step([seq[k] for _, seq in sequences], current)
    else:
        n_seq = len(sequences)

        def body(*args):
            return one_step(list(args[:n_seq]), list(args[n_seq:]))

        scan_args = dict(sequences=[seq for _, seq in sequences], outputs_info=list(carried), n_steps=steps)
        if "return_updates" in inspect.signature(pytensor.scan).parameters:
            outputs = pytensor.scan(body, return_updates=False, **scan_args)
        else:  # PyTensor 2.x: (outputs, updates)
            outputs, _ = pytensor.scan(body, **scan_args)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        current = [out[-1] for out in outputs]
    return OrderedDict((s, as_type_of(c, s)) for s, c in zip(carried, current))
