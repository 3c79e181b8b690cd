"""Seed 004's NumPy linear regression, its optimizer replaced by symupdates' eager front end.

The seed document ("如何在python中实现RMSpropGraves()算法") fits ``Y = W X + b``
to five points with hand-computed NumPy gradients and an ``RMSpropGraves``
class whose ``update(params, grads)`` changes the ``params`` dict.  Its
class is in fact plain RMSprop::

    cache  = rho * cache + (1 - rho) * g**2
    param -= learning_rate * g / sqrt(cache + epsilon)

(learning_rate 0.001, rho 0.9, epsilon 1e-8), which is
``symupdates.rmsprop`` (Lasagne's form, epsilon inside the root).  Graves'
RMSprop (2013, eqs. 38-41; Chainer's ``RMSpropGraves``) also tracks the mean
gradient and a momentum term: ``symupdates.rmsprop_graves``.

The training loop is the seed's, unchanged: ``params`` is a dict of Python
floats, and ``optimizer.update(params, grads)`` replaces each value by its
updated float (numbers cannot change in place; arrays in a dict would).
The script runs the loop twice: with the seed's update (``--rule seed``)
and with Graves' (``--rule graves``, the default runs both).

    python examples/rmsprop_graves_numpy.py [--rule both|seed|graves] [--epochs 100]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from symupdates.eager import Optimizer  # noqa: E402


def RMSpropGraves(learning_rate=0.001, rho=0.9, momentum=0.9, epsilon=1e-4):
    """Graves' RMSprop on NumPy values: ``symupdates.rmsprop_graves`` through the eager front end.

    The seed's ``learning_rate`` and ``rho``; ``momentum`` and ``epsilon``
    are Chainer's defaults (Graves' epsilon is added to a variance estimate,
    which can be near zero, so it is larger than the seed's 1e-8).
    """
    return Optimizer("rmsprop_graves", learning_rate=learning_rate, rho=rho, momentum=momentum, epsilon=epsilon)


def SeedRMSprop(learning_rate=0.001, rho=0.9, epsilon=1e-8):
    """The seed's class, which is plain RMSprop: ``symupdates.rmsprop`` through the eager front end."""
    return Optimizer("rmsprop", learning_rate=learning_rate, rho=rho, epsilon=epsilon)


def fit(optimizer, epochs=100, log_every=10):
    """The seed's training loop."""
    # 创建一些简单的数据 (some simple data)
    X = np.array([1, 2, 3, 4, 5])
    Y = np.array([2, 4, 6, 8, 10])

    # 初始化参数 (initial parameters)
    params = {"W": 0.0, "b": 0.0}
    grads = {"W": 0.0, "b": 0.0}

    for epoch in range(epochs):
        # forward pass
        Y_pred = params["W"] * X + params["b"]
        # loss
        loss = np.mean((Y_pred - Y) ** 2)
        # backward pass
        grads["W"] = np.mean(2 * (Y_pred - Y) * X)
        grads["b"] = np.mean(2 * (Y_pred - Y))
        # update the parameters
        optimizer.update(params, grads)

        if epoch % log_every == 0:
            print(f"Epoch {epoch+1}: loss = {loss:.4f}, W = {params['W']}, b = {params['b']}")
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description="Seed 004's linear regression on the eager front end")
    parser.add_argument("--rule", choices=["both", "seed", "graves"], default="both",
                        help="seed: the document's update (plain RMSprop); graves: Graves' RMSprop; both (default)")
    parser.add_argument("--epochs", type=int, default=100, help="training epochs (default 100, as the seed)")
    parser.add_argument("--learning-rate", type=float, default=0.001, help="learning rate (default 0.001)")
    args = parser.parse_args(argv)
    if args.rule in ("both", "seed"):
        print("The seed's update (plain RMSprop): symupdates.rmsprop, lr=%g, rho=0.9, epsilon=1e-8"
              % args.learning_rate)
        fit(SeedRMSprop(learning_rate=args.learning_rate), args.epochs)
    if args.rule in ("both", "graves"):
        print("Graves' RMSprop: symupdates.rmsprop_graves, lr=%g, rho=0.9, momentum=0.9, epsilon=1e-4"
              % args.learning_rate)
        fit(RMSpropGraves(learning_rate=args.learning_rate), args.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
