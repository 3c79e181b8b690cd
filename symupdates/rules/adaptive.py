"""Per-element adaptive step sizes: AdaGrad, RMSprop, AdaDelta, Graves' RMSprop, SMORMS3.

Lasagne's ``adagrad``, ``rmsprop`` and ``adadelta`` and PyMC's
``adagrad_window`` keep their arguments, defaults and formulas; keyword-only
switches after them reproduce torch.optim, optax, Keras and Chainer.  Besides
``weight_decay``, ``maximize`` and ``learning_rate_in_velocity`` (see
:mod:`symupdates.rules.descent`):

``epsilon_placement``
    ``"inside_sqrt"``: divide by ``sqrt(accu + epsilon)`` (Lasagne, Keras 3,
    optax's default); ``"outside_sqrt"``: by ``sqrt(accu) + epsilon`` (torch,
    Chainer, Keras 2).  The Adam family uses the same name with its own
    values.
"""

import numpy as np
import pytensor.tensor as pt

from ..core import (
    Range,
    check_hyperparameters,
    check_params,
    get_or_compute_grads,
    step_counter,
    step_number_as,
)
from ..registry import update_rule
from ..engine import elementwise, elementwise_rule, per_tensor
from .options import check_choice, check_switch, coupled_gradient, initial_value, is_off, optional_hyperparameters

__all__ = ["adagrad", "adagrad_window", "rmsprop", "adadelta", "rmsprop_graves", "smorms3"]


EPSILON_PLACEMENTS = ("inside_sqrt", "outside_sqrt")


def root(accu, epsilon, placement):
    """The denominator of an adaptive step: ``epsilon`` inside or outside the square root."""
    return pt.sqrt(accu + epsilon) if placement == "inside_sqrt" else pt.sqrt(accu) + epsilon


@update_rule(
    anchors={
        "lasagne.updates.adagrad": {},
        "torch.optim.Adagrad": {"learning_rate": 0.01, "epsilon": 1e-10, "epsilon_placement": "outside_sqrt"},
        "optax.adagrad": {"epsilon": 1e-7, "initial_accumulator_value": 0.1},
        "keras.optimizers.Adagrad": {"learning_rate": 0.001, "epsilon": 1e-7, "initial_accumulator_value": 0.1},
        "keras2.optimizers.Adagrad": {"learning_rate": 0.01, "epsilon": 1e-7, "epsilon_placement": "outside_sqrt"},
        "chainer.optimizers.AdaGrad": {
            "learning_rate": 0.001, "epsilon": 1e-8, "epsilon_placement": "outside_sqrt",
        },
        "blocks.algorithms.AdaGrad": {"learning_rate": 0.002, "epsilon": 1e-6, "epsilon_placement": "outside_sqrt"},
    }
)
def adagrad(
    loss_or_grads, params, learning_rate=1.0, epsilon=1e-6, *, epsilon_placement="inside_sqrt",
    learning_rate_decay=0.0, initial_accumulator_value=0.0, weight_decay=0.0, maximize=False, lazy=False,
):
    """AdaGrad: steps scaled by the root of the sum of all squared gradients.

    ::

        accu  := accu + grad**2
        param := param - learning_rate * grad / sqrt(accu + epsilon)

    In full, at step ``t`` (1, 2, ...), with ``grad`` after ``maximize`` and
    ``weight_decay``::

        lr_t  := learning_rate / (1 + (t - 1) * learning_rate_decay)
        accu  := accu + grad**2                    (accu starts at initial_accumulator_value)
        param := param - lr_t * grad / sqrt(accu + epsilon)      ("inside_sqrt")
        param := param - lr_t * grad / (sqrt(accu) + epsilon)    ("outside_sqrt")

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 1.0).
    epsilon : float or symbolic scalar
        Keeps the denominator away from zero (default 1e-6).
    epsilon_placement : {"inside_sqrt", "outside_sqrt"}
        Epsilon inside the square root (default: Lasagne, Keras, optax) or
        outside (torch, Chainer).
    learning_rate_decay : float or symbolic scalar
        torch's ``lr_decay``: inverse-time decay of the step size (default 0).
    initial_accumulator_value : float
        The accumulator's starting value (default 0; Keras and optax use 0.1).
    weight_decay : float or symbolic scalar
        Coupled L2 decay added to the gradient (torch's, default 0).
    maximize : bool
        Ascend the loss instead (default False).
    lazy : bool
        Update only the rows a row-sparse gradient touches (``E[idx]``), accumulator
        included (default False; ``docs/sparse.rst``).

    Returns
    -------
    OrderedDict
        ``{accu: ..., param: ...}`` for each parameter; the accumulator is
        named ``<param>.adagrad.accu``; with ``learning_rate_decay`` the step
        counter ``adagrad.t`` follows.

    Notes
    -----
    Anchors: Lasagne: the defaults.  ``torch.optim.Adagrad``:
    ``learning_rate=0.01, epsilon=1e-10, epsilon_placement="outside_sqrt"`` (its
    ``lr_decay``, ``initial_accumulator_value``, ``weight_decay`` and
    ``maximize`` map to the switches of the same meaning).
    ``keras.optimizers.Adagrad``: ``learning_rate=0.001, epsilon=1e-7,
    initial_accumulator_value=0.1``; standalone Keras 2.0-2.3:
    ``learning_rate=0.01, epsilon=1e-7, epsilon_placement="outside_sqrt"``.
    ``optax.adagrad``: ``epsilon=1e-7,
    initial_accumulator_value=0.1`` (optax returns a zero step where the
    accumulator is zero, which with ``epsilon > 0`` is what this computes).
    ``chainer.optimizers.AdaGrad``: ``learning_rate=0.001, epsilon=1e-8,
    epsilon_placement="outside_sqrt"``.  ``lazy=True`` with the torch anchor is
    torch.optim.Adagrad on a sparse gradient (``accu`` and ``param`` change at
    the touched rows only, ``t`` counts every step).  Reference: Duchi, Hazan and Singer (2011),
    Adaptive Subgradient Methods for Online Learning and Stochastic
    Optimization, JMLR 12:2121-2159.
    """
    epsilon_placement = check_choice("epsilon_placement", epsilon_placement, EPSILON_PLACEMENTS)
    maximize = check_switch("maximize", maximize)
    initial = initial_value("initial_accumulator_value", initial_accumulator_value)

    def formula(param, grad, accu, lr, epsilon, weight_decay=None, learning_rate_decay=None, t=None):
        grad = coupled_gradient(param, grad, weight_decay, maximize)
        if learning_rate_decay is not None:
            lr = lr / (1 + (step_number_as(t, lr) - 1) * learning_rate_decay)
        accu = accu + grad**2
        return accu, param - lr * grad / root(accu, epsilon, epsilon_placement)

    return elementwise_rule(
        formula, loss_or_grads, params, "adagrad", lazy=lazy, slots=[("accu", initial)],
        counter=not is_off(learning_rate_decay), lr=learning_rate, epsilon=epsilon,
        **optional_hyperparameters(weight_decay=weight_decay, learning_rate_decay=learning_rate_decay),
    )


@update_rule(
    anchors={
        "lasagne.updates.rmsprop": {},
        "torch.optim.RMSprop": {
            "learning_rate": 0.01, "rho": 0.99, "epsilon": 1e-8, "epsilon_placement": "outside_sqrt",
            "learning_rate_in_velocity": False,
        },
        "optax.rmsprop": {"epsilon": 1e-8},
        "keras.optimizers.RMSprop": {"learning_rate": 0.001, "epsilon": 1e-7},
        "keras2.optimizers.RMSprop": {"learning_rate": 0.001, "epsilon": 1e-7, "epsilon_placement": "outside_sqrt"},
        "chainer.optimizers.RMSprop": {
            "learning_rate": 0.01, "rho": 0.99, "epsilon": 1e-8, "epsilon_placement": "outside_sqrt",
        },
        "blocks.algorithms.RMSProp": {"learning_rate": 1.0, "rho": 0.9, "epsilon": 0.0, "max_scaling": 1e5},
    },
    # 1 / max_scaling bounds the denominator: 0 would divide by zero
    ranges={"max_scaling": Range(0, np.inf, low_open=True, optional=True)},
)
def rmsprop(
    loss_or_grads, params, learning_rate=1.0, rho=0.9, epsilon=1e-6, *, epsilon_placement="inside_sqrt",
    centered=False, momentum=0.0, nesterov=False, learning_rate_in_velocity=True, initial_accumulator_value=0.0,
    weight_decay=0.0, maximize=False, max_scaling=None, lazy=False,
):
    """RMSprop: steps scaled by a moving root mean square of the gradients.

    ::

        accu  := rho * accu + (1 - rho) * grad**2
        param := param - learning_rate * grad / sqrt(accu + epsilon)

    In full, with ``grad`` after ``maximize`` and ``weight_decay``::

        accu     := rho * accu + (1 - rho) * grad**2      (starts at initial_accumulator_value)
        grad_avg := rho * grad_avg + (1 - rho) * grad     (centered only)
        var      := accu - grad_avg**2 if centered else accu
        scaled   := grad / sqrt(var + epsilon)            ("outside_sqrt": sqrt(var) + epsilon)
                    (max_scaling: grad / max(sqrt(var + epsilon), 1 / max_scaling))
        without momentum:  param := param - learning_rate * scaled
        learning_rate_in_velocity=True:   velocity := momentum * velocity + learning_rate * scaled
                                          param := param - velocity
                                          (nesterov: param - learning_rate * scaled - momentum * velocity)
        learning_rate_in_velocity=False:  velocity := momentum * velocity + scaled
                                          param := param - learning_rate * velocity
                                          (nesterov: param - learning_rate * (scaled + momentum * velocity))

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 1.0).
    rho : float or symbolic scalar
        Decay rate of the moving averages (default 0.9; torch's ``alpha``,
        optax's ``decay``).
    epsilon : float or symbolic scalar
        Keeps the denominator away from zero (default 1e-6).
    epsilon_placement : {"inside_sqrt", "outside_sqrt"}
        Epsilon inside the square root (default: Lasagne, Keras 3, optax) or
        outside (torch, Chainer, Keras 2).
    centered : bool
        Divide by an estimate of the variance instead of the second moment
        (Graves 2013; default False).
    momentum : float or symbolic scalar
        Momentum on the scaled step (default 0: none, and no velocity state).
    nesterov : bool
        Nesterov momentum (optax's ``nesterov``; default False).
    learning_rate_in_velocity : bool
        With momentum: True (default) for Keras and optax, False for torch.
    initial_accumulator_value : float
        The starting value of ``accu`` (optax's ``initial_scale``; default 0).
    weight_decay : float or symbolic scalar
        Coupled L2 decay added to the gradient (torch's, default 0).
    maximize : bool
        Ascend the loss instead (default False).
    max_scaling : float, optional
        Blocks' bound on the scaling: the denominator is at least
        ``1 / max_scaling``, so no gradient is scaled up more than
        ``max_scaling`` times (default None: no bound).  Blocks uses it in
        place of epsilon: ``epsilon=0.0, max_scaling=1e5``.
    lazy : bool
        Update only the rows a row-sparse gradient touches (``E[idx]``), state
        included (default False; ``docs/sparse.rst``).

    Notes
    -----
    State: ``<param>.rmsprop.accu``, and ``<param>.rmsprop.grad_avg`` when
    centered, ``<param>.rmsprop.velocity`` with momentum.  Anchors: Lasagne:
    the defaults.  ``torch.optim.RMSprop``: ``learning_rate=0.01, rho=0.99,
    epsilon=1e-8, epsilon_placement="outside_sqrt", learning_rate_in_velocity=False``
    (``centered``, ``momentum``, ``weight_decay``, ``maximize`` alike).
    ``keras.optimizers.RMSprop`` (Keras 3): ``learning_rate=0.001,
    epsilon=1e-7``; standalone Keras 2.0-2.3 put it outside:
    ``learning_rate=0.001, epsilon=1e-7, epsilon_placement="outside_sqrt"``.
    ``optax.rmsprop``: ``epsilon=1e-8`` (``eps_in_sqrt=False`` is
    ``epsilon_placement="outside_sqrt"``; ``centered``,
    ``momentum``, ``nesterov`` alike; its ``bias_correction`` is not
    offered).  ``chainer.optimizers.RMSprop``: ``learning_rate=0.01,
    rho=0.99, epsilon=1e-8, epsilon_placement="outside_sqrt"``.  Reference: Tieleman
    and Hinton (2012), Neural Networks for Machine Learning, lecture 6.5;
    Graves (2013), Generating Sequences With Recurrent Neural Networks,
    arXiv:1308.0850 (centered form).  ``lazy=True`` follows TensorFlow
    Addons' LazyAdam: untouched rows keep their averages undecayed.
    """
    epsilon_placement = check_choice("epsilon_placement", epsilon_placement, EPSILON_PLACEMENTS)
    centered = check_switch("centered", centered)
    nesterov = check_switch("nesterov", nesterov)
    learning_rate_in_velocity = check_switch("learning_rate_in_velocity", learning_rate_in_velocity)
    maximize = check_switch("maximize", maximize)
    initial = initial_value("initial_accumulator_value", initial_accumulator_value)
    with_momentum = not is_off(momentum)
    if max_scaling is not None:  # refused under its own name, before it becomes 1 / max_scaling
        check_hyperparameters(check_params(params), max_scaling=max_scaling)
    bound = {} if max_scaling is None else {"min_denominator": 1.0 / max_scaling}

    def denominator(var, epsilon, min_denominator=None):
        root_var = root(var, epsilon, epsilon_placement)
        return root_var if min_denominator is None else pt.maximum(root_var, min_denominator)

    def formula(param, grad, accu, lr, rho, epsilon, grad_avg=None, velocity=None, momentum=None, weight_decay=None,
                min_denominator=None):
        grad = coupled_gradient(param, grad, weight_decay, maximize)
        accu = rho * accu + (1 - rho) * grad**2
        new_slots = [accu]
        var = accu
        if centered:
            grad_avg = rho * grad_avg + (1 - rho) * grad
            new_slots.append(grad_avg)
            var = accu - grad_avg**2
        if momentum is None:
            return (*new_slots, param - lr * grad / denominator(var, epsilon, min_denominator))
        scaled = grad / denominator(var, epsilon, min_denominator)
        if learning_rate_in_velocity:
            velocity = momentum * velocity + lr * scaled
            change = lr * scaled + momentum * velocity if nesterov else velocity
        else:
            velocity = momentum * velocity + scaled
            change = lr * (scaled + momentum * velocity if nesterov else velocity)
        return (*new_slots, velocity, param - change)

    slots = [("accu", initial)] + ["grad_avg"] * centered + ["velocity"] * with_momentum
    return elementwise_rule(
        formula, loss_or_grads, params, "rmsprop", lazy=lazy, slots=slots, lr=learning_rate, rho=rho, epsilon=epsilon,
        **optional_hyperparameters(momentum=momentum, weight_decay=weight_decay), **bound,
    )


@update_rule(
    anchors={
        "lasagne.updates.adadelta": {},
        "torch.optim.Adadelta": {"rho": 0.9},
        "optax.adadelta": {"rho": 0.9},
        "keras.optimizers.Adadelta": {"learning_rate": 0.001, "epsilon": 1e-7},
        "blocks.algorithms.AdaDelta": {},
    }
)
def adadelta(loss_or_grads, params, learning_rate=1.0, rho=0.95, epsilon=1e-6, *, weight_decay=0.0, maximize=False):
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
    weight_decay : float or symbolic scalar
        Coupled L2 decay added to the gradient first (torch's and optax's,
        default 0).
    maximize : bool
        Ascend the loss instead (torch's, default False).

    Notes
    -----
    State: ``<param>.adadelta.accu`` and ``<param>.adadelta.delta_accu``.
    Every anchor computes this formula; they differ in defaults only:
    Lasagne: the defaults; ``torch.optim.Adadelta`` and ``optax.adadelta``:
    ``rho=0.9``; ``keras.optimizers.Adadelta``: ``learning_rate=0.001,
    epsilon=1e-7``.  Reference: Zeiler (2012), ADADELTA: An Adaptive
    Learning Rate Method, arXiv:1212.5701.
    """
    maximize = check_switch("maximize", maximize)

    def formula(param, grad, accu, delta_accu, lr, rho, epsilon, weight_decay=None):
        grad = coupled_gradient(param, grad, weight_decay, maximize)
        accu = rho * accu + (1 - rho) * grad**2
        update = grad * pt.sqrt(delta_accu + epsilon) / pt.sqrt(accu + epsilon)
        delta_accu = rho * delta_accu + (1 - rho) * update**2
        return accu, delta_accu, param - lr * update

    return elementwise_rule(
        formula, loss_or_grads, params, "adadelta", slots=["accu", "delta_accu"],
        lr=learning_rate, rho=rho, epsilon=epsilon, **optional_hyperparameters(weight_decay=weight_decay),
    )


@update_rule(ranges={"n_win": Range(1, np.inf, integer=True)})
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
    # The position is state of the rule's own, created once the arguments are known to be good.
    params = check_params(params)
    grads = get_or_compute_grads(loss_or_grads, params)
    check_hyperparameters(params, learning_rate=learning_rate, epsilon=epsilon)
    position, _ = step_counter("adagrad_window", name="i")

    def remember(window, grad):
        window = pt.set_subtensor(window[..., position], grad**2)
        return window, window.sum(axis=-1)

    def formula(param, grad, squares, lr, epsilon):
        return param - lr * grad / pt.sqrt(squares + epsilon)

    updates = elementwise_rule(
        [per_tensor(remember, returns=("window", "squares")), elementwise(formula, returns="param")],
        grads, params, "adagrad_window", slots=[("window", 0.0, lambda dims: dims + (n_win,))],
        lr=learning_rate, epsilon=epsilon,
    )
    updates[position] = (position + 1) % n_win
    return updates


@update_rule(anchors={"chainer.optimizers.RMSpropGraves": {}})
def rmsprop_graves(loss_or_grads, params, learning_rate=1e-4, rho=0.95, momentum=0.9, epsilon=1e-4):
    """Graves' RMSprop: centered RMSprop with momentum, eqs. 38-41 of Graves (2013).

    ::

        n     := rho * n + (1 - rho) * grad**2
        gbar  := rho * gbar + (1 - rho) * grad
        delta := momentum * delta - learning_rate * grad / sqrt(n - gbar**2 + epsilon)
        param := param + delta

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The step size (default 1e-4).
    rho : float or symbolic scalar
        Decay rate of both moving averages (default 0.95; Chainer's ``alpha``).
    momentum : float or symbolic scalar
        Decay of the step ``delta`` (default 0.9).
    epsilon : float or symbolic scalar
        Added inside the square root (default 1e-4).

    Notes
    -----
    State: ``<param>.rmsprop_graves.n``, ``.gbar`` and ``.delta``.  Formula
    and defaults are Chainer's ``RMSpropGraves``; it equals
    ``rmsprop(..., centered=True, momentum=momentum)`` with these defaults.
    Code circulating under this name is sometimes plain RMSprop (``cache =
    rho * cache + (1 - rho) * g**2; param -= lr * g / sqrt(cache + eps)``):
    that is
    :func:`rmsprop`, e.g. ``rmsprop(loss, params, 0.001, rho=0.9,
    epsilon=1e-8)`` for its defaults.  Overflow: a gradient whose square
    overflows (above about 1.8e19 in float32) makes ``n`` and ``gbar**2``
    infinite and the parameters NaN, as in Chainer, whose formula this is;
    wrap the rule in ``skip_nonfinite(rule, check_updates=True)`` to skip
    such steps.  Reference: Graves (2013), Generating
    Sequences With Recurrent Neural Networks, arXiv:1308.0850, section 4,
    eqs. 38-41.
    """

    def formula(param, grad, n, gbar, delta, lr, rho, momentum, epsilon):
        n = rho * n + (1 - rho) * grad**2
        gbar = rho * gbar + (1 - rho) * grad
        delta = momentum * delta - lr * grad / pt.sqrt(n - gbar**2 + epsilon)
        return n, gbar, delta, param + delta

    return elementwise_rule(
        formula, loss_or_grads, params, "rmsprop_graves", slots=["n", "gbar", "delta"],
        lr=learning_rate, rho=rho, momentum=momentum, epsilon=epsilon,
    )


@update_rule(anchors={"chainer.optimizers.SMORMS3": {}})
def smorms3(loss_or_grads, params, learning_rate=0.001, epsilon=1e-16):
    """SMORMS3: RMSprop whose averaging window adapts to the signal-to-noise ratio.

    ::

        r     := 1 / (memory + 1)
        g     := (1 - r) * g + r * grad
        g2    := (1 - r) * g2 + r * grad**2
        x     := g**2 / (g2 + epsilon)
        param := param - grad * min(x, learning_rate) / (sqrt(g2) + epsilon)
        memory := 1 + memory * (1 - x)

    ``memory`` starts at 1, ``g`` and ``g2`` at 0.

    Parameters
    ----------
    learning_rate : float or symbolic scalar
        The largest step size (default 0.001).
    epsilon : float or symbolic scalar
        Keeps the denominators away from zero (default 1e-16).

    Notes
    -----
    State: ``<param>.smorms3.memory``, ``.g`` and ``.g2``.  Formula and
    defaults are Chainer's ``SMORMS3``.  Overflow: a gradient whose square
    overflows (above about 1.8e19 in float32) makes ``x = g**2 / g2``
    inf/inf, NaN, in Chainer as here; wrap the rule in
    ``skip_nonfinite(rule, check_updates=True)`` to skip such steps.
    Reference: Funk (2015), RMSprop
    loses to SMORMS3 - Beware the Epsilon!,
    http://sifter.org/~simon/journal/20150420.html.
    """

    def formula(param, grad, memory, g, g2, lr, epsilon):
        r = 1 / (memory + 1)
        g = (1 - r) * g + r * grad
        g2 = (1 - r) * g2 + r * grad**2
        x = g**2 / (g2 + epsilon)
        param = param - grad * pt.minimum(x, lr) / (pt.sqrt(g2) + epsilon)
        return 1 + memory * (1 - x), g, g2, param

    return elementwise_rule(
        formula, loss_or_grads, params, "smorms3", slots=[("memory", 1.0), "g", "g2"], lr=learning_rate, epsilon=epsilon
    )
