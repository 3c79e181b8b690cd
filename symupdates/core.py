"""The helpers every rule is built on: gradients, hyperparameters, state, counters.

Each of these exists once.  A rule module never creates a shared variable,
casts a hyperparameter or validates a parameter list by itself; it calls the
helpers below, so that the guarantees of the package (exact dtypes, named
state, integer step counters, early and clear errors) hold for every rule.
"""

import functools
import inspect
import numbers
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable

__all__ = [
    "get_or_compute_grads",
    "update_rule",
    "as_hyperparameter",
    "check_hyperparameters",
    "as_type_of",
    "new_state",
    "new_global_state",
    "step_counter",
    "is_state",
    "param_label",
    "RULES",
]

#: Attribute set on the ``tag`` of every shared variable this package creates
#: as optimizer state; its value is ``(rule, slot)``.
STATE_TAG = "symupdates_state"


# ---------------------------------------------------------------------------
# parameters and gradients


def param_label(param, index=None):
    """The name used for ``param`` in state names and error messages."""
    if param.name:
        return param.name
    return "param" if index is None else "param%d" % index


def check_params(params, floating=True):
    """Validate a parameter list and return it as a list.

    Raises ``TypeError`` or ``ValueError`` with a message saying what to do,
    before any graph is built.  ``floating=False`` accepts integer shared
    variables too (gradients of them exist, updating them does not).
    """
    if isinstance(params, (SharedVariable, np.ndarray)) or not hasattr(params, "__iter__"):
        raise TypeError(
            "params must be a list of shared variables, got %r; "
            "wrap a single parameter in a list: [param]" % (params,)
        )
    params = list(params)
    if not params:
        raise ValueError("params is empty: pass at least one shared variable to optimize")
    seen = {}
    for i, p in enumerate(params):
        if not isinstance(p, SharedVariable):
            raise ValueError(
                "params[%d] (%r) is not a shared variable; updates can only "
                "be computed for shared variables, create it with "
                "pytensor.shared(value)" % (i, p)
            )
        if id(p) in seen:
            raise ValueError(
                "params[%d] (%s) is the same variable as params[%d]; list every "
                "parameter once" % (i, param_label(p, i), seen[id(p)])
            )
        seen[id(p)] = i
    for i, p in enumerate(params if floating else ()):
        dtype = getattr(p.type, "dtype", None)
        if dtype is None or not str(dtype).startswith("float"):
            raise TypeError(
                "params[%d] (%s) has dtype %s; update rules need floating-point "
                "parameters (float32 or float64): create it from a float array"
                % (i, param_label(p, i), dtype)
            )
    return params


def get_or_compute_grads(loss_or_grads, params):
    """Return the gradients of ``loss_or_grads`` with respect to ``params``.

    Parameters
    ----------
    loss_or_grads : scalar expression or list/tuple of expressions
        A scalar loss, whose gradients are computed with ``pytensor.grad``,
        or the gradients themselves, one per parameter.
    params : list of shared variables
        The parameters, all floating point, each listed once.

    Returns
    -------
    list of expressions
        One gradient per parameter, with the parameter's dtype (for floating
        parameters) and number of dimensions.  A list of gradients that needs
        no conversion is returned itself, as in Lasagne.

    Raises
    ------
    ValueError
        For a parameter that is not a shared variable, a parameter listed
        twice, an empty parameter list, a gradient list of the wrong length,
        a gradient of the wrong number of dimensions or a non-scalar loss.
    """
    params = check_params(params, floating=False)
    if isinstance(loss_or_grads, (list, tuple)):
        if len(loss_or_grads) != len(params):
            raise ValueError(
                "got %d gradients for %d parameters; pass one gradient per "
                "parameter, in the order of params" % (len(loss_or_grads), len(params))
            )
        grads = []
        for i, (g, p) in enumerate(zip(loss_or_grads, params)):
            g = pt.as_tensor_variable(g)
            if g.ndim != p.ndim:
                raise ValueError(
                    "gradient %d has %d dimensions but its parameter %s has %d"
                    % (i, g.ndim, param_label(p, i), p.ndim)
                )
            floating = str(p.dtype).startswith("float")
            grads.append(pt.cast(g, p.dtype) if floating and g.dtype != p.dtype else g)
        # Lasagne returns a list of gradients as it is (``is grads``); a new
        # list only where an entry had to be converted.
        if isinstance(loss_or_grads, list) and all(g is h for g, h in zip(grads, loss_or_grads)):
            return loss_or_grads
        return grads
    loss = pt.as_tensor_variable(loss_or_grads)
    if loss.ndim != 0:
        raise ValueError(
            "the loss must be a scalar, got an expression with %d dimensions; "
            "reduce it first, e.g. loss.mean() or loss.sum()" % loss.ndim
        )
    return pytensor.grad(loss, params)


# ---------------------------------------------------------------------------
# hyperparameters and dtypes


def as_hyperparameter(value, dtype, name="hyperparameter"):
    """A 0-d expression of ``dtype`` for a hyperparameter.

    ``value`` may be a Python number, a NumPy scalar or 0-d array, or a
    symbolic scalar (for example a shared variable changed between steps).
    Numbers become constants of exactly ``dtype``, so a Python float never
    upcasts a float32 graph; symbolic values are cast.
    """
    if isinstance(value, Variable):
        if getattr(value.type, "ndim", None) != 0:
            raise ValueError(
                "%s must be a scalar, got a symbolic value with %s dimensions"
                % (name, getattr(value.type, "ndim", "?"))
            )
        return value if value.dtype == dtype else pt.cast(value, dtype)
    if isinstance(value, (bool, np.bool_)) or not (
        isinstance(value, numbers.Number) or (isinstance(value, np.ndarray) and value.ndim == 0)
    ):
        raise TypeError(
            "%s must be a number or a symbolic scalar, got %r" % (name, value)
        )
    return pt.constant(np.asarray(value, dtype=dtype))


def check_hyperparameters(params, **hyper):
    """Refuse a bad hyperparameter value before any state is created.

    ``hyper`` maps the user's argument names to their values; each must be
    accepted by :func:`as_hyperparameter`.
    """
    for name, value in hyper.items():
        as_hyperparameter(value, params[0].dtype, name=name)


def as_type_of(expr, var):
    """Return ``expr`` with exactly the type of the shared variable ``var``.

    Casts the dtype and restores static shape / broadcastable information, so
    that ``pytensor.function(updates=...)`` accepts the pair.
    """
    expr = pt.as_tensor_variable(expr)
    if expr.dtype != var.dtype:
        expr = pt.cast(expr, var.dtype)
    if expr.type != var.type:
        expr = var.type.filter_variable(expr, allow_convert=True)
    return expr


# ---------------------------------------------------------------------------
# optimizer state


def is_state(var):
    """True for a shared variable created by this package as optimizer state."""
    return getattr(getattr(var, "tag", None), STATE_TAG, None) is not None


def _tag_state(var, rule, slot):
    setattr(var.tag, STATE_TAG, (rule, slot))
    return var


def new_state(param, rule, slot, init=0.0, shape=None, dtype=None, static_shape=None):
    """A zero-initialised (or ``init``-filled) state variable for ``param``.

    The variable is named ``<param>.<rule>.<slot>`` (``W.adam.m``), has the
    parameter's dtype, shape and static shape unless told otherwise, and is
    tagged as optimizer state for :func:`symupdates.get_state_values`.
    """
    value = param.get_value(borrow=True)
    if shape is None:
        shape = value.shape
        if static_shape is None:
            static_shape = param.type.shape
    dtype = dtype or param.dtype
    var = pytensor.shared(
        np.full(shape, init, dtype=dtype),
        name="%s.%s.%s" % (param_label(param), rule, slot),
        shape=static_shape if static_shape is not None else (None,) * len(shape),
    )
    return _tag_state(var, rule, slot)


def new_global_state(rule, slot, init=0.0, dtype="float64"):
    """A scalar state variable of ``rule`` that belongs to no parameter.

    Named ``<rule>.<slot>`` (``nadam.mu_product``) and tagged as optimizer
    state, like the per-parameter state of :func:`new_state`.
    """
    var = pytensor.shared(np.asarray(init, dtype=dtype), name="%s.%s" % (rule, slot))
    return _tag_state(var, rule, slot)


#: The step counter's dtype: an integer never stalls (a float32 counter stops
#: counting at 2**24 steps, Lasagne's bug).
COUNTER_DTYPE = "int64"


def step_counter(rule, name="t"):
    """A new integer step counter for ``rule``, starting at 0.

    Returns ``(counter, next_value)``: ``next_value`` is ``counter + 1``, the
    number of the step being computed (1 on the first call), and the update
    the rule must register for ``counter``.
    """
    counter = pytensor.shared(np.zeros((), dtype=COUNTER_DTYPE), name="%s.%s" % (rule, name))
    _tag_state(counter, rule, name)
    return counter, counter + np.asarray(1, dtype=COUNTER_DTYPE)


# ---------------------------------------------------------------------------
# partial application


def with_schedule_counters(updates):
    """``updates`` plus the increment of every schedule counter its expressions use.

    So that a schedule given as a hyperparameter advances by itself; see
    :func:`symupdates.schedules.with_schedules`.
    """
    from .schedules import with_schedules  # schedules builds on this module

    return with_schedules(updates)


#: Every public update rule, by name, in definition order (filled by :func:`update_rule`).
RULES = OrderedDict()


def split_loss(loss_or_grads):
    """``(loss, loss_or_grads)``: the loss, if one is known, and what to compute updates from.

    PyMC's optimizers take ``(loss, grads)`` pairs: the gradients give the
    updates and the loss is passed through for the schedulers.  A scalar loss
    is its own loss; a list of gradients has none (``None``).
    """
    if isinstance(loss_or_grads, tuple) and len(loss_or_grads) == 2 and isinstance(loss_or_grads[1], (list, tuple)):
        return loss_or_grads
    if isinstance(loss_or_grads, (list, tuple)):
        return None, loss_or_grads
    return loss_or_grads, loss_or_grads


def update_rule(rule=None, *, anchors=None):
    """Register an update rule and give it PyMC's partial application.

    ``rule(loss_or_grads, params, ...)`` computes updates as usual; called
    with hyperparameters only (``rule(learning_rate=0.1)``) it returns a
    callable ``f(loss_or_grads, params)``.  Giving exactly one of
    ``loss_or_grads`` and ``params`` raises ``ValueError``.  Hyperparameter
    names are checked at once in both cases.

    As in PyMC, ``loss_or_grads`` may also be a pair ``(loss, grads)``: the
    updates are computed from ``grads``, and with the keyword-only
    ``discard_loss=False`` the rule returns ``(updates, loss)`` instead of
    the updates alone (``loss`` is ``None`` when only gradients were given).
    PyMC's schedulers (:mod:`symupdates.lr_schedulers`) use it to see the loss.

    ``anchors`` maps a reference implementation, named ``module.Class`` or
    ``module.function`` (``"torch.optim.Adam"``, ``"optax.adam"``,
    ``"lasagne.updates.adam"``, ``"blocks.algorithms.RMSProp"``, ...; the
    optimizers of standalone Keras 2.0-2.3, whose ``keras.optimizers`` module
    name Keras 3 took over, are ``"keras2.optimizers.Adagrad"``, ...), to the
    keyword arguments that make the rule reproduce its numbers; the tests run every anchor and the
    documentation's rule table is generated from it.  Use as ``@update_rule``
    or ``@update_rule(anchors={...})``.
    """
    if rule is None:
        return functools.partial(update_rule, anchors=anchors)
    signature = inspect.signature(rule)
    first, second = list(signature.parameters)[:2]

    @functools.wraps(rule)
    def wrapper(*args, discard_loss=True, **kwargs):
        bound = signature.bind_partial(*args, **kwargs)
        loss_or_grads = bound.arguments.get(first)
        params = bound.arguments.get(second)
        if loss_or_grads is None and params is None:
            hyper = {k: v for k, v in bound.arguments.items() if k not in (first, second)}
            signature.bind(None, None, **hyper)  # TypeError now for a missing or unknown argument
            if not discard_loss:
                hyper["discard_loss"] = False
            return functools.partial(wrapper, **hyper)
        if loss_or_grads is None or params is None:
            raise ValueError(
                "%s: give both %s and %s to get updates, or neither to get a "
                "function of them" % (rule.__name__, first, second)
            )
        loss, bound.arguments[first] = split_loss(loss_or_grads)
        updates = with_schedule_counters(rule(*bound.args, **bound.kwargs))
        return updates if discard_loss else (updates, loss)

    wrapper.anchors = dict(anchors or {})
    RULES[rule.__name__] = wrapper
    return wrapper


def make_updates(pairs):
    """An ``OrderedDict`` of ``{shared: expr}`` with every expr of its key's type."""
    return OrderedDict((var, as_type_of(expr, var)) for var, expr in pairs)
