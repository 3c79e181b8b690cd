"""symupdates: symbolic optimizer update rules for PyTensor.

Every rule is a function ``rule(loss_or_grads, params, learning_rate, ...)``
returning an ``OrderedDict`` that maps each shared variable (parameters and
optimizer state) to its update expression, for
``pytensor.function(..., updates=updates)``; the rules of
``lasagne.updates`` keep Lasagne's names, arguments, defaults and formulas.
"""

from .constraints import norm_constraint, total_norm_constraint
from .core import Range, get_or_compute_grads, is_state
from .engine import across_tensors, elementwise, elementwise_rule, per_tensor
from .registry import RULES, update_rule
from .rules import *  # noqa: F401,F403
from .rules import __all__ as _rules
from .state import get_state_values, set_state_values, state_variables
from . import schedules  # noqa: F401
from .schedules import evaluate as evaluate_schedule, with_schedules
from .statefile import load_state, save_state
from . import eager  # noqa: F401
from .eager import Optimizer
from .lr_schedulers import exponential_decay_scheduler, reduce_lr_on_plateau_scheduler
from .transforms import *  # noqa: F401,F403
from .transforms import __all__ as _transforms
from .wrappers import *  # noqa: F401,F403
from .wrappers import __all__ as _wrappers
from .unroll import unroll  # issue 13: differentiable optimization

__version__ = "0.1.0"

__all__ = [
    "RULES",
    "update_rule",
    "elementwise_rule",
    "elementwise",
    "per_tensor",
    "across_tensors",
    "Range",
    "get_or_compute_grads",
    "is_state",
    "norm_constraint",
    "total_norm_constraint",
    "get_state_values",
    "set_state_values",
    "state_variables",
    "schedules",
    "with_schedules",
    "evaluate_schedule",
    "save_state",
    "load_state",
    "eager",
    "Optimizer",
    "unroll",
    "exponential_decay_scheduler",
    "reduce_lr_on_plateau_scheduler",
] + list(_rules) + list(_transforms) + [w for w in _wrappers if w != "global_norm"]
