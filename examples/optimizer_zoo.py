"""Every optimizer of "机器学习优化器（公式+代码）" on the document's two problems.

The document presents SGD, Adagrad, Adadelta, Adam, AdaMax,
Nadam, Momentum and RMSprop, each with a formula or a snippet, on two
problems:

* linear regression ``y = 4 + 3 x + noise`` (100 points, ``np.random.seed(0)``)
  trained by SGD on one random sample per step, ``eta = 0.1``, 1000 steps;
* a small MLP (torch ``Net``: Linear(10, 5) -> ReLU -> Linear(5, 1)) on
  random data, mean squared error, full batch, ``lr = 0.01``, 100 steps.

Here each optimizer trains both problems through symupdates, configured as
the document writes it (the table's "rule" column), from the same initial
parameters and the same sample order; the script prints a comparison
table (final and best full-data loss, steps, training time) and saves the
loss curves.

    python examples/optimizer_zoo.py [--output optimizer_zoo.png] [--steps-scale 1.0]
"""

import argparse
import os
import sys
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import symupdates  # noqa: E402


def optimizers():
    """(label, rule name, keyword arguments but the learning rate, learning-rate override)."""
    zoo = [
        ("SGD", "sgd", {}, None),
        # the document's torch.optim.Adagrad: epsilon 1e-10 outside the root
        ("Adagrad", "adagrad", {"epsilon": 1e-10, "epsilon_placement": "outside_sqrt"}, None),
        # the document's formula is Zeiler's, which has no learning rate (1.0)
        ("Adadelta", "adadelta", {}, 1.0),
        # Keras 'adam': epsilon 1e-7
        ("Adam", "adam", {"epsilon": 1e-7}, None),
        # the document's AdaMax: theta -= alpha / (1 - beta1) * m / (v + eps)
        ("AdaMax", "adamax", {}, None),
        ("Nadam", "nadam", {}, None),
        # the document's "v = beta v + (1 - beta) dw; w -= lr v"
        ("Momentum", "momentum", {"momentum": 0.9, "dampening": 0.9, "learning_rate_in_velocity": False}, None),
        # the document's NumPy RMSprop: decay 0.9, epsilon 1e-8 outside the root
        ("RMSprop", "rmsprop", {"rho": 0.9, "epsilon": 1e-8, "epsilon_placement": "outside_sqrt"}, None),
    ]
    # Nadam comes with the rule-set issue; skip what this installation lacks.
    return [entry for entry in zoo if entry[1] in symupdates.RULES]


def describe(rule, kwargs, lr):
    args = ["lr=%g" % lr] + ["%s=%r" % item for item in kwargs.items()]
    return "%s(%s)" % (rule, ", ".join(args))


# ---------------------------------------------------------------------------
# the two problems: data, initial parameters, symbolic loss, NumPy loss


def linear_regression_problem(steps):
    """The document's data and per-step sample indices, drawn as it draws them."""
    np.random.seed(0)
    X = 2 * np.random.rand(100, 1)
    y = 4 + 3 * X + np.random.randn(100, 1)
    X_b = np.c_[np.ones((100, 1)), X]
    theta = np.random.randn(2, 1)
    batches = [np.random.randint(100) for _ in range(steps)]
    init = {"theta": theta}

    def loss(params, xb, yb):
        # the document's gradient 2 x^T (x theta - y) is that of the summed squared error
        return ((pt.dot(xb, params["theta"]) - yb) ** 2).sum()

    def full_loss(values):
        return float(np.mean((X_b.dot(values["theta"]) - y) ** 2))

    data = [(X_b[i:i + 1], y[i:i + 1]) for i in batches]
    return {"name": "linear regression", "lr": 0.1, "init": init, "loss": loss, "full_loss": full_loss,
            "data": data}


def mlp_problem(steps):
    """torch's Net(10 -> 5 -> 1) with nn.Linear's default initialisation, MSE, full batch."""
    rng = np.random.RandomState(1)
    data_x = rng.randn(100, 10)
    labels = rng.randn(100, 1)

    def linear_init(fan_in, fan_out):
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=(fan_in, fan_out)), rng.uniform(-bound, bound, size=fan_out)

    W1, b1 = linear_init(10, 5)
    W2, b2 = linear_init(5, 1)
    init = {"fc1.W": W1, "fc1.b": b1, "fc2.W": W2, "fc2.b": b2}

    def forward(p, x, relu):
        return relu(x.dot(p["fc1.W"]) + p["fc1.b"]).dot(p["fc2.W"]) + p["fc2.b"]

    def loss(params, xb, yb):
        return ((forward(params, xb, lambda z: pt.maximum(z, 0)) - yb) ** 2).mean()

    def full_loss(values):
        return float(np.mean((forward(values, data_x, lambda z: np.maximum(z, 0)) - labels) ** 2))

    return {"name": "MLP 10-5-1", "lr": 0.01, "init": init, "loss": loss, "full_loss": full_loss,
            "data": [(data_x, labels)] * steps}


def train(problem, rule, kwargs, lr, mode=None):
    """Loss after each step (full data, computed in NumPy), and the training time."""
    params = {k: pytensor.shared(v.copy(), name=k) for k, v in problem["init"].items()}
    xb, yb = pt.matrix("x"), pt.matrix("y")
    loss = problem["loss"](params, xb, yb)
    updates = symupdates.RULES[rule](loss, list(params.values()), lr, **kwargs)
    step = pytensor.function([xb, yb], loss, updates=updates, mode=mode)
    step(*problem["data"][0])  # compile (and warm up) outside the timing, on a throw-away copy:
    for k, v in problem["init"].items():
        params[k].set_value(v.copy())
    symupdates.set_state_values(updates, [np.zeros_like(v) for v in symupdates.get_state_values(updates)])
    losses = [problem["full_loss"](problem["init"])]
    seconds = 0.0
    for x, y in problem["data"]:
        start = time.perf_counter()
        step(x, y)
        seconds += time.perf_counter() - start
        losses.append(problem["full_loss"]({k: p.get_value(borrow=True) for k, p in params.items()}))
    return losses, seconds, {k: p.get_value() for k, p in params.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description="The optimizers of a classic optimizer overview (formulas + code) compared on its two problems")
    parser.add_argument("--output", default="optimizer_zoo.png", help="loss-curve plot (default optimizer_zoo.png)")
    parser.add_argument("--steps-scale", type=float, default=1.0,
                        help="multiply the document's step counts (1000 and 100) by this (default 1)")
    parser.add_argument("--mode", default="FAST_COMPILE",
                        help="PyTensor compilation mode (default FAST_COMPILE: these models are tiny and "
                        "16 functions are compiled, so compiling fast matters more than stepping fast)")
    args = parser.parse_args(argv)
    problems = [
        linear_regression_problem(max(1, int(1000 * args.steps_scale))),
        mlp_problem(max(1, int(100 * args.steps_scale))),
    ]
    width = max(len(describe(rule, kwargs, lr if lr is not None else problem["lr"]))
                for problem in problems for _, rule, kwargs, lr in optimizers())
    row = "%-18s %-9s %-" + str(width) + "s %12s %12s %6s %9s"
    header = row % ("problem", "optimizer", "rule", "final loss", "best loss", "steps", "time ms")
    print(header)
    print("-" * len(header))
    curves = {}
    for problem in problems:
        for label, rule, kwargs, lr in optimizers():
            lr = problem["lr"] if lr is None else lr
            losses, seconds, _ = train(problem, rule, kwargs, lr, args.mode)
            curves.setdefault(problem["name"], []).append((label, losses))
            print(row % (problem["name"], label, describe(rule, kwargs, lr), "%.6g" % losses[-1],
                         "%.6g" % min(losses), len(losses) - 1, "%.1f" % (1000 * seconds)))
            sys.stdout.flush()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(12, 4.5))
    for ax, (name, runs) in zip(axes, curves.items()):
        for label, losses in runs:
            ax.plot(range(len(losses)), losses, label=label, linewidth=1.2)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("mean squared error (all data)")
        ax.set_title(name)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(args.output, dpi=100)
    print("plot saved to %s" % args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
