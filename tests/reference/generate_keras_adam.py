"""Golden trajectories of Keras 3's Adam, Adam(amsgrad=True), Adamax, AdamW and Nadam.

Run with keras and jax installed (test-time tools only)::

    python tests/reference/generate_keras_adam.py

Keras runs on its JAX backend in float64 (``jax_enable_x64`` and
``floatx='float64'``).  For every case below, applies the optimizer to the
test problem of tests/harness.py for ``STEPS`` steps and writes
``tests/reference/data/keras_adam_<case>.npz``; tests/test_rules_adam.py
replays each case with the symupdates rule and keyword arguments named in it.

Keras 2's Nadam (``schedule_decay``) needs TensorFlow and is not installable
here; tests/test_rules_adam.py checks it against a NumPy transcription of
its published code instead.  Keras 3's Nadam is Keras 2's with the schedule
``0.96**t``, i.e. ``schedule_decay=1``.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "jax"

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for harness

import harness  # noqa: E402

STEPS = 30

#: case -> (symupdates rule, its keyword arguments, keras.optimizers class, its keyword arguments)
CASES = {
    "adam": ("adam", {"learning_rate": 0.05, "epsilon": 1e-3}, "Adam", {"learning_rate": 0.05, "epsilon": 1e-3}),
    "adam_defaults": ("adam", {"epsilon": 1e-7}, "Adam", {}),
    "adam_amsgrad": (
        "amsgrad",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-3},
        "Adam",
        {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.9, "epsilon": 1e-3, "amsgrad": True},
    ),
    "adam_amsgrad_defaults": ("amsgrad", {"epsilon": 1e-7}, "Adam", {"amsgrad": True}),
    "adamax": (
        "adamax",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-2},
        "Adamax",
        {"learning_rate": 0.05, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-2},
    ),
    "adamax_defaults": ("adamax", {"learning_rate": 0.001, "epsilon": 1e-7}, "Adamax", {}),
    "adamw": (
        "adamw",
        {"learning_rate": 0.05, "epsilon": 1e-3, "weight_decay": 0.3, "epsilon_placement": "raw"},
        "AdamW",
        {"learning_rate": 0.05, "epsilon": 1e-3, "weight_decay": 0.3},
    ),
    "adamw_defaults": (
        "adamw",
        {"weight_decay": 0.004, "epsilon": 1e-7, "epsilon_placement": "raw"},
        "AdamW",
        {},
    ),
    "nadam": (
        "nadam",
        {"learning_rate": 0.05, "beta1": 0.85, "epsilon": 1e-3, "schedule_decay": 1.0},
        "Nadam",
        {"learning_rate": 0.05, "beta_1": 0.85, "epsilon": 1e-3},
    ),
    "nadam_defaults": ("nadam", {"learning_rate": 0.001, "epsilon": 1e-7, "schedule_decay": 1.0}, "Nadam", {}),
}


def file_name(case):
    return "keras_adam_" + case


def problem():
    return harness.make_problem(steps=STEPS)


def keras_reference(case):
    """The Keras trajectory of ``case``, computed now (float64)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import keras

    keras.config.set_floatx("float64")
    _, _, class_name, kwargs = CASES[case]
    prob = problem()
    optimizer = getattr(keras.optimizers, class_name)(**kwargs)
    variables = [keras.Variable(v.copy(), dtype="float64") for v in prob["init"]]
    trajectory = []
    for t in range(prob["steps"]):
        grads = harness.numpy_grads(prob, [np.asarray(v.numpy()) for v in variables], t)
        optimizer.apply_gradients(zip(grads, variables))
        trajectory.append([np.array(v.numpy(), dtype=prob["dtype"]) for v in variables])
    return trajectory


def main():
    import keras

    print("keras", keras.__version__)
    for case in CASES:
        path = os.path.join(harness.DATA_DIR, file_name(case) + ".npz")
        harness.save_trajectory(path, keras_reference(case))
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
