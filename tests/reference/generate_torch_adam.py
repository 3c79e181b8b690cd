"""Golden trajectories of torch.optim for the Adam family.

Run with torch installed (a test-time tool only, ``pip install torch==2.13.0``)::

    python tests/reference/generate_torch_adam.py

For each case below, runs the torch.optim optimizer on the harness problem
(parameters of shapes (), (5,), (3, 4), (2, 3, 2), float64, ``STEPS`` steps)
and writes ``tests/reference/data/torch_adam_<case>.npz`` with
``harness.save_trajectory``.  tests/test_rules_adam.py runs the symupdates
rule named in the case with the given keyword arguments and compares it with
these files, and with torch run live when torch is importable.

torch keeps some scalar state (NAdam's ``mu_product``, the step) in its
default dtype: it is set to float64 while a reference runs, so that the
references are float64 throughout.  Epsilons are large (1e-3) in most cases
so that where epsilon enters matters to the numbers.
"""

import contextlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for harness

import harness  # noqa: E402

STEPS = 30

#: case -> (symupdates rule, its keyword arguments, torch.optim class, its keyword arguments)
CASES = {
    "adam": (
        "adam",
        {"learning_rate": 0.05, "epsilon": 1e-3, "epsilon_placement": "corrected"},
        "Adam",
        {"lr": 0.05, "eps": 1e-3},
    ),
    "adam_defaults": ("adam", {"epsilon_placement": "corrected"}, "Adam", {}),
    "adam_weight_decay": (
        "adam",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-3, "epsilon_placement": "corrected",
         "weight_decay": 0.3},
        "Adam",
        {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-3, "weight_decay": 0.3},
    ),
    "adam_decoupled_maximize": (
        "adam",
        {"learning_rate": 0.05, "epsilon": 1e-3, "epsilon_placement": "corrected", "weight_decay": 0.3,
         "decoupled_weight_decay": True, "maximize": True},
        "Adam",
        {"lr": 0.05, "eps": 1e-3, "weight_decay": 0.3, "decoupled_weight_decay": True, "maximize": True},
    ),
    "amsgrad": (
        "amsgrad",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-3, "epsilon_placement": "corrected"},
        "Adam",
        {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-3, "amsgrad": True},
    ),
    "amsgrad_weight_decay_maximize": (
        "amsgrad",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-3, "epsilon_placement": "corrected",
         "weight_decay": 0.2, "maximize": True},
        "Adam",
        {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-3, "amsgrad": True, "weight_decay": 0.2, "maximize": True},
    ),
    "adamax_defaults": ("adamax", {"epsilon_placement": "inside_max"}, "Adamax", {}),
    "amsgrad_defaults": ("amsgrad", {"epsilon_placement": "corrected"}, "Adam", {"amsgrad": True}),
    "adamax": (
        "adamax",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-2, "epsilon_placement": "inside_max"},
        "Adamax",
        {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-2},
    ),
    "adamax_weight_decay_maximize": (
        "adamax",
        {"learning_rate": 0.05, "epsilon": 1e-2, "epsilon_placement": "inside_max", "weight_decay": 0.3,
         "maximize": True},
        "Adamax",
        {"lr": 0.05, "eps": 1e-2, "weight_decay": 0.3, "maximize": True},
    ),
    "adamw_defaults": ("adamw", {}, "AdamW", {}),
    "adamw": (
        "adamw",
        {"learning_rate": 0.05, "epsilon": 1e-3, "weight_decay": 0.5},
        "AdamW",
        {"lr": 0.05, "eps": 1e-3, "weight_decay": 0.5},
    ),
    "radam": ("radam", {"learning_rate": 0.05, "epsilon": 1e-3}, "RAdam", {"lr": 0.05, "eps": 1e-3}),
    "radam_defaults": ("radam", {}, "RAdam", {}),
    "radam_decoupled_maximize": (
        "radam",
        {"learning_rate": 0.05, "beta2": 0.99, "epsilon": 1e-3, "weight_decay": 0.3, "decoupled_weight_decay": True,
         "maximize": True},
        "RAdam",
        {"lr": 0.05, "betas": (0.9, 0.99), "eps": 1e-3, "weight_decay": 0.3, "decoupled_weight_decay": True,
         "maximize": True},
    ),
    "radam_weight_decay": (
        "radam",
        {"learning_rate": 0.05, "epsilon": 1e-3, "weight_decay": 0.3},
        "RAdam",
        {"lr": 0.05, "eps": 1e-3, "weight_decay": 0.3},
    ),
    "nadam_defaults": ("nadam", {}, "NAdam", {}),
    "nadam": (
        "nadam",
        {"learning_rate": 0.05, "beta1": 0.85, "epsilon": 1e-3, "schedule_decay": 0.1},
        "NAdam",
        {"lr": 0.05, "betas": (0.85, 0.999), "eps": 1e-3, "momentum_decay": 0.1},
    ),
    "nadam_weight_decay_maximize": (
        "nadam",
        {"learning_rate": 0.05, "epsilon": 1e-3, "weight_decay": 0.3, "maximize": True},
        "NAdam",
        {"lr": 0.05, "eps": 1e-3, "weight_decay": 0.3, "maximize": True},
    ),
    "nadam_decoupled": (
        "nadam",
        {"learning_rate": 0.05, "weight_decay": 0.3, "decoupled_weight_decay": True},
        "NAdam",
        {"lr": 0.05, "weight_decay": 0.3, "decoupled_weight_decay": True},
    ),
}


def file_name(case):
    return "torch_adam_" + case


def problem():
    return harness.make_problem(steps=STEPS)


@contextlib.contextmanager
def float64_default():
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def torch_reference(case):
    """The trajectory of the case's torch.optim optimizer, computed now."""
    import torch

    _, _, optimizer, kwargs = CASES[case]
    with float64_default():
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
