"""Golden trajectories of torch.optim's SGD, Adagrad, RMSprop, Adadelta, Rprop and ASGD.

Run with torch installed (``pip install torch==2.13.0``, a test-time tool only)::

    python tests/reference/generate_torch_descent.py

For every case below, runs the torch optimizer on the test problem of
tests/harness.py (float64, ``STEPS`` steps) and writes
``tests/reference/data/torch_descent_<case>.npz``.  tests/test_rules_descent.py
replays the same cases with symupdates (and with torch live when it is
installed).  torch's default dtype is set to float64 so that the scalars some
optimizers keep as tensors (ASGD's step size and averaging weight) are not
rounded to float32.
"""

import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import harness  # noqa: E402

STEPS = 30

#: case name -> (torch.optim class name, keyword arguments)
CASES = {
    "sgd_defaults": ("SGD", {}),
    "sgd_weight_decay": ("SGD", {"lr": 0.05, "weight_decay": 0.1}),
    "sgd_maximize": ("SGD", {"lr": 0.02, "maximize": True}),
    "sgd_momentum": ("SGD", {"lr": 0.05, "momentum": 0.9}),
    "sgd_momentum_dampening": ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.5}),
    "sgd_momentum_all": (
        "SGD", {"lr": 0.03, "momentum": 0.7, "dampening": 0.2, "weight_decay": 0.05, "maximize": True},
    ),
    "sgd_nesterov": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd_nesterov_weight_decay": ("SGD", {"lr": 0.05, "momentum": 0.85, "nesterov": True, "weight_decay": 0.1}),
    "adagrad_defaults": ("Adagrad", {}),
    "adagrad_options": (
        "Adagrad",
        {"lr": 0.3, "lr_decay": 0.05, "initial_accumulator_value": 0.2, "weight_decay": 0.02, "eps": 1e-6},
    ),
    "adagrad_maximize": ("Adagrad", {"lr": 0.05, "maximize": True}),
    "rmsprop_defaults": ("RMSprop", {}),
    "rmsprop_centered": ("RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True}),
    "rmsprop_momentum": ("RMSprop", {"lr": 0.005, "momentum": 0.9}),
    "rmsprop_centered_momentum": (
        "RMSprop", {"lr": 0.005, "alpha": 0.95, "eps": 1e-6, "centered": True, "momentum": 0.8, "weight_decay": 0.01},
    ),
    "rmsprop_maximize": ("RMSprop", {"lr": 0.01, "maximize": True}),
    "adadelta_defaults": ("Adadelta", {}),
    "adadelta_options": ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1}),
    "adadelta_maximize": ("Adadelta", {"maximize": True}),
    "rprop_defaults": ("Rprop", {}),
    "rprop_options": ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    "rprop_maximize": ("Rprop", {"lr": 0.02, "maximize": True}),
    "asgd_defaults": ("ASGD", {}),
    "asgd_averaging": ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.6, "t0": 5, "weight_decay": 0.01}),
    "asgd_maximize": ("ASGD", {"lr": 0.01, "t0": 10, "maximize": True}),
}


def optimizer_factory(case):
    """``make_optimizer(params)`` for harness.torch_trajectory (single-tensor code path)."""
    class_name, kwargs = CASES[case]
    cls = getattr(torch.optim, class_name)
    return lambda params: cls(params, foreach=False, **kwargs)


def trajectory(case, problem):
    """The torch trajectory of ``case`` on ``problem``, computed with float64 scalars."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return harness.torch_trajectory(optimizer_factory(case), problem)
    finally:
        torch.set_default_dtype(previous)


def main():
    problem = harness.make_problem(steps=STEPS)
    for case in CASES:
        path = os.path.join(harness.DATA_DIR, "torch_descent_%s.npz" % case)
        harness.save_trajectory(path, trajectory(case, problem))
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
