"""Update rules, one module per family; each rule is one function."""

from . import adam_family, adaptive, descent
from .descent import *  # noqa: F401,F403  (first: RULES lists Lasagne's order)
from .adaptive import *  # noqa: F401,F403
from .adam_family import *  # noqa: F401,F403

__all__ = descent.__all__ + adaptive.__all__ + adam_family.__all__
