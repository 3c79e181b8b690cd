"""Every reference case of every rule, from the table of tests/optimizers.py.

Each case runs one rule with its keyword arguments on the harness problem
(parameters of shapes (), (5,), (3, 4), (2, 3, 2) unless the case says
otherwise; 25 or 30 steps) and compares every parameter at every step with
the reference:

* golden trajectories of torch.optim, optax and Keras 3, written by
  tests/reference/generate.py into tests/reference/data;
* torch.optim run live, when torch is installed (it is in the test extra),
  which also shows that the committed torch files are what this torch
  computes;
* NumPy transcriptions of published code and formulas
  (tests/transcriptions.py: Lasagne, Chainer, Keras 2, lion-pytorch, the
  papers, torch's Muon without its bfloat16 cast).

Our trajectory of each (rule, arguments, problem) is computed once per
module and shared by the comparisons.
"""

import importlib.util
import os

import numpy as np
import pytest

import optimizers
import symupdates
from harness import (
    DATA_DIR,
    assert_golden_is_live,
    assert_trajectories_close,
    load_trajectory,
    numpy_trajectory,
    run_rule,
)

# torch is in the test extra; without it only the golden files are used
HAVE_TORCH = importlib.util.find_spec("torch") is not None

_ours = {}


def ours(case):
    """Our trajectory of ``case``, computed once per module."""
    key = (case.rule, repr(sorted(case.ours.items())), repr(case.fallback and case.fallback[:2]), case.steps,
           tuple(case.shapes), case.dtype, case.zero_init)
    if key not in _ours:
        _ours[key] = run_rule(symupdates.RULES[case.rule], case.problem(), **case.arguments())
    return _ours[key]


def assert_close(case, trajectory, reference):
    """Within the case's tolerance; for torch's Muon, its matrices within bfloat16's."""
    if case.tolerance != optimizers.BFLOAT16:
        rtol, atol = case.tolerance
        assert_trajectories_close(trajectory, reference, rtol=rtol, atol=atol)
        return
    matrices = [i for i, s in enumerate(case.shapes) if len(s) == 2]
    others = [i for i, s in enumerate(case.shapes) if len(s) != 2]
    pick = lambda traj, idx: [[step[i] for i in idx] for step in traj]  # noqa: E731
    assert_trajectories_close(pick(trajectory, matrices), pick(reference, matrices), rtol=0,
                              atol=0.6 * case.reference[1].get("lr", 1e-3))
    if others:  # the fallback rule's parameters owe nothing to bfloat16
        assert_trajectories_close(pick(trajectory, others), pick(reference, others), rtol=optimizers.FLOAT64[0],
                                  atol=optimizers.FLOAT64[1])


def ids(cases):
    return [case.id for case in cases]


@pytest.mark.parametrize("case", optimizers.GOLDEN, ids=ids(optimizers.GOLDEN))
def test_matches_golden_trajectory(case):
    golden = load_trajectory(case.file_name)
    assert len(golden) == case.steps
    trajectory = ours(case)
    if case.dtype == "float32":
        assert all(p.dtype == np.float32 for step in trajectory for p in step)
    assert_close(case, trajectory, golden)


def run_torch():
    spec = importlib.util.spec_from_file_location("run_torch", os.path.join(DATA_DIR, os.pardir, "run_torch.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TORCH = [case for case in optimizers.GOLDEN if case.source.startswith("torch_")]


@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (it is in the test extra)")
@pytest.mark.parametrize("case", TORCH, ids=ids(TORCH))
def test_matches_torch_run_live(case):
    live = run_torch().trajectory(case)
    assert_close(case, ours(case), live)
    # The committed file is what this torch computes (it was not edited by
    # hand); Muon's up to its bfloat16 matrix products.
    if case.tolerance == optimizers.BFLOAT16:
        assert_close(case, load_trajectory(case.file_name), live)
    else:
        assert_golden_is_live(load_trajectory(case.file_name), live)


def transcription_trajectory(case, dtype=None):
    step, init_state = case.transcription(dtype)
    return numpy_trajectory(step, case.problem(dtype), init_state)


@pytest.mark.parametrize("case", optimizers.TRANSCRIBED, ids=ids(optimizers.TRANSCRIBED))
def test_matches_numpy_transcription(case):
    assert_close(case, ours(case), transcription_trajectory(case))


def test_every_golden_file_is_a_case_of_the_table():
    files = {name[:-len(".npz")] for name in os.listdir(DATA_DIR) if name.endswith(".npz")}
    assert files - {"optax_schedules"} == {case.file_name for case in optimizers.GOLDEN}


def test_references_move_every_parameter_and_stay_bounded():
    # Moving: the comparison tests something.  Bounded: a relative tolerance
    # on a diverging trajectory would hide errors in its other parameters.
    for case in optimizers.CASES:
        if case.moves is None and not case.bounded:
            continue
        reference = load_trajectory(case.file_name) if case.golden else transcription_trajectory(case)
        for start, end in zip(case.problem()["init"], reference[-1]):
            assert np.min(np.abs(end - start)) > case.moves, case.id
        if case.bounded:
            assert max(float(np.max(np.abs(p))) for step in reference for p in step) < 10, case.id
