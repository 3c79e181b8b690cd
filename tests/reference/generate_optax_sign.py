"""Golden trajectories of optax's sign-based rules and of its SGD/RMSprop/Adagrad/Adadelta forms.

Run with jax and optax installed (test-time tools only)::

    python tests/reference/generate_optax_sign.py

For every case below, runs the optax optimizer on the test problem of
tests/harness.py in float64 (``jax_enable_x64``) for ``STEPS`` steps and
writes ``tests/reference/data/optax_sign_<case>.npz``.  Besides lion,
sign_sgd and signum, the cases cover where optax's forms differ from torch's:
rmsprop (epsilon inside the square root by default, momentum applied after
the learning rate, nesterov, initial scale), adagrad (initial accumulator,
epsilon inside), sgd (momentum without dampening) and adadelta.
tests/test_rules_descent.py replays the cases with symupdates.
"""

import os
import sys

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import harness  # noqa: E402

STEPS = 30

#: case name -> (optax alias name, keyword arguments)
CASES = {
    "sign_sgd": ("sign_sgd", {"learning_rate": 0.02}),
    "signum": ("signum", {"learning_rate": 0.02}),
    "signum_beta": ("signum", {"learning_rate": 0.05, "beta": 0.5}),
    "lion": ("lion", {"learning_rate": 0.01}),
    "lion_options": ("lion", {"learning_rate": 0.02, "b1": 0.8, "b2": 0.95, "weight_decay": 0.1}),
    "lion_no_decay": ("lion", {"learning_rate": 0.01, "weight_decay": 0.0}),
    "rmsprop": ("rmsprop", {"learning_rate": 0.01}),
    "rmsprop_eps_outside": ("rmsprop", {"learning_rate": 0.01, "eps": 1e-4, "eps_in_sqrt": False}),
    "rmsprop_centered_momentum": ("rmsprop", {"learning_rate": 0.005, "centered": True, "momentum": 0.9}),
    "rmsprop_nesterov_initial_scale": (
        "rmsprop", {"learning_rate": 0.005, "decay": 0.8, "momentum": 0.7, "nesterov": True, "initial_scale": 0.5},
    ),
    "rmsprop_centered_eps_outside": (
        "rmsprop", {"learning_rate": 0.01, "eps": 1e-3, "centered": True, "eps_in_sqrt": False},
    ),
    "adagrad": ("adagrad", {"learning_rate": 0.1}),
    "adagrad_options": ("adagrad", {"learning_rate": 0.3, "initial_accumulator_value": 0.5, "eps": 1e-4}),
    "sgd": ("sgd", {"learning_rate": 0.05}),
    "sgd_momentum": ("sgd", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd_nesterov": ("sgd", {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}),
    "adadelta": ("adadelta", {"learning_rate": 0.5}),
    "adadelta_weight_decay": ("adadelta", {"learning_rate": 1.0, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.05}),
}


def trajectory(case, problem):
    """The optax trajectory of ``case`` on ``problem``."""
    name, kwargs = CASES[case]
    optimizer = getattr(optax, name)(**kwargs)
    params = [jnp.asarray(v) for v in problem["init"]]
    state = optimizer.init(params)
    result = []
    for t in range(problem["steps"]):
        grads = [jnp.asarray(g) for g in harness.numpy_grads(problem, [np.asarray(p) for p in params], t)]
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        result.append([np.asarray(p, dtype=problem["dtype"]) for p in params])
    return result


def main():
    problem = harness.make_problem(steps=STEPS)
    for case in CASES:
        path = os.path.join(harness.DATA_DIR, "optax_sign_%s.npz" % case)
        harness.save_trajectory(path, trajectory(case, problem))
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
