"""The SGD, adaptive and sign-based rules: their switches, state, dtypes and errors.

Every reference case of these rules (torch.optim, optax and Keras 3 golden
trajectories, torch live, the NumPy transcriptions of Chainer's, Keras 2's,
Lasagne's, lion-pytorch's code and of momentum as a moving average) is in
the table of tests/optimizers.py, our arguments beside the reference's as
the reference spells them (a porting guide), and runs in
tests/test_references.py; the tests here read their cases from that table.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
try:
    from pytensor.graph.traversal import ancestors
except ImportError:  # PyTensor 2.x
    from pytensor.graph.basic import ancestors
from pytensor.scalar import Composite
from pytensor.tensor.elemwise import Elemwise

import optimizers
import symupdates
from transcriptions import zeros_like_all
from harness import (
    assert_trajectories_close,
    load_trajectory,
    make_problem,
    numpy_trajectory,
    run_rule,
)

STEPS = 30
RTOL, ATOL = 1e-11, 1e-13
#: The rules this module covers.
RULES = [
    "sgd", "momentum", "nesterov_momentum", "asgd", "adagrad", "rmsprop", "adadelta", "rmsprop_graves",
    "smorms3", "sign_sgd", "signum", "lion", "rprop",
]


@pytest.fixture(scope="module")
def problem():
    return make_problem(steps=STEPS)


def test_torch_learning_rate_outside_velocity_when_it_changes(problem):
    """A learning rate changed mid-run: torch's form, not Lasagne's, follows torch."""
    torch = pytest.importorskip("torch")
    schedule = [0.05 if t < 10 else 0.01 for t in range(STEPS)]
    params = [torch.tensor(v.copy(), requires_grad=True) for v in problem["init"]]
    optimizer = torch.optim.SGD(params, lr=schedule[0], momentum=0.9, foreach=False)
    reference = []
    for t in range(STEPS):
        optimizer.param_groups[0]["lr"] = schedule[t]
        grads = [a * (p.detach().numpy() - c) + n
                 for p, a, c, n in zip(params, problem["a"], problem["c"], problem["noise"][t])]
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        optimizer.step()
        reference.append([p.detach().numpy().copy() for p in params])

    def run(**switches):
        lr = pytensor.shared(np.float64(schedule[0]))
        shared = [pytensor.shared(v.copy(), shape=v.shape) for v in problem["init"]]
        noise = [pt.tensor(dtype="float64", shape=v.shape) for v in problem["init"]]
        grads = [a * (p - c) + n for p, a, c, n in zip(shared, problem["a"], problem["c"], noise)]
        step = pytensor.function(noise, [], updates=symupdates.momentum(grads, shared, lr, 0.9, **switches))
        out = []
        for t in range(STEPS):
            lr.set_value(np.float64(schedule[t]))
            step(*problem["noise"][t])
            out.append([p.get_value() for p in shared])
        return out

    assert_trajectories_close(run(learning_rate_in_velocity=False), reference, rtol=RTOL, atol=ATOL)
    lasagne = run()
    assert not np.allclose(lasagne[-1][2], reference[-1][2], rtol=1e-6)


def test_lasagne_anchors_are_the_defaults():
    lasagne = [rule for rule in RULES if "lasagne.updates." + rule in symupdates.RULES[rule].anchors]
    assert lasagne == ["sgd", "momentum", "nesterov_momentum", "adagrad", "rmsprop", "adadelta"]
    for rule in lasagne:
        assert symupdates.RULES[rule].anchors["lasagne.updates." + rule] == {}


# ---------------------------------------------------------------------------
# the switches: equivalences that hold by algebra


def test_dampening_with_first_step_dampened_is_the_moving_average_not_torch(problem):
    torch_case = optimizers.case("torch_descent", "sgd_momentum_dampening")
    ours = run_rule(symupdates.momentum, problem, **dict(torch_case.ours, dampen_first_step=True))
    torch_like = load_trajectory(torch_case.file_name)
    assert not np.allclose(ours[0][1], torch_like[0][1], rtol=1e-6)


def test_rmsprop_graves_is_centered_rmsprop_with_momentum(problem):
    graves = run_rule(symupdates.rmsprop_graves, problem, learning_rate=0.01)
    centered = run_rule(
        symupdates.rmsprop, problem, learning_rate=0.01, rho=0.95, epsilon=1e-4, centered=True, momentum=0.9
    )
    assert_trajectories_close(graves, centered, rtol=1e-9, atol=1e-12)


def test_a_plain_rmsprop_named_rmsprop_graves_is_our_rmsprop(problem):
    """Code circulating as class RMSpropGraves that is plain RMSprop: cache = rho cache + (1 - rho) g g; p -= lr g / sqrt(cache + eps)."""

    def step(params, grads, state, t):
        (cache,) = state
        cache = [0.9 * c + (1 - 0.9) * g * g for c, g in zip(cache, grads)]
        return [p - 0.001 * g / np.sqrt(c + 1e-8) for p, g, c in zip(params, grads, cache)], [cache]

    reference = numpy_trajectory(step, problem, lambda params: zeros_like_all(params, 1))
    ours = run_rule(symupdates.rmsprop, problem, learning_rate=0.001, rho=0.9, epsilon=1e-8)
    assert_trajectories_close(ours, reference, rtol=RTOL, atol=ATOL)


# ---------------------------------------------------------------------------
# state, dtypes, errors

STATE_NAMES = [
    ("sgd", {"learning_rate": 0.1}, []),
    ("momentum", {"learning_rate": 0.1}, ["p0.momentum.velocity"]),
    (
        "momentum", {"learning_rate": 0.1, "dampening": 0.5, "dampen_first_step": False},
        ["p0.momentum.velocity", "momentum.t"],
    ),
    ("nesterov_momentum", {"learning_rate": 0.1}, ["p0.nesterov_momentum.velocity"]),
    ("asgd", {}, ["p0.asgd.average", "asgd.t"]),
    ("adagrad", {}, ["p0.adagrad.accu"]),
    ("adagrad", {"learning_rate_decay": 0.1}, ["p0.adagrad.accu", "adagrad.t"]),
    ("rmsprop", {}, ["p0.rmsprop.accu"]),
    (
        "rmsprop", {"centered": True, "momentum": 0.9},
        ["p0.rmsprop.accu", "p0.rmsprop.grad_avg", "p0.rmsprop.velocity"],
    ),
    ("adadelta", {}, ["p0.adadelta.accu", "p0.adadelta.delta_accu"]),
    ("rmsprop_graves", {}, ["p0.rmsprop_graves.n", "p0.rmsprop_graves.gbar", "p0.rmsprop_graves.delta"]),
    ("smorms3", {}, ["p0.smorms3.memory", "p0.smorms3.g", "p0.smorms3.g2"]),
    ("sign_sgd", {"learning_rate": 0.1}, []),
    ("signum", {"learning_rate": 0.1}, ["p0.signum.m"]),
    ("lion", {}, ["p0.lion.m"]),
    ("rprop", {}, ["p0.rprop.prev_grad", "p0.rprop.step_size", "rprop.t"]),
]


@pytest.mark.parametrize("rule, hyper, names", STATE_NAMES, ids=lambda x: x if isinstance(x, str) else "")
def test_state_is_named_after_parameter_and_slot(rule, hyper, names):
    p = pytensor.shared(np.ones(3), name="p0")
    updates = symupdates.RULES[rule](p.sum() ** 2, [p], **hyper)
    assert [v.name for v in symupdates.state_variables(updates)] == names
    assert p in updates


def graph_dtypes(updates):
    """Every dtype in the update graphs, inside fused kernels too."""
    dtypes = set()
    for var in ancestors(list(updates.values())):
        dtypes.add(getattr(var.type, "dtype", None))
        node = var.owner
        if node is not None and isinstance(node.op, Elemwise) and isinstance(node.op.scalar_op, Composite):
            dtypes |= {v.type.dtype for v in node.op.scalar_op.fgraph.variables}
    return dtypes - {None}


FLOAT32_CASES = [
    ("sgd", {"learning_rate": 0.05, "weight_decay": 0.1, "maximize": True}),
    ("momentum", {"learning_rate": 0.05, "dampening": 0.5, "dampen_first_step": False, "weight_decay": 0.01}),
    ("momentum", {"learning_rate": 0.05, "learning_rate_in_velocity": False, "nesterov": True}),
    ("nesterov_momentum", {"learning_rate": 0.05}),
    ("asgd", {"t0": 5, "weight_decay": 0.01}),
    ("adagrad", {"learning_rate_decay": 0.05, "initial_accumulator_value": 0.1, "epsilon_placement": "outside_sqrt"}),
    ("rmsprop", {"learning_rate": 0.01, "centered": True, "momentum": 0.9, "nesterov": True}),
    ("rmsprop", {"learning_rate": 0.01, "momentum": 0.9, "learning_rate_in_velocity": False}),
    ("adadelta", {"weight_decay": 0.1}),
    ("rmsprop_graves", {}),
    ("smorms3", {}),
    ("sign_sgd", {"learning_rate": 0.01}),
    ("signum", {"learning_rate": 0.01}),
    ("lion", {}),
    ("rprop", {"maximize": True}),
]


@pytest.mark.parametrize("floatX", ["float32", "float64"])
@pytest.mark.parametrize("rule, hyper", FLOAT32_CASES, ids=lambda x: x if isinstance(x, str) else "")
def test_float32_stays_float32(floatX, rule, hyper):
    small = make_problem(steps=3, dtype="float32")
    with pytensor.config.change_flags(floatX=floatX):
        trajectory, updates, params = run_rule(symupdates.RULES[rule], small, return_updates=True, **hyper)
    for var, expr in updates.items():
        assert expr.type == var.type, var.name
    assert "float64" not in graph_dtypes(updates)
    for step in trajectory:
        for value, init in zip(step, small["init"]):
            assert value.dtype == np.float32 and value.shape == init.shape and np.all(np.isfinite(value))


@pytest.mark.parametrize("prefix, case", [("torch_descent", c) for c in ["sgd_momentum_all", "adagrad_options",
                                                                          "rmsprop_centered_momentum",
                                                                          "adadelta_options", "asgd_averaging"]])
def test_float32_follows_reference(prefix, case):
    """In float32 the trajectory stays within float32 accuracy of the float64 reference."""
    case = optimizers.case(prefix, case)
    ours = run_rule(symupdates.RULES[case.rule], case.problem("float32"), **case.ours)
    assert_trajectories_close(ours, load_trajectory(case.file_name), rtol=1e-4, atol=1e-5)


SWITCHES = [
    ("sgd", "maximize"),
    ("momentum", "nesterov"),
    ("momentum", "maximize"),
    ("momentum", "learning_rate_in_velocity"),
    ("momentum", "dampen_first_step"),
    ("nesterov_momentum", "learning_rate_in_velocity"),
    ("asgd", "maximize"),
    ("rmsprop", "centered"),
    ("rmsprop", "nesterov"),
    ("adadelta", "maximize"),
    ("rprop", "maximize"),
]


@pytest.mark.parametrize("rule, switch", SWITCHES)
def test_switch_must_be_a_bool(rule, switch):
    p = pytensor.shared(np.ones(3))
    with pytest.raises(TypeError, match=switch):
        symupdates.RULES[rule](p.sum() ** 2, [p], 0.1, **{switch: 0.9})


@pytest.mark.parametrize("rule", ["adagrad", "rmsprop"])
@pytest.mark.parametrize("placement", [True, "inside", None])
def test_epsilon_placement_must_be_a_known_value(rule, placement):
    p = pytensor.shared(np.ones(3))
    with pytest.raises(ValueError, match="epsilon_placement must be one of 'inside_sqrt', 'outside_sqrt'"):
        symupdates.RULES[rule](p.sum() ** 2, [p], epsilon_placement=placement)


@pytest.mark.parametrize("rule", ["adagrad", "rmsprop"])
def test_initial_accumulator_value_must_be_a_number(rule):
    p = pytensor.shared(np.ones(3))
    with pytest.raises(TypeError, match="initial_accumulator_value"):
        symupdates.RULES[rule](p.sum() ** 2, [p], initial_accumulator_value=pt.scalar())


@pytest.mark.parametrize("rule", RULES)
def test_bad_hyperparameter_is_refused_when_building(rule):
    p = pytensor.shared(np.ones(3))
    with pytest.raises((TypeError, ValueError)):
        symupdates.RULES[rule](p.sum() ** 2, [p], learning_rate=pt.vector())
    with pytest.raises(TypeError):
        symupdates.RULES[rule](p.sum() ** 2, [p], learning_rate="0.1")


def test_state_round_trip_continues_bit_for_bit(problem):
    """Saving parameters and state (counter included) and restoring them continues a run exactly."""

    def build():
        shared = [pytensor.shared(v.copy(), shape=v.shape) for v in problem["init"]]
        noise = [pt.tensor(dtype="float64", shape=v.shape) for v in problem["init"]]
        grads = [a * (p - c) + n for p, a, c, n in zip(shared, problem["a"], problem["c"], noise)]
        updates = symupdates.rprop(grads, shared, 0.05)
        return shared, updates, pytensor.function(noise, [], updates=updates)

    shared, updates, step = build()
    for t in range(10):
        step(*problem["noise"][t])
    saved = [p.get_value() for p in shared], symupdates.get_state_values(updates)
    for t in range(10, 20):
        step(*problem["noise"][t])
    expected = [p.get_value() for p in shared]

    shared2, updates2, step2 = build()
    for p, v in zip(shared2, saved[0]):
        p.set_value(v)
    symupdates.set_state_values(updates2, saved[1])
    for t in range(10, 20):
        step2(*problem["noise"][t])
    for mine, theirs in zip([p.get_value() for p in shared2], expected):
        np.testing.assert_array_equal(mine, theirs)
