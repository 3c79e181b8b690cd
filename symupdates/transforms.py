"""Gradient transforms: functions from gradients to gradients, applied before a rule.

Each transform has the shape of an update rule,
``transform(loss_or_grads, params, ...) -> list of gradients``, so that it
feeds any rule (``adam(clip_by_global_norm(loss, params, 1.0), params)``)
and composes with :func:`symupdates.chain`.  Called with hyperparameters
only, a transform returns a function of ``(loss_or_grads, params)``, as the
rules do.  Every transform takes ``mask``: which parameters it touches
(:func:`parameter_mask`); the others' gradients pass unchanged.

:func:`apply_decoupled_weight_decay` works on an update dict instead, after
the rule, as Loshchilov and Hutter's AdamW does.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt

from .engine.compose import fuse_updates
from .core import (
    SCHEDULE_COUNTER_TAG,
    as_hyperparameter,
    as_type_of,
    check_params,
    get_or_compute_grads,
    parameter_mask,
    updates_and_params,
)
from .registry import gradient_transform, update_wrapper
from .rowsparse import squared_norm
from .schedules import as_step, new_counter

__all__ = [
    "parameter_mask",
    "global_norm",
    "clip_by_value",
    "clip_by_norm",
    "clip_by_global_norm",
    "add_weight_decay",
    "add_gradient_noise",
    "apply_decoupled_weight_decay",
]


# ---------------------------------------------------------------------------
# masks


def _grads_and_mask(loss_or_grads, params, mask):
    params = check_params(params)
    return params, get_or_compute_grads(loss_or_grads, params), parameter_mask(params, mask)


def global_norm(tensors):
    """``sqrt(sum of squares of all elements of all tensors)``, in the dtype of the first tensor.

    For monitoring: add ``global_norm(grads)`` to the compiled function's outputs.
    """
    tensors = [pt.as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("global_norm of an empty list")
    dtype = tensors[0].dtype
    return pt.sqrt(sum(squared_norm(pt.cast(t, dtype)) for t in tensors))


# ---------------------------------------------------------------------------
# clipping


@gradient_transform
def clip_by_value(loss_or_grads, params, min_value, max_value, mask=None):
    """Clip every gradient element to ``[min_value, max_value]``.

    ``grad := clip(grad, min_value, max_value)``; torch's
    ``clip_grad_value_(clip_value)`` is ``min_value=-clip_value, max_value=clip_value``.
    """
    params, grads, selected = _grads_and_mask(loss_or_grads, params, mask)
    return [
        as_type_of(pt.clip(g, as_hyperparameter(min_value, p.dtype, "min_value"),
                           as_hyperparameter(max_value, p.dtype, "max_value")), p) if s else g
        for p, g, s in zip(params, grads, selected)
    ]


def _rescale(grad, norm, max_norm, epsilon, dtype):
    """``grad * min(1, max_norm / (norm + epsilon))``."""
    max_norm = as_hyperparameter(max_norm, dtype, "max_norm")
    factor = pt.minimum(np.asarray(1, dtype), max_norm / (norm + as_hyperparameter(epsilon, dtype, "epsilon")))
    return grad * pt.cast(factor, grad.dtype)


@gradient_transform
def clip_by_norm(loss_or_grads, params, max_norm, epsilon=0.0, mask=None):
    """Rescale each gradient tensor separately so that its L2 norm is at most ``max_norm``.

    ``grad := grad * min(1, max_norm / (norm(grad) + epsilon))`` with the
    norm over all of the tensor's elements.  (For per-row or per-filter
    norms of parameters, see :func:`symupdates.norm_constraint`.)
    """
    params, grads, selected = _grads_and_mask(loss_or_grads, params, mask)
    return [
        as_type_of(_rescale(g, pt.sqrt(squared_norm(g)), max_norm, epsilon, p.dtype), p) if s else g
        for p, g, s in zip(params, grads, selected)
    ]


@gradient_transform
def clip_by_global_norm(loss_or_grads, params, max_norm, epsilon=0.0, mask=None, return_norm=False):
    """Rescale all gradients together so that their joint L2 norm is at most ``max_norm``.

    ::

        norm := sqrt(sum over tensors of sum(grad**2))
        grad := grad * min(1, max_norm / (norm + epsilon))

    ``epsilon=0`` is optax.clip_by_global_norm; ``epsilon=1e-6`` is torch's
    ``clip_grad_norm_``.  With a mask, the norm is over the selected
    gradients only.  With ``return_norm=True`` returns ``(grads, norm)``,
    the norm before clipping, to monitor.  Reference: Pascanu, Mikolov and
    Bengio (2013), On the difficulty of training recurrent neural networks, ICML.
    """
    params, grads, selected = _grads_and_mask(loss_or_grads, params, mask)
    chosen = [g for g, s in zip(grads, selected) if s]
    if not chosen:
        raise ValueError("clip_by_global_norm: the mask selects no parameter")
    norm = global_norm(chosen)
    clipped = [as_type_of(_rescale(g, norm, max_norm, epsilon, norm.dtype), p) if s else g
               for p, g, s in zip(params, grads, selected)]
    return (clipped, norm) if return_norm else clipped


# ---------------------------------------------------------------------------
# weight decay and noise


@gradient_transform
def add_weight_decay(loss_or_grads, params, weight_decay, mask=None):
    """Coupled L2 weight decay: ``grad := grad + weight_decay * param``.

    The gradient of ``weight_decay / 2 * sum(param**2)`` added to the loss;
    torch's ``weight_decay`` argument of SGD, Adam, RMSprop, Adagrad.  Use a
    mask to spare biases (``mask="W*"``).
    """
    params, grads, selected = _grads_and_mask(loss_or_grads, params, mask)
    return [as_type_of(g + as_hyperparameter(weight_decay, p.dtype, "weight_decay") * p, p) if s else g
            for p, g, s in zip(params, grads, selected)]


@gradient_transform
def add_gradient_noise(loss_or_grads, params, eta=0.01, gamma=0.55, seed=None, step=None, mask=None):
    """Annealed Gaussian gradient noise (Neelakantan et al. 2015).

    ::

        grad := grad + normal(0, variance_t),   variance_t = eta / (1 + t)**gamma

    with ``t`` the number of updates done before this one (0 first), the
    paper's choices ``eta`` in {0.01, 0.3, 1.0} and ``gamma = 0.55``
    (optax.add_noise's convention).  The noise comes from a NumPy
    ``Generator`` seeded with ``seed`` held in a shared variable; it and the
    step counter ``gradient_noise.t`` (unless ``step`` is given) advance
    through :func:`symupdates.with_schedules`, which :func:`symupdates.chain`
    calls.  Reference: Neelakantan et al. (2015), Adding Gradient Noise
    Improves Learning for Very Deep Networks, arXiv:1511.06807.
    """
    params, grads, selected = _grads_and_mask(loss_or_grads, params, mask)
    step = new_counter("gradient_noise") if step is None else as_step(step)
    rng = pytensor.shared(np.random.default_rng(seed), name="gradient_noise.rng")
    generator = rng
    noisy = []
    for p, g, s in zip(params, grads, selected):
        if not s:
            noisy.append(g)
            continue
        variance = as_hyperparameter(eta, p.dtype, "eta") / (
            1 + pt.cast(step, p.dtype)) ** as_hyperparameter(gamma, p.dtype, "gamma")
        generator, noise = _normal(generator, g.shape, p.dtype)
        noisy.append(as_type_of(g + pt.sqrt(variance) * noise, p))
    setattr(rng.tag, SCHEDULE_COUNTER_TAG, generator)
    return noisy


def _normal(generator, shape, dtype):
    """``(next generator, standard normal draws)``."""
    try:
        return pt.random.normal(0, 1, size=shape, rng=generator, dtype=dtype, return_next_rng=True)
    except TypeError:  # PyTensor 2.x returns the draws only
        return pt.random.normal(0, 1, size=shape, rng=generator, dtype=dtype).owner.outputs


@update_wrapper
def apply_decoupled_weight_decay(updates, params=None, weight_decay=0.01, learning_rate=1.0, mask=None):
    """Decoupled weight decay on the updates of any rule (AdamW's decay, for every rule).

    For each parameter, with ``update`` the value ``updates`` assigns it::

        param := update - learning_rate * weight_decay * param

    ``param`` being its value before the step: torch.optim.AdamW's
    ``param *= 1 - lr * weight_decay`` followed by the Adam step.  Pass the
    rule's learning rate (or schedule) as ``learning_rate``; with the
    default 1.0, ``weight_decay`` is the decay per step, as in Loshchilov
    and Hutter's paper (where it is scaled by the schedule multiplier only).

    Parameters
    ----------
    updates : OrderedDict
        The updates of a rule; copied, not changed.
    params : list of shared variables, optional
        The parameters to decay; by default every key of ``updates`` that
        is not optimizer state.
    weight_decay, learning_rate : float or symbolic scalar
    mask : see :func:`parameter_mask`
        Which of ``params`` to decay (e.g. not the biases).

    Reference: Loshchilov and Hutter (2019), Decoupled Weight Decay
    Regularization, ICLR, arXiv:1711.05101.
    """
    updates, params = updates_and_params(updates, params, "apply_decoupled_weight_decay")
    for param, selected in zip(params, parameter_mask(params, mask)):
        if selected:
            decay = as_hyperparameter(learning_rate, param.dtype, "learning_rate") * as_hyperparameter(
                weight_decay, param.dtype, "weight_decay")
            updates[param] = as_type_of(updates[param] - decay * param, param)
    return fuse_updates(updates)
