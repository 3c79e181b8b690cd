"""The SGD, adaptive and sign-based rules against their reference implementations.

Every case runs one rule, with the keyword arguments of one of its
``anchors`` plus the case's hyperparameters, for 30 steps on the harness
problem (parameters of shapes (), (5,), (3, 4) and (2, 3, 2)) and compares
every parameter at every step with the reference:

* torch.optim: golden trajectories written by
  tests/reference/generate_torch_descent.py, and torch run live;
* optax: golden trajectories of tests/reference/generate_optax_sign.py;
* Keras 3: golden trajectories of tests/reference/generate_keras_descent.py;
* Chainer, Keras 2, Lasagne, lion-pytorch and momentum as a moving average: NumPy
  transcriptions of their published code and formulas, below, written from
  those sources and not from this package.

Each case names the reference's hyperparameters as the reference spells
them next to ours, so the table reads as a porting guide.
"""

import glob
import importlib.util
import os

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

import symupdates
from transcriptions import (
    chainer_adagrad,
    chainer_corrected_momentum_sgd,
    chainer_momentum_sgd,
    chainer_rmsprop,
    chainer_rmsprop_graves,
    chainer_smorms3,
    ema_momentum,
    keras2_adagrad,
    keras2_rmsprop,
    lasagne_momentum,
    lion_pytorch,
    zeros_like_all,
)
from harness import (
    DATA_DIR,
    assert_trajectories_close,
    load_trajectory,
    make_problem,
    numpy_trajectory,
    run_rule,
)

STEPS = 30
RTOL, ATOL = 1e-11, 1e-13
#: The rules this module covers; every anchor of each is exercised below.
RULES = [
    "sgd", "momentum", "nesterov_momentum", "asgd", "adagrad", "rmsprop", "adadelta", "rmsprop_graves",
    "smorms3", "sign_sgd", "signum", "lion", "rprop",
]


@pytest.fixture(scope="module")
def problem():
    return make_problem(steps=STEPS)


def our_trajectory(problem, rule, anchor, hyper):
    """Run ``rule`` with the anchor's keyword arguments overridden by ``hyper``."""
    kwargs = dict(symupdates.RULES[rule].anchors[anchor] if anchor else {}, **hyper)
    return run_rule(symupdates.RULES[rule], problem, **kwargs)


# ---------------------------------------------------------------------------
# torch.optim: case -> (our rule, anchor, our hyperparameters).  The torch
# arguments of each case are in tests/reference/generate_torch_descent.py.

TORCH = {
    # SGD()                                            (lr=1e-3)
    "sgd_defaults": ("sgd", "torch.optim.SGD", {}),
    # SGD(lr=0.05, weight_decay=0.1)
    "sgd_weight_decay": ("sgd", "torch.optim.SGD", {"learning_rate": 0.05, "weight_decay": 0.1}),
    # SGD(lr=0.02, maximize=True)
    "sgd_maximize": ("sgd", "torch.optim.SGD", {"learning_rate": 0.02, "maximize": True}),
    # SGD(lr=0.05, momentum=0.9)
    "sgd_momentum": ("momentum", "torch.optim.SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    # SGD(lr=0.05, momentum=0.8, dampening=0.5)
    "sgd_momentum_dampening": (
        "momentum", "torch.optim.SGD", {"learning_rate": 0.05, "momentum": 0.8, "dampening": 0.5},
    ),
    # SGD(lr=0.03, momentum=0.7, dampening=0.2, weight_decay=0.05, maximize=True)
    "sgd_momentum_all": (
        "momentum", "torch.optim.SGD",
        {"learning_rate": 0.03, "momentum": 0.7, "dampening": 0.2, "weight_decay": 0.05, "maximize": True},
    ),
    # SGD(lr=0.05, momentum=0.9, nesterov=True)
    "sgd_nesterov": ("nesterov_momentum", "torch.optim.SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    # SGD(lr=0.05, momentum=0.85, nesterov=True, weight_decay=0.1)
    "sgd_nesterov_weight_decay": (
        "momentum", "torch.optim.SGD",
        {"learning_rate": 0.05, "momentum": 0.85, "nesterov": True, "weight_decay": 0.1},
    ),
    # Adagrad()                                        (lr=1e-2, eps=1e-10)
    "adagrad_defaults": ("adagrad", "torch.optim.Adagrad", {}),
    # Adagrad(lr=0.3, lr_decay=0.05, initial_accumulator_value=0.2, weight_decay=0.02, eps=1e-6)
    "adagrad_options": (
        "adagrad", "torch.optim.Adagrad",
        {
            "learning_rate": 0.3, "learning_rate_decay": 0.05, "initial_accumulator_value": 0.2,
            "weight_decay": 0.02, "epsilon": 1e-6,
        },
    ),
    # Adagrad(lr=0.05, maximize=True)
    "adagrad_maximize": ("adagrad", "torch.optim.Adagrad", {"learning_rate": 0.05, "maximize": True}),
    # RMSprop()                                        (lr=1e-2, alpha=0.99, eps=1e-8)
    "rmsprop_defaults": ("rmsprop", "torch.optim.RMSprop", {}),
    # RMSprop(lr=0.01, alpha=0.9, centered=True)
    "rmsprop_centered": ("rmsprop", "torch.optim.RMSprop", {"learning_rate": 0.01, "rho": 0.9, "centered": True}),
    # RMSprop(lr=0.005, momentum=0.9)
    "rmsprop_momentum": ("rmsprop", "torch.optim.RMSprop", {"learning_rate": 0.005, "momentum": 0.9}),
    # RMSprop(lr=0.005, alpha=0.95, eps=1e-6, centered=True, momentum=0.8, weight_decay=0.01)
    "rmsprop_centered_momentum": (
        "rmsprop", "torch.optim.RMSprop",
        {
            "learning_rate": 0.005, "rho": 0.95, "epsilon": 1e-6, "centered": True, "momentum": 0.8,
            "weight_decay": 0.01,
        },
    ),
    # RMSprop(lr=0.01, maximize=True)
    "rmsprop_maximize": ("rmsprop", "torch.optim.RMSprop", {"learning_rate": 0.01, "maximize": True}),
    # Adadelta()                                       (lr=1.0, rho=0.9, eps=1e-6)
    "adadelta_defaults": ("adadelta", "torch.optim.Adadelta", {}),
    # Adadelta(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)
    "adadelta_options": (
        "adadelta", "torch.optim.Adadelta", {"learning_rate": 0.5, "rho": 0.8, "epsilon": 1e-5, "weight_decay": 0.1},
    ),
    # Adadelta(maximize=True)
    "adadelta_maximize": ("adadelta", "torch.optim.Adadelta", {"maximize": True}),
    # Rprop()                                          (lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50))
    "rprop_defaults": ("rprop", "torch.optim.Rprop", {}),
    # Rprop(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))
    "rprop_options": (
        "rprop", "torch.optim.Rprop",
        {"learning_rate": 0.05, "etaminus": 0.3, "etaplus": 1.5, "step_size_min": 1e-3, "step_size_max": 0.2},
    ),
    # Rprop(lr=0.02, maximize=True)
    "rprop_maximize": ("rprop", "torch.optim.Rprop", {"learning_rate": 0.02, "maximize": True}),
    # ASGD()                                           (lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6)
    "asgd_defaults": ("asgd", "torch.optim.ASGD", {}),
    # ASGD(lr=0.05, lambd=0.01, alpha=0.6, t0=5, weight_decay=0.01)
    "asgd_averaging": (
        "asgd", "torch.optim.ASGD",
        {"learning_rate": 0.05, "lambd": 0.01, "alpha": 0.6, "t0": 5, "weight_decay": 0.01},
    ),
    # ASGD(lr=0.01, t0=10, maximize=True)
    "asgd_maximize": ("asgd", "torch.optim.ASGD", {"learning_rate": 0.01, "t0": 10, "maximize": True}),
}

# optax: case -> (our rule, anchor, our hyperparameters); optax's arguments
# are in tests/reference/generate_optax_sign.py.
OPTAX = {
    "sign_sgd": ("sign_sgd", "optax.sign_sgd", {"learning_rate": 0.02}),
    "signum": ("signum", "optax.signum", {"learning_rate": 0.02}),
    "signum_beta": ("signum", "optax.signum", {"learning_rate": 0.05, "beta": 0.5}),
    "lion": ("lion", "optax.lion", {"learning_rate": 0.01}),
    "lion_options": (
        "lion", "optax.lion", {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.95, "weight_decay": 0.1},
    ),
    "lion_no_decay": ("lion", "optax.lion", {"learning_rate": 0.01, "weight_decay": 0.0}),
    "rmsprop": ("rmsprop", "optax.rmsprop", {"learning_rate": 0.01}),
    "rmsprop_eps_outside": (
        "rmsprop", "optax.rmsprop", {"learning_rate": 0.01, "epsilon": 1e-4, "epsilon_placement": "outside_sqrt"},
    ),
    "rmsprop_centered_momentum": (
        "rmsprop", "optax.rmsprop", {"learning_rate": 0.005, "centered": True, "momentum": 0.9},
    ),
    "rmsprop_nesterov_initial_scale": (
        "rmsprop", "optax.rmsprop",
        {"learning_rate": 0.005, "rho": 0.8, "momentum": 0.7, "nesterov": True, "initial_accumulator_value": 0.5},
    ),
    "rmsprop_centered_eps_outside": (
        "rmsprop", "optax.rmsprop",
        {"learning_rate": 0.01, "epsilon": 1e-3, "centered": True, "epsilon_placement": "outside_sqrt"},
    ),
    "adagrad": ("adagrad", "optax.adagrad", {"learning_rate": 0.1}),
    "adagrad_options": (
        "adagrad", "optax.adagrad", {"learning_rate": 0.3, "initial_accumulator_value": 0.5, "epsilon": 1e-4},
    ),
    "sgd": ("sgd", "optax.sgd", {"learning_rate": 0.05}),
    "sgd_momentum": ("momentum", "optax.sgd", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd_nesterov": ("nesterov_momentum", "optax.sgd", {"learning_rate": 0.05, "momentum": 0.8}),
    "adadelta": ("adadelta", "optax.adadelta", {"learning_rate": 0.5}),
    "adadelta_weight_decay": (
        "adadelta", "optax.adadelta", {"learning_rate": 1.0, "rho": 0.8, "epsilon": 1e-5, "weight_decay": 0.05},
    ),
}

# Keras 3: case -> (our rule, anchor, our hyperparameters); Keras' arguments
# are in tests/reference/generate_keras_descent.py.
KERAS = {
    "sgd_defaults": ("sgd", "keras.optimizers.SGD", {}),
    "sgd_momentum": ("momentum", "keras.optimizers.SGD", {"learning_rate": 0.05, "momentum": 0.9}),
    "sgd_nesterov": ("nesterov_momentum", "keras.optimizers.SGD", {"learning_rate": 0.05, "momentum": 0.8}),
    "rmsprop_defaults": ("rmsprop", "keras.optimizers.RMSprop", {}),
    "rmsprop_centered_momentum": (
        "rmsprop", "keras.optimizers.RMSprop",
        {"learning_rate": 0.005, "rho": 0.8, "centered": True, "momentum": 0.9},
    ),
    "rmsprop_momentum": (
        "rmsprop", "keras.optimizers.RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "epsilon": 1e-4},
    ),
    "adagrad_defaults": ("adagrad", "keras.optimizers.Adagrad", {}),
    "adagrad_options": (
        "adagrad", "keras.optimizers.Adagrad",
        {"learning_rate": 0.3, "initial_accumulator_value": 0.0, "epsilon": 1e-6},
    ),
    "adadelta_defaults": ("adadelta", "keras.optimizers.Adadelta", {}),
    "adadelta_options": ("adadelta", "keras.optimizers.Adadelta", {"learning_rate": 1.0, "rho": 0.9, "epsilon": 1e-6}),
}

GOLDEN = {"torch_descent": TORCH, "optax_sign": OPTAX, "keras_descent": KERAS}


@pytest.mark.parametrize(
    "prefix, case",
    [pytest.param(prefix, case, id="%s-%s" % (prefix, case)) for prefix, cases in GOLDEN.items() for case in cases],
)
def test_rule_matches_golden_trajectory(problem, prefix, case):
    rule, anchor, hyper = GOLDEN[prefix][case]
    reference = load_trajectory("%s_%s" % (prefix, case))
    assert_trajectories_close(our_trajectory(problem, rule, anchor, hyper), reference, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("prefix", sorted(GOLDEN))
def test_every_golden_trajectory_is_checked(prefix):
    files = glob.glob(os.path.join(DATA_DIR, prefix + "_*.npz"))
    cases = {os.path.basename(f)[len(prefix) + 1 : -len(".npz")] for f in files}
    assert cases == set(GOLDEN[prefix])


def torch_generator():
    pytest.importorskip("torch")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference", "generate_torch_descent.py")
    spec = importlib.util.spec_from_file_location("generate_torch_descent", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("case", sorted(TORCH))
def test_rule_matches_torch_live(problem, case):
    generator = torch_generator()
    assert set(generator.CASES) == set(TORCH)
    rule, anchor, hyper = TORCH[case]
    reference = generator.trajectory(case, problem)
    assert_trajectories_close(our_trajectory(problem, rule, anchor, hyper), reference, rtol=RTOL, atol=ATOL)


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


# ---------------------------------------------------------------------------
# NumPy transcriptions: Chainer's optimizers (chainer/optimizers/*.py),
# standalone Keras 2's optimizers, Lasagne's documented formulas,
# lion-pytorch, momentum as a moving average (Ng's deeplearning.ai form).
# Each returns (step, init_state) for harness.numpy_trajectory.


# case -> (our rule, anchor, our hyperparameters, transcription)
TRANSCRIBED = {
    "chainer_momentum_sgd": ("momentum", "chainer.optimizers.MomentumSGD", {}, chainer_momentum_sgd()),
    "chainer_momentum_sgd_lr": (
        "momentum", "chainer.optimizers.MomentumSGD", {"learning_rate": 0.05, "momentum": 0.7},
        chainer_momentum_sgd(lr=0.05, momentum=0.7),
    ),
    "chainer_corrected_momentum_sgd": (
        "momentum", "chainer.optimizers.CorrectedMomentumSGD", {}, chainer_corrected_momentum_sgd(),
    ),
    "chainer_corrected_momentum_sgd_lr": (
        "momentum", "chainer.optimizers.CorrectedMomentumSGD", {"learning_rate": 0.05, "momentum": 0.7},
        chainer_corrected_momentum_sgd(lr=0.05, momentum=0.7),
    ),
    "chainer_adagrad": ("adagrad", "chainer.optimizers.AdaGrad", {}, chainer_adagrad()),
    "chainer_adagrad_lr": (
        "adagrad", "chainer.optimizers.AdaGrad", {"learning_rate": 0.2, "epsilon": 1e-3},
        chainer_adagrad(lr=0.2, eps=1e-3),
    ),
    "chainer_rmsprop": ("rmsprop", "chainer.optimizers.RMSprop", {}, chainer_rmsprop()),
    "keras2_adagrad": ("adagrad", "keras2.optimizers.Adagrad", {}, keras2_adagrad()),
    "keras2_rmsprop": ("rmsprop", "keras2.optimizers.RMSprop", {}, keras2_rmsprop()),
    "keras2_rmsprop_options": (
        "rmsprop", "keras2.optimizers.RMSprop", {"learning_rate": 0.01, "rho": 0.8}, keras2_rmsprop(lr=0.01, rho=0.8),
    ),
    "chainer_rmsprop_graves": ("rmsprop_graves", "chainer.optimizers.RMSpropGraves", {}, chainer_rmsprop_graves()),
    "chainer_rmsprop_graves_options": (
        "rmsprop_graves", "chainer.optimizers.RMSpropGraves",
        {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.5, "epsilon": 1e-3},
        chainer_rmsprop_graves(lr=0.01, alpha=0.8, momentum=0.5, eps=1e-3),
    ),
    "chainer_smorms3": ("smorms3", "chainer.optimizers.SMORMS3", {}, chainer_smorms3()),
    "chainer_smorms3_options": (
        "smorms3", "chainer.optimizers.SMORMS3", {"learning_rate": 0.05, "epsilon": 1e-8},
        chainer_smorms3(lr=0.05, eps=1e-8),
    ),
    "lasagne_sgd": ("sgd", "lasagne.updates.sgd", {"learning_rate": 0.05}, lasagne_momentum(0.05, momentum=0.0)),
    "lasagne_momentum": ("momentum", "lasagne.updates.momentum", {"learning_rate": 0.05}, lasagne_momentum(0.05)),
    "lasagne_nesterov_momentum": (
        "nesterov_momentum", "lasagne.updates.nesterov_momentum", {"learning_rate": 0.05, "momentum": 0.8},
        lasagne_momentum(0.05, momentum=0.8, nesterov=True),
    ),
    "ema_momentum": (
        "momentum", None, {"learning_rate": 0.1, "momentum": 0.9, "dampening": 0.9, "learning_rate_in_velocity": False},
        ema_momentum(0.1, beta=0.9),
    ),
    "lion_pytorch": ("lion", "lion_pytorch.Lion", {}, lion_pytorch()),
    "lion_pytorch_decay": (
        "lion", "lion_pytorch.Lion", {"learning_rate": 0.01, "weight_decay": 0.5},
        lion_pytorch(lr=0.01, weight_decay=0.5),
    ),
}


@pytest.mark.parametrize("case", sorted(TRANSCRIBED))
def test_rule_matches_transcription(problem, case):
    rule, anchor, hyper, (step, init_state) = TRANSCRIBED[case]
    reference = numpy_trajectory(step, problem, init_state)
    assert_trajectories_close(our_trajectory(problem, rule, anchor, hyper), reference, rtol=RTOL, atol=ATOL)


def test_every_anchor_is_checked():
    checked = {(rule, anchor) for table in (TORCH, OPTAX, KERAS) for rule, anchor, _ in table.values()}
    checked |= {(rule, anchor) for rule, anchor, _, _ in TRANSCRIBED.values()}
    # Lasagne's adagrad, rmsprop and adadelta are checked against their
    # transcriptions in tests/test_formulas.py with the defaults ({}).
    checked |= {(rule, "lasagne.updates." + rule) for rule in ("adagrad", "rmsprop", "adadelta")}
    # Blocks' anchors are checked with the numbers of Blocks' own tests, in tests/test_blocks.py.
    checked |= {("sgd", "blocks.algorithms.Scale"), ("momentum", "blocks.algorithms.Momentum"),
                ("adagrad", "blocks.algorithms.AdaGrad"), ("rmsprop", "blocks.algorithms.RMSProp"),
                ("adadelta", "blocks.algorithms.AdaDelta")}
    checked.discard(("momentum", None))
    declared = {(rule, anchor) for rule in RULES for anchor in symupdates.RULES[rule].anchors}
    assert declared - checked == set()
    assert {rule for rule, _ in checked} == set(RULES)


def test_lasagne_anchors_are_the_defaults():
    lasagne = [rule for rule in RULES if "lasagne.updates." + rule in symupdates.RULES[rule].anchors]
    assert lasagne == ["sgd", "momentum", "nesterov_momentum", "adagrad", "rmsprop", "adadelta"]
    for rule in lasagne:
        assert symupdates.RULES[rule].anchors["lasagne.updates." + rule] == {}


# ---------------------------------------------------------------------------
# the switches: equivalences that hold by algebra


def test_dampening_with_first_step_dampened_is_the_moving_average_not_torch(problem):
    ours = our_trajectory(problem, "momentum", "torch.optim.SGD", {"learning_rate": 0.05, "dampening": 0.5,
                                                                    "momentum": 0.8, "dampen_first_step": True})
    torch_like = load_trajectory("torch_descent_sgd_momentum_dampening")
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
    rule, anchor, hyper = GOLDEN[prefix][case]
    single = make_problem(steps=STEPS, dtype="float32")
    ours = our_trajectory(single, rule, anchor, hyper)
    assert_trajectories_close(ours, load_trajectory("%s_%s" % (prefix, case)), rtol=1e-4, atol=1e-5)


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


@pytest.mark.parametrize("rule", RULES)
def test_partial_application(rule, problem):
    hyper = {"learning_rate": 0.01}
    partial = symupdates.RULES[rule](**hyper)
    assert callable(partial)
    assert_trajectories_close(
        run_rule(lambda g, p: partial(g, p), make_problem(steps=3)),
        run_rule(symupdates.RULES[rule], make_problem(steps=3), **hyper),
        rtol=0, atol=0,
    )


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
