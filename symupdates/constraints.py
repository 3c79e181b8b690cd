"""Norm constraints on tensors (Lasagne's): rescale, never clip element-wise."""

import numpy as np
import pytensor
import pytensor.scalar
import pytensor.tensor as pt

from .core import as_hyperparameter

__all__ = ["norm_constraint", "total_norm_constraint"]


def norm_constraint(tensor_var, max_norm, norm_axes=None, epsilon=1e-7):
    """Rescale ``tensor_var`` so that its norms along ``norm_axes`` are at most ``max_norm``.

    ::

        norms  = sqrt(sum(tensor_var**2, axis=norm_axes, keepdims=True))
        result = tensor_var * clip(norms, 0, max_norm) / (epsilon + norms)

    Parameters
    ----------
    tensor_var : tensor expression
        Typically an update expression of a weight parameter.
    max_norm : float or symbolic scalar
        The largest norm allowed.
    norm_axes : sequence of int, optional
        The axes the norm is taken over.  By default: axis 0 for a matrix
        (the incoming weights of each dense unit), all axes but the first
        for 3-, 4- and 5-d tensors (each convolution filter); required for
        any other number of dimensions.
    epsilon : float
        Keeps the division defined at zero norm (default 1e-7).

    Returns
    -------
    tensor expression
        Of the same type as ``tensor_var``.

    Reference: Srivastava et al. (2014), Dropout, JMLR 15, section 5.1
    (max-norm regularization).
    """
    tensor_var = pt.as_tensor_variable(tensor_var)
    ndim = tensor_var.ndim
    if norm_axes is not None:
        axes = tuple(norm_axes)
    elif ndim == 2:
        axes = (0,)
    elif ndim in (3, 4, 5):
        axes = tuple(range(1, ndim))
    else:
        raise ValueError(
            "norm_constraint: Unsupported tensor dimensionality %d (no default norm axes); "
            "pass norm_axes" % ndim
        )
    dtype = tensor_var.dtype
    norms = pt.sqrt(pt.sum(pt.sqr(tensor_var), axis=axes, keepdims=True))
    target = pt.clip(norms, np.asarray(0, dtype), as_hyperparameter(max_norm, dtype, "max_norm"))
    scale = target / (as_hyperparameter(epsilon, dtype, "epsilon") + norms)
    return pt.cast(tensor_var * scale, dtype)


def total_norm_constraint(tensor_vars, max_norm, epsilon=1e-7, return_norm=False):
    """Rescale a list of tensors so that their joint L2 norm is at most ``max_norm``.

    ::

        norm    = sqrt(sum over tensors of sum(tensor**2))
        results = [tensor * clip(norm, 0, max_norm) / (epsilon + norm) for tensor in tensor_vars]

    Typically used on gradients before an update rule (gradient clipping by
    global norm, Pascanu et al. 2013).

    Parameters
    ----------
    tensor_vars : list of tensor expressions
    max_norm : float or symbolic scalar
        The largest joint norm allowed.
    epsilon : float
        Keeps the division defined at zero norm (default 1e-7).
    return_norm : bool
        Also return the joint norm before rescaling.

    Returns
    -------
    list of tensor expressions, each of its input's dtype, and with
    ``return_norm`` the norm (in the widest dtype of the tensors).
    """
    tensor_vars = [pt.as_tensor_variable(t) for t in tensor_vars]
    if not tensor_vars:
        raise ValueError("total_norm_constraint: tensor_vars is empty")
    # The widest dtype: a float64 tensor in the list must not be rescaled by a
    # float32-precision multiplier (nor overflow when squared in float32).
    dtype = pytensor.scalar.upcast(*[t.dtype for t in tensor_vars])
    norm = pt.sqrt(sum(pt.sum(pt.sqr(pt.cast(t, dtype))) for t in tensor_vars))
    target = pt.clip(norm, np.asarray(0, dtype), as_hyperparameter(max_norm, dtype, "max_norm"))
    multiplier = target / (as_hyperparameter(epsilon, dtype, "epsilon") + norm)
    scaled = [pt.cast(t * pt.cast(multiplier, t.dtype), t.dtype) for t in tensor_vars]
    return (scaled, norm) if return_norm else scaled
