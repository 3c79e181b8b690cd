"""Every bad input refused at once, nothing lost: each class of defect swept over every rule.

The classes (issue 12): a gradient of the wrong static shape or of a complex
dtype, complex or bool symbolic hyperparameters, hyperparameter numbers out
of range, float16 parameters, size-0 parameters, finite gradients whose
square overflows, and the eager optimizer's parameters that share memory.
Rules are taken from the table (tests/optimizers.py), which covers
``symupdates.RULES``, so a rule added later is swept too.  Every refusal
must happen when the updates are built, before any optimizer state is
created.
"""

import inspect
import numbers
import re

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

import optimizers
import symupdates
from symupdates.eager import Optimizer
from transcriptions import baydin_sgd_hd, chainer_rmsprop_graves, chainer_smorms3, optax_yogi

NAMES = list(optimizers.OPTIMIZERS)
PY = Mode(linker="py", optimizer="fast_compile")


def rule(name):
    return symupdates.RULES[name]


def matrix(name="W", shape=(3, 2), dtype="float64"):
    return pytensor.shared(np.ones(shape, dtype=dtype), name=name)


# ---------------------------------------------------------------------------
# 1. gradients: static shape, complex dtype; complex and bool symbolic hyperparameters


@pytest.mark.parametrize("name", NAMES)
def test_gradient_of_the_wrong_static_shape(name, no_new_shared):
    W, b = matrix(), pytensor.shared(np.zeros(4), name="b")
    no_new_shared.clear()
    grads = [pt.zeros((3, 2)), pt.zeros((4,))]
    with pytest.raises(ValueError, match=r"gradient 0 has static shape \(5, 7\) but its parameter W has shape \(3, 2\)"):
        rule(name)([pt.zeros((5, 7)), grads[1]], [W, b], **optimizers.arguments(name))
    with pytest.raises(ValueError, match=r"gradient 1 has static shape \(5,\) but its parameter b has shape \(4,\)"):
        rule(name)([grads[0], pt.zeros((5,))], [W, b], **optimizers.arguments(name))
    # an unknown dimension is left to PyTensor; the known ones are still compared
    with pytest.raises(ValueError, match=r"static shape \(\?, 7\)"):
        rule(name)([pt.tensor(shape=(None, 7)), grads[1]], [W, b], **optimizers.arguments(name))


@pytest.mark.parametrize("name", NAMES)
def test_complex_gradient(name, no_new_shared):
    W = matrix()
    no_new_shared.clear()
    with pytest.raises(TypeError, match="gradient 0 \\(for W\\) has dtype complex128; gradients must be real"):
        rule(name)([pt.zeros((3, 2), dtype="complex128")], [W], **optimizers.arguments(name))


@pytest.mark.parametrize("dtype", ["complex64", "bool"])
@pytest.mark.parametrize("name", NAMES)
def test_complex_or_bool_symbolic_learning_rate(name, dtype, no_new_shared):
    W = matrix()
    no_new_shared.clear()
    arguments = dict(optimizers.arguments(name), learning_rate=pt.scalar("lr", dtype=dtype))
    with pytest.raises(TypeError, match="learning_rate must be a real number, got a symbolic (bool|scalar of dtype)"):
        rule(name)([pt.zeros((3, 2))], [W], **arguments)


@pytest.mark.parametrize("name", NAMES)
def test_complex_symbolic_value_for_every_numeric_hyperparameter(name, no_new_shared):
    W = matrix()
    no_new_shared.clear()
    for argument in numeric_arguments(rule(name)):
        if argument in SET_WHEN_BUILT:
            continue
        arguments = dict(optimizers.arguments(name), **{argument: pt.scalar(dtype="complex128")})
        with pytest.raises(TypeError, match="%s must be a real number" % argument):
            rule(name)([pt.zeros((3, 2))], [W], **arguments)


# ---------------------------------------------------------------------------
# 2. hyperparameter ranges

#: Arguments whose value shapes the graph or the state (a Python number only).
SET_WHEN_BUILT = {"n_win", "ns_steps", "fan_out_axis", "min_dim_size_to_factor", "initial_accumulator_value",
                  "warmup_steps"}

#: Arguments with a None default that are not numbers.
NOT_NUMBERS = {"weight_decay_mask", "trust_ratio_mask", "fallback"}

# Values each argument must refuse, and boundary values it must accept,
# written from the references' own checks (torch.optim's "Invalid ... value"
# errors) and the formulas (a decay rate of 1 never forgets and divides by
# zero in a bias correction; a negative epsilon can make a denominator 0).
NAN, INF = float("nan"), float("inf")
DECAY = ([-0.1, 1.0, 1.5, NAN, INF], [0.0, 0.999])
NONNEGATIVE = ([-1e-3, -1, NAN, INF, -INF], [0.0, 1e6])
UNIT = ([-0.5, 1.01, NAN, INF], [0.0, 1.0])
BAD_AND_GOOD = {
    "learning_rate": NONNEGATIVE,
    "beta": DECAY,
    "beta1": DECAY,
    "beta2": DECAY,
    "beta3": DECAY,
    "rho": UNIT,
    "momentum": UNIT,
    "dampening": UNIT,
    "epsilon": NONNEGATIVE,
    "epsilon_root": NONNEGATIVE,
    "epsilon1": NONNEGATIVE,
    "epsilon2": NONNEGATIVE,
    "weight_decay": NONNEGATIVE,
    "learning_rate_decay": NONNEGATIVE,
    "initial_accumulator_value": NONNEGATIVE,
    "schedule_decay": NONNEGATIVE,
    "min_norm": NONNEGATIVE,
    "trust_coefficient": NONNEGATIVE,
    "final_lr": NONNEGATIVE,
    "gamma": NONNEGATIVE,
    "lambd": NONNEGATIVE,
    "alpha": NONNEGATIVE,
    "t0": NONNEGATIVE,
    "n_win": ([0, -3], [1, 50]),
    "threshold": ([3.9, -1, NAN, INF], [4.0, 100.0]),
    "etaminus": ([0.0, 1.0, -0.5, NAN], [0.01, 0.99]),
    "etaplus": ([1.0, 0.5, NAN, INF], [1.01, 10.0]),
    "step_size_min": ([-1e-6, NAN, INF], [0.0, 1.0]),
    "step_size_max": ([-1.0, NAN], [0.0, INF]),
    "beta2_decay": ([0.1, NAN, -INF], [0.0, -1.0]),
    "clipping_threshold": ([0.0, -1.0, NAN, INF], [1e-3, 10.0]),
    "min_dim_size_to_factor": ([-1], [0, 128]),
    "ns_steps": ([-1, 100], [0, 99]),
    "fan_out_axis": ([-1, 2], [0, 1]),
    "hypergradient_lr": NONNEGATIVE,
    "max_scaling": ([0.0, -1.0, NAN], [1e-3, 1e5]),
    "warmup_steps": ([0, -2], [1, 10000]),
    "weight_lr_power": NONNEGATIVE,
}
INTEGER_CASES = [(name, argument) for name in NAMES for argument, valid in rule(name).ranges.items() if valid.integer]


@pytest.mark.parametrize("name, argument", INTEGER_CASES, ids=["%s-%s" % c for c in INTEGER_CASES])
def test_symbolic_value_of_a_count_refused(name, argument, no_new_shared):
    """A count (a graph's shape: iterations, window, warmup length) must be known when the updates are built."""
    W = matrix()
    no_new_shared.clear()
    arguments = dict(optimizers.arguments(name), **{argument: pt.scalar(dtype="int64")})
    with pytest.raises(TypeError, match="%s: %s must be an integer" % (name, argument)):
        rule(name)([pt.zeros((3, 2))], [W], **arguments)


def numeric_arguments(rule):
    """The rule's hyperparameters that take a number (default a number or None, or required)."""
    names = []
    for name, parameter in list(inspect.signature(rule).parameters.items())[2:]:
        default = parameter.default
        if name in NOT_NUMBERS:
            continue
        if default is inspect.Parameter.empty or default is None or (
            isinstance(default, numbers.Real) and not isinstance(default, bool)
        ):
            names.append(name)
    return names


def bad_and_good(name, argument):
    """The values to refuse and accept: the table's where the rule's argument means something else."""
    return optimizers.OPTIMIZERS[name].bad_and_good.get(argument) or BAD_AND_GOOD[argument]


CASES = [(name, argument) for name in NAMES for argument in numeric_arguments(rule(name))]


def test_every_numeric_hyperparameter_has_a_declared_range_and_a_test():
    for name, argument in CASES:
        assert argument in symupdates.core.HYPERPARAMETER_RANGES or argument in rule(name).ranges, (name, argument)
        assert argument in BAD_AND_GOOD, "no test values for %s's %s" % (name, argument)


@pytest.mark.parametrize("name, argument", CASES, ids=["%s-%s" % c for c in CASES])
def test_out_of_range_hyperparameter_refused_at_build_and_at_partial_application(name, argument, no_new_shared):
    W = matrix()
    no_new_shared.clear()
    bad, good = bad_and_good(name, argument)
    for value in bad:
        message = r"^%s: invalid %s value %s: it must be an? (finite )?(number|integer) in [\[(]" % (
            name, argument, "nan" if value != value else re.escape(repr(value)))
        arguments = dict(optimizers.arguments(name), **{argument: value})
        with pytest.raises(ValueError, match=message):
            rule(name)([pt.zeros((3, 2))], [W], **arguments)
        with pytest.raises(ValueError, match=message):
            rule(name)(**arguments)
    for value in good:
        assert callable(rule(name)(**dict(optimizers.arguments(name), **{argument: value})))


@pytest.mark.parametrize("name, argument", CASES, ids=["%s-%s" % c for c in CASES])
def test_bool_or_text_for_a_numeric_hyperparameter(name, argument, no_new_shared):
    W = matrix()
    no_new_shared.clear()
    for value in (True, "0.1", [0.1]):
        with pytest.raises(TypeError, match="%s: %s must be an? (finite )?(number|integer)" % (name, argument)):
            rule(name)([pt.zeros((3, 2))], [W], **dict(optimizers.arguments(name), **{argument: value}))


@pytest.mark.parametrize("name", NAMES)
def test_symbolic_values_are_left_to_run_time(name):
    """A symbolic learning rate of -1 builds: its value is only known when the step runs."""
    W = matrix()
    lr = pytensor.shared(np.float64(-1.0), name="lr")
    updates = rule(name)([pt.zeros((3, 2))], [W], **dict(optimizers.arguments(name), learning_rate=lr))
    assert W in updates


@pytest.mark.parametrize("name", NAMES)
def test_every_anchor_and_the_defaults_are_in_range(name):
    for anchor, arguments in [("defaults", {})] + list(rule(name).anchors.items()):
        assert callable(rule(name)(**dict(optimizers.arguments(name), **arguments))), anchor


def test_rprop_step_size_bounds_in_order(no_new_shared):
    W = matrix()
    no_new_shared.clear()
    with pytest.raises(ValueError, match=r"step_size_min \(2.0\) must not exceed step_size_max \(1.0\)"):
        symupdates.rprop([pt.zeros((3, 2))], [W], step_size_min=2.0, step_size_max=1.0)


@pytest.mark.parametrize("apply", [symupdates.apply_momentum, symupdates.apply_nesterov_momentum])
def test_apply_momentum_range(apply, no_new_shared):
    W = matrix()
    updates = symupdates.sgd([pt.zeros((3, 2))], [W], 0.1)
    no_new_shared.clear()
    with pytest.raises(ValueError, match="invalid momentum value -1"):
        apply(updates, momentum=-1)


# ---------------------------------------------------------------------------
# 6. float16 parameters: refused when the updates are built, the message naming float16


@pytest.mark.parametrize("name", NAMES)
def test_float16_parameter_refused(name, no_new_shared):
    W = matrix(dtype="float16")
    no_new_shared.clear()
    with pytest.raises(TypeError, match=r"params\[0\] \(W\) has dtype float16; update rules need float32 or "
                                        r"float64 parameters \(float16 is not supported: keep a float32 copy"):
        rule(name)([pt.zeros((3, 2), dtype="float16")], [W], **optimizers.arguments(name))


def test_eager_float16_array_refused_before_anything_changes():
    W = np.ones(3, dtype="float16")
    optimizer = Optimizer("adam")
    with pytest.raises(TypeError, match="float16 is not supported"):
        optimizer.update([W], [np.ones(3)])
    np.testing.assert_array_equal(W, np.ones(3))


# ---------------------------------------------------------------------------
# 7. size-0 parameters: every rule steps them, beside ordinary ones

SIZE_0_SHAPES = [(0,), (0, 3), (2, 0, 4), (3,)]


def size_0_run(names, mode):
    """One compiled step for all ``names``, each on size-0 parameters and a vector; two steps."""
    params, updates = {}, {}
    for name in names:
        params[name] = [pytensor.shared(np.ones(s), name="%s%d" % (name, i)) for i, s in enumerate(SIZE_0_SHAPES)]
        updates.update(rule(name)([2 * p + 1 for p in params[name]], params[name], **optimizers.arguments(name)))
    step = pytensor.function([], [], updates=updates, mode=mode)
    step()
    step()
    for name in names:
        for p, shape in zip(params[name], SIZE_0_SHAPES):
            assert p.get_value().shape == shape, name
        moved = params[name][-1].get_value()
        assert np.all(np.isfinite(moved)) and np.all(moved < 1), name  # the vector descended


def test_size_0_parameters_on_the_python_linker():
    size_0_run(NAMES, Mode(linker="py", optimizer=None))


def test_size_0_parameters_on_numba():
    # Numba compiles a kernel per rule and ndim (seconds each): the fused
    # engine's rules share their row layout, represented by adam; sm3 and
    # adagrad_window reduce over or index an axis of their own.
    size_0_run(["adam", "sm3", "adagrad_window"], "NUMBA")


# ---------------------------------------------------------------------------
# 8. overflow: finite gradients whose square overflows

HUGE = {"float32": np.float32(1e30), "float64": 1e200}

#: Rules whose reference implementation overflows too (documented in their
#: docstrings; the table's ``overflowing``): the reference's NumPy
#: transcription, or the reference itself.
OVERFLOWING = optimizers.OVERFLOWING


def huge_gradient_run(names, dtype, steps=3, wrap=None):
    """Parameters (a vector and a matrix per rule) after ``steps`` steps of gradient ``HUGE``."""
    shapes = [(3,), (4, 3)]
    params, updates = {}, {}
    grads = [pt.tensor(dtype=dtype, shape=s) for s in shapes]
    for name in names:
        params[name] = [pytensor.shared(np.ones(s, dtype=dtype), name="%s%d" % (name, i)) for i, s in enumerate(shapes)]
        r = rule(name)(**optimizers.arguments(name))
        updates.update((wrap or (lambda r: r))(r)(grads, params[name]))
    step = pytensor.function(grads, [], updates=updates, mode=PY)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            step(*[np.full(s, HUGE[dtype], dtype=dtype) for s in shapes])
    return {name: [p.get_value() for p in ps] for name, ps in params.items()}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_huge_finite_gradients_keep_parameters_finite(dtype):
    values = huge_gradient_run([n for n in NAMES if n not in OVERFLOWING], dtype)
    for name, params in values.items():
        assert all(np.all(np.isfinite(p)) for p in params), name


def test_overflowing_rules_overflow_in_their_references_too():
    # Chainer's formulas, optax's yogi and Baydin et al.'s SGD-HD, transcribed,
    # computing in float32 as they do
    g = np.full(3, HUGE["float32"])
    with np.errstate(over="ignore", invalid="ignore"):
        for step, init in (chainer_rmsprop_graves(), chainer_smorms3(), optax_yogi(0.01, 0.9, 0.999, 1e-3, 0.0),
                           baydin_sgd_hd(0.001, 0.001)):
            params = [np.ones(3, dtype="float32")]
            state = init(params)
            for t in range(1, 3):
                params, state = step(params, [g], state, t)
            assert not np.all(np.isfinite(params[0]))
    import torch

    p = torch.ones(4, 3, dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.Adafactor([p])
    p.grad = torch.full((4, 3), 1e30, dtype=torch.float32)
    optimizer.step()
    assert not torch.all(torch.isfinite(p))


def test_skip_nonfinite_catches_the_overflowing_rules():
    wrap = lambda r: symupdates.skip_nonfinite(r, check_updates=True)  # noqa: E731
    # sgd_hd's first step has no hypergradient yet (h_1 = 0): it overflows from the second
    finite_steps = {"sgd_hd": 1}
    values = huge_gradient_run(sorted(OVERFLOWING), "float32", wrap=wrap)
    for name, params in values.items():
        # every step overflowing was skipped: the parameters are those of the finite steps
        steps = finite_steps.get(name, 0)
        expected = huge_gradient_run([name], "float32", steps=steps)[name] if steps else map(np.ones_like, params)
        for p, e in zip(params, expected):
            np.testing.assert_array_equal(p, e, err_msg=name)
            assert np.all(np.isfinite(p)), name
    bare = huge_gradient_run(sorted(OVERFLOWING), "float32")
    for name, params in bare.items():  # and they do overflow without it
        assert not all(np.all(np.isfinite(p)) for p in params), name


# ---------------------------------------------------------------------------
# 3. the eager optimizer: parameters sharing memory


@pytest.mark.parametrize("rule_name", ["sgd", "adam"])
def test_eager_refuses_the_same_array_twice_and_overlapping_views(rule_name):
    base = np.arange(8.0)
    cases = [
        [base, base],
        [base[:5], base[3:]],
        {"a": base.reshape(2, 4), "b": base[::3]},
        [np.ones(2), base[1:3], np.ones(3), base[2:]],
    ]
    for params in cases:
        optimizer = Optimizer(rule_name, learning_rate=0.1)
        before = base.copy()
        grads = {k: np.ones_like(v) for k, v in params.items()} if isinstance(params, dict) else [
            np.ones_like(v) for v in params]
        with pytest.raises(ValueError, match=r"params\[.*\] and params\[.*\] share memory.*pass every parameter once"):
            optimizer.update(params, grads)
        np.testing.assert_array_equal(base, before)
        assert optimizer.updates is None  # nothing was built


def test_eager_accepts_interleaved_views_and_checks_every_update():
    base = np.zeros(8)
    optimizer = Optimizer("sgd", learning_rate=0.5)
    optimizer.update([base[::2], base[1::2]], [np.ones(4), 2 * np.ones(4)])  # disjoint elements of one array
    np.testing.assert_array_equal(base, [-0.5, -1.0] * 4)
    state = optimizer.get_state_values()
    other = np.zeros(8)
    with pytest.raises(ValueError, match="share memory"):
        optimizer.update([other[:4], other[3:7]], [np.ones(4), np.ones(4)])
    np.testing.assert_array_equal(other, np.zeros(8))
    for a, b in zip(state, optimizer.get_state_values()):
        np.testing.assert_array_equal(a, b)

