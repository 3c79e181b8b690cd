"""The core rules against torch.optim: golden trajectories always, torch live when installed.

The cases, and why each choice of settings makes torch's form and Lasagne's
coincide, are in tests/reference/generate_torch_core.py, which wrote the
golden files in tests/reference/data/torch_core_*.npz.
"""

import importlib.util
import os

import numpy as np
import pytest

import symupdates
from harness import assert_golden_is_live, assert_trajectories_close, load_trajectory, run_rule

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "generate_torch_core", os.path.join(HERE, "reference", "generate_torch_core.py")
)
generator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generator)

# Operations are ordered differently in the two implementations (for example
# lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t)) against
# lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / sqrt(v)); over 30 steps the
# rounding differences stay within a few units in the last place.
RTOL, ATOL = 1e-12, 1e-14

try:
    import torch  # noqa: F401

    HAVE_TORCH = True
except ImportError:  # torch is in the test extra; without it only the golden files are used
    HAVE_TORCH = False


@pytest.fixture(scope="module")
def ours():
    """Our trajectory of each case, computed once for both comparisons."""
    problem = generator.problem()
    cache = {}

    def trajectory(case):
        if case not in cache:
            rule, hyper, _, _ = generator.CASES[case]
            cache[case] = run_rule(getattr(symupdates, rule), problem, **hyper)
        return cache[case]

    return trajectory


@pytest.mark.parametrize("case", list(generator.CASES))
def test_matches_golden_torch_trajectory(ours, case):
    golden = load_trajectory(generator.file_name(case))
    assert len(golden) == generator.STEPS
    assert_trajectories_close(ours(case), golden, rtol=RTOL, atol=ATOL)


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (it is in the test extra)")
@pytest.mark.parametrize("case", list(generator.CASES))
def test_matches_torch_run_live(ours, case):
    live = generator.torch_reference(case)
    assert_trajectories_close(ours(case), live, rtol=RTOL, atol=ATOL)
    # The committed file is what this torch computes (it was not edited by hand).
    assert_golden_is_live(load_trajectory(generator.file_name(case)), live)


def test_golden_amsgrad_differs_from_adam():
    # Same settings: the maximum over the second moment takes effect on this problem.
    amsgrad, adam = load_trajectory("torch_core_amsgrad"), load_trajectory("torch_core_adam")
    assert max(np.max(np.abs(a - b)) for a, b in zip(amsgrad[-1], adam[-1])) > 1e-3


def test_golden_trajectories_move_every_parameter():
    problem = generator.problem()
    for case in generator.CASES:
        final = load_trajectory(generator.file_name(case))[-1]
        for start, end in zip(problem["init"], final):
            assert np.min(np.abs(end - start)) > 1e-4, case


def test_every_core_rule_with_a_torch_counterpart_is_covered():
    covered = {rule for rule, _, _, _ in generator.CASES.values()}
    assert covered == {
        "sgd", "momentum", "nesterov_momentum", "adagrad", "rmsprop", "adadelta", "adam", "adamax", "amsgrad",
    }
