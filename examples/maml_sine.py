"""MAML on sinusoid regression (Finn, Abbeel and Levine 2017, section 5.1).

Each task is a sine wave ``A sin(x - phase)`` with amplitude in [0.1, 5]
and phase in [0, pi], observed at ``--shots`` points of [-5, 5].  MAML
learns the initial weights of a 1-40-40-1 ReLU network such that
``--inner-steps`` SGD steps on a task's few points fit that task: the inner
steps are one expression (:func:`symupdates.unroll`), so the loss after
adaptation is differentiated through them (second order) and the initial
weights are trained with ``symupdates.adam`` on it, averaged over a meta
batch of tasks by a ``pytensor.scan`` loop.

On unseen tasks the example prints the few-shot loss of the learned
initialisation before adaptation and after 1 and 10 SGD steps, and plots one
task (the curve, the points, the prediction before and after adaptation).

    python examples/maml_sine.py --meta-steps 1500 --output maml_sine.png
"""

import argparse
import inspect

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import clone_replace

import symupdates

SIZES = [(1, 40), (40, 40), (40, 1)]


def sample_tasks(rng, n_tasks, shots):
    """Inputs and targets of ``n_tasks`` sine tasks: two sets of ``shots`` points each (train, test)."""
    amplitude = rng.uniform(0.1, 5.0, size=(n_tasks, 1, 1))
    phase = rng.uniform(0.0, np.pi, size=(n_tasks, 1, 1))
    x = rng.uniform(-5.0, 5.0, size=(2, n_tasks, shots, 1))
    y = amplitude * np.sin(x - phase)
    return x[0], y[0], x[1], y[1], (amplitude, phase)


def network(params, x):
    h = x
    for k in range(0, len(params) - 2, 2):
        h = pt.maximum(h @ params[k] + params[k + 1], 0.0)
    return h @ params[-2] + params[-1]


def mse(params, x, y):
    return pt.mean((network(params, x) - y) ** 2)


def adapted(params, loss, steps, inner_lr):
    """The parameters after ``steps`` SGD steps on ``loss``, as expressions."""
    new = symupdates.unroll(symupdates.sgd(learning_rate=inner_lr), loss, params, steps)
    return [new[p] for p in params]


def scan_outputs(fn, sequences):
    """``pytensor.scan``'s outputs, on PyTensor 3 and on the 2.x line PyMC pins."""
    if "return_updates" in inspect.signature(pytensor.scan).parameters:
        return pytensor.scan(fn, sequences=sequences, return_updates=False)
    return pytensor.scan(fn, sequences=sequences)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description="MAML on sinusoid regression with symupdates.unroll")
    parser.add_argument("--meta-steps", type=int, default=1500)
    parser.add_argument("--meta-batch", type=int, default=10, help="tasks per meta step")
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--inner-steps", type=int, default=1)
    parser.add_argument("--inner-lr", type=float, default=0.01)
    parser.add_argument("--meta-lr", type=float, default=0.001)
    parser.add_argument("--eval-tasks", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="maml_sine.png", help="the plot (PNG); '' for none")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    params = []
    for k, (n_in, n_out) in enumerate(SIZES):
        params.append(pytensor.shared(rng.normal(size=(n_in, n_out)) * np.sqrt(2.0 / n_in), name="W%d" % k))
        params.append(pytensor.shared(np.zeros(n_out), name="b%d" % k))

    # One task's inputs: train (adapt on) and test (evaluate after adapting).
    x_train, y_train, x_test, y_test = (pt.tensor3(n) for n in ("x_train", "y_train", "x_test", "y_test"))
    # A loop over the tasks of a meta batch (pytensor.scan): the graph, and the
    # time to compile it, do not grow with --meta-batch.
    def task_loss(xa, ya, xb, yb):
        fast = adapted(params, mse(params, xa, ya), args.inner_steps, args.inner_lr)
        return mse(fast, xb, yb)

    meta_losses = scan_outputs(task_loss, sequences=[x_train, y_train, x_test, y_test])
    meta_loss = meta_losses.mean()
    meta_step = pytensor.function(
        [x_train, y_train, x_test, y_test], meta_loss,
        updates=symupdates.adam(meta_loss, params, learning_rate=args.meta_lr),
    )

    # Evaluation on one task at a time: loss before, after 1 and after 10 steps.
    xa, ya, xb, yb = (pt.matrix(n) for n in ("xa", "ya", "xb", "yb"))
    after_1 = adapted(params, mse(params, xa, ya), 1, args.inner_lr)
    after_10 = adapted(params, mse(params, xa, ya), 10, args.inner_lr)
    grid = pt.matrix("grid")
    evaluate = pytensor.function(
        [xa, ya, xb, yb, grid],
        [mse(params, xb, yb), mse(after_1, xb, yb), mse(after_10, xb, yb),
         network(params, grid), network(after_10, grid)],
    )

    def few_shot_losses(eval_rng):
        xs, ys, xt, yt, _ = sample_tasks(eval_rng, args.eval_tasks, args.shots)
        g = np.zeros((1, 1))
        return np.mean([evaluate(xs[i], ys[i], xt[i], yt[i], g)[:3] for i in range(args.eval_tasks)], axis=0)

    before_training = few_shot_losses(np.random.default_rng(args.seed + 1))
    for step in range(args.meta_steps):
        loss = meta_step(*sample_tasks(rng, args.meta_batch, args.shots)[:4])
        if step % max(1, args.meta_steps // 5) == 0 or step == args.meta_steps - 1:
            print("meta step %d: loss after %d inner step(s) %.4f" % (step, args.inner_steps, loss))
    after_training = few_shot_losses(np.random.default_rng(args.seed + 1))

    print("few-shot loss on %d new tasks (%d shots), random initialisation: before %.4f, "
          "after 1 step %.4f, after 10 steps %.4f" % ((args.eval_tasks, args.shots) + tuple(before_training)))
    print("few-shot loss on %d new tasks (%d shots), MAML initialisation: before %.4f, "
          "after 1 step %.4f, after 10 steps %.4f" % ((args.eval_tasks, args.shots) + tuple(after_training)))

    if args.output:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        xs, ys, xt, yt, (amplitude, phase) = sample_tasks(np.random.default_rng(args.seed + 2), 1, args.shots)
        g = np.linspace(-5, 5, 200)[:, None]
        _, _, _, before, after = evaluate(xs[0], ys[0], xt[0], yt[0], g)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(g, amplitude[0, 0, 0] * np.sin(g - phase[0, 0, 0]), "k-", label="task")
        ax.plot(xs[0], ys[0], "k^", label="%d points used for adaptation" % args.shots)
        ax.plot(g, before, "C0--", label="MAML initialisation (before)")
        ax.plot(g, after, "C1-", label="after 10 SGD steps")
        ax.set_title("MAML, sinusoid regression: few-shot adaptation")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(args.output, dpi=100)
        print("plot saved to %s" % args.output)


if __name__ == "__main__":
    main()
