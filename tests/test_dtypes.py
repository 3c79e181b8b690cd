"""Exact types: every update expression has exactly its shared variable's type.

The matrix: float32 / float64 parameters x ``floatX`` float32 / float64 x
hyperparameters given as Python numbers, NumPy scalars (float64 with float32
parameters, float32 with float64 parameters), 0-d arrays, or symbolic
scalars (shared variables of either dtype), for every rule the table gives
dtype-matrix hyperparameters (``hyper`` in tests/optimizers.py).  The
parameters are 0-d, a row with static shape ``(1, 5)`` (broadcastable first
dimension), a matrix without static shape and a 3-d tensor with static shape.
Each combination is built, checked type by type, compiled and run, and its
numbers are compared with the float64 run (Lasagne issues 143, 402 and 810
were each a dtype bug of this kind).
"""

import itertools
import os

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.compile.mode import Mode

import optimizers
import symupdates

# The matrix compiles a few dozen functions of a dozen rules each; graph
# rewriting would dominate the time and is irrelevant to types (PyTensor
# checks each update against its variable's type before rewriting), so they
# run unrewritten on the Python linker unless a test mode is requested.
MODE = None if os.environ.get("SYMUPDATES_TEST_MODE") else Mode(linker="py", optimizer=None)

PARAM_DTYPES = ["float32", "float64"]
FLOATX = ["float32", "float64"]

# name, value shape, static shape given to pytensor.shared (None: not static)
PARAMS = [
    ("s", (), ()),
    ("row", (1, 5), (1, 5)),
    ("W", (3, 4), None),
    ("T", (2, 3, 2), (2, 3, 2)),
]


def hyper_python(value):
    return value


def hyper_numpy64(value):
    return np.float64(value)


def hyper_numpy32(value):
    return np.float32(value)


def hyper_array0d(value):
    return np.array(value)


def hyper_shared64(value):
    return pytensor.shared(np.float64(value), name="h64")


def hyper_shared32(value):
    return pytensor.shared(np.float32(value), name="h32")


HYPER_KINDS = {
    "python": hyper_python,
    "numpy64": hyper_numpy64,
    "numpy32": hyper_numpy32,
    "array0d": hyper_array0d,
    "shared64": hyper_shared64,
    "shared32": hyper_shared32,
}

# The rules of the matrix and the hyperparameters each is given: the table's
# ``hyper`` (tests/optimizers.py; non-default values, so that a dropped or
# mis-cast hyperparameter changes the numbers).
CORE_RULES = {info.name: info.hyper for info in optimizers.DATABASE if info.hyper is not None}


def apply_momentum_rule(loss, params, learning_rate, momentum):
    return symupdates.apply_momentum(symupdates.adagrad(loss, params, learning_rate), momentum=momentum)


def apply_nesterov_rule(loss, params, learning_rate, momentum):
    return symupdates.apply_nesterov_momentum(symupdates.rmsprop(loss, params, learning_rate), momentum=momentum)


def constrained_sgd(loss, params, learning_rate, max_norm):
    # Lasagne's idiom: clip the gradients' joint norm, then constrain each update's norms.
    grads = symupdates.total_norm_constraint(symupdates.get_or_compute_grads(loss, params), max_norm)
    updates = symupdates.sgd(grads, params, learning_rate)
    for p in params:
        if p.ndim >= 2:
            updates[p] = symupdates.norm_constraint(updates[p], max_norm, norm_axes=tuple(range(1, p.ndim)))
    return updates


COMPOSED_RULES = {
    "apply_momentum": (apply_momentum_rule, {"learning_rate": 0.1, "momentum": 0.7}),
    "apply_nesterov_momentum": (apply_nesterov_rule, {"learning_rate": 0.01, "momentum": 0.7}),
    "norm_constraints": (constrained_sgd, {"learning_rate": 0.5, "max_norm": 0.8}),
}

ALL_RULES = {name: (getattr(symupdates, name), hyper) for name, hyper in CORE_RULES.items()}
ALL_RULES.update(COMPOSED_RULES)


def make_params(dtype, prefix, static=True):
    rng = np.random.default_rng(7)
    params = []
    for name, shape, static_shape in PARAMS:
        value = rng.normal(size=shape).astype(dtype)
        kwargs = {"shape": static_shape} if static and static_shape is not None else {}
        params.append(pytensor.shared(value, name="%s_%s" % (prefix, name), **kwargs))
    return params


def toy_constants(params):
    rng = np.random.default_rng(11)
    for p in params:
        shape = p.get_value().shape
        yield p, rng.uniform(0.5, 2.0, size=shape).astype(p.dtype), rng.normal(size=shape).astype(p.dtype)


def toy_loss(params):
    """sum_i 0.5 * a_i * (p_i - c_i)**2, constants in each parameter's dtype."""
    return sum(0.5 * (a * (p - c) ** 2).sum() for p, a, c in toy_constants(params))


def toy_grads(params):
    """The gradients of toy_loss, written out (cheaper to build than pytensor.grad)."""
    return [a * (p - c) for p, a, c in toy_constants(params)]


def assert_exact_types(updates, strict=False):
    """Every update has its variable's type.

    The one allowed difference (unless ``strict``): where the variable
    declares no static length for a dimension and the graph knows it (the
    loss uses NumPy constants of that shape), the update carries the known
    length.  PyTensor accepts such an update (the variable's type is a
    supertype of it; the tests compile every case), and no operation can
    forget static shape information; dtype and number of dimensions are
    always exact.
    """
    assert updates, "no updates"
    for var, expr in updates.items():
        message = "%s: update has type %s, variable has %s" % (var.name, expr.type, var.type)
        if strict or expr.type != var.type:
            assert expr.dtype == var.dtype and expr.ndim == var.ndim, message
            assert not strict or expr.type == var.type, message
            assert var.type.is_super(expr.type), message
            for declared, known in zip(var.type.shape, expr.type.shape):
                assert declared is None or declared == known, message


def build(rule_name, param_dtypes, kind, objective=toy_grads):
    """The parameters (one dtype per position, or one for all) and the rule's updates."""
    rule, hyper = ALL_RULES[rule_name]
    if isinstance(param_dtypes, str):
        param_dtypes = [param_dtypes] * len(PARAMS)
    params = [make_params(dtype, rule_name)[i] for i, dtype in enumerate(param_dtypes)]
    hyper = {k: HYPER_KINDS[kind](v) for k, v in hyper.items()}
    return params, rule(objective(params), params, **hyper)


STEPS = 2


def run_all(param_dtypes, floatx, kind, objective=toy_grads):
    """Build every rule, check types, compile once, run STEPS steps; values per rule."""
    with pytensor.config.change_flags(floatX=floatx):
        all_updates, all_params = {}, {}
        for name in ALL_RULES:
            params, updates = build(name, param_dtypes, kind, objective)
            assert_exact_types(updates)
            assert all(p in updates for p in params)
            all_updates.update(updates)
            all_params[name] = params
        step = pytensor.function([], [], updates=all_updates, mode=MODE)
        for _ in range(STEPS):
            step()
    return {name: [p.get_value() for p in params] for name, params in all_params.items()}


@pytest.fixture(scope="module")
def float64_results():
    """Every rule's parameters after STEPS steps: float64 throughout."""
    return run_all("float64", "float64", "python")


def assert_close_to_float64(results, float64_results, dtypes, float32_numbers=False):
    """Each parameter has its dtype and shape and the float64 run's value, to its precision."""
    for name, values in results.items():
        for value, reference, dtype, (pname, shape, _) in zip(values, float64_results[name], dtypes, PARAMS):
            assert value.dtype == dtype and value.shape == shape, (name, pname)
            rtol = 1e-4 if dtype == "float32" or float32_numbers else 1e-12
            np.testing.assert_allclose(
                value, reference, rtol=rtol, atol=rtol * 1e-2, err_msg="%s, parameter %s" % (name, pname)
            )


@pytest.mark.parametrize("kind", list(HYPER_KINDS))
@pytest.mark.parametrize("floatx", FLOATX)
@pytest.mark.parametrize("param_dtype", PARAM_DTYPES)
def test_dtype_matrix(float64_results, param_dtype, floatx, kind):
    results = run_all(param_dtype, floatx, kind)
    # A float32 hyperparameter is a float32 number (0.1 becomes 0.1 + 1.5e-9),
    # so float64 parameters then agree with the float64 run to float32 precision only.
    assert_close_to_float64(results, float64_results, [param_dtype] * len(PARAMS), float32_numbers=kind.endswith("32"))


def test_every_run_moves_the_parameters(float64_results):
    start = make_params("float64", "start")
    for name, values in float64_results.items():
        for value, p in zip(values, start):
            assert np.min(np.abs(value - p.get_value())) > 1e-3, name


@pytest.mark.parametrize("param_dtype", PARAM_DTYPES)
@pytest.mark.parametrize("name", list(CORE_RULES))
def test_state_has_the_parameters_type(name, param_dtype):
    params, updates = build(name, param_dtype, "python")
    state = symupdates.state_variables(updates)
    assert bool(state) == (name != "sgd")
    for var in state:
        owner = [p for p in params if var.name.startswith(p.name + ".")]
        if not owner:  # a rule-wide counter
            assert var.dtype.startswith("int") and var.ndim == 0, var.name
            continue
        (param,) = owner
        assert var.dtype == param.dtype, var.name
        if name == "adagrad_window":
            assert var.type.shape[:-1] == param.type.shape, var.name
        else:
            assert var.type.shape == param.type.shape, var.name


@pytest.mark.parametrize("name", list(CORE_RULES))
def test_static_shape_and_broadcastable_kept(name):
    row = pytensor.shared(np.ones((1, 5)), shape=(1, 5), name="row")
    free = pytensor.shared(np.ones((1, 5)), name="free")
    x = pt.vector("x")
    loss = ((row - x.sum()) ** 2).sum() + ((free * x.mean()) ** 2).sum()
    updates = getattr(symupdates, name)(loss, [row, free], **CORE_RULES[name])
    assert updates[row].type.shape == (1, 5)
    assert updates[row].type.broadcastable == (True, False)
    assert updates[free].type.shape == (None, None)
    assert_exact_types(updates, strict=True)
    # PyTensor accepts the pairs: the compiled function runs and keeps the shapes.
    pytensor.function([x], [], updates=updates, mode=MODE)(np.ones(3))
    assert row.get_value().shape == (1, 5) and free.get_value().shape == (1, 5)


@pytest.mark.parametrize("floatx", FLOATX)
def test_mixed_float32_float64_parameter_list_from_a_loss(float64_results, floatx):
    # One parameter list of both dtypes, gradients by pytensor.grad of one loss.
    dtypes = ["float32", "float64", "float32", "float64"]
    results = run_all(dtypes, floatx, "python", objective=toy_loss)
    # The joint norm couples all parameters: float32 gradients make it a
    # float32-precision number for the float64 parameters too.
    coupled = {"norm_constraints": results.pop("norm_constraints")}
    assert_close_to_float64(coupled, float64_results, dtypes, float32_numbers=True)
    assert_close_to_float64(results, float64_results, dtypes)


@pytest.mark.parametrize("name", list(ALL_RULES))
def test_exact_types_when_the_graph_knows_no_more_than_the_variables(name):
    # A loss built from inputs of unknown shape, as in a real model: every
    # update then has exactly its variable's type, static shapes included.
    rule, hyper = ALL_RULES[name]
    params = make_params("float32", name)
    x = pt.vector("x", dtype="float32")
    loss = sum(((p - x.sum()) ** 2).sum() for p in params) * x.mean()
    with pytensor.config.change_flags(floatX="float64"):
        updates = rule(loss, params, **hyper)
    assert_exact_types(updates, strict=True)
    pytensor.function([x], [], updates=updates, mode=MODE)(np.ones(3, dtype="float32"))


@pytest.mark.parametrize("name", list(CORE_RULES))
def test_gradients_of_unknown_shape_and_other_dtype(name):
    # Gradients given as inputs with no static shape and the other float
    # dtype: each update still has exactly its variable's type (dtype cast,
    # static shape (1, 5) restored), and the function runs.
    row = pytensor.shared(np.ones((1, 5), dtype="float32"), shape=(1, 5), name="row")
    s = pytensor.shared(np.float32(2.0), name="s")
    g_row, g_s = pt.matrix("g_row", dtype="float64"), pt.scalar("g_s", dtype="float64")
    updates = getattr(symupdates, name)([g_row, g_s], [row, s], **CORE_RULES[name])
    assert_exact_types(updates, strict=True)
    step = pytensor.function([g_row, g_s], [], updates=updates, mode=MODE)
    step(np.full((1, 5), 0.5), 1.0)
    assert row.get_value().dtype == np.float32 and row.get_value().shape == (1, 5)
    assert np.all(row.get_value() < 1) and s.get_value() < 2


@pytest.mark.parametrize("param_dtype", PARAM_DTYPES)
def test_zero_dimensional_parameter_alone(param_dtype):
    x = pytensor.shared(np.asarray(2.0, dtype=param_dtype), name="x")
    for name, hyper in CORE_RULES.items():
        updates = getattr(symupdates, name)((x - 1) ** 2, [x], **hyper)
        assert_exact_types(updates)
        assert updates[x].ndim == 0


# --- symbolic hyperparameters changed between steps -------------------------


def numpy_adam(grads_fn, p, learning_rates, beta1, beta2, epsilon):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, lr in enumerate(learning_rates, start=1):
        g = grads_fn(p)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * np.sqrt(1 - beta2**t) / (1 - beta1**t) * m / (np.sqrt(v) + epsilon)
    return p


@pytest.mark.parametrize("lr_dtype", ["float32", "float64"])
@pytest.mark.parametrize("param_dtype", PARAM_DTYPES)
def test_shared_learning_rate_changed_between_steps(param_dtype, lr_dtype):
    start = np.array([1.5, -0.5, 2.0])
    centre = np.array([0.2, 0.1, -0.3])
    p = pytensor.shared(start.astype(param_dtype), name="p")
    lr = pytensor.shared(np.asarray(0.1, dtype=lr_dtype), name="lr")
    updates = symupdates.adam(((p - centre.astype(param_dtype)) ** 2).sum(), [p], learning_rate=lr, beta1=0.8)
    assert_exact_types(updates)
    step = pytensor.function([], [], updates=updates)
    schedule = [0.1] * 4 + [0.01] * 4 + [0.3] * 4
    for i, value in enumerate(schedule):
        lr.set_value(np.asarray(value, dtype=lr_dtype))
        step()  # the same compiled function throughout
    learning_rates = [float(np.asarray(v, dtype=lr_dtype).astype(param_dtype)) for v in schedule]
    expected = numpy_adam(lambda q: 2 * (q - centre), start, learning_rates, 0.8, 0.999, 1e-8)
    constant = numpy_adam(lambda q: 2 * (q - centre), start, [0.1] * len(schedule), 0.8, 0.999, 1e-8)
    assert np.max(np.abs(expected - constant)) > 0.1  # the schedule matters
    rtol = 1e-5 if param_dtype == "float32" else 1e-13
    np.testing.assert_allclose(p.get_value(), expected, rtol=rtol)


def test_symbolic_input_hyperparameters():
    # Hyperparameters may be inputs of the compiled function, of any float dtype.
    p = pytensor.shared(np.array([1.0, -2.0], dtype="float32"), name="p")
    lr = pt.scalar("lr", dtype="float64")
    mu = pt.scalar("mu", dtype="float32")
    updates = symupdates.momentum((p**2).sum(), [p], learning_rate=lr, momentum=mu)
    assert_exact_types(updates)
    step = pytensor.function([lr, mu], [], updates=updates)
    velocity = np.zeros(2)
    expected = np.array([1.0, -2.0])
    for lr_value, mu_value in [(0.1, 0.9), (0.05, 0.5), (0.2, 0.0)]:
        step(lr_value, np.float32(mu_value))
        velocity = mu_value * velocity - lr_value * 2 * expected
        expected = expected + velocity
    np.testing.assert_allclose(p.get_value(), expected, rtol=1e-5)


def test_matrix_covers_every_combination():
    combos = list(itertools.product(PARAM_DTYPES, FLOATX, HYPER_KINDS))
    assert len(combos) == 24
    # np.float64 hyperparameters with float32 parameters are part of it.
    assert ("float32", "float32", "numpy64") in combos and ("float32", "float64", "shared64") in combos
