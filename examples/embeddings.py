"""Matrix factorisation with row-sparse updates: dense Adam against lazy Adam.

Ratings ``r[u, i]`` of users by items are drawn from a low-rank model plus
noise (built here, no download).  The model learns a user embedding ``U``
and an item embedding ``V`` (one row each) and predicts ``U[u] . V[i]``;
each minibatch of ratings reads a few hundred rows of each matrix::

    loss = mean((sum(U[u] * V[i], axis=1) - r)**2)

Both runs start from the same values and see the same minibatches:

* ``adam``: every step updates every row of ``U``, ``V`` and their moments;
* ``adam(lazy=True)`` (TensorFlow Addons' LazyAdam; ``sparse_adam`` gives
  the same numbers): only the rows the minibatch used.

The script prints the held-out loss of both along the way (the curves have
the same shape) and the time per step of each (the lazy step costs in the
rows touched, not in the number of users and items).

    python examples/embeddings.py [--steps 3000] [--users 200000] [--items 50000]
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


def make_ratings(users, items, rank, count, rng):
    """``count`` ratings of random (user, item) pairs by a rank-``rank`` model, with noise."""
    true_U = rng.standard_normal((users, rank)).astype("float32")
    true_V = rng.standard_normal((items, rank)).astype("float32")
    # A few users and items have most ratings, as in real data (u ~ users * x**3).
    u = (users * rng.random(count) ** 3).astype("int64")
    i = (items * rng.random(count) ** 3).astype("int64")
    r = (np.sum(true_U[u] * true_V[i], axis=1) / np.sqrt(rank)
         + 0.1 * rng.standard_normal(count)).astype("float32")
    return u, i, r


def build(users, items, dim, lazy, learning_rate, seed):
    """A compiled training step and a held-out loss, on freshly initialised embeddings."""
    rng = np.random.default_rng(seed)
    U = pytensor.shared((0.1 * rng.standard_normal((users, dim))).astype("float32"), name="U")
    V = pytensor.shared((0.1 * rng.standard_normal((items, dim))).astype("float32"), name="V")
    u, i, r = pt.lvector("u"), pt.lvector("i"), pt.vector("r", dtype="float32")
    loss = pt.mean((pt.sum(U[u] * V[i], axis=1) - r) ** 2)
    updates = symupdates.adam(loss, [U, V], learning_rate=learning_rate, lazy=lazy)
    train = pytensor.function([u, i, r], loss, updates=updates)
    evaluate = pytensor.function([u, i, r], loss)
    return train, evaluate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--report-every", type=int, default=0, help="default: steps / 10")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    ratings = make_ratings(args.users, args.items, args.rank, args.steps * args.batch + 20_000, rng)
    held_out = tuple(x[-20_000:] for x in ratings)
    every = args.report_every or max(1, args.steps // 10)

    runs = {name: build(args.users, args.items, args.dim, lazy, args.learning_rate, args.seed)
            for name, lazy in (("dense", False), ("lazy", True))}
    curves = {name: [] for name in runs}
    seconds = {name: 0.0 for name in runs}
    for step in range(args.steps):
        batch = slice(step * args.batch, (step + 1) * args.batch)
        for name, (train, _) in runs.items():
            start = time.perf_counter()
            train(*(x[batch] for x in ratings))
            if step > 0:  # the first call includes compilation
                seconds[name] += time.perf_counter() - start
        if (step + 1) % every == 0 or step + 1 == args.steps:
            for name, (_, evaluate) in runs.items():
                curves[name].append((step + 1, float(evaluate(*held_out))))

    print("%8s %14s %14s" % ("step", "dense loss", "lazy loss"))
    for (step, dense), (_, lazy) in zip(curves["dense"], curves["lazy"]):
        print("%8d %14.4f %14.4f" % (step, dense, lazy))
    timed = max(1, args.steps - 1)
    per_step = {name: seconds[name] / timed * 1e3 for name in runs}
    print("ms per step: dense %.3f, lazy %.3f (lazy/dense %.3f)" % (
        per_step["dense"], per_step["lazy"], per_step["lazy"] / per_step["dense"]))
    return curves, per_step


if __name__ == "__main__":
    main()
