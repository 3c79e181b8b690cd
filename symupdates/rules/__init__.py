"""Update rules, one module per family; each rule is one function."""

from . import descent, adaptive, adam_family  # noqa: I001  (order: RULES lists Lasagne first)
from .descent import *  # noqa: F401,F403
from .adaptive import *  # noqa: F401,F403
from .adam_family import *  # noqa: F401,F403
from .sign import *  # noqa: F401,F403
from . import sign
from .layerwise import *  # noqa: F401,F403
from .matrix import *  # noqa: F401,F403
from . import layerwise, matrix
from .hypergradient import *  # noqa: F401,F403  (issue 13)
from . import hypergradient

__all__ = descent.__all__ + adaptive.__all__ + adam_family.__all__ + sign.__all__ + layerwise.__all__ + matrix.__all__ + hypergradient.__all__
