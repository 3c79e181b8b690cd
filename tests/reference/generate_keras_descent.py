"""Golden trajectories of Keras 3's SGD, RMSprop, Adagrad and Adadelta.

Run with keras and jax installed (test-time tools only)::

    python tests/reference/generate_keras_descent.py

Keras runs on its JAX backend in float64 (``jax_enable_x64`` and
``floatx='float64'``, so that the learning rate Keras keeps as a variable is
not rounded to float32).  For every case below, applies the optimizer to the
test problem of tests/harness.py for ``STEPS`` steps and writes
``tests/reference/data/keras_descent_<case>.npz``;
tests/test_rules_descent.py replays the cases with symupdates.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import keras  # noqa: E402
import numpy as np  # noqa: E402

keras.config.set_floatx("float64")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import harness  # noqa: E402

STEPS = 30

#: case name -> (keras.optimizers class name, keyword arguments)
CASES = {
    "sgd_defaults": ("SGD", {}),
    "sgd_momentum": ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"learning_rate": 0.05, "momentum": 0.8, "nesterov": True}),
    "rmsprop_defaults": ("RMSprop", {}),
    "rmsprop_centered_momentum": ("RMSprop", {"learning_rate": 0.005, "rho": 0.8, "centered": True, "momentum": 0.9}),
    "rmsprop_momentum": ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "epsilon": 1e-4}),
    "adagrad_defaults": ("Adagrad", {}),
    "adagrad_options": ("Adagrad", {"learning_rate": 0.3, "initial_accumulator_value": 0.0, "epsilon": 1e-6}),
    "adadelta_defaults": ("Adadelta", {}),
    "adadelta_options": ("Adadelta", {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-6}),
}


def trajectory(case, problem):
    """The Keras trajectory of ``case`` on ``problem``."""
    class_name, kwargs = CASES[case]
    optimizer = getattr(keras.optimizers, class_name)(**kwargs)
    variables = [keras.Variable(v.copy(), dtype="float64") for v in problem["init"]]
    result = []
    for t in range(problem["steps"]):
        grads = harness.numpy_grads(problem, [np.asarray(v.numpy()) for v in variables], t)
        optimizer.apply_gradients(zip(grads, variables))
        result.append([np.array(v.numpy(), dtype=problem["dtype"]) for v in variables])
    return result


def main():
    problem = harness.make_problem(steps=STEPS)
    for case in CASES:
        path = os.path.join(harness.DATA_DIR, "keras_descent_%s.npz" % case)
        harness.save_trajectory(path, trajectory(case, problem))
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
