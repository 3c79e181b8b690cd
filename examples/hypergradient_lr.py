"""Learn a learning rate by gradient descent through the training loop.

A softmax classifier on scikit-learn's bundled digits (8x8 images) is
trained for ``--inner-steps`` SGD steps on mini-batches from its initial
weights; :func:`symupdates.unroll` makes those steps one expression, so the
validation loss after them is differentiable with respect to the learning
rate.  The outer loop descends that hypergradient (on the logarithm of the
learning rate, with ``symupdates.adam``) for ``--outer-steps`` steps,
printing the learning rate and the validation loss, and plots both against
the outer step.

    python examples/hypergradient_lr.py --outer-steps 30 --output hypergradient_lr.png
"""

import argparse

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import clone_replace

import symupdates


def load_digits_split(seed=0):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float64")
    y = digits.target.astype("int64")
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    return (x[:1200], y[:1200]), (x[1200:], y[1200:])


def cross_entropy(x, y, W, b):
    return -pt.mean(pt.log(pt.special.softmax(x @ W + b, axis=-1))[pt.arange(y.shape[0]), y])


def main(argv=None):
    parser = argparse.ArgumentParser(description="learn SGD's learning rate by hypergradient descent")
    parser.add_argument("--outer-steps", type=int, default=30)
    parser.add_argument("--inner-steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--initial-learning-rate", type=float, default=0.01)
    parser.add_argument("--outer-learning-rate", type=float, default=0.3, help="adam's step on log(learning rate)")
    parser.add_argument("--method", choices=("unrolled", "scan"), default="unrolled")
    parser.add_argument("--output", default="hypergradient_lr.png", help="the plot (PNG); '' for none")
    args = parser.parse_args(argv)

    (x_train, y_train), (x_val, y_val) = load_digits_split()
    rng = np.random.default_rng(1)
    W0 = 0.01 * rng.normal(size=(64, 10))
    W = pytensor.shared(W0.copy(), name="W")
    b = pytensor.shared(np.zeros(10), name="b")
    log_lr = pytensor.shared(np.log(args.initial_learning_rate), name="log_learning_rate")

    # The inner loop: SGD on a fixed sequence of mini-batches, one per step.
    x, y = pt.matrix("x"), pt.lvector("y")
    batches = args.inner_steps * args.batch_size
    take = rng.permutation(len(y_train))[:batches]
    x_seq = pt.constant(x_train[take].reshape(args.inner_steps, args.batch_size, 64))
    y_seq = pt.constant(y_train[take].reshape(args.inner_steps, args.batch_size))
    trained = symupdates.unroll(
        symupdates.sgd(learning_rate=pt.exp(log_lr)), cross_entropy(x, y, W, b), [W, b],
        args.inner_steps, sequences={x: x_seq, y: y_seq}, method=args.method,
    )
    val_loss = clone_replace(cross_entropy(x, y, W, b), {W: trained[W], b: trained[b], x: x_val, y: y_val})

    # The outer loop: adam on log(learning rate); W and b stay at their
    # initial values (each outer step re-trains from them).
    outer = symupdates.adam([pytensor.grad(val_loss, log_lr)], [log_lr], learning_rate=args.outer_learning_rate)
    outer_step = pytensor.function([], val_loss, updates=outer)

    learning_rates, losses = [], []
    for step in range(args.outer_steps):
        learning_rates.append(float(np.exp(log_lr.get_value())))
        losses.append(float(outer_step()))
        print("outer step %d: learning rate %.5f, validation loss %.4f" % (step, learning_rates[-1], losses[-1]))
    print("learning rate: %.5f -> %.5f" % (learning_rates[0], float(np.exp(log_lr.get_value()))))
    print("validation loss after %d SGD steps: %.4f -> %.4f" % (args.inner_steps, losses[0], losses[-1]))

    if args.output:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(6, 5))
        top.semilogy(learning_rates, "o-")
        top.set_ylabel("learning rate")
        top.set_title("SGD's learning rate learned through %d unrolled steps (digits)" % args.inner_steps)
        bottom.plot(losses, "o-", color="C1")
        bottom.set_ylabel("validation loss")
        bottom.set_xlabel("outer step")
        fig.tight_layout()
        fig.savefig(args.output, dpi=100)
        print("plot saved to %s" % args.output)


if __name__ == "__main__":
    main()
