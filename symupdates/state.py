"""Optimizer state: read it out, put it back."""

import numpy as np

from .core import is_state

__all__ = ["state_variables", "get_state_values", "set_state_values"]


def state_variables(updates):
    """The optimizer-state variables of ``updates``, in ``updates``' order.

    These are the keys created by this package as optimizer state (moment
    estimates, accumulators, step counters, ...); parameters are left out.
    """
    return [var for var in updates if is_state(var)]


def get_state_values(updates):
    """Copies of the values of the optimizer state in ``updates``.

    Returns a list of NumPy arrays in the order of
    :func:`state_variables`: the order in which ``updates`` holds them,
    which for every rule is parameter by parameter, slot by slot, with step
    counters where the rule puts them.  Parameters are not included: save
    them separately (``param.get_value()``).
    """
    return [var.get_value(borrow=False) for var in state_variables(updates)]


def set_state_values(updates, values):
    """Restore state saved by :func:`get_state_values` for the same updates.

    Every value's count, shape and dtype is checked before any variable is
    changed; a mismatch raises ``ValueError`` and changes nothing.
    """
    variables = state_variables(updates)
    values = list(values)
    if len(values) != len(variables):
        raise ValueError(
            "expected %d state values for these updates, got %d" % (len(variables), len(values))
        )
    checked = []
    for var, value in zip(variables, values):
        value = np.asarray(value)
        current = var.get_value(borrow=True)
        if value.shape != current.shape or value.dtype != current.dtype:
            raise ValueError(
                "state value for %s has shape %s and dtype %s; expected shape %s and dtype %s"
                % (var.name, value.shape, value.dtype, current.shape, current.dtype)
            )
        checked.append(value)
    for var, value in zip(variables, checked):
        var.set_value(value.copy())
