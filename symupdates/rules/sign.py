"""Rules that step by the sign of the gradient: signSGD, Signum, Lion, Rprop."""

import numbers

import numpy as np
import pytensor.tensor as pt

from ..core import Range
from ..registry import update_rule
from ..engine import elementwise_rule
from .options import check_switch, optional_hyperparameters

__all__ = ["sign_sgd", "signum", "lion", "rprop"]


@update_rule(anchors={"optax.sign_sgd": {}})
def sign_sgd(loss_or_grads, params, learning_rate):
    """signSGD: a step of fixed size against the sign of each gradient element.

    ::

        param := param - learning_rate * sign(grad)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (required, as in optax).

    Notes
    -----
    ``sign(0) = 0``: an element with a zero gradient does not move.  Formula
    as ``optax.sign_sgd``.  Reference: Bernstein et al. (2018), signSGD:
    Compressed Optimisation for Non-Convex Problems, ICML, arXiv:1802.04434.
    """

    def formula(param, grad, lr):
        return param - lr * pt.sign(grad)

    return elementwise_rule(formula, loss_or_grads, params, "sign_sgd", lr=learning_rate)


@update_rule(anchors={"optax.signum": {}})
def signum(loss_or_grads, params, learning_rate, beta=0.9):
    """Signum: signSGD on a moving average of the gradient (sign momentum).

    ::

        m     := beta * m + (1 - beta) * grad
        param := param - learning_rate * sign(m)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (required, as in optax).
    beta : float or symbolic scalar
        Decay rate of the moving average (default 0.9).

    Notes
    -----
    State: ``<param>.signum.m`` (no bias correction: it would not change the
    sign).  Formula and default as ``optax.signum``.  Reference: Bernstein
    et al. (2018), signSGD: Compressed Optimisation for Non-Convex Problems,
    ICML, arXiv:1802.04434.
    """

    def formula(param, grad, m, lr, beta):
        m = beta * m + (1 - beta) * grad
        return m, param - lr * pt.sign(m)

    return elementwise_rule(formula, loss_or_grads, params, "signum", slots=["m"], lr=learning_rate, beta=beta)


@update_rule(
    anchors={
        "optax.lion": {},
        "lion_pytorch.Lion": {"learning_rate": 1e-4, "weight_decay": 0.0},
    },
    # no bias correction divides by 1 - beta: lion-pytorch accepts both ends
    ranges={"beta1": Range(0, 1), "beta2": Range(0, 1)},
)
def lion(loss_or_grads, params, learning_rate=1e-4, beta1=0.9, beta2=0.99, weight_decay=1e-3):
    """Lion: the sign of an interpolation of momentum and gradient, with decoupled weight decay.

    ::

        update := sign(beta1 * m + (1 - beta1) * grad)
        param  := param - learning_rate * (update + weight_decay * param)
        m      := beta2 * m + (1 - beta2) * grad

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 1e-4, the paper's and lion-pytorch's; optax
        requires one).  Typically 3-10 times smaller than AdamW's.
    beta1 : float or symbolic scalar
        Interpolation between momentum and gradient for the step (default 0.9).
    beta2 : float or symbolic scalar
        Decay rate of the momentum (default 0.99).
    weight_decay : float or symbolic scalar
        Decoupled weight decay, scaled by the learning rate (default 1e-3,
        optax's; lion-pytorch's default is 0).

    Notes
    -----
    State: ``<param>.lion.m``.  Anchors: ``optax.lion``: the defaults (with
    its required learning rate).  The PyTorch code published with the paper
    (lion-pytorch: ``lr=1e-4, betas=(0.9, 0.99), weight_decay=0``) writes
    the decay as ``param *= 1 - lr * weight_decay`` before the signed step,
    the same update up to rounding; ``weight_decay=0.0`` gives its defaults.
    Reference: Chen et al. (2023), Symbolic Discovery of Optimization
    Algorithms, NeurIPS, arXiv:2302.06675.
    """

    def formula(param, grad, m, lr, beta1, beta2, weight_decay=None):
        update = pt.sign(beta1 * m + (1 - beta1) * grad)
        if weight_decay is not None:
            update = update + weight_decay * param
        return beta2 * m + (1 - beta2) * grad, param - lr * update

    return elementwise_rule(
        formula, loss_or_grads, params, "lion", slots=["m"], lr=learning_rate, beta1=beta1, beta2=beta2,
        **optional_hyperparameters(weight_decay=weight_decay),
    )


@update_rule(
    anchors={"torch.optim.Rprop": {}},
    # torch's checks: 0 < etaminus < 1 < etaplus
    ranges={
        "etaminus": Range(0, 1, low_open=True, high_open=True),
        "etaplus": Range(1, np.inf, low_open=True),
        "step_size_min": Range(0, np.inf),
        "step_size_max": Range(0, np.inf, infinite=True),
    },
)
def rprop(
    loss_or_grads, params, learning_rate=0.01, etaminus=0.5, etaplus=1.2, step_size_min=1e-6, step_size_max=50.0,
    *, maximize=False,
):
    """Rprop: per-element step sizes that grow while the gradient keeps its sign.

    torch.optim.Rprop's form (Rprop without backtracking, "Rprop-")::

        same      := grad * prev_grad
        factor    := etaplus if same > 0 else etaminus if same < 0 else 1
        step_size := clip(step_size * factor, step_size_min, step_size_max)
        grad      := 0 if same < 0 else grad
        param     := param - sign(grad) * step_size
        prev_grad := grad

    ``step_size`` starts at ``learning_rate``, ``prev_grad`` at 0.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The initial step size (default 0.01); read on the first step only.
    etaminus, etaplus : float or symbolic scalar
        Factors shrinking the step size after a sign change and growing it
        otherwise (0.5, 1.2; torch's ``etas``).
    step_size_min, step_size_max : float or symbolic scalar
        Bounds of the step size (1e-6, 50; torch's ``step_sizes``).
    maximize : bool
        Ascend the loss instead (default False).

    Notes
    -----
    Full-batch method: with noisy gradients the signs flip at random.
    State: ``<param>.rprop.prev_grad``, ``<param>.rprop.step_size`` and the
    counter ``rprop.t``.  torch zeroes the gradient where the step-size
    factor equals ``etaminus``, which differs from ``same < 0`` only for
    ``etaminus`` equal to 1 or to ``etaplus``.  Reference: Riedmiller and
    Braun (1993), A Direct Adaptive Method for Faster Backpropagation
    Learning: The RPROP Algorithm, IEEE ICNN; Igel and Hüsken (2000),
    Improving the Rprop Learning Algorithm.
    """
    maximize = check_switch("maximize", maximize)
    if all(isinstance(v, numbers.Real) for v in (step_size_min, step_size_max)) and step_size_min > step_size_max:
        raise ValueError("rprop: step_size_min (%r) must not exceed step_size_max (%r)" % (step_size_min, step_size_max))

    def formula(param, grad, prev_grad, step_size, lr, etaminus, etaplus, step_size_min, step_size_max, t):
        if maximize:
            grad = -grad
        same = grad * prev_grad
        factor = pt.switch(same > 0, etaplus, pt.switch(same < 0, etaminus, 1))
        step_size = pt.switch(pt.eq(t, 1), lr, step_size)
        step_size = pt.clip(step_size * factor, step_size_min, step_size_max)
        grad = pt.switch(same < 0, 0, grad)
        return grad, step_size, param - pt.sign(grad) * step_size

    return elementwise_rule(
        formula, loss_or_grads, params, "rprop", slots=["prev_grad", "step_size"], counter=True,
        lr=learning_rate, etaminus=etaminus, etaplus=etaplus, step_size_min=step_size_min,
        step_size_max=step_size_max,
    )
