"""Keras 3 on the harness problem: the golden trajectories of the Keras sources.

A library of ``tests/reference/generate.py``; needs keras and jax
(test-time tools only).  Keras runs on its JAX backend in float64
(``jax_enable_x64`` and ``floatx='float64'``, so that the learning rate
Keras keeps as a variable is not rounded to float32).  The cases, with the
``keras.optimizers`` class and its arguments, are the table's
(``tests/optimizers.py``): ``keras_adam`` (Adam, Adam(amsgrad=True),
Adamax, AdamW, Nadam) and ``keras_descent`` (SGD, RMSprop, Adagrad,
Adadelta).

Keras 2's Nadam (``schedule_decay``) needs TensorFlow and is not installable
here; the table checks it against a NumPy transcription of its published
code instead.  Keras 3's Nadam is Keras 2's with the schedule ``0.96**t``,
i.e. ``schedule_decay=1``.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "jax"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for harness

import harness  # noqa: E402


def trajectory(case):
    """The Keras trajectory of the case, computed now (float64)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import keras

    keras.config.set_floatx("float64")
    class_name, kwargs = case.reference
    problem = case.problem()
    optimizer = getattr(keras.optimizers, class_name)(**kwargs)
    variables = [keras.Variable(v.copy(), dtype="float64") for v in problem["init"]]
    result = []
    for t in range(problem["steps"]):
        grads = harness.numpy_grads(problem, [np.asarray(v.numpy()) for v in variables], t)
        optimizer.apply_gradients(zip(grads, variables))
        result.append([np.array(v.numpy(), dtype=problem["dtype"]) for v in variables])
    return result


def version():
    import keras

    return "keras " + keras.__version__
