"""Adam and its relatives (Lasagne's forms)."""

import pytensor.tensor as pt

from ..core import update_rule
from ..fused import elementwise_rule

__all__ = ["adam", "adamax", "amsgrad"]


@update_rule
def adam(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """Adam: steps from bias-corrected moving averages of the gradient and its square.

    Lasagne's form, with the bias correction folded into the step size
    (the paper's "epsilon-hat" formulation, end of its section 2)::

        t     := t + 1
        a_t   := learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
        m     := beta1 * m + (1 - beta1) * grad
        v     := beta2 * v + (1 - beta2) * grad**2
        param := param - a_t * m / (sqrt(v) + epsilon)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    beta1 : float or symbolic scalar
        Decay rate of the first moment (default 0.9).
    beta2 : float or symbolic scalar
        Decay rate of the second moment (default 0.999).
    epsilon : float or symbolic scalar
        Added to the root of the second moment (default 1e-8).

    Notes
    -----
    State: ``<param>.adam.m``, ``<param>.adam.v`` and the integer step
    counter ``adam.t``.  torch.optim.Adam divides by
    ``sqrt(v / (1 - beta2**t)) + epsilon`` instead, which differs only in
    where epsilon enters.  Reference: Kingma and Ba (2015), Adam: A Method
    for Stochastic Optimization, ICLR, arXiv:1412.6980.
    """

    def step(param, grad, m, v, lr, beta1, beta2, epsilon, t):
        a_t = lr * pt.sqrt(1 - beta2**t) / (1 - beta1**t)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        return m, v, param - a_t * m / (pt.sqrt(v) + epsilon)

    return elementwise_rule(
        step, loss_or_grads, params, "adam", slots=["m", "v"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
    )


@update_rule
def adamax(loss_or_grads, params, learning_rate=0.002, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """AdaMax: Adam with the infinity norm in place of the second moment.

    ::

        t     := t + 1
        a_t   := learning_rate / (1 - beta1**t)
        m     := beta1 * m + (1 - beta1) * grad
        u     := max(beta2 * u, abs(grad))
        param := param - a_t * m / (u + epsilon)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.002).
    beta1, beta2 : float or symbolic scalar
        Decay rates of the first moment and of the norm (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the norm (default 1e-8).

    Notes
    -----
    State: ``<param>.adamax.m``, ``<param>.adamax.u``, counter
    ``adamax.t``.  Reference: Kingma and Ba (2015), section 7.1.
    """

    def step(param, grad, m, u, lr, beta1, beta2, epsilon, t):
        a_t = lr / (1 - beta1**t)
        m = beta1 * m + (1 - beta1) * grad
        u = pt.maximum(beta2 * u, abs(grad))
        return m, u, param - a_t * m / (u + epsilon)

    return elementwise_rule(
        step, loss_or_grads, params, "adamax", slots=["m", "u"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
    )


@update_rule
def amsgrad(loss_or_grads, params, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
    """AMSGrad: Adam whose second moment never decreases.

    Lasagne's form: the maximum is taken over the raw (not bias-corrected)
    second moment, and the bias correction is folded into the step size::

        t     := t + 1
        a_t   := learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
        m     := beta1 * m + (1 - beta1) * grad
        v     := beta2 * v + (1 - beta2) * grad**2
        v_hat := max(v_hat, v)
        param := param - a_t * m / (sqrt(v_hat) + epsilon)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    beta1, beta2 : float or symbolic scalar
        Moment decay rates (0.9, 0.999).
    epsilon : float or symbolic scalar
        Added to the root of ``v_hat`` (default 1e-8).

    Notes
    -----
    State: ``<param>.amsgrad.m``, ``.v``, ``.v_hat``, counter
    ``amsgrad.t``.  Reference: Reddi, Kale and Kumar (2018), On the
    Convergence of Adam and Beyond, ICLR.
    """

    def step(param, grad, m, v, v_hat, lr, beta1, beta2, epsilon, t):
        a_t = lr * pt.sqrt(1 - beta2**t) / (1 - beta1**t)
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        v_hat = pt.maximum(v_hat, v)
        return m, v, v_hat, param - a_t * m / (pt.sqrt(v_hat) + epsilon)

    return elementwise_rule(
        step, loss_or_grads, params, "amsgrad", slots=["m", "v", "v_hat"], counter=True,
        lr=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon,
    )
