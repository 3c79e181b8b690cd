"""Golden trajectories of torch.optim for the core (Lasagne) rules.

Run with torch installed (a test-time tool only, ``pip install torch==2.13.0``)::

    python tests/reference/generate_torch_core.py

For each case below, runs the torch.optim optimizer on the harness problem
(parameters of shapes (), (5,), (3, 4), (2, 3, 2), float64, STEPS steps) and
writes ``tests/reference/data/torch_core_<case>.npz`` with
``harness.save_trajectory``.  tests/test_torch_reference.py runs the
symupdates rule named in the case with the given keyword arguments and
compares it to these files (and to torch run live, when importable).

Each case chooses settings under which torch's published form and Lasagne's
coincide exactly:

* momentum / Nesterov: Lasagne keeps ``v = mu v - lr g``, torch keeps
  ``b = mu b + g`` and steps by ``lr b``; with a constant learning rate
  ``v = -lr b``, so the trajectories agree.
* adagrad / rmsprop: Lasagne adds epsilon inside the square root, torch
  outside; with both epsilons 0 the forms agree.
* adam / amsgrad: Lasagne folds the bias corrections into the step size and
  adds an "epsilon-hat" to ``sqrt(v)``; torch adds epsilon to the
  bias-corrected root.  With both epsilons 0 the forms agree.  Both take
  AMSGrad's maximum over the raw second moment.
* adamax: Lasagne divides by ``u + epsilon``, torch folds epsilon into the
  norm as ``max(beta2 u, |g| + epsilon)``; with both 0 they agree.
* adadelta: the same form in both (the learning rate scales the applied
  step, not the accumulated one), for any epsilon.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for harness

import harness  # noqa: E402

STEPS = 30

#: case -> (symupdates rule, its keyword arguments, torch.optim class, its keyword arguments)
CASES = {
    "sgd": ("sgd", {"learning_rate": 0.1}, "SGD", {"lr": 0.1}),
    "momentum": ("momentum", {"learning_rate": 0.05, "momentum": 0.8}, "SGD", {"lr": 0.05, "momentum": 0.8}),
    "nesterov_momentum": (
        "nesterov_momentum",
        {"learning_rate": 0.05, "momentum": 0.8},
        "SGD",
        {"lr": 0.05, "momentum": 0.8, "nesterov": True},
    ),
    "adagrad": ("adagrad", {"learning_rate": 0.3, "epsilon": 0.0}, "Adagrad", {"lr": 0.3, "eps": 0.0}),
    "rmsprop": (
        "rmsprop",
        {"learning_rate": 0.02, "rho": 0.8, "epsilon": 0.0},
        "RMSprop",
        {"lr": 0.02, "alpha": 0.8, "eps": 0.0},
    ),
    "adadelta": ("adadelta", {"rho": 0.9, "epsilon": 1e-6}, "Adadelta", {"lr": 1.0, "rho": 0.9, "eps": 1e-6}),
    "adadelta_lr": (
        "adadelta",
        {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-4},
        "Adadelta",
        {"lr": 0.5, "rho": 0.8, "eps": 1e-4},
    ),
    "adam": (
        "adam",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 0.0},
        "Adam",
        {"lr": 0.05, "betas": (0.8, 0.9), "eps": 0.0},
    ),
    "adamax": (
        "adamax",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 0.0},
        "Adamax",
        {"lr": 0.05, "betas": (0.8, 0.95), "eps": 0.0},
    ),
    # The same settings as "adam": with beta2 = 0.9 the maximum takes effect,
    # and the test checks that the two trajectories differ.
    "amsgrad": (
        "amsgrad",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 0.0},
        "Adam",
        {"lr": 0.05, "betas": (0.8, 0.9), "eps": 0.0, "amsgrad": True},
    ),
}


def file_name(case):
    return "torch_core_" + case


def problem():
    return harness.make_problem(steps=STEPS)


def torch_reference(case):
    """The trajectory of the case's torch.optim optimizer, computed now."""
    import torch

    _, _, optimizer, kwargs = CASES[case]
    return harness.torch_trajectory(lambda params: getattr(torch.optim, optimizer)(params, **kwargs), problem())


def main():
    import torch

    print("torch", torch.__version__)
    for case in CASES:
        path = os.path.join(harness.DATA_DIR, file_name(case) + ".npz")
        harness.save_trajectory(path, torch_reference(case))
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
