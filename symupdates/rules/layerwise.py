"""Layer-wise rules: steps rescaled per tensor by norms (LAMB, LARS, NovoGrad, Fromage).

Each of these rules scales the step of a whole tensor (a "layer") by a number
computed from the tensor: a trust ratio ``||param|| / ||update||`` or a
running norm of the gradient.  Those numbers are ordinary reductions,
computed by a :class:`~symupdates.engine.per_tensor` stage between the
rule's element-wise stages, which read them as 0-d entries of the tensor's
row, so each rule is still fused kernels over all tensors plus its norms.  The formulas and
defaults are optax's (``optax.lamb``, ``optax.lars``, ``optax.novograd``,
``optax.fromage``), including its conventions at zero norms and its weight
decay masks.
"""


import numpy as np
import pytensor.tensor as pt

from ..core import as_hyperparameter, check_params, l2_norm, parameter_mask
from ..registry import update_rule
from ..engine import elementwise, elementwise_rule, per_tensor
from .options import check_switch, is_off

__all__ = ["lamb", "lars", "novograd", "fromage"]


# ---------------------------------------------------------------------------
# helpers of the layer-wise rules


def zero_like(value):
    """A 0-d zero of ``value``'s dtype: a hyperparameter a mask turns off for one tensor."""
    return np.asarray(0, dtype=value.dtype)


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
    decays = parameter_mask(check_params(params), weight_decay_mask, "weight_decay_mask")

    def decay(index, weight_decay):
        return weight_decay if decays[index] else zero_like(weight_decay)

    def direction(param, grad, m, v, decay, beta1, beta2, epsilon, epsilon_root, t):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        return m, v, m_hat / (pt.sqrt(v_hat + epsilon_root) + epsilon) + decay * param

    def ratio(param, u):
        return trust_ratio(param, u)

    def formula(param, u, ratio, lr):
        return param - lr * ratio * u

    return elementwise_rule(
        [per_tensor(decay, returns="decay"), elementwise(direction, returns=("m", "v", "u")),
         per_tensor(ratio, returns="ratio"), elementwise(formula, returns="param")],
        loss_or_grads, params, "lamb", slots=["m", "v"], counter=True, lr=learning_rate, beta1=beta1, beta2=beta2,
        epsilon=epsilon, epsilon_root=epsilon_root, weight_decay=weight_decay,
    )


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
    nesterov = check_switch("nesterov", nesterov)
    decays = parameter_mask(check_params(params), weight_decay_mask, "weight_decay_mask")
    trusted = parameter_mask(params, trust_ratio_mask, "trust_ratio_mask")

    def decay(index, weight_decay):
        return weight_decay if decays[index] else zero_like(weight_decay)

    def decayed_gradient(param, grad, decay):
        return grad + decay * param

    def ratio(index, param, u, trust_coefficient, epsilon):
        if not trusted[index]:
            return np.asarray(1, dtype=param.dtype)
        return trust_ratio(param, u, trust_coefficient=trust_coefficient, epsilon=epsilon)

    def formula(param, u, velocity, ratio, lr, momentum):
        velocity = momentum * velocity - lr * ratio * u
        if nesterov:
            return velocity, param + momentum * velocity - lr * ratio * u
        return velocity, param + velocity

    return elementwise_rule(
        [per_tensor(decay, returns="decay"), elementwise(decayed_gradient, returns="u"),
         per_tensor(ratio, returns="ratio"), elementwise(formula, returns=("velocity", "param"))],
        loss_or_grads, params, "lars", slots=["velocity"], lr=learning_rate, momentum=momentum,
        weight_decay=weight_decay, trust_coefficient=trust_coefficient, epsilon=epsilon,
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

    def running_norm(grad, nu, beta2, t):
        squared = pt.sum(pt.sqr(grad))
        return pt.switch(pt.eq(t, 1), squared, beta2 * nu + (1 - beta2) * squared)

    def formula(param, grad, m, nu, lr, beta1, epsilon, epsilon_root, weight_decay):
        m = beta1 * m + grad / (pt.sqrt(nu + epsilon_root) + epsilon) + weight_decay * param
        return m, param - lr * m

    return elementwise_rule(
        [per_tensor(running_norm, returns="nu"), elementwise(formula, returns=("m", "param"))],
        loss_or_grads, params, "novograd", slots=["m", ("nu", 0.0, lambda dims: ())], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon, epsilon_root=epsilon_root,
        weight_decay=weight_decay,
    )


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

    def ratio(param, grad, min_norm):
        return trust_ratio(param, grad, min_norm=min_norm)

    def formula(param, grad, ratio, lr):
        return (param - lr * ratio * grad) / pt.sqrt(1 + lr**2)

    return elementwise_rule(
        [per_tensor(ratio, returns="ratio"), elementwise(formula, returns="param")],
        loss_or_grads, params, "fromage", lr=learning_rate, min_norm=min_norm,
    )
