"""The helpers every rule is built on: gradients, hyperparameters, state, counters.

Each of these exists once.  A rule module never creates a shared variable,
casts a hyperparameter or validates a parameter list by itself; it calls the
helpers below, so that the guarantees of the package (exact dtypes, named
state, integer step counters, early and clear errors) hold for every rule.
"""

import fnmatch
import numbers
import re
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Variable

__all__ = [
    "get_or_compute_grads",
    "as_hyperparameter",
    "check_hyperparameters",
    "check_ranges",
    "HYPERPARAMETER_RANGES",
    "Range",
    "as_type_of",
    "new_state",
    "new_global_state",
    "step_counter",
    "is_state",
    "param_label",
    "parameter_mask",
]

#: Attribute set on the ``tag`` of every shared variable this package creates
#: as optimizer state; its value is ``(rule, slot)``.
STATE_TAG = "symupdates_state"

#: Attribute set on the ``tag`` of a step counter created by a schedule; its
#: value is the counter's next value (see :mod:`symupdates.schedules`).
SCHEDULE_COUNTER_TAG = "symupdates_schedule_counter"


# ---------------------------------------------------------------------------
# parameters and gradients


def param_label(param, index=None):
    """The name used for ``param`` in state names and error messages."""
    if param.name:
        return param.name
    return "param" if index is None else "param%d" % index


#: The parameter dtypes every rule supports, on every backend.
PARAM_DTYPES = ("float32", "float64")

_DTYPE_ADVICE = {
    # Numba has no float16 arithmetic, and a float16 optimizer state would
    # lose small updates; mixed precision keeps a float32 master copy.
    "float16": " (float16 is not supported: keep a float32 copy of the parameter, "
               "update that, and cast it to float16 for the forward pass)",
    None: ": create it from a float array",
}


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
        if dtype not in PARAM_DTYPES:
            raise TypeError(
                "params[%d] (%s) has dtype %s; update rules need float32 or float64 "
                "parameters%s" % (i, param_label(p, i), dtype, _DTYPE_ADVICE.get(dtype, _DTYPE_ADVICE[None]))
            )
    return params


def parameter_mask(params, where=None, name="mask"):
    """Which of ``params`` ``where`` selects, as a list of bools.

    ``where`` may be ``None`` (all), a glob pattern on the parameter name
    (``"*.b"``, ``"b?"``), a compiled regular expression (searched in the
    name), a predicate ``f(param) -> bool``, a parameter, a collection of
    parameters or patterns (a parameter is selected if any entry selects
    it), or one bool per parameter (optax's masks).  ``name`` is the
    argument's name in error messages.
    """
    params = list(params)
    if where is None:
        return [True] * len(params)
    if isinstance(where, (str, re.Pattern, SharedVariable)) or callable(where):
        entries = [where]
    elif isinstance(where, (bytes, numbers.Number)) or not hasattr(where, "__iter__"):
        raise TypeError("%s must be a name pattern, a regular expression, a predicate, parameters or one bool "
                        "per parameter, got %r" % (name, where))
    else:
        entries = list(where)
        if entries and all(isinstance(e, (bool, np.bool_)) for e in entries):
            if len(entries) != len(params):
                raise ValueError("%s has %d booleans for %d parameters; give one per parameter"
                                 % (name, len(entries), len(params)))
            return [bool(e) for e in entries]

    def selects(entry, index, param):
        if isinstance(entry, str):
            return fnmatch.fnmatchcase(param_label(param, index), entry)
        if isinstance(entry, re.Pattern):
            return entry.search(param_label(param, index)) is not None
        if isinstance(entry, SharedVariable):
            return entry is param
        if callable(entry):
            return bool(entry(param))
        raise TypeError("%s: an entry is a name pattern, a regular expression, a predicate or a parameter "
                        "(or every entry a bool, one per parameter), got %r" % (name, entry))

    return [any(selects(e, i, p) for e in entries) for i, p in enumerate(params)]


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
    from .rowsparse import as_dense_gradient  # builds on this module

    params = check_params(params, floating=False)
    if isinstance(loss_or_grads, (list, tuple)):
        if len(loss_or_grads) != len(params):
            raise ValueError(
                "got %d gradients for %d parameters; pass one gradient per "
                "parameter, in the order of params" % (len(loss_or_grads), len(params))
            )
        grads = []
        for i, (g, p) in enumerate(zip(loss_or_grads, params)):
            g = as_dense_gradient(pt.as_tensor_variable(g), p, param_label(p, i))
            g = _check_gradient(i, g, p)
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
    grads = pytensor.grad(loss, params)
    return [as_dense_gradient(g, p, param_label(p, i)) for i, (g, p) in enumerate(zip(grads, params))]


def _check_gradient(i, grad, param):
    """Refuse a gradient that cannot be its parameter's: dimensions, static shape, dtype."""
    label = param_label(param, i)
    if grad.ndim != param.ndim:
        raise ValueError(
            "gradient %d has %d dimensions but its parameter %s has %d" % (i, grad.ndim, label, param.ndim)
        )
    shape = param.get_value(borrow=True).shape
    static = tuple(grad.type.shape)
    if any(g is not None and g != n for g, n in zip(static, shape)):
        raise ValueError(
            "gradient %d has static shape %s but its parameter %s has shape %s; pass the "
            "gradient of each parameter in the order of params"
            % (i, _shape_text(static), label, shape)
        )
    if grad.dtype not in _REAL_DTYPES:
        raise TypeError(
            "gradient %d (for %s) has dtype %s; gradients must be real numbers "
            "(of a float or integer dtype)" % (i, label, grad.dtype)
        )
    return grad


def _shape_text(shape):
    """A static shape written as Python writes a tuple, with ``?`` for an unknown dimension."""
    dims = ["?" if n is None else str(n) for n in shape]
    return "(%s)" % (dims[0] + "," if len(dims) == 1 else ", ".join(dims))


_REAL_DTYPES = frozenset(("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"))


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
        if value.dtype not in _REAL_DTYPES:
            raise TypeError(
                "%s must be a real number, got a symbolic scalar of dtype %s" % (name, value.dtype)
            )
        return value if value.dtype == dtype else pt.cast(value, dtype)
    if not _is_real_number(value):
        raise TypeError(
            "%s must be a real number or a symbolic scalar, got %r" % (name, value)
        )
    return pt.constant(np.asarray(value, dtype=dtype))


def _is_real_number(value):
    """A Python or NumPy real number or 0-d real array (not a bool: ``True`` is a typo here)."""
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_hyperparameters(params, **hyper):
    """Refuse a bad hyperparameter value before any state is created.

    ``hyper`` maps the user's argument names to their values; each must be
    accepted by :func:`as_hyperparameter`.
    """
    for name, value in hyper.items():
        as_hyperparameter(value, params[0].dtype, name=name)


class Range:
    """The valid numbers of a hyperparameter: an interval, each end open or closed.

    ``Range(0, 1, high_open=True)`` is ``[0, 1)``.  Infinite values are
    refused unless an infinite end is given ``closed`` (``Range(0, inf)``
    is ``[0, inf)``, finite numbers only); NaN is always refused.  With
    ``integer=True`` only integers are accepted; with ``optional=True``
    also ``None`` (the option is off).
    """

    def __init__(self, low=-np.inf, high=np.inf, low_open=False, high_open=False, integer=False,
                 optional=False, infinite=False):
        self.low, self.high = low, high
        self.low_open, self.high_open = low_open, high_open
        self.integer, self.optional, self.infinite = integer, optional, infinite

    def __contains__(self, value):
        value = float(value)
        if np.isnan(value) or (np.isinf(value) and not self.infinite):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self):
        def end(x):
            return "%g" % x if np.isfinite(x) else ("-inf" if x < 0 else "inf")

        left = "(" if self.low_open or (np.isinf(self.low) and not self.infinite) else "["
        right = ")" if self.high_open or (np.isinf(self.high) and not self.infinite) else "]"
        kind = "an integer" if self.integer else ("a number" if self.infinite else "a finite number")
        text = "%s in %s%s, %s%s" % (kind, left, end(self.low), end(self.high), right)
        return text + (" or None" if self.optional else "")


_UNIT = Range(0, 1)
_DECAY = Range(0, 1, high_open=True)
_NONNEGATIVE = Range(0, np.inf)

#: The valid values of each hyperparameter name, where the name means the
#: same in every rule (torch.optim's checks, extended to every argument).  A
#: rule whose argument of the same name differs says so in its
#: ``@update_rule(ranges=...)``; a rule's own arguments are declared there too.
HYPERPARAMETER_RANGES = {
    "learning_rate": _NONNEGATIVE,
    # moving-average decays: 1 would never forget, and divides by zero in a bias correction
    "beta": _DECAY,
    "beta1": _DECAY,
    "beta2": _DECAY,
    "beta3": _DECAY,
    "rho": _UNIT,
    "momentum": _UNIT,
    "dampening": _UNIT,
    "epsilon": _NONNEGATIVE,
    "epsilon_root": _NONNEGATIVE,
    "epsilon1": Range(0, np.inf, optional=True),
    "epsilon2": _NONNEGATIVE,
    "weight_decay": _NONNEGATIVE,
    "learning_rate_decay": _NONNEGATIVE,
    "initial_accumulator_value": _NONNEGATIVE,
    "schedule_decay": _NONNEGATIVE,
    "min_norm": _NONNEGATIVE,
    "trust_coefficient": _NONNEGATIVE,
    "final_lr": _NONNEGATIVE,
    "gamma": _NONNEGATIVE,
    "hypergradient_lr": _NONNEGATIVE,
}


def check_ranges(rule, arguments, ranges=None):
    """Refuse a hyperparameter number outside its valid range, naming it and the range.

    ``arguments`` maps argument names to values; those with a range in
    :data:`HYPERPARAMETER_RANGES` or in ``ranges`` (the rule's own, which
    win) are checked.  Symbolic values are left alone (their value is only
    known when the step runs), but a symbolic bool is refused as a Python
    bool is, and so is any symbolic value of an integer range (a count that
    shapes the graph).  Raises ``TypeError`` for a value that is not a number,
    ``ValueError`` (the message says ``<rule>: invalid <name> value``) for a
    number out of range.
    """
    ranges = dict(HYPERPARAMETER_RANGES, **(ranges or {}))
    for name, value in arguments.items():
        valid = ranges.get(name)
        if valid is None:
            continue
        if isinstance(value, Variable):
            if getattr(value.type, "dtype", None) == "bool":
                raise TypeError("%s: %s must be a real number, got a symbolic bool %s" % (rule, name, value))
            if valid.integer:  # a count that shapes the graph: known when the updates are built
                raise TypeError("%s: %s must be %s, got the symbolic %s" % (rule, name, valid, value))
            continue
        if value is None and valid.optional:
            continue
        if not _is_real_number(value) or (valid.integer and not isinstance(value, (numbers.Integral, np.integer))):
            raise TypeError("%s: %s must be %s, got %r" % (rule, name, valid, value))
        if value not in valid:
            raise ValueError("%s: invalid %s value %r: it must be %s" % (rule, name, _plain(value), valid))


def _plain(value):
    """A NumPy scalar or 0-d array as the Python number it holds, for messages."""
    return value.item() if isinstance(value, (np.ndarray, np.generic)) else value


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
    return state_slot(var) is not None


def state_slot(var):
    """``(rule, slot)`` of a state variable (``("adam", "m")``, ``("adam", "t")``), None for others."""
    return getattr(getattr(var, "tag", None), STATE_TAG, None)


def tag_state(var, rule, slot):
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
    return tag_state(var, rule, slot)


def new_global_state(rule, slot, init=0.0, dtype="float64"):
    """A scalar state variable of ``rule`` that belongs to no parameter.

    Named ``<rule>.<slot>`` (``nadam.mu_product``) and tagged as optimizer
    state, like the per-parameter state of :func:`new_state`.
    """
    var = pytensor.shared(np.asarray(init, dtype=dtype), name="%s.%s" % (rule, slot))
    return tag_state(var, rule, slot)


def step_number_as(t, like):
    """The integer step number ``t`` as a float of ``like``'s dtype (no float64 in a float32 graph)."""
    return pt.cast(t, like.dtype)


def l2_norm(x):
    """The Euclidean norm of all elements of ``x`` (0-d)."""
    if x.ndim == 0:
        # PyTensor rewrites sqrt(x**2) to maximum(abs(x), 0), which Numba's
        # fastmath (PyTensor 3's default) compiles to 0 for negative x.
        return abs(x)
    return pt.sqrt(pt.sum(pt.sqr(x)))


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
    tag_state(counter, rule, name)
    return counter, counter + np.asarray(1, dtype=COUNTER_DTYPE)


def updates_and_params(updates, params, who):
    """A copy of ``updates`` and the parameters to act on, every one of them in ``updates``.

    For the functions that change a rule's updates (momentum, decoupled
    weight decay, averages): ``params=None`` means every floating key of
    ``updates`` that is neither optimizer state nor a schedule counter.
    """
    if not isinstance(updates, dict):
        raise TypeError("%s: updates must be a dict of {shared variable: update}, got %r" % (who, updates))
    updates = OrderedDict(updates)
    if params is None:
        params = [v for v in updates if not is_state(v) and not hasattr(v.tag, SCHEDULE_COUNTER_TAG)
                  and str(getattr(v.type, "dtype", "")).startswith("float")]
    params = check_params(params)
    missing = [p for p in params if p not in updates]
    if missing:
        raise ValueError("%s: %s has no update in updates; pass parameters that updates holds, "
                         "or params=None for all of them" % (who, param_label(missing[0])))
    return updates, params


def make_updates(pairs):
    """An ``OrderedDict`` of ``{shared: expr}`` with every expr of its key's type."""
    return OrderedDict((var, as_type_of(expr, var)) for var, expr in pairs)
