"""Per-element adaptive step sizes: AdaGrad, RMSprop, AdaDelta (Lasagne's and PyMC's forms)."""

import numpy as np
import pytensor.tensor as pt

from ..core import (
    as_hyperparameter,
    check_params,
    get_or_compute_grads,
    make_updates,
    new_state,
    step_counter,
    update_rule,
)
from ..fused import elementwise_rule

__all__ = ["adagrad", "adagrad_window", "rmsprop", "adadelta"]


@update_rule
def adagrad(loss_or_grads, params, learning_rate=1.0, epsilon=1e-6):
    """AdaGrad: steps scaled by the root of the sum of all squared gradients.

    ::

        accu  := accu + grad**2
        param := param - learning_rate * grad / sqrt(accu + epsilon)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 1.0).
    epsilon : float or symbolic scalar
        Added inside the square root for numerical stability (default 1e-6).

    Returns
    -------
    OrderedDict
        ``{accu: ..., param: ...}`` for each parameter; the accumulator is
        named ``<param>.adagrad.accu``.

    Notes
    -----
    torch.optim.Adagrad adds epsilon outside the square root.  Reference:
    Duchi, Hazan and Singer (2011), Adaptive Subgradient Methods for Online
    Learning and Stochastic Optimization, JMLR 12:2121-2159.
    """

    def step(param, grad, accu, lr, epsilon):
        accu = accu + grad**2
        return accu, param - lr * grad / pt.sqrt(accu + epsilon)

    return elementwise_rule(step, loss_or_grads, params, "adagrad", slots=["accu"], lr=learning_rate, epsilon=epsilon)


@update_rule
def rmsprop(loss_or_grads, params, learning_rate=1.0, rho=0.9, epsilon=1e-6):
    """RMSprop: steps scaled by a moving root mean square of the gradients.

    ::

        accu  := rho * accu + (1 - rho) * grad**2
        param := param - learning_rate * grad / sqrt(accu + epsilon)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 1.0).
    rho : float or symbolic scalar
        Decay rate of the moving average (default 0.9).
    epsilon : float or symbolic scalar
        Added inside the square root (default 1e-6).

    Notes
    -----
    The accumulator is named ``<param>.rmsprop.accu``.  torch.optim.RMSprop
    and Keras add epsilon outside the square root.  Reference: Tieleman and
    Hinton (2012), Neural Networks for Machine Learning, lecture 6.5.
    """

    def step(param, grad, accu, lr, rho, epsilon):
        accu = rho * accu + (1 - rho) * grad**2
        return accu, param - lr * grad / pt.sqrt(accu + epsilon)

    return elementwise_rule(
        step, loss_or_grads, params, "rmsprop", slots=["accu"], lr=learning_rate, rho=rho, epsilon=epsilon
    )


@update_rule
def adadelta(loss_or_grads, params, learning_rate=1.0, rho=0.95, epsilon=1e-6):
    """AdaDelta: steps scaled by the ratio of RMS step to RMS gradient.

    ::

        accu       := rho * accu + (1 - rho) * grad**2
        update     := grad * sqrt(delta_accu + epsilon) / sqrt(accu + epsilon)
        param      := param - learning_rate * update
        delta_accu := rho * delta_accu + (1 - rho) * update**2

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        Scales the step (default 1.0, as in the paper).
    rho : float or symbolic scalar
        Decay rate of both moving averages (default 0.95).
    epsilon : float or symbolic scalar
        Added inside both square roots (default 1e-6).

    Notes
    -----
    State: ``<param>.adadelta.accu`` and ``<param>.adadelta.delta_accu``.
    Reference: Zeiler (2012), ADADELTA: An Adaptive Learning Rate Method,
    arXiv:1212.5701.
    """

    def step(param, grad, accu, delta_accu, lr, rho, epsilon):
        accu = rho * accu + (1 - rho) * grad**2
        update = grad * pt.sqrt(delta_accu + epsilon) / pt.sqrt(accu + epsilon)
        delta_accu = rho * delta_accu + (1 - rho) * update**2
        return accu, delta_accu, param - lr * update

    return elementwise_rule(
        step,
        loss_or_grads,
        params,
        "adadelta",
        slots=["accu", "delta_accu"],
        lr=learning_rate,
        rho=rho,
        epsilon=epsilon,
    )


@update_rule
def adagrad_window(loss_or_grads, params, learning_rate=0.001, epsilon=0.1, n_win=10):
    """AdaGrad over a window: the sum of only the last ``n_win`` squared gradients.

    PyMC's default optimizer for variational inference::

        window[..., i] := grad**2            (i cycles through 0 .. n_win-1)
        param := param - learning_rate * grad / sqrt(sum(window, axis=-1) + epsilon)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 0.001).
    epsilon : float or symbolic scalar
        Added inside the square root (default 0.1).
    n_win : int
        Number of past squared gradients kept (default 10).

    Notes
    -----
    State: a ring buffer ``<param>.adagrad_window.window`` of shape
    ``param.shape + (n_win,)`` per parameter and one integer position
    ``adagrad_window.i`` shared by all parameters (PyMC kept one float
    position per parameter).
    """
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    if isinstance(n_win, (bool, np.bool_)) or not isinstance(n_win, (int, np.integer)) or n_win < 1:
        raise ValueError("n_win must be a positive integer, got %r" % (n_win,))
    lrs = [as_hyperparameter(learning_rate, p.dtype, "learning_rate") for p in params]
    epsilons = [as_hyperparameter(epsilon, p.dtype, "epsilon") for p in params]
    position, _ = step_counter("adagrad_window", name="i")
    pairs = []
    for param, grad, lr, eps in zip(params, grads, lrs, epsilons):
        shape = param.get_value(borrow=True).shape + (n_win,)
        window = new_state(param, "adagrad_window", "window", shape=shape, static_shape=param.type.shape + (n_win,))
        window_new = pt.set_subtensor(window[..., position], grad**2)
        pairs.append((window, window_new))
        pairs.append((param, param - lr * grad / pt.sqrt(window_new.sum(axis=-1) + eps)))
    pairs.append((position, (position + 1) % n_win))
    return make_updates(pairs)
