"""Every rule gives the same trajectory on every PyTensor backend.

The reference is PyTensor's Python linker (NumPy ``perform`` of every node);
the C ("cvm"), Numba, JAX and PyTorch linkers must reproduce it, in float32
and float64.  Rules are taken from ``symupdates.RULES``, so a rule added
later is covered without touching this file (the table of
tests/optimizers.py covers ``symupdates.RULES``).  A rule that cannot run on a
backend fails here (no skips): every backend is installed by the test extra.
"""

import numpy as np
import pytensor
import pytest
from pytensor.compile.mode import Mode

import optimizers
import symupdates
from harness import assert_trajectories_close, make_problem, numpy_trajectory, run_rule
from optimizers import arguments

SHAPES = [(), (3,), (2, 3)]
STEPS = 3

BACKENDS = {
    "c": lambda: Mode(linker="cvm", optimizer="fast_run"),
    "numba": lambda: "NUMBA",
    "jax": lambda: "JAX",
    "pytorch": lambda: "PYTORCH",
}

# Different backends round transcendental functions differently; a few
# steps keep the difference at the level of the dtype's precision.
TOLERANCE = {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-11, atol=1e-13)}
# PyTensor's Numba mode compiles with fastmath (``numba__fastmath``, on by
# default): LLVM reassociates the norms' sums and folds divisions.  Where a
# rule branches on a norm (adafactor's update clipping at rms(u) = 1, lars'
# trust ratio) that moves float64 results by up to ~1e-9 within three steps;
# with ``numba__fastmath=False`` they meet the tolerance above.
NUMBA_FASTMATH_TOLERANCE = {"float32": TOLERANCE["float32"], "float64": dict(rtol=5e-9, atol=1e-12)}


# Rules are compiled a few at a time (one function per group and backend):
# compile time dominates these tests, and Numba's grows faster than linearly
# with a function's number of arguments, so groups stay small.
GROUP_SIZE = 5
NAMES = list(optimizers.OPTIMIZERS)
GROUPS = [NAMES[k:k + GROUP_SIZE] for k in range(0, len(NAMES), GROUP_SIZE)]


def group_rule(names):
    """One "rule" applying each named rule to its own slice of the parameters."""

    def rule(grads, params):
        updates = {}
        for k, name in enumerate(names):
            part = slice(k * len(SHAPES), (k + 1) * len(SHAPES))
            rule = symupdates.RULES[name]
            updates.update(rule(grads[part], params[part], **arguments(name)))
        return updates

    return rule


def group_problem(names, dtype):
    return make_problem(steps=STEPS, shapes=SHAPES * len(names), dtype=dtype)


_references = {}


def reference(names, dtype):
    key = (tuple(names), dtype)
    if key not in _references:
        problem = group_problem(names, dtype)
        _references[key] = run_rule(group_rule(names), problem, mode=Mode(linker="py", optimizer="fast_run"))
    return _references[key]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("names", GROUPS, ids=["-".join(g) for g in GROUPS])
def test_same_trajectory_on_every_backend(names, backend, dtype):
    problem = group_problem(names, dtype)
    ours = run_rule(group_rule(names), problem, mode=BACKENDS[backend]())
    expected = reference(names, dtype)
    for k, name in enumerate(names):
        part = slice(k * len(SHAPES), (k + 1) * len(SHAPES))
        mine = [[np.asarray(v) for v in step[part]] for step in ours]
        theirs = [step[part] for step in expected]
        for step in mine:
            for value, init in zip(step, problem["init"][part]):
                assert value.dtype == np.dtype(dtype), name
                assert value.shape == init.shape, name
        try:
            fastmath = backend == "numba" and pytensor.config.numba__fastmath
            assert_trajectories_close(mine, theirs, **(NUMBA_FASTMATH_TOLERANCE if fastmath else TOLERANCE)[dtype])
        except AssertionError as error:
            raise AssertionError("%s on %s, %s: %s" % (name, backend, dtype, error)) from None
        # the rule moved the parameters, so equal trajectories say something
        assert any(not np.array_equal(v, i) for v, i in zip(theirs[-1], problem["init"][part])), name


def test_every_backend_is_installed():
    """The backends are test dependencies: a missing one is a failure, not a skip."""
    import jax  # noqa: F401
    import numba  # noqa: F401
    import torch  # noqa: F401


# Tensors whose sizes add up past the threshold where the C and Numba kernels
# split a node over the cores; odd sizes put the threads' share boundaries in
# the middle of tensors, and the 0-d parameter gives a one-element row.  The
# Python linker would take half a minute on these sizes, so the references
# are NumPy transcriptions of the formulas.
LARGE_SHAPES = [(), (70001,), (3,), (300, 241), (40000,)]


#: rule -> its transcription at the arguments the rule is built with (the table's ``large``)
LARGE_CASES = {info.name: info.large for info in optimizers.DATABASE if info.large is not None}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backend", ["c", "numba"])
@pytest.mark.parametrize("name", list(LARGE_CASES))
def test_large_tensors_split_over_the_cores(name, backend, dtype):
    problem = make_problem(steps=STEPS, shapes=LARGE_SHAPES, dtype=dtype)
    rule = symupdates.RULES[name]
    ours = run_rule(rule, problem, mode=BACKENDS[backend](), **arguments(name))
    function, kwargs = LARGE_CASES[name]
    step, init_state = function(**kwargs)
    expected = numpy_trajectory(step, problem, init_state)
    assert_trajectories_close([[np.asarray(v) for v in step] for step in ours], expected, **TOLERANCE[dtype])
    assert all(not np.array_equal(v, i) for v, i in zip(expected[-1], problem["init"]))



def _strided(bad_column):
    """A (3, 4) float32 view of every other column of a (3, 8) array with NaN in ``bad_column`` of row 1."""
    base = np.arange(24, dtype="float32").reshape(3, 8)
    base[1, bad_column] = np.nan
    return base[:, ::2]


ALL_FINITE_VALUES = [
    _strided(bad_column=3),  # the NaN is between the view's elements: finite
    np.linspace(-3e38, 3e38, 7, dtype="float32"),  # near the largest float32
    np.arange(24, dtype="float64").reshape(2, 3, 4),
    np.asarray(1e308, dtype="float64"),  # 0-d
]


@pytest.mark.parametrize("backend", ["py", "C", "c|py", *BACKENDS])
def test_all_finite_on_every_backend(backend):
    """AllFinite against np.isfinite: all finite, then NaN, +inf or -inf in each input in turn
    (and in a strided view)."""
    from symupdates.engine.finite import all_finite

    modes = dict(BACKENDS, py=lambda: Mode(linker="py"), C=lambda: "C", **{"c|py": lambda: Mode(linker="c|py")})
    xs = [pytensor.tensor.tensor(dtype=v.dtype, shape=(None,) * v.ndim) for v in ALL_FINITE_VALUES]
    f = pytensor.function(xs, all_finite(xs), mode=modes[backend]())
    cases = [list(ALL_FINITE_VALUES), [_strided(bad_column=2)] + ALL_FINITE_VALUES[1:]]
    for k, bad in enumerate([np.nan, np.inf, -np.inf, np.nan]):
        values = [np.array(v, copy=True) for v in ALL_FINITE_VALUES]
        values[k].flat[values[k].size // 2] = bad
        cases.append(values)
    expected = [all(np.isfinite(v).all() for v in values) for values in cases]
    assert expected == [True] + [False] * 5
    assert [bool(f(*values)) for values in cases] == expected
