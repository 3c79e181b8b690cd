"""What Lasagne's test file imports from ``lasagne``, for its port (test_lasagne_updates.py).

``lasagne.updates`` is symupdates itself.  ``lasagne.utils`` contributes two
small NumPy helpers that are not update rules: ``floatX`` (cast to
``pytensor.config.floatX``) and ``compute_norms`` (the norms
``norm_constraint`` bounds, with Lasagne's default axes), written here from
their documented behaviour.
"""

import types

import numpy as np
import pytensor

import symupdates


def floatX(arr):
    """``arr`` as a NumPy array of ``pytensor.config.floatX`` (Lasagne's ``utils.floatX``)."""
    return np.asarray(arr, dtype=pytensor.config.floatX)


def compute_norms(array, norm_axes=None):
    """The L2 norms of ``array`` over ``norm_axes`` (Lasagne's ``utils.compute_norms``).

    Default axes: none for a vector, axis 0 for a matrix, all but axis 0 for
    3-, 4- and 5-d arrays; other ranks need ``norm_axes``.
    """
    ndim = array.ndim
    if norm_axes is not None:
        axes = tuple(norm_axes)
    elif ndim == 1:
        axes = ()
    elif ndim == 2:
        axes = (0,)
    elif ndim in (3, 4, 5):
        axes = tuple(range(1, ndim))
    else:
        raise ValueError("Unsupported tensor dimensionality %d. Must specify `norm_axes`" % ndim)
    return np.sqrt(np.sum(array**2, axis=axes))


updates = symupdates
utils = types.SimpleNamespace(floatX=floatX, compute_norms=compute_norms)
