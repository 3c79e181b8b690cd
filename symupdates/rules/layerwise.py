"""Layer-wise rules: steps rescaled per tensor by norms (LAMB, LARS, NovoGrad, Fromage).

Each of these rules scales the step of a whole tensor (a "layer") by a number
computed from the tensor: a trust ratio ``||param|| / ||update||`` or a
running norm of the gradient.  Those numbers are ordinary reductions,
computed outside the element-wise formula and passed into it as 0-d entries
of the tensor's row (:func:`symupdates.engine.elementwise_updates`), so each
rule is still one fused kernel per tensor plus its norms.  The formulas and
defaults are optax's (``optax.lamb``, ``optax.lars``, ``optax.novograd``,
``optax.fromage``), including its conventions at zero norms and its weight
decay masks.
"""


import numpy as np
import pytensor.tensor as pt

from ..core import (
    as_hyperparameter,
    check_hyperparameters,
    check_params,
    get_or_compute_grads,
    l2_norm,
    make_updates,
    new_state,
    parameter_mask,
    step_counter,
)
from ..registry import update_rule
from ..engine import elementwise_updates, elementwise_values
from .options import check_switch, is_off

__all__ = ["lamb", "lars", "novograd", "fromage"]


# ---------------------------------------------------------------------------
# helpers of the layer-wise rules


def masked_hyperparameter(value, on, param, name):
    """``value`` as a 0-d of ``param``'s dtype where ``on``, else 0: a per-tensor row entry."""
    return as_hyperparameter(value if on else 0.0, param.dtype, name=name)


def trust_ratio(param, update, min_norm=0.0, trust_coefficient=1.0, epsilon=0.0):
    """optax's trust ratio of a tensor: ``coef * ||param|| / (||update|| + eps)``, 1 at a zero norm.

    Both norms are first raised to ``min_norm``.  The result is 0-d, of
    ``param``'s dtype.
    """
    dtype = param.dtype
    param_norm, update_norm = l2_norm(param), l2_norm(update)
    if not is_off(min_norm):
        min_norm = as_hyperparameter(min_norm, dtype, "min_norm")
        param_norm, update_norm = pt.maximum(param_norm, min_norm), pt.maximum(update_norm, min_norm)
    ratio = as_hyperparameter(trust_coefficient, dtype, "trust_coefficient") * param_norm / (
        update_norm + as_hyperparameter(epsilon, dtype, "epsilon")
    )
    zero_norm = pt.eq(param_norm, 0) | pt.eq(update_norm, 0)
    return pt.switch(zero_norm, np.asarray(1, dtype=dtype), ratio)


# ---------------------------------------------------------------------------
# rules


@update_rule(anchors={"optax.lamb": {}})
def lamb(
    loss_or_grads,
    params,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.999,
    epsilon=1e-6,
    epsilon_root=0.0,
    weight_decay=0.0,
    weight_decay_mask=None,
):
    """LAMB: Adam's direction plus weight decay, rescaled per tensor by a trust ratio.

    ::

        t     := t + 1
        m     := beta1 * m + (1 - beta1) * grad
        v     := beta2 * v + (1 - beta2) * grad**2
        u     := (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t) + epsilon_root) + epsilon)
                 + weight_decay * param
        ratio := ||param|| / ||u||            (per tensor; 1 if either norm is 0)
        param := param - learning_rate * ratio * u

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001; optax has no default).
    beta1, beta2 : float or symbolic scalar
        Decay rates of the moments (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the root of the corrected second moment (default 1e-6).
    epsilon_root : float or symbolic scalar
        Added inside that root (default 0).
    weight_decay : float or symbolic scalar
        Decoupled weight decay added to the direction (default 0).
    weight_decay_mask : see :func:`symupdates.parameter_mask`
        Which parameters weight decay applies to: all (None, the default), a
        name pattern (``"*.W"``), a predicate ``f(param)``, parameters, or
        one boolean per parameter (optax's ``mask``).  The trust ratio
        applies to every tensor.

    Notes
    -----
    State: ``<param>.lamb.m``, ``<param>.lamb.v`` and the integer counter
    ``lamb.t``.  The defaults are ``optax.lamb``'s and reproduce its numbers.
    Reference: You et al. (2020), Large Batch Optimization for Deep Learning:
    Training BERT in 76 minutes, ICLR, arXiv:1904.00962.
    """
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    decays = parameter_mask(params, weight_decay_mask, "weight_decay_mask")
    check_hyperparameters(params, learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                          epsilon_root=epsilon_root, weight_decay=weight_decay)
    decays = [masked_hyperparameter(weight_decay, on, p, "weight_decay") for on, p in zip(decays, params)]
    ms = [new_state(p, "lamb", "m") for p in params]
    vs = [new_state(p, "lamb", "v") for p in params]
    count, t = step_counter("lamb")

    def direction(param, grad, m, v, decay, beta1, beta2, epsilon, epsilon_root, t):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        return m, v, m_hat / (pt.sqrt(v_hat + epsilon_root) + epsilon) + decay * param

    def formula(param, u, ratio, lr):
        return param - lr * ratio * u

    moments = elementwise_values(
        direction, [(p, g, m, v, d) for p, g, m, v, d in zip(params, grads, ms, vs, decays)],
        like=[(p, p, p) for p in params], name="lamb",
        beta1=beta1, beta2=beta2, epsilon=epsilon, epsilon_root=epsilon_root, t=t,
    )
    steps = elementwise_values(
        formula, [(p, u, trust_ratio(p, u)) for p, (_, _, u) in zip(params, moments)],
        like=[(p,) for p in params], name="lamb", lr=learning_rate,
    )
    pairs = []
    for p, m, v, (new_m, new_v, _), (new_p,) in zip(params, ms, vs, moments, steps):
        pairs += [(m, new_m), (v, new_v), (p, new_p)]
    return make_updates(pairs + [(count, t)])


@update_rule(anchors={"optax.lars": {}})
def lars(
    loss_or_grads,
    params,
    learning_rate=0.1,
    momentum=0.9,
    weight_decay=0.0,
    trust_coefficient=0.001,
    epsilon=0.0,
    nesterov=False,
    weight_decay_mask=None,
    trust_ratio_mask=None,
):
    """LARS: SGD with momentum whose step is rescaled per tensor by a trust ratio.

    ::

        u        := grad + weight_decay * param
        ratio    := trust_coefficient * ||param|| / (||u|| + epsilon)
                    (per tensor; 1 if either norm is 0)
        velocity := momentum * velocity - learning_rate * ratio * u
        param    := param + velocity
                    (nesterov: param + momentum * velocity - learning_rate * ratio * u)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.1; optax has no default).  It is applied
        before the momentum, as in optax: the velocity holds steps.
    momentum : float or symbolic scalar
        Decay of the velocity (default 0.9).
    weight_decay : float or symbolic scalar
        Coupled L2 decay added to the gradient (default 0).
    trust_coefficient : float or symbolic scalar
        Scales the trust ratio (default 0.001).
    epsilon : float or symbolic scalar
        Added to the update norm (default 0).
    nesterov : bool
        Nesterov's form of the momentum (default False).
    weight_decay_mask, trust_ratio_mask : see :func:`symupdates.parameter_mask`
        Which parameters weight decay and the trust ratio apply to: all
        (None, the default), a name pattern, a predicate, parameters, or one
        boolean per parameter.  Without the trust ratio, ``ratio = 1``.

    Notes
    -----
    State: ``<param>.lars.velocity``.  The defaults are ``optax.lars``'s and
    reproduce its numbers (optax's trace of the scaled updates is the
    velocity).  Reference: You, Gitman and Ginsburg (2017), Large Batch
    Training of Convolutional Networks, arXiv:1708.03888.
    """
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    nesterov = check_switch("nesterov", nesterov)
    decays = parameter_mask(params, weight_decay_mask, "weight_decay_mask")
    trusted = parameter_mask(params, trust_ratio_mask, "trust_ratio_mask")
    check_hyperparameters(params, learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay,
                          trust_coefficient=trust_coefficient, epsilon=epsilon)
    decays = [masked_hyperparameter(weight_decay, on, p, "weight_decay") for on, p in zip(decays, params)]
    velocities = [new_state(p, "lars", "velocity") for p in params]

    def decayed_gradient(param, grad, decay):
        return grad + decay * param

    def formula(param, u, velocity, ratio, lr, momentum):
        velocity = momentum * velocity - lr * ratio * u
        if nesterov:
            return velocity, param + momentum * velocity - lr * ratio * u
        return velocity, param + velocity

    directions = elementwise_values(
        decayed_gradient, list(zip(params, grads, decays)), like=[(p,) for p in params], name="lars"
    )
    ratios = [
        trust_ratio(p, u, trust_coefficient=trust_coefficient, epsilon=epsilon) if on else np.asarray(1, dtype=p.dtype)
        for p, (u,), on in zip(params, directions, trusted)
    ]
    return elementwise_updates(
        formula,
        rows=[(p, u, v, r) for p, (u,), v, r in zip(params, directions, velocities, ratios)],
        targets=[(v, p) for p, v in zip(params, velocities)],
        hyper={"lr": learning_rate, "momentum": momentum},
        name="lars",
    )


@update_rule(anchors={"optax.novograd": {}})
def novograd(
    loss_or_grads,
    params,
    learning_rate=0.001,
    beta1=0.9,
    beta2=0.25,
    epsilon=1e-6,
    epsilon_root=0.0,
    weight_decay=0.0,
):
    """NovoGrad: momentum of gradients normalised by a per-tensor running gradient norm.

    ::

        t     := t + 1
        nu    := ||grad||**2                                   (t = 1)
        nu    := beta2 * nu + (1 - beta2) * ||grad||**2        (t > 1; one number per tensor)
        m     := beta1 * m + grad / (sqrt(nu + epsilon_root) + epsilon) + weight_decay * param
        param := param - learning_rate * m

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001; optax has no default).
    beta1 : float or symbolic scalar
        Decay of the momentum (default 0.9).
    beta2 : float or symbolic scalar
        Decay of the squared gradient norm (default 0.25).
    epsilon : float or symbolic scalar
        Added to the root of ``nu`` (default 1e-6).
    epsilon_root : float or symbolic scalar
        Added inside that root (default 0).
    weight_decay : float or symbolic scalar
        Weight decay added to the normalised gradient (default 0).

    Notes
    -----
    State: ``<param>.novograd.m``, the 0-d ``<param>.novograd.nu`` and the
    integer counter ``novograd.t``.  On the first step ``m`` starts from 0,
    so it equals the normalised gradient as in optax.  The defaults are
    ``optax.novograd``'s and reproduce its numbers.  Reference: Ginsburg et
    al. (2019), Stochastic Gradient Methods with Layer-wise Adaptive Moments
    for Training of Deep Networks, arXiv:1905.11286.
    """
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    check_hyperparameters(params, learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
                          epsilon_root=epsilon_root, weight_decay=weight_decay)
    ms = [new_state(p, "novograd", "m") for p in params]
    nus = [new_state(p, "novograd", "nu", shape=()) for p in params]
    count, t = step_counter("novograd")

    def running_norm(nu, grad):
        b2 = as_hyperparameter(beta2, nu.dtype, "beta2")
        squared = pt.sum(pt.sqr(grad))
        return pt.switch(pt.eq(t, 1), squared, b2 * nu + (1 - b2) * squared)

    def formula(param, grad, m, nu, lr, beta1, epsilon, epsilon_root, weight_decay):
        m = beta1 * m + grad / (pt.sqrt(nu + epsilon_root) + epsilon) + weight_decay * param
        return m, param - lr * m

    new_nus = [running_norm(nu, g) for nu, g in zip(nus, grads)]
    steps = elementwise_values(
        formula, list(zip(params, grads, ms, new_nus)), like=[(p, p) for p in params], name="novograd",
        lr=learning_rate, beta1=beta1, epsilon=epsilon, epsilon_root=epsilon_root, weight_decay=weight_decay,
    )
    pairs = []
    for p, m, nu, new_nu, (new_m, new_p) in zip(params, ms, nus, new_nus, steps):
        pairs += [(m, new_m), (nu, new_nu), (p, new_p)]
    return make_updates(pairs + [(count, t)])


@update_rule(anchors={"optax.fromage": {}})
def fromage(loss_or_grads, params, learning_rate=0.01, min_norm=1e-6):
    """Fromage: a step of relative size ``learning_rate``, then a shrink that keeps norms bounded.

    ::

        ratio := max(||param||, min_norm) / max(||grad||, min_norm)    (per tensor)
        param := (param - learning_rate * ratio * grad) / sqrt(1 + learning_rate**2)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The relative step size (default 0.01, the paper's recommendation;
        optax has no default).
    min_norm : float or symbolic scalar
        Floor of both norms (default 1e-6).

    Notes
    -----
    No state.  ``optax.fromage`` writes the same step as a trust ratio, a
    learning rate ``lr / sqrt(1 + lr**2)`` and a weight decay
    ``1 / sqrt(1 + lr**2) - 1``; with the same defaults it gives the same
    numbers.  Reference: Bernstein et al. (2020), On the distance between two
    neural networks and the stability of learning, NeurIPS, arXiv:2002.03432.
    """
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    check_hyperparameters(params, learning_rate=learning_rate, min_norm=min_norm)

    def formula(param, grad, ratio, lr):
        return (param - lr * ratio * grad) / pt.sqrt(1 + lr**2)

    return elementwise_updates(
        formula,
        rows=[(p, g, trust_ratio(p, g, min_norm=min_norm)) for p, g in zip(params, grads)],
        targets=[(p,) for p in params],
        hyper={"lr": learning_rate},
        name="fromage",
    )
