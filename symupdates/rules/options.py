"""The keyword switches rules share, checked when the updates are built.

Where reference implementations disagree, a rule takes a keyword switch;
the same names mean the same thing in every rule (``weight_decay``,
``maximize``, ``epsilon_placement``, ...).  A switch changes the formula, so
it must be a Python value known when the graph is built; a hyperparameter
that is a literal zero leaves its term out of the graph.
"""

import numbers

import numpy as np

__all__ = []


def is_off(value):
    """True for a number equal to zero: the option it controls is left out of the graph.

    A symbolic value is never off: it may change between steps.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Number, np.ndarray)):
        return False
    return np.ndim(value) == 0 and value == 0


def check_switch(name, value):
    """Refuse a non-boolean value for a switch that changes the formula."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError("%s must be True or False, got %r" % (name, value))
    return bool(value)


def check_choice(name, value, allowed):
    """Refuse a value of a string switch that is not one of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(map(repr, allowed)), value))
    return value


def optional_hyperparameters(**values):
    """The hyperparameters whose options are on (see :func:`is_off`), for ``elementwise_rule``."""
    return {name: value for name, value in values.items() if not is_off(value)}


def coupled_gradient(param, grad, weight_decay=None, maximize=False):
    """torch's gradient before any rule: negated to maximize, plus coupled L2 decay."""
    if maximize:
        grad = -grad
    if weight_decay is not None:
        grad = grad + weight_decay * param
    return grad


def initial_value(name, value):
    """A state's starting value: a number (state is created before any step)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a number, got %r" % (name, value))
    return float(value)
