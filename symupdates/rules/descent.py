"""Stochastic gradient descent and momentum (Lasagne's forms)."""

from collections import OrderedDict

from ..core import as_hyperparameter, check_params, is_state, new_state, update_rule
from ..fused import elementwise_rule, elementwise_updates

__all__ = ["sgd", "apply_momentum", "momentum", "apply_nesterov_momentum", "nesterov_momentum"]


@update_rule
def sgd(loss_or_grads, params, learning_rate):
    """Stochastic gradient descent.

    ``param := param - learning_rate * grad``

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
        The loss, or its gradients with respect to ``params``.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar
        The step size (required, as in Lasagne; PyMC's default was 1e-3).

    Returns
    -------
    OrderedDict
        ``{param: new value}``.
    """

    def step(param, grad, lr):
        return param - lr * grad

    return elementwise_rule(step, loss_or_grads, params, "sgd", lr=learning_rate)


def _momentum_updates(step, updates, params, rule, momentum):
    updates = OrderedDict(updates)
    if params is None:
        params = [var for var in updates if not is_state(var)]
    params = check_params(params)
    as_hyperparameter(momentum, params[0].dtype, name="momentum")
    missing = [p for p in params if p not in updates]
    if missing:
        raise ValueError(
            "%s: %s has no update in updates; pass the parameters updates "
            "holds, or params=None for all of them" % (rule, missing[0])
        )
    velocities = [new_state(p, rule, "velocity") for p in params]
    updates.update(
        elementwise_updates(
            step,
            rows=[(p, updates[p], v) for p, v in zip(params, velocities)],
            targets=[(v, p) for p, v in zip(params, velocities)],
            hyper={"momentum": momentum},
            name=rule,
        )
    )
    return updates


def apply_momentum(updates, params=None, momentum=0.9):
    """Add classical momentum to existing updates.

    For each parameter, with ``update`` the value ``updates`` assigns it::

        x        := momentum * velocity + update
        velocity := x - param
        param    := x

    Parameters
    ----------
    updates : OrderedDict
        Updates to modify, for example from :func:`sgd`.  It is copied, not
        changed.
    params : list of shared variables, optional
        The parameters to apply momentum to; if not given, every key of
        ``updates`` that is not optimizer state created by this package.
    momentum : float or symbolic scalar
        The amount of momentum to apply (default 0.9).

    Returns
    -------
    OrderedDict
        A copy of ``updates`` with momentum applied and the velocities
        (``<param>.momentum.velocity``) added.

    Notes
    -----
    Higher momentum also means a larger effective step; reduce the learning
    rate by ``1 - momentum`` to keep it.  Reference: Polyak (1964).
    """

    def step(param, update, velocity, momentum):
        x = momentum * velocity + update
        return x - param, x

    return _momentum_updates(step, updates, params, "momentum", momentum)


@update_rule
def momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    """Stochastic gradient descent with classical momentum.

    ``velocity := momentum * velocity - learning_rate * grad``;
    ``param := param + velocity``.  This is :func:`apply_momentum` applied
    to :func:`sgd`.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (required).
    momentum : float or symbolic scalar
        The amount of momentum (default 0.9).
    """
    return apply_momentum(sgd(loss_or_grads, params, learning_rate), momentum=momentum)


def apply_nesterov_momentum(updates, params=None, momentum=0.9):
    """Add Nesterov momentum to existing updates.

    For each parameter, with ``update`` the value ``updates`` assigns it::

        x        := momentum * velocity + update - param
        velocity := x
        param    := momentum * x + update

    This is Sutskever et al.'s reformulation (2013), in which the
    parameters hold the look-ahead point.  Arguments and result as in
    :func:`apply_momentum`; velocities are named
    ``<param>.nesterov_momentum.velocity``.
    """

    def step(param, update, velocity, momentum):
        x = momentum * velocity + update - param
        return x, momentum * x + update

    return _momentum_updates(step, updates, params, "nesterov_momentum", momentum)


@update_rule
def nesterov_momentum(loss_or_grads, params, learning_rate, momentum=0.9):
    """Stochastic gradient descent with Nesterov momentum.

    ``velocity := momentum * velocity - learning_rate * grad``;
    ``param := param + momentum * velocity - learning_rate * grad``.  This
    is :func:`apply_nesterov_momentum` applied to :func:`sgd`.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (required).
    momentum : float or symbolic scalar
        The amount of momentum (default 0.9).
    """
    return apply_nesterov_momentum(sgd(loss_or_grads, params, learning_rate), momentum=momentum)
