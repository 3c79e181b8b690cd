"""Hypergradient descent: rules that adapt their own learning rate online.

Baydin, Cornish, Martinez Rubio, Schmidt and Wood (2018), Online Learning
Rate Adaptation with Hypergradient Descent, ICLR, arXiv:1703.04782.  The
derivative of the loss at step ``t`` with respect to the learning rate used
at step ``t - 1`` is ``g_t . d(u_{t-1})/d(alpha)``, a dot product over all
parameters; the learning rate descends it with its own step size ``beta``
(``hypergradient_lr``).  The learning rate is one scalar for the whole
model (a global reduction), and the rest of each rule is element-wise.

The state holds the learning rate's change since the start,
``<rule>.learning_rate_change``, so that the learning rate itself may be
symbolic: the learning rate in use is ``learning_rate + change``.
"""

import pytensor.tensor as pt

from ..registry import update_rule
from ..engine import across_tensors, elementwise, elementwise_rule

__all__ = ["sgd_hd", "adam_hd"]


def _hypergradient_updates(rule, formula, loss_or_grads, params, learning_rate, hypergradient_lr, slots=(),
                           counter=False, **hyper):
    """Updates of a hypergradient rule.

    ``formula(param, grad, <slots>, direction, lr, ...)`` returns the new
    slots, the new ``direction`` (``d u_t / d alpha``, the update's
    derivative with respect to the learning rate) and the new parameter;
    ``lr`` is the learning rate after this step's hypergradient descent.
    """

    def descend(grad, direction, learning_rate_change, learning_rate, hypergradient_lr):
        # h_t = g_t . d(u_{t-1})/d(alpha): zero on the first step (direction starts at 0).
        dtype = learning_rate_change.dtype
        hypergradient = pt.add(*[pt.cast((g * d).sum(), dtype) for g, d in zip(grad, direction)])
        change = learning_rate_change - hypergradient_lr * hypergradient
        return change, learning_rate + change

    return elementwise_rule(
        [across_tensors(descend, returns=("learning_rate_change", "lr")),
         elementwise(formula, returns=(*slots, "direction", "param"))],
        loss_or_grads, params, rule, slots=(*slots, "direction"), counter=counter,
        scalar_slots=[("learning_rate_change", 0.0)], learning_rate=learning_rate,
        hypergradient_lr=hypergradient_lr, **hyper,
    )


@update_rule  # no reference implementation anchored: tested against a transcription of the paper
def sgd_hd(loss_or_grads, params, learning_rate=0.001, hypergradient_lr=0.001):
    """SGD with hypergradient descent on its learning rate (SGD-HD).

    Baydin et al. (2018), algorithm SGD-HD, with ``alpha_0 = learning_rate``
    and ``beta = hypergradient_lr``::

        h_t     := g_t . (-g_{t-1})          (a dot product over all parameters; g_0 = 0)
        alpha_t := alpha_{t-1} - beta * h_t
        param   := param - alpha_t * g_t

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The initial learning rate ``alpha_0`` (default 0.001).
    hypergradient_lr : float or symbolic scalar
        ``beta``, the learning rate of the learning rate (default 0.001,
        the paper's choice for SGD-HD).

    Notes
    -----
    State: ``<param>.sgd_hd.direction`` (``-g_{t-1}``, the derivative of
    the last update with respect to the learning rate) and the scalar
    ``sgd_hd.learning_rate_change`` (``alpha_t - alpha_0``).

    Overflow: ``h_t`` is a product of two gradients, so gradients above
    about 1e19 in float32 (1e154 in float64) make it infinite and the
    parameters with it, as the paper's formula does;
    :func:`symupdates.skip_nonfinite` skips such steps.  Reference: Baydin
    et al. (2018), Online Learning Rate Adaptation with Hypergradient
    Descent, ICLR, arXiv:1703.04782.
    """

    def formula(param, grad, direction, lr):
        return -grad, param - lr * grad

    return _hypergradient_updates("sgd_hd", formula, loss_or_grads, params, learning_rate, hypergradient_lr)


@update_rule  # no reference implementation anchored: tested against a transcription of the paper
def adam_hd(loss_or_grads, params, learning_rate=0.001, hypergradient_lr=1e-7, beta1=0.9, beta2=0.999,
            epsilon=1e-8):
    """Adam with hypergradient descent on its learning rate (Adam-HD).

    Baydin et al. (2018), algorithm Adam-HD, with ``alpha_0 = learning_rate``
    and ``beta = hypergradient_lr``::

        h_t     := g_t . (-m_hat_{t-1} / (sqrt(v_hat_{t-1}) + epsilon))   (0 on the first step)
        alpha_t := alpha_{t-1} - beta * h_t
        m       := beta1 * m + (1 - beta1) * g_t
        v       := beta2 * v + (1 - beta2) * g_t**2
        param   := param - alpha_t * m_hat / (sqrt(v_hat) + epsilon)
        m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The initial learning rate ``alpha_0`` (default 0.001).
    hypergradient_lr : float or symbolic scalar
        ``beta`` (default 1e-7, the paper's choice for Adam-HD).
    beta1, beta2 : float or symbolic scalar
        Decay rates of the moments (defaults 0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to ``sqrt(v_hat)`` (default 1e-8).

    Notes
    -----
    State: ``<param>.adam_hd.m``, ``.v``, ``.direction`` (the last update's
    derivative with respect to the learning rate), the scalar
    ``adam_hd.learning_rate_change`` (``alpha_t - alpha_0``) and the step
    counter ``adam_hd.t``.  Reference: Baydin et al. (2018), arXiv:1703.04782.
    """

    def formula(param, grad, m, v, direction, lr, beta1, beta2, epsilon, t):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        unit = (m / (1 - beta1**t)) / (pt.sqrt(v / (1 - beta2**t)) + epsilon)
        return m, v, -unit, param - lr * unit

    return _hypergradient_updates(
        "adam_hd", formula, loss_or_grads, params, learning_rate, hypergradient_lr, slots=("m", "v"),
        counter=True, beta1=beta1, beta2=beta2, epsilon=epsilon,
    )
