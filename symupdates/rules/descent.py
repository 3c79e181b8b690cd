"""Stochastic gradient descent, momentum and averaged SGD.

Lasagne's ``sgd``, ``momentum`` and ``nesterov_momentum`` keep Lasagne's
arguments, defaults and formulas; keyword-only switches after them reproduce
torch.optim, optax, Keras and Chainer.  The switches are named alike across
the package:

``weight_decay``
    Coupled L2 decay, torch's meaning: ``grad := grad + weight_decay * param``.
``maximize``
    Ascend instead of descend: ``grad := -grad`` (before weight decay).
``learning_rate_in_velocity``
    ``True`` (Lasagne, Keras, Chainer ``MomentumSGD``, optax's rmsprop): the
    velocity holds steps, ``v := mu * v - lr * grad; param := param + v``.
    ``False`` (torch, optax's sgd, Chainer ``CorrectedMomentumSGD``): it holds
    gradients, ``v := mu * v + grad; param := param - lr * v``.  The two agree
    for a constant learning rate and differ once it changes.
"""


import numpy as np
import pytensor.tensor as pt

from ..core import Range, as_hyperparameter, check_ranges, new_state, step_number_as, updates_and_params
from ..registry import update_rule, update_wrapper
from ..schedules import with_schedules
from ..engine import elementwise_rule
from ..engine.apply import elementwise_updates
from .options import check_switch, coupled_gradient, is_off, optional_hyperparameters

__all__ = [
    "sgd",
    "apply_momentum",
    "momentum",
    "apply_nesterov_momentum",
    "nesterov_momentum",
    "asgd",
]


# ---------------------------------------------------------------------------
# SGD


@update_rule(
    anchors={
        "lasagne.updates.sgd": {},
        "torch.optim.SGD": {"learning_rate": 0.001},
        "optax.sgd": {},
        "keras.optimizers.SGD": {"learning_rate": 0.01},
        "blocks.algorithms.Scale": {"learning_rate": 1.0},
    }
)
def sgd(loss_or_grads, params, learning_rate=1e-3, *, weight_decay=0.0, maximize=False, lazy=False):
    """Stochastic gradient descent.

    ::

        grad  := grad + weight_decay * param          (if weight_decay)
        param := param - learning_rate * grad

    Parameters
    ----------
    loss_or_grads : scalar expression or list of expressions
        The loss, or its gradients with respect to ``params``.
    params : list of shared variables
        The parameters to update.
    learning_rate : float or symbolic scalar
        The step size (default 1e-3, PyMC's and torch's; Lasagne requires
        it, Keras' default is 0.01).
    weight_decay : float or symbolic scalar
        Coupled L2 decay added to the gradient, torch's ``weight_decay``
        (default 0: none).
    maximize : bool
        Ascend the loss instead (torch's ``maximize``, default False).
    lazy : bool
        Update only the rows a row-sparse gradient touches (``E[idx]``), state
        included (default False; ``docs/sparse.rst``).

    Returns
    -------
    OrderedDict
        ``{param: new value}``.

    Notes
    -----
    With the defaults this is Lasagne's ``sgd``; it is also Blocks'
    ``Scale`` (``learning_rate=1.0``),
    ``torch.optim.SGD(momentum=0)``, ``optax.sgd`` and ``keras.optimizers.SGD``
    without momentum.  ``lazy=True`` is torch.optim.SGD on a sparse
    gradient (``nn.Embedding(sparse=True)``): ``param[rows] -= learning_rate
    * grad[rows]`` with the gradient rows of repeated indices summed.  Reference: Robbins and Monro (1951), A Stochastic
    Approximation Method, Ann. Math. Statist. 22(3).
    """
    maximize = check_switch("maximize", maximize)

    def formula(param, grad, lr, weight_decay=None):
        grad = coupled_gradient(param, grad, weight_decay, maximize)
        return param - lr * grad

    return elementwise_rule(
        formula, loss_or_grads, params, "sgd", lazy=lazy, lr=learning_rate, **optional_hyperparameters(weight_decay=weight_decay)
    )


# ---------------------------------------------------------------------------
# momentum applied to existing updates (Lasagne)


def _momentum_updates(formula, updates, params, rule, momentum):
    updates, params = updates_and_params(updates, params, "apply_" + rule)
    check_ranges("apply_" + rule, {"momentum": momentum})
    as_hyperparameter(momentum, params[0].dtype, name="momentum")
    velocities = [new_state(p, rule, "velocity") for p in params]
    updates.update(
        elementwise_updates(
            formula,
            rows=[(p, updates[p], v) for p, v in zip(params, velocities)],
            targets=[(v, p) for p, v in zip(params, velocities)],
            hyper={"momentum": momentum},
            name=rule,
        )
    )
    return with_schedules(updates)


@update_wrapper
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
        The parameters to apply momentum to; if not given, every floating
        key of ``updates`` that is neither optimizer state nor a schedule
        counter.
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

    def formula(param, update, velocity, momentum):
        x = momentum * velocity + update
        return x - param, x

    return _momentum_updates(formula, updates, params, "momentum", momentum)


@update_wrapper
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

    def formula(param, update, velocity, momentum):
        x = momentum * velocity + update - param
        return x, momentum * x + update

    return _momentum_updates(formula, updates, params, "nesterov_momentum", momentum)


# ---------------------------------------------------------------------------
# momentum as a rule, in every framework's form


def _momentum_rule(
    rule, loss_or_grads, params, learning_rate, momentum, dampening, nesterov, weight_decay, maximize,
    learning_rate_in_velocity, dampen_first_step, lazy=False,
):
    nesterov = check_switch("nesterov", nesterov)
    maximize = check_switch("maximize", maximize)
    learning_rate_in_velocity = check_switch("learning_rate_in_velocity", learning_rate_in_velocity)
    dampen_first_step = check_switch("dampen_first_step", dampen_first_step)
    # torch starts the velocity at the first gradient itself; from zero, the
    # first step would be dampened.  Only a counter can tell the first step.
    needs_counter = not dampen_first_step and not is_off(dampening)

    def formula(param, grad, velocity, lr, momentum, weight_decay=None, dampening=None, t=None):
        grad = coupled_gradient(param, grad, weight_decay, maximize)
        push = grad if dampening is None else (1 - dampening) * grad
        if t is not None:
            push = pt.switch(pt.eq(t, 1), grad, push)
        if learning_rate_in_velocity:
            # Lasagne's arithmetic exactly: apply_(nesterov_)momentum on sgd.
            x = momentum * velocity + (param - lr * push)
            if nesterov:
                x = x - param
                return x, momentum * x + (param - lr * grad)
            return x - param, x
        velocity = momentum * velocity + push
        direction = grad + momentum * velocity if nesterov else velocity
        return velocity, param - lr * direction

    return elementwise_rule(
        formula, loss_or_grads, params, rule, lazy=lazy, slots=["velocity"], counter=needs_counter,
        lr=learning_rate, momentum=momentum,
        **optional_hyperparameters(weight_decay=weight_decay, dampening=dampening),
    )


_MOMENTUM_ANCHORS = {
    "torch.optim.SGD": {"learning_rate": 0.001, "learning_rate_in_velocity": False, "dampen_first_step": False},
    "optax.sgd": {"learning_rate_in_velocity": False},
    "keras.optimizers.SGD": {"learning_rate": 0.01},
    "chainer.optimizers.MomentumSGD": {"learning_rate": 0.01},
    "chainer.optimizers.CorrectedMomentumSGD": {"learning_rate": 0.01, "learning_rate_in_velocity": False},
}


@update_rule(
    anchors=dict(
        {"lasagne.updates.momentum": {}},
        **_MOMENTUM_ANCHORS,
        **{"blocks.algorithms.Momentum": {"learning_rate": 1.0, "momentum": 0.0}},
    )
)
def momentum(
    loss_or_grads, params, learning_rate=1e-3, momentum=0.9, *, dampening=0.0, nesterov=False, weight_decay=0.0,
    maximize=False, learning_rate_in_velocity=True, dampen_first_step=True, lazy=False,
):
    """Stochastic gradient descent with classical momentum.

    With the defaults, Lasagne's form (``apply_momentum`` on ``sgd``)::

        velocity := momentum * velocity - learning_rate * grad
        param    := param + velocity

    In full, with ``g`` the gradient after ``maximize`` and ``weight_decay``
    and ``d = dampening`` (``d = 0`` on the first step if
    ``dampen_first_step=False``)::

        learning_rate_in_velocity=True:            learning_rate_in_velocity=False:
          velocity := momentum * velocity             velocity := momentum * velocity
                      - learning_rate * (1 - d) * g               + (1 - d) * g
          param    := param + velocity                param    := param - learning_rate * velocity
          (nesterov: param := param                   (nesterov: param := param - learning_rate
              + momentum * velocity - learning_rate * g)        * (g + momentum * velocity))

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 1e-3, PyMC's; Lasagne requires it).
    momentum : float or symbolic scalar
        The decay of the velocity (default 0.9).
    dampening : float or symbolic scalar
        torch's ``dampening``: the gradient enters the velocity scaled by
        ``1 - dampening`` (default 0).  ``dampening=momentum`` with
        ``learning_rate_in_velocity=False`` is momentum as an exponential
        moving average of the gradients, ``v = beta v + (1 - beta) g;
        w -= lr v`` (Ng's deeplearning.ai form; torch's ``dampening`` with
        ``dampen_first_step=False``)::

            momentum(loss, params, lr, momentum=beta, dampening=beta,
                     learning_rate_in_velocity=False)
    nesterov : bool
        Nesterov's look-ahead (default False); ``nesterov=True`` is
        :func:`nesterov_momentum`.
    weight_decay : float or symbolic scalar
        Coupled L2 decay added to the gradient (torch's, default 0).
    maximize : bool
        Ascend the loss instead (default False).
    learning_rate_in_velocity : bool
        Where the learning rate enters (see the module docstring): True
        (default) for Lasagne, Keras and Chainer's ``MomentumSGD``; False for
        torch, optax.sgd and Chainer's ``CorrectedMomentumSGD``, whose
        velocity does not carry an old learning rate into later steps
        (Goyal et al. 2017, momentum correction).
    dampen_first_step : bool
        True (default): the velocity starts at zero, so the first gradient
        is dampened too.  False: torch's convention, the velocity starts at
        the first gradient itself.  Irrelevant without dampening.
    lazy : bool
        Update only the rows a row-sparse gradient touches (``E[idx]``), velocity
        included (default False; ``docs/sparse.rst``).

    Returns
    -------
    OrderedDict
        ``{velocity: ..., param: ...}`` for each parameter (velocities named
        ``<param>.momentum.velocity``), plus the step counter
        ``momentum.t`` when ``dampen_first_step=False`` and ``dampening`` is
        not zero.

    Notes
    -----
    Anchors: ``lasagne.updates.momentum``, ``keras.optimizers.SGD(momentum=...)``
    and Chainer's ``MomentumSGD``: the defaults; ``blocks.algorithms.Momentum``:
    ``learning_rate=1.0, momentum=0.0`` (Blocks' defaults).  ``torch.optim.SGD(momentum=...,
    dampening=..., nesterov=..., weight_decay=..., maximize=...)``:
    ``learning_rate_in_velocity=False, dampen_first_step=False``.
    ``optax.sgd(momentum=...)`` and Chainer's ``CorrectedMomentumSGD``:
    ``learning_rate_in_velocity=False``.  Reference: Polyak (1964), Some
    methods of speeding up the convergence of iteration methods; Sutskever
    et al. (2013), On the importance of initialization and momentum in deep
    learning, ICML.  ``lazy=True`` follows TensorFlow Addons' LazyAdam
    (the velocity of untouched rows neither decays nor moves its row).
    """
    return _momentum_rule(
        "momentum", loss_or_grads, params, learning_rate, momentum, dampening, nesterov, weight_decay, maximize,
        learning_rate_in_velocity, dampen_first_step, lazy,
    )


@update_rule(
    anchors=dict(
        {"lasagne.updates.nesterov_momentum": {}},
        **{name: dict(kwargs) for name, kwargs in _MOMENTUM_ANCHORS.items() if not name.startswith("chainer")},
    )
)
def nesterov_momentum(
    loss_or_grads, params, learning_rate=1e-3, momentum=0.9, *, dampening=0.0, weight_decay=0.0, maximize=False,
    learning_rate_in_velocity=True, dampen_first_step=True, lazy=False,
):
    """Stochastic gradient descent with Nesterov momentum.

    With the defaults, Lasagne's form (``apply_nesterov_momentum`` on
    ``sgd``)::

        velocity := momentum * velocity - learning_rate * grad
        param    := param + momentum * velocity - learning_rate * grad

    With ``learning_rate_in_velocity=False`` (torch, optax)::

        velocity := momentum * velocity + grad
        param    := param - learning_rate * (grad + momentum * velocity)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 1e-3, PyMC's; Lasagne requires it).
    momentum : float or symbolic scalar
        The decay of the velocity (default 0.9).
    dampening, weight_decay, maximize, learning_rate_in_velocity, dampen_first_step, lazy
        As in :func:`momentum`.

    Notes
    -----
    Velocities are named ``<param>.nesterov_momentum.velocity``.  Anchors:
    Lasagne and ``keras.optimizers.SGD(momentum=..., nesterov=True)``: the
    defaults; ``torch.optim.SGD(momentum=..., nesterov=True)``:
    ``learning_rate_in_velocity=False, dampen_first_step=False``;
    ``optax.sgd(momentum=..., nesterov=True)``:
    ``learning_rate_in_velocity=False``.  Reference: Nesterov (1983);
    Sutskever et al. (2013), ICML.
    """
    return _momentum_rule(
        "nesterov_momentum", loss_or_grads, params, learning_rate, momentum, dampening, True, weight_decay,
        maximize, learning_rate_in_velocity, dampen_first_step, lazy,
    )


# ---------------------------------------------------------------------------
# averaged SGD


@update_rule(
    anchors={"torch.optim.ASGD": {}},
    ranges={"lambd": Range(0, np.inf), "alpha": Range(0, np.inf), "t0": Range(0, np.inf)},
)
def asgd(
    loss_or_grads, params, learning_rate=0.01, lambd=1e-4, alpha=0.75, t0=1e6, *, weight_decay=0.0,
    maximize=False,
):
    """Averaged SGD: SGD with a decaying step size and a running average of the iterates.

    torch.optim.ASGD's form, at step ``t`` (1, 2, ...)::

        eta     := learning_rate / (1 + lambd * learning_rate * (t - 1))**alpha
        mu      := 1 / max(1, t - 1 - t0)
        grad    := grad + weight_decay * param            (if weight_decay)
        param   := param * (1 - lambd * eta) - eta * grad
        average := param if mu == 1 else average + mu * (param - average)

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The initial step size (default 0.01).
    lambd : float or symbolic scalar
        The decay term: shrinks the parameters and the step size (default 1e-4).
    alpha : float or symbolic scalar
        Power of the step-size decay (default 0.75).
    t0 : float or symbolic scalar
        The step after which averaging starts (default 1e6); before it the
        average is the current parameter.
    weight_decay : float or symbolic scalar
        Coupled L2 decay added to the gradient (default 0).
    maximize : bool
        Ascend the loss instead (default False).

    Returns
    -------
    OrderedDict
        ``{average: ..., param: ...}`` per parameter, then the counter
        ``asgd.t``.  The averaged parameter, which ASGD returns as its
        estimate, is the state ``<param>.asgd.average``: evaluate with it by
        copying its value into the parameter.

    Notes
    -----
    Defaults and formula are torch.optim.ASGD's, whose step size and
    averaging weight for step ``t`` are computed at the end of step
    ``t - 1``.  Reference: Polyak and Juditsky (1992), Acceleration of
    Stochastic Approximation by Averaging, SIAM J. Control Optim. 30(4);
    Bottou (2012), Stochastic Gradient Descent Tricks.
    """
    maximize = check_switch("maximize", maximize)

    def formula(param, grad, average, lr, lambd, alpha, t0, t, weight_decay=None):
        done = step_number_as(t, lr) - 1
        eta = lr / (1 + lambd * lr * done) ** alpha
        mu = 1 / pt.maximum(1, done - t0)
        grad = coupled_gradient(param, grad, weight_decay, maximize)
        param = param * (1 - lambd * eta) - eta * grad
        return pt.switch(pt.eq(mu, 1), param, average + mu * (param - average)), param

    return elementwise_rule(
        formula, loss_or_grads, params, "asgd", slots=["average"], counter=True,
        lr=learning_rate, lambd=lambd, alpha=alpha, t0=t0, **optional_hyperparameters(weight_decay=weight_decay),
    )
