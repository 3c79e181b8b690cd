"""d2l's 2-D AdaGrad experiment (Dive into Deep Learning, "AdaGrad"), on symupdates.

The chapter minimises ``f(x1, x2) = 0.1 x1**2 + 2 x2**2`` from ``(-5, -2)``
for 20 steps with a hand-written AdaGrad::

    s  += g**2
    x  -= eta / sqrt(s + eps) * g          (eps = 1e-6)

and prints, for ``eta = 0.4`` and ``eta = 2``::

    epoch 20, x1 -2.382563, x2 -0.158591
    epoch 20, x1 -0.002295, x2 -0.000000

``symupdates.adagrad(loss, params, learning_rate, epsilon=1e-6)`` is
Lasagne's AdaGrad, which adds epsilon inside the square root exactly as
the chapter does, so the same lines come out.  The contour plot of ``f``
with both trajectories (d2l's ``show_trace_2d``) is saved as a PNG.

    python examples/adagrad_2d.py [--output adagrad_2d.png]
"""

import argparse
import os
import sys

import numpy as np
import pytensor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import symupdates  # noqa: E402


def f_2d(x1, x2):
    return 0.1 * x1**2 + 2 * x2**2


def train_2d(eta, epochs=20, start=(-5.0, -2.0)):
    """d2l's ``train_2d(adagrad_2d)``: the trajectory of AdaGrad, printed as the book does."""
    x = pytensor.shared(np.array(start, dtype="float64"), name="x", shape=(2,))
    loss = f_2d(x[0], x[1])
    updates = symupdates.adagrad(loss, [x], learning_rate=eta, epsilon=1e-6)
    step = pytensor.function([], [], updates=updates)
    results = [tuple(x.get_value())]
    for _ in range(epochs):
        step()
        results.append(tuple(x.get_value()))
    x1, x2 = results[-1]
    print("epoch %d, x1 %f, x2 %f" % (epochs, x1, x2))
    return results


def show_trace_2d(ax, f, results, label):
    """d2l's ``show_trace_2d``: the contour lines of ``f`` and the trajectory on top."""
    x1, x2 = zip(*results)
    grid1, grid2 = np.meshgrid(np.arange(-5.5, 1.0, 0.1), np.arange(min(-3.0, min(x2) - 1), max(1.0, max(x2) + 1), 0.1))
    contours = ax.contour(grid1, grid2, f(grid1, grid2), levels=[0.1, 0.25, 0.5, 1, 2, 4, 6, 8, 12, 16, 20], colors="#1f77b4", linewidths=0.8)
    ax.clabel(contours, fontsize=7, fmt="%g")
    ax.plot(x1, x2, "-o", color="#ff7f0e", markersize=4, label=label)
    ax.plot([x1[0]], [x2[0]], "s", color="black", markersize=6, label="start (-5, -2)")
    ax.plot([0], [0], "*", color="green", markersize=12, label="minimum (0, 0)")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(loc="lower right", fontsize=8)


def main(argv=None):
    parser = argparse.ArgumentParser(description="d2l's 2-D AdaGrad experiment with symupdates.adagrad")
    parser.add_argument("--output", default="adagrad_2d.png", help="where to save the plot (default adagrad_2d.png)")
    parser.add_argument("--epochs", type=int, default=20, help="number of steps (default 20, as in d2l)")
    args = parser.parse_args(argv)

    runs = [(eta, train_2d(eta, args.epochs)) for eta in (0.4, 2.0)]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (eta, results) in zip(axes, runs):
        show_trace_2d(ax, f_2d, results, "AdaGrad, eta = %g" % eta)
        ax.set_title("f(x1, x2) = 0.1 x1^2 + 2 x2^2, AdaGrad with eta = %g, %d steps" % (eta, args.epochs), fontsize=9)
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print("plot saved to %s" % args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
