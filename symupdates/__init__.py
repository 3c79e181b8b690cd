"""symupdates: symbolic optimizer update rules for PyTensor.

Every rule is a function ``rule(loss_or_grads, params, learning_rate, ...)``
returning an ``OrderedDict`` that maps each shared variable (parameters and
optimizer state) to its update expression, for
``pytensor.function(..., updates=updates)``; the rules of
``lasagne.updates`` keep Lasagne's names, arguments, defaults and formulas.
"""

from .constraints import norm_constraint, total_norm_constraint
from .core import RULES, get_or_compute_grads, is_state
from .rules import *  # noqa: F401,F403
from .rules import __all__ as _rules
from .state import get_state_values, set_state_values, state_variables

__version__ = "0.1.0"

__all__ = [
    "RULES",
    "get_or_compute_grads",
    "is_state",
    "norm_constraint",
    "total_norm_constraint",
    "get_state_values",
    "set_state_values",
    "state_variables",
] + list(_rules)
