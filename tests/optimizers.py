"""The optimizer database of the tests: one entry per registered rule.

In the spirit of torch's ``optim_db`` (torch/testing/_internal/common_optimizers.py)
and optax's ``_OPTIMIZERS_UNDER_TEST`` (optax/_src/alias_test.py): each
:class:`OptimizerInfo` holds what the tests know of one rule of
``symupdates.RULES``:

* ``cases``: its reference cases, each a :class:`Case` naming our keyword
  arguments and the reference's call.  A *golden* case (``source`` one of
  :data:`SOURCES`) is a trajectory written by ``tests/reference/generate.py``
  from torch, optax or Keras into ``tests/reference/data/<source>_<case>.npz``;
  a *transcription* case (``source="numpy"``) runs a NumPy transcription of
  ``tests/transcriptions.py``.  ``anchor`` names the reference the rule
  declares (``symupdates.RULES[name].anchors``) that the case checks;
  ``exact`` that it runs exactly the anchor's arguments (plus a learning
  rate where the reference has no default).
* ``required``: the arguments without which the rule cannot be built on any
  parameter (a learning rate without default, Muon's fallback rule for
  non-matrices); :func:`arguments` gives them, built.
* ``hyper``: non-default hyperparameters of the rules in the dtype matrix
  (``tests/test_dtypes.py``), so that a dropped or mis-cast one changes the
  numbers.
* ``elementwise``: the hypothesis ranges of an element-wise rule's
  hyperparameters and its transcription (``tests/test_hypothesis.py``), or
  why the rule is not element-wise.
* switches: ``overflowing`` (its reference overflows on finite gradients
  whose square does not fit, ``tests/test_reliability.py``),
  ``bad_and_good`` (argument values to refuse and accept where this rule's
  range differs from the others'), ``large`` (a transcription for the
  multi-threaded kernels of ``tests/test_backends.py``), ``probe_shape``
  (the parameter shape of the partial-application tests),
  ``steps_at_learning_rate_0`` (a bound on the step that does not scale
  with the learning rate), ``elsewhere``
  (references checked by a module of their own).

``tests/test_optimizers.py`` checks that the table covers exactly
``symupdates.RULES`` and that every declared anchor is checked.
"""

import dataclasses
from typing import Any, Callable, Optional

import numpy as np

import symupdates
import transcriptions as T

#: The golden sources: ``tests/reference/run_<library>.py`` runs each, ``tests/reference/generate.py`` writes them.
SOURCES = ["torch_core", "torch_adam", "torch_descent", "torch_matrix", "optax_adam", "optax_sign",
           "optax_layerwise", "keras_adam", "keras_descent"]

SHAPES = [(), (5,), (3, 4), (2, 3, 2)]
WIDE = [(), (5,), (3, 4), (2, 3, 2), (5, 3, 2)]
MATRICES = [(3, 4), (5, 2), (4, 4)]
MIXED = [(), (5,), (3, 4), (2, 3, 2), (5, 2)]
MASK = [True, False, True, True]

# Tolerances.  The implementations order their operations differently (lerp
# against beta * m + (1 - beta) * g, sqrt(v / c) against sqrt(v) / sqrt(c),
# norms as sqrt(sum(x*x)) or jnp.linalg.norm, ...); over a run the rounding
# differences stay within a few units in the last place, far below what any
# switch changes (the wrong-switch tests of tests/test_rules_*.py).
FLOAT64 = (1e-11, 1e-13)
FLOAT32 = (2e-4, 2e-5)
#: torch_core's cases: forms that coincide exactly, and 30 steps
CORE = (1e-12, 1e-14)
#: the published formulas, 25 steps
PUBLISHED = dict(steps=25, tolerance=(1e-13, 1e-15), moves=1e-6)
#: optax.adafactor computes its decay rate 1 - t**-0.8 in float32 even for
#: float64 parameters (tests/test_rules_matrix.py shows that this is the whole difference)
OPTAX_FLOAT32_DECAY = (1e-5, 1e-8)
#: torch's Muon orthogonalises in bfloat16 (8 significant bits): each step is
#: off by up to about 1% of its size ``lr``; over 25 steps the matrices stay
#: within 0.6 lr of a float64 computation (the others: FLOAT64).
BFLOAT16 = "bfloat16"

#: per source: steps, and the distance every parameter of a golden trajectory
#: must travel (the comparison tests something) and whether it must stay
#: bounded (a relative tolerance on a diverging trajectory hides errors)
SOURCE_DEFAULTS = {
    "torch_core": dict(steps=30, tolerance=CORE, moves=1e-4),
    "torch_adam": dict(steps=30, moves=1e-5),
    "optax_adam": dict(steps=30, moves=1e-5),
    "keras_adam": dict(steps=30, moves=1e-5),
    "torch_descent": dict(steps=30),
    "optax_sign": dict(steps=30),
    "keras_descent": dict(steps=30),
    "torch_matrix": dict(steps=25, moves=1e-6, bounded=True),
    "optax_layerwise": dict(steps=25, moves=1e-6, bounded=True),
    "numpy": dict(steps=30),
}


@dataclasses.dataclass(frozen=True)
class Case:
    """One reference case: our call, the reference's call, the problem."""

    source: str  #: a golden source of SOURCES, or "numpy" for a transcription
    case: str
    ours: dict  #: our keyword arguments
    #: golden: (the reference's class or function name, its keyword arguments);
    #: numpy: (a function of tests/transcriptions.py, its keyword arguments)
    reference: tuple
    anchor: Optional[str] = None
    exact: bool = False
    rule: str = ""  #: filled in by OptimizerInfo
    steps: Optional[int] = None
    shapes: Any = tuple(SHAPES)
    dtype: str = "float64"
    zero_init: tuple = ()  #: parameters that start at zero (conventions at a zero norm)
    #: Muon's fallback: (our rule, its kwargs, the reference's class, its kwargs)
    fallback: Optional[tuple] = None
    tolerance: Any = None  #: (rtol, atol), or BFLOAT16
    moves: Optional[float] = None
    bounded: bool = False

    def __post_init__(self):
        defaults = SOURCE_DEFAULTS[self.source]
        if self.steps is None:
            object.__setattr__(self, "steps", defaults["steps"])
        if self.tolerance is None:
            object.__setattr__(self, "tolerance", defaults.get("tolerance", FLOAT32 if self.dtype == "float32"
                                                                   else FLOAT64))
        for field in ("moves", "bounded"):
            if field in defaults and getattr(self, field) in (None, False):
                object.__setattr__(self, field, defaults[field])

    @property
    def id(self):
        return "%s-%s" % (self.source, self.case)

    @property
    def golden(self):
        return self.source != "numpy"

    @property
    def file_name(self):
        """The golden file, ``tests/reference/data/<file_name>.npz``."""
        assert self.golden, self
        return "%s_%s" % (self.source, self.case)

    def problem(self, dtype=None):
        """The harness problem of this case (in ``dtype`` if given)."""
        import harness

        problem = harness.make_problem(steps=self.steps, shapes=list(self.shapes), dtype=dtype or self.dtype)
        for i in self.zero_init:
            problem["init"][i] = np.zeros_like(problem["init"][i])
        return problem

    def arguments(self, **extra):
        """Our keyword arguments, with the fallback rule built."""
        kwargs = dict(self.ours, **extra)
        if self.fallback is not None:
            rule, fallback_kwargs = self.fallback[:2]
            kwargs["fallback"] = symupdates.RULES[rule](**fallback_kwargs)
        return kwargs

    def transcription(self, dtype=None):
        """``(step, init_state)`` of a transcription case."""
        function, kwargs = self.reference
        return function(**kwargs) if dtype is None else function(dtype=dtype, **kwargs)


@dataclasses.dataclass(frozen=True)
class Elementwise:
    """An element-wise rule's hyperparameter ranges (in range, away from
    degenerate corners) and its transcription called with drawn values."""

    ranges: dict
    transcription: Callable


# hypothesis ranges
LR, DECAY, EPS = (1e-3, 0.5), (0.0, 0.99), (1e-8, 1e-2)
# values to refuse and accept, where a rule's range differs from the others' (tests/test_reliability.py)
NAN = float("nan")
UNIT = ([-0.5, 1.01, NAN, float("inf")], [0.0, 1.0])


@dataclasses.dataclass
class OptimizerInfo:
    name: str
    elementwise: Any  #: an Elementwise, or a string: why the rule is not element-wise
    cases: list = dataclasses.field(default_factory=list)
    required: dict = dataclasses.field(default_factory=dict)
    hyper: Optional[dict] = None
    overflowing: bool = False
    bad_and_good: dict = dataclasses.field(default_factory=dict)
    large: Optional[tuple] = None
    probe_shape: tuple = (3,)
    #: the rule steps even at a learning rate of 0 (a bound on the step that does not scale with it)
    steps_at_learning_rate_0: bool = False
    elsewhere: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.cases = [dataclasses.replace(case, rule=self.name) for case in self.cases]

    @property
    def rule(self):
        return symupdates.RULES[self.name]


DATABASE = [
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'sgd',
        cases=[
            Case(source='torch_core', case='sgd', ours={'learning_rate': 0.1}, reference=('SGD', {'lr': 0.1})),
            Case(source='torch_descent', case='sgd_defaults', ours={'learning_rate': 0.001}, reference=('SGD', {}),
                 anchor='torch.optim.SGD'),
            Case(source='torch_descent', case='sgd_weight_decay', ours={'learning_rate': 0.05, 'weight_decay': 0.1},
                 reference=('SGD', {'lr': 0.05, 'weight_decay': 0.1}), anchor='torch.optim.SGD'),
            Case(source='torch_descent', case='sgd_maximize', ours={'learning_rate': 0.02, 'maximize': True},
                 reference=('SGD', {'lr': 0.02, 'maximize': True}), anchor='torch.optim.SGD'),
            Case(source='optax_sign', case='sgd', ours={'learning_rate': 0.05},
                 reference=('sgd', {'learning_rate': 0.05}), anchor='optax.sgd'),
            Case(source='keras_descent', case='sgd_defaults', ours={'learning_rate': 0.01}, reference=('SGD', {}),
                 anchor='keras.optimizers.SGD'),
            Case(source='numpy', case='lasagne_sgd', ours={'learning_rate': 0.05},
                 reference=(T.lasagne_momentum, {'learning_rate': 0.05, 'momentum': 0.0}),
                 anchor='lasagne.updates.sgd'),
            Case(source='numpy', case='published_sgd', ours={'learning_rate': 0.1},
                 reference=(T.reference_sgd, {'learning_rate': 0.1}), **PUBLISHED),
            Case(source='numpy', case='published_sgd_options', ours={'learning_rate': 0.7},
                 reference=(T.reference_sgd, {'learning_rate': 0.7}), **PUBLISHED),
        ],
        hyper={'learning_rate': 0.1},
        elementwise=Elementwise({'learning_rate': LR}, lambda h: T.reference_sgd(h['learning_rate'])),
        elsewhere={'blocks.algorithms.Scale': 'tests/test_blocks.py'},
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'momentum',
        cases=[
            Case(source='torch_core', case='momentum', ours={'learning_rate': 0.05, 'momentum': 0.8},
                 reference=('SGD', {'lr': 0.05, 'momentum': 0.8})),
            Case(source='torch_descent', case='sgd_momentum',
                 ours={'learning_rate': 0.05, 'learning_rate_in_velocity': False, 'dampen_first_step': False,
                       'momentum': 0.9}, reference=('SGD', {'lr': 0.05, 'momentum': 0.9}), anchor='torch.optim.SGD'),
            Case(source='torch_descent', case='sgd_momentum_dampening',
                 ours={'learning_rate': 0.05, 'learning_rate_in_velocity': False, 'dampen_first_step': False,
                       'momentum': 0.8, 'dampening': 0.5},
                 reference=('SGD', {'lr': 0.05, 'momentum': 0.8, 'dampening': 0.5}), anchor='torch.optim.SGD'),
            Case(source='torch_descent', case='sgd_momentum_all',
                 ours={'learning_rate': 0.03, 'learning_rate_in_velocity': False, 'dampen_first_step': False,
                       'momentum': 0.7, 'dampening': 0.2, 'weight_decay': 0.05, 'maximize': True},
                 reference=('SGD',
                            {'lr': 0.03, 'momentum': 0.7, 'dampening': 0.2, 'weight_decay': 0.05, 'maximize': True}),
                 anchor='torch.optim.SGD'),
            Case(source='torch_descent', case='sgd_nesterov_weight_decay',
                 ours={'learning_rate': 0.05, 'learning_rate_in_velocity': False, 'dampen_first_step': False,
                       'momentum': 0.85, 'nesterov': True, 'weight_decay': 0.1},
                 reference=('SGD', {'lr': 0.05, 'momentum': 0.85, 'nesterov': True, 'weight_decay': 0.1}),
                 anchor='torch.optim.SGD'),
            Case(source='optax_sign', case='sgd_momentum',
                 ours={'learning_rate_in_velocity': False, 'learning_rate': 0.05, 'momentum': 0.9},
                 reference=('sgd', {'learning_rate': 0.05, 'momentum': 0.9}), anchor='optax.sgd'),
            Case(source='keras_descent', case='sgd_momentum', ours={'learning_rate': 0.05, 'momentum': 0.9},
                 reference=('SGD', {'learning_rate': 0.05, 'momentum': 0.9}), anchor='keras.optimizers.SGD'),
            Case(source='numpy', case='chainer_momentum_sgd', ours={'learning_rate': 0.01},
                 reference=(T.chainer_momentum_sgd, {}), anchor='chainer.optimizers.MomentumSGD'),
            Case(source='numpy', case='chainer_momentum_sgd_lr', ours={'learning_rate': 0.05, 'momentum': 0.7},
                 reference=(T.chainer_momentum_sgd, {'lr': 0.05, 'momentum': 0.7}),
                 anchor='chainer.optimizers.MomentumSGD'),
            Case(source='numpy', case='chainer_corrected_momentum_sgd',
                 ours={'learning_rate': 0.01, 'learning_rate_in_velocity': False},
                 reference=(T.chainer_corrected_momentum_sgd, {}), anchor='chainer.optimizers.CorrectedMomentumSGD'),
            Case(source='numpy', case='chainer_corrected_momentum_sgd_lr',
                 ours={'learning_rate': 0.05, 'learning_rate_in_velocity': False, 'momentum': 0.7},
                 reference=(T.chainer_corrected_momentum_sgd, {'lr': 0.05, 'momentum': 0.7}),
                 anchor='chainer.optimizers.CorrectedMomentumSGD'),
            Case(source='numpy', case='lasagne_momentum', ours={'learning_rate': 0.05},
                 reference=(T.lasagne_momentum, {'learning_rate': 0.05}), anchor='lasagne.updates.momentum'),
            Case(source='numpy', case='ema_momentum',
                 ours={'learning_rate': 0.1, 'momentum': 0.9, 'dampening': 0.9, 'learning_rate_in_velocity': False},
                 reference=(T.ema_momentum, {'learning_rate': 0.1, 'beta': 0.9})),
            Case(source='numpy', case='published_momentum', ours={'learning_rate': 0.1},
                 reference=(T.reference_momentum, {'learning_rate': 0.1}), **PUBLISHED),
            Case(source='numpy', case='published_momentum_options', ours={'learning_rate': 0.05, 'momentum': 0.6},
                 reference=(T.reference_momentum, {'learning_rate': 0.05, 'momentum': 0.6}), **PUBLISHED),
        ],
        hyper={'learning_rate': 0.1, 'momentum': 0.8},
        elementwise=Elementwise({'learning_rate': LR, 'momentum': DECAY}, lambda h: T.reference_momentum(**h)),
        elsewhere={'blocks.algorithms.Momentum': 'tests/test_blocks.py'},
        large=(T.reference_momentum, {'learning_rate': 1e-3}),  # momentum's default learning rate (PyMC's)
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'nesterov_momentum',
        cases=[
            Case(source='torch_core', case='nesterov_momentum', ours={'learning_rate': 0.05, 'momentum': 0.8},
                 reference=('SGD', {'lr': 0.05, 'momentum': 0.8, 'nesterov': True})),
            Case(source='torch_descent', case='sgd_nesterov',
                 ours={'learning_rate': 0.05, 'learning_rate_in_velocity': False, 'dampen_first_step': False,
                       'momentum': 0.9}, reference=('SGD', {'lr': 0.05, 'momentum': 0.9, 'nesterov': True}),
                 anchor='torch.optim.SGD'),
            Case(source='optax_sign', case='sgd_nesterov',
                 ours={'learning_rate_in_velocity': False, 'learning_rate': 0.05, 'momentum': 0.8},
                 reference=('sgd', {'learning_rate': 0.05, 'momentum': 0.8, 'nesterov': True}), anchor='optax.sgd'),
            Case(source='keras_descent', case='sgd_nesterov', ours={'learning_rate': 0.05, 'momentum': 0.8},
                 reference=('SGD', {'learning_rate': 0.05, 'momentum': 0.8, 'nesterov': True}),
                 anchor='keras.optimizers.SGD'),
            Case(source='numpy', case='lasagne_nesterov_momentum', ours={'learning_rate': 0.05, 'momentum': 0.8},
                 reference=(T.lasagne_momentum, {'learning_rate': 0.05, 'momentum': 0.8, 'nesterov': True}),
                 anchor='lasagne.updates.nesterov_momentum'),
            Case(source='numpy', case='published_nesterov_momentum', ours={'learning_rate': 0.1},
                 reference=(T.reference_nesterov_momentum, {'learning_rate': 0.1}), **PUBLISHED),
            Case(source='numpy', case='published_nesterov_momentum_options',
                 ours={'learning_rate': 0.05, 'momentum': 0.6},
                 reference=(T.reference_nesterov_momentum, {'learning_rate': 0.05, 'momentum': 0.6}), **PUBLISHED),
        ],
        hyper={'learning_rate': 0.1, 'momentum': 0.8},
        elementwise=Elementwise({'learning_rate': LR, 'momentum': DECAY}, lambda h: T.reference_nesterov_momentum(**h)),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'asgd',
        cases=[
            Case(source='torch_descent', case='asgd_defaults', ours={}, reference=('ASGD', {}),
                 anchor='torch.optim.ASGD'),
            Case(source='torch_descent', case='asgd_averaging',
                 ours={'learning_rate': 0.05, 'lambd': 0.01, 'alpha': 0.6, 't0': 5, 'weight_decay': 0.01},
                 reference=('ASGD', {'lr': 0.05, 'lambd': 0.01, 'alpha': 0.6, 't0': 5, 'weight_decay': 0.01}),
                 anchor='torch.optim.ASGD'),
            Case(source='torch_descent', case='asgd_maximize', ours={'learning_rate': 0.01, 't0': 10, 'maximize': True},
                 reference=('ASGD', {'lr': 0.01, 't0': 10, 'maximize': True}), anchor='torch.optim.ASGD'),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'lambd': (0.0, 1.0), 'alpha': (0.0, 1.0), 't0': (0.0, 10.0)},
                                lambda h: T.torch_asgd(h['learning_rate'], h['lambd'], h['alpha'], h['t0'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adagrad',
        cases=[
            Case(source='torch_core', case='adagrad', ours={'learning_rate': 0.3, 'epsilon': 0.0},
                 reference=('Adagrad', {'lr': 0.3, 'eps': 0.0})),
            Case(source='torch_descent', case='adagrad_defaults',
                 ours={'learning_rate': 0.01, 'epsilon': 1e-10, 'epsilon_placement': 'outside_sqrt'},
                 reference=('Adagrad', {}), anchor='torch.optim.Adagrad'),
            Case(source='torch_descent', case='adagrad_options',
                 ours={'learning_rate': 0.3, 'epsilon': 1e-06, 'epsilon_placement': 'outside_sqrt',
                       'learning_rate_decay': 0.05, 'initial_accumulator_value': 0.2, 'weight_decay': 0.02},
                 reference=('Adagrad',
                            {'lr': 0.3, 'lr_decay': 0.05, 'initial_accumulator_value': 0.2, 'weight_decay': 0.02,
                             'eps': 1e-06}), anchor='torch.optim.Adagrad'),
            Case(source='torch_descent', case='adagrad_maximize',
                 ours={'learning_rate': 0.05, 'epsilon': 1e-10, 'epsilon_placement': 'outside_sqrt', 'maximize': True},
                 reference=('Adagrad', {'lr': 0.05, 'maximize': True}), anchor='torch.optim.Adagrad'),
            Case(source='optax_sign', case='adagrad',
                 ours={'epsilon': 1e-07, 'initial_accumulator_value': 0.1, 'learning_rate': 0.1},
                 reference=('adagrad', {'learning_rate': 0.1}), anchor='optax.adagrad'),
            Case(source='optax_sign', case='adagrad_options',
                 ours={'epsilon': 0.0001, 'initial_accumulator_value': 0.5, 'learning_rate': 0.3},
                 reference=('adagrad', {'learning_rate': 0.3, 'initial_accumulator_value': 0.5, 'eps': 0.0001}),
                 anchor='optax.adagrad'),
            Case(source='keras_descent', case='adagrad_defaults',
                 ours={'learning_rate': 0.001, 'epsilon': 1e-07, 'initial_accumulator_value': 0.1},
                 reference=('Adagrad', {}), anchor='keras.optimizers.Adagrad'),
            Case(source='keras_descent', case='adagrad_options',
                 ours={'learning_rate': 0.3, 'epsilon': 1e-06, 'initial_accumulator_value': 0.0},
                 reference=('Adagrad', {'learning_rate': 0.3, 'initial_accumulator_value': 0.0, 'epsilon': 1e-06}),
                 anchor='keras.optimizers.Adagrad'),
            Case(source='numpy', case='chainer_adagrad',
                 ours={'learning_rate': 0.001, 'epsilon': 1e-08, 'epsilon_placement': 'outside_sqrt'},
                 reference=(T.chainer_adagrad, {}), anchor='chainer.optimizers.AdaGrad'),
            Case(source='numpy', case='chainer_adagrad_lr',
                 ours={'learning_rate': 0.2, 'epsilon': 0.001, 'epsilon_placement': 'outside_sqrt'},
                 reference=(T.chainer_adagrad, {'lr': 0.2, 'eps': 0.001}), anchor='chainer.optimizers.AdaGrad'),
            Case(source='numpy', case='keras2_adagrad',
                 ours={'learning_rate': 0.01, 'epsilon': 1e-07, 'epsilon_placement': 'outside_sqrt'},
                 reference=(T.keras2_adagrad, {}), anchor='keras2.optimizers.Adagrad'),
            Case(source='numpy', case='published_adagrad', ours={}, reference=(T.reference_adagrad, {}),
                 anchor='lasagne.updates.adagrad', exact=True, **PUBLISHED),
            Case(source='numpy', case='published_adagrad_options', ours={'learning_rate': 0.3, 'epsilon': 0.001},
                 reference=(T.reference_adagrad, {'learning_rate': 0.3, 'epsilon': 0.001}), **PUBLISHED),
        ],
        hyper={'learning_rate': 0.3, 'epsilon': 1e-4},
        elementwise=Elementwise({'learning_rate': LR, 'epsilon': EPS}, lambda h: T.reference_adagrad(**h)),
        elsewhere={'blocks.algorithms.AdaGrad': 'tests/test_blocks.py'},
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'rmsprop',
        cases=[
            Case(source='torch_core', case='rmsprop', ours={'learning_rate': 0.02, 'rho': 0.8, 'epsilon': 0.0},
                 reference=('RMSprop', {'lr': 0.02, 'alpha': 0.8, 'eps': 0.0})),
            Case(source='torch_descent', case='rmsprop_defaults',
                 ours={'learning_rate': 0.01, 'rho': 0.99, 'epsilon': 1e-08, 'epsilon_placement': 'outside_sqrt',
                       'learning_rate_in_velocity': False}, reference=('RMSprop', {}), anchor='torch.optim.RMSprop'),
            Case(source='torch_descent', case='rmsprop_centered',
                 ours={'learning_rate': 0.01, 'rho': 0.9, 'epsilon': 1e-08, 'epsilon_placement': 'outside_sqrt',
                       'learning_rate_in_velocity': False, 'centered': True},
                 reference=('RMSprop', {'lr': 0.01, 'alpha': 0.9, 'centered': True}), anchor='torch.optim.RMSprop'),
            Case(source='torch_descent', case='rmsprop_momentum',
                 ours={'learning_rate': 0.005, 'rho': 0.99, 'epsilon': 1e-08, 'epsilon_placement': 'outside_sqrt',
                       'learning_rate_in_velocity': False, 'momentum': 0.9},
                 reference=('RMSprop', {'lr': 0.005, 'momentum': 0.9}), anchor='torch.optim.RMSprop'),
            Case(source='torch_descent', case='rmsprop_centered_momentum',
                 ours={'learning_rate': 0.005, 'rho': 0.95, 'epsilon': 1e-06, 'epsilon_placement': 'outside_sqrt',
                       'learning_rate_in_velocity': False, 'centered': True, 'momentum': 0.8, 'weight_decay': 0.01},
                 reference=('RMSprop',
                            {'lr': 0.005, 'alpha': 0.95, 'eps': 1e-06, 'centered': True, 'momentum': 0.8,
                             'weight_decay': 0.01}), anchor='torch.optim.RMSprop'),
            Case(source='torch_descent', case='rmsprop_maximize',
                 ours={'learning_rate': 0.01, 'rho': 0.99, 'epsilon': 1e-08, 'epsilon_placement': 'outside_sqrt',
                       'learning_rate_in_velocity': False, 'maximize': True},
                 reference=('RMSprop', {'lr': 0.01, 'maximize': True}), anchor='torch.optim.RMSprop'),
            Case(source='optax_sign', case='rmsprop', ours={'epsilon': 1e-08, 'learning_rate': 0.01},
                 reference=('rmsprop', {'learning_rate': 0.01}), anchor='optax.rmsprop'),
            Case(source='optax_sign', case='rmsprop_eps_outside',
                 ours={'epsilon': 0.0001, 'learning_rate': 0.01, 'epsilon_placement': 'outside_sqrt'},
                 reference=('rmsprop', {'learning_rate': 0.01, 'eps': 0.0001, 'eps_in_sqrt': False}),
                 anchor='optax.rmsprop'),
            Case(source='optax_sign', case='rmsprop_centered_momentum',
                 ours={'epsilon': 1e-08, 'learning_rate': 0.005, 'centered': True, 'momentum': 0.9},
                 reference=('rmsprop', {'learning_rate': 0.005, 'centered': True, 'momentum': 0.9}),
                 anchor='optax.rmsprop'),
            Case(source='optax_sign', case='rmsprop_nesterov_initial_scale',
                 ours={'epsilon': 1e-08, 'learning_rate': 0.005, 'rho': 0.8, 'momentum': 0.7, 'nesterov': True,
                       'initial_accumulator_value': 0.5},
                 reference=('rmsprop',
                            {'learning_rate': 0.005, 'decay': 0.8, 'momentum': 0.7, 'nesterov': True,
                             'initial_scale': 0.5}), anchor='optax.rmsprop'),
            Case(source='optax_sign', case='rmsprop_centered_eps_outside',
                 ours={'epsilon': 0.001, 'learning_rate': 0.01, 'centered': True, 'epsilon_placement': 'outside_sqrt'},
                 reference=('rmsprop', {'learning_rate': 0.01, 'eps': 0.001, 'centered': True, 'eps_in_sqrt': False}),
                 anchor='optax.rmsprop'),
            Case(source='keras_descent', case='rmsprop_defaults', ours={'learning_rate': 0.001, 'epsilon': 1e-07},
                 reference=('RMSprop', {}), anchor='keras.optimizers.RMSprop'),
            Case(source='keras_descent', case='rmsprop_centered_momentum',
                 ours={'learning_rate': 0.005, 'epsilon': 1e-07, 'rho': 0.8, 'centered': True, 'momentum': 0.9},
                 reference=('RMSprop', {'learning_rate': 0.005, 'rho': 0.8, 'centered': True, 'momentum': 0.9}),
                 anchor='keras.optimizers.RMSprop'),
            Case(source='keras_descent', case='rmsprop_momentum',
                 ours={'learning_rate': 0.01, 'epsilon': 0.0001, 'momentum': 0.5},
                 reference=('RMSprop', {'learning_rate': 0.01, 'momentum': 0.5, 'epsilon': 0.0001}),
                 anchor='keras.optimizers.RMSprop'),
            Case(source='numpy', case='chainer_rmsprop',
                 ours={'learning_rate': 0.01, 'rho': 0.99, 'epsilon': 1e-08, 'epsilon_placement': 'outside_sqrt'},
                 reference=(T.chainer_rmsprop, {}), anchor='chainer.optimizers.RMSprop'),
            Case(source='numpy', case='keras2_rmsprop',
                 ours={'learning_rate': 0.001, 'epsilon': 1e-07, 'epsilon_placement': 'outside_sqrt'},
                 reference=(T.keras2_rmsprop, {}), anchor='keras2.optimizers.RMSprop'),
            Case(source='numpy', case='keras2_rmsprop_options',
                 ours={'learning_rate': 0.01, 'epsilon': 1e-07, 'epsilon_placement': 'outside_sqrt', 'rho': 0.8},
                 reference=(T.keras2_rmsprop, {'lr': 0.01, 'rho': 0.8}), anchor='keras2.optimizers.RMSprop'),
            Case(source='numpy', case='published_rmsprop', ours={}, reference=(T.reference_rmsprop, {}),
                 anchor='lasagne.updates.rmsprop', exact=True, **PUBLISHED),
            Case(source='numpy', case='published_rmsprop_options',
                 ours={'learning_rate': 0.05, 'rho': 0.7, 'epsilon': 0.0001},
                 reference=(T.reference_rmsprop, {'learning_rate': 0.05, 'rho': 0.7, 'epsilon': 0.0001}), **PUBLISHED),
        ],
        hyper={'learning_rate': 0.03, 'rho': 0.8, 'epsilon': 1e-4},
        elementwise=Elementwise({'learning_rate': LR, 'rho': DECAY, 'epsilon': EPS},
                                lambda h: T.reference_rmsprop(**h)),
        elsewhere={'blocks.algorithms.RMSProp': 'tests/test_blocks.py'},
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adadelta',
        cases=[
            Case(source='torch_core', case='adadelta', ours={'rho': 0.9, 'epsilon': 1e-06},
                 reference=('Adadelta', {'lr': 1.0, 'rho': 0.9, 'eps': 1e-06})),
            Case(source='torch_core', case='adadelta_lr', ours={'learning_rate': 0.5, 'rho': 0.8, 'epsilon': 0.0001},
                 reference=('Adadelta', {'lr': 0.5, 'rho': 0.8, 'eps': 0.0001})),
            Case(source='torch_descent', case='adadelta_defaults', ours={'rho': 0.9}, reference=('Adadelta', {}),
                 anchor='torch.optim.Adadelta'),
            Case(source='torch_descent', case='adadelta_options',
                 ours={'rho': 0.8, 'learning_rate': 0.5, 'epsilon': 1e-05, 'weight_decay': 0.1},
                 reference=('Adadelta', {'lr': 0.5, 'rho': 0.8, 'eps': 1e-05, 'weight_decay': 0.1}),
                 anchor='torch.optim.Adadelta'),
            Case(source='torch_descent', case='adadelta_maximize', ours={'rho': 0.9, 'maximize': True},
                 reference=('Adadelta', {'maximize': True}), anchor='torch.optim.Adadelta'),
            Case(source='optax_sign', case='adadelta', ours={'rho': 0.9, 'learning_rate': 0.5},
                 reference=('adadelta', {'learning_rate': 0.5}), anchor='optax.adadelta'),
            Case(source='optax_sign', case='adadelta_weight_decay',
                 ours={'rho': 0.8, 'learning_rate': 1.0, 'epsilon': 1e-05, 'weight_decay': 0.05},
                 reference=('adadelta', {'learning_rate': 1.0, 'rho': 0.8, 'eps': 1e-05, 'weight_decay': 0.05}),
                 anchor='optax.adadelta'),
            Case(source='keras_descent', case='adadelta_defaults', ours={'learning_rate': 0.001, 'epsilon': 1e-07},
                 reference=('Adadelta', {}), anchor='keras.optimizers.Adadelta'),
            Case(source='keras_descent', case='adadelta_options',
                 ours={'learning_rate': 1.0, 'epsilon': 1e-06, 'rho': 0.9},
                 reference=('Adadelta', {'learning_rate': 1.0, 'rho': 0.9, 'epsilon': 1e-06}),
                 anchor='keras.optimizers.Adadelta'),
            Case(source='numpy', case='published_adadelta', ours={}, reference=(T.reference_adadelta, {}),
                 anchor='lasagne.updates.adadelta', exact=True, **PUBLISHED),
            Case(source='numpy', case='published_adadelta_options',
                 ours={'learning_rate': 0.5, 'rho': 0.8, 'epsilon': 0.001},
                 reference=(T.reference_adadelta, {'learning_rate': 0.5, 'rho': 0.8, 'epsilon': 0.001}), **PUBLISHED),
        ],
        hyper={'learning_rate': 0.9, 'rho': 0.9, 'epsilon': 1e-4},
        elementwise=Elementwise({'learning_rate': LR, 'rho': DECAY, 'epsilon': EPS},
                                lambda h: T.reference_adadelta(**h)),
        elsewhere={'blocks.algorithms.AdaDelta': 'tests/test_blocks.py'},
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adagrad_window',
        cases=[
            Case(source='numpy', case='published_adagrad_window', ours={}, reference=(T.reference_adagrad_window, {}),
                 **PUBLISHED),
            Case(source='numpy', case='published_adagrad_window_options',
                 ours={'learning_rate': 0.2, 'epsilon': 0.01, 'n_win': 3},
                 reference=(T.reference_adagrad_window, {'learning_rate': 0.2, 'epsilon': 0.01, 'n_win': 3}),
                 **PUBLISHED),
        ],
        hyper={'learning_rate': 0.2, 'epsilon': 0.01},
        elementwise='a window of past gradients',
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'rmsprop_graves',
        cases=[
            Case(source='numpy', case='chainer_rmsprop_graves', ours={}, reference=(T.chainer_rmsprop_graves, {}),
                 anchor='chainer.optimizers.RMSpropGraves'),
            Case(source='numpy', case='chainer_rmsprop_graves_options',
                 ours={'learning_rate': 0.01, 'rho': 0.8, 'momentum': 0.5, 'epsilon': 0.001},
                 reference=(T.chainer_rmsprop_graves, {'lr': 0.01, 'alpha': 0.8, 'momentum': 0.5, 'eps': 0.001}),
                 anchor='chainer.optimizers.RMSpropGraves'),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'rho': DECAY, 'momentum': DECAY, 'epsilon': (1e-4, 1e-2)},
                                lambda h: T.chainer_rmsprop_graves(h['learning_rate'], h['rho'], h['momentum'],
                                                                   h['epsilon'])),
        overflowing=True,
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'smorms3',
        cases=[
            Case(source='numpy', case='chainer_smorms3', ours={}, reference=(T.chainer_smorms3, {}),
                 anchor='chainer.optimizers.SMORMS3'),
            Case(source='numpy', case='chainer_smorms3_options', ours={'learning_rate': 0.05, 'epsilon': 1e-08},
                 reference=(T.chainer_smorms3, {'lr': 0.05, 'eps': 1e-08}), anchor='chainer.optimizers.SMORMS3'),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'epsilon': EPS},
                                lambda h: T.chainer_smorms3(h['learning_rate'], h['epsilon'])),
        overflowing=True,
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adam',
        cases=[
            Case(source='torch_adam', case='adam',
                 ours={'learning_rate': 0.05, 'epsilon': 0.001, 'epsilon_placement': 'corrected'},
                 reference=('Adam', {'lr': 0.05, 'eps': 0.001})),
            Case(source='torch_adam', case='adam_defaults', ours={'epsilon_placement': 'corrected'},
                 reference=('Adam', {}), anchor='torch.optim.Adam', exact=True),
            Case(source='torch_adam', case='adam_weight_decay',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.001,
                       'epsilon_placement': 'corrected', 'weight_decay': 0.3},
                 reference=('Adam', {'lr': 0.05, 'betas': (0.8, 0.95), 'eps': 0.001, 'weight_decay': 0.3})),
            Case(source='torch_adam', case='adam_decoupled_maximize',
                 ours={'learning_rate': 0.05, 'epsilon': 0.001, 'epsilon_placement': 'corrected', 'weight_decay': 0.3,
                       'decoupled_weight_decay': True, 'maximize': True},
                 reference=('Adam',
                            {'lr': 0.05, 'eps': 0.001, 'weight_decay': 0.3, 'decoupled_weight_decay': True,
                             'maximize': True})),
            # The anchors' cases: optax's defaults, with the learning rate it requires.
            Case(source='optax_adam', case='adam_defaults',
                 ours={'learning_rate': 0.05, 'epsilon_placement': 'corrected'},
                 reference=('adam', {'learning_rate': 0.05}), anchor='optax.adam', exact=True),
            Case(source='optax_adam', case='adam',
                 ours={'learning_rate': 0.05, 'epsilon': 0.001, 'epsilon_placement': 'corrected'},
                 reference=('adam', {'learning_rate': 0.05, 'eps': 0.001})),
            Case(source='optax_adam', case='adam_eps_root',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'epsilon': 0.001, 'epsilon_placement': 'corrected',
                       'epsilon_root': 0.01},
                 reference=('adam', {'learning_rate': 0.05, 'b1': 0.8, 'eps': 0.001, 'eps_root': 0.01})),
            Case(source='keras_adam', case='adam', ours={'learning_rate': 0.05, 'epsilon': 0.001},
                 reference=('Adam', {'learning_rate': 0.05, 'epsilon': 0.001})),
            Case(source='keras_adam', case='adam_defaults', ours={'epsilon': 1e-07}, reference=('Adam', {}),
                 anchor='keras.optimizers.Adam', exact=True),
            Case(source='torch_core', case='adam',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.0},
                 reference=('Adam', {'lr': 0.05, 'betas': (0.8, 0.9), 'eps': 0.0})),
            Case(source='numpy', case='lasagne_adam', ours={}, reference=(T.reference_adam, {}),
                 anchor='lasagne.updates.adam', exact=True),
            Case(source='numpy', case='lasagne_adam_options',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.001},
                 reference=(T.reference_adam, {'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.001})),
            Case(source='numpy', case='chainer_adam', ours={}, reference=(T.chainer_adam, {}),
                 anchor='chainer.optimizers.Adam', exact=True),
            Case(source='numpy', case='published_adam', ours={}, reference=(T.reference_adam, {}), **PUBLISHED),
            Case(source='numpy', case='published_adam_options',
                 ours={'learning_rate': 0.1, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.0001},
                 reference=(T.reference_adam, {'learning_rate': 0.1, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.0001}),
                 **PUBLISHED),
        ],
        hyper={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 1e-4},
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'epsilon': EPS},
                                lambda h: T.reference_adam(**h)),
        elsewhere={'blocks.algorithms.Adam': 'tests/test_blocks.py'},
        large=(T.reference_adam, {}),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'sparse_adam',
        cases=[
        ],
        elementwise='updates only the rows a gradient touches (tests/test_sparse.py)',
        elsewhere={'torch.optim.SparseAdam': 'tests/test_sparse.py'},
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adamax',
        cases=[
            Case(source='torch_adam', case='adamax_defaults', ours={'epsilon_placement': 'inside_max'},
                 reference=('Adamax', {}), anchor='torch.optim.Adamax', exact=True),
            Case(source='torch_adam', case='adamax',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.01,
                       'epsilon_placement': 'inside_max'},
                 reference=('Adamax', {'lr': 0.05, 'betas': (0.8, 0.95), 'eps': 0.01})),
            Case(source='torch_adam', case='adamax_weight_decay_maximize',
                 ours={'learning_rate': 0.05, 'epsilon': 0.01, 'epsilon_placement': 'inside_max', 'weight_decay': 0.3,
                       'maximize': True},
                 reference=('Adamax', {'lr': 0.05, 'eps': 0.01, 'weight_decay': 0.3, 'maximize': True})),
            Case(source='optax_adam', case='adamax_defaults',
                 ours={'learning_rate': 0.05, 'epsilon_placement': 'inside_max'},
                 reference=('adamax', {'learning_rate': 0.05}), anchor='optax.adamax', exact=True),
            Case(source='optax_adam', case='adamax',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.01,
                       'epsilon_placement': 'inside_max'},
                 reference=('adamax', {'learning_rate': 0.05, 'b1': 0.8, 'b2': 0.95, 'eps': 0.01})),
            Case(source='keras_adam', case='adamax',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.01},
                 reference=('Adamax', {'learning_rate': 0.05, 'beta_1': 0.8, 'beta_2': 0.95, 'epsilon': 0.01})),
            Case(source='keras_adam', case='adamax_defaults', ours={'learning_rate': 0.001, 'epsilon': 1e-07},
                 reference=('Adamax', {}), anchor='keras.optimizers.Adamax', exact=True),
            Case(source='torch_core', case='adamax',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.0},
                 reference=('Adamax', {'lr': 0.05, 'betas': (0.8, 0.95), 'eps': 0.0})),
            Case(source='numpy', case='lasagne_adamax', ours={}, reference=(T.reference_adamax, {}),
                 anchor='lasagne.updates.adamax', exact=True),
            Case(source='numpy', case='lasagne_adamax_options',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.01},
                 reference=(T.reference_adamax, {'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.01})),
            Case(source='numpy', case='published_adamax', ours={}, reference=(T.reference_adamax, {}), **PUBLISHED),
            Case(source='numpy', case='published_adamax_options',
                 ours={'learning_rate': 0.1, 'beta1': 0.7, 'beta2': 0.9, 'epsilon': 0.0001},
                 reference=(T.reference_adamax, {'learning_rate': 0.1, 'beta1': 0.7, 'beta2': 0.9, 'epsilon': 0.0001}),
                 **PUBLISHED),
        ],
        hyper={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 1e-4},
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'epsilon': EPS},
                                lambda h: T.reference_adamax(**h)),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'amsgrad',
        cases=[
            Case(source='torch_adam', case='amsgrad',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.001,
                       'epsilon_placement': 'corrected'},
                 reference=('Adam', {'lr': 0.05, 'betas': (0.8, 0.9), 'eps': 0.001, 'amsgrad': True})),
            Case(source='torch_adam', case='amsgrad_weight_decay_maximize',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.001,
                       'epsilon_placement': 'corrected', 'weight_decay': 0.2, 'maximize': True},
                 reference=('Adam',
                            {'lr': 0.05, 'betas': (0.8, 0.9), 'eps': 0.001, 'amsgrad': True, 'weight_decay': 0.2,
                             'maximize': True})),
            Case(source='torch_adam', case='amsgrad_defaults', ours={'epsilon_placement': 'corrected'},
                 reference=('Adam', {'amsgrad': True}), anchor='torch.optim.Adam', exact=True),
            Case(source='optax_adam', case='amsgrad_defaults',
                 ours={'learning_rate': 0.05, 'epsilon_placement': 'corrected', 'maximum_of': 'corrected'},
                 reference=('amsgrad', {'learning_rate': 0.05}), anchor='optax.amsgrad', exact=True),
            Case(source='optax_adam', case='amsgrad',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.001,
                       'epsilon_placement': 'corrected', 'maximum_of': 'corrected'},
                 reference=('amsgrad', {'learning_rate': 0.05, 'b1': 0.8, 'b2': 0.9, 'eps': 0.001})),
            Case(source='optax_adam', case='amsgrad_eps_root',
                 ours={'learning_rate': 0.05, 'beta2': 0.9, 'epsilon': 0.001, 'epsilon_placement': 'corrected',
                       'maximum_of': 'corrected', 'epsilon_root': 0.01},
                 reference=('amsgrad', {'learning_rate': 0.05, 'b2': 0.9, 'eps': 0.001, 'eps_root': 0.01})),
            Case(source='keras_adam', case='adam_amsgrad',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.001},
                 reference=('Adam',
                            {'learning_rate': 0.05, 'beta_1': 0.8, 'beta_2': 0.9, 'epsilon': 0.001, 'amsgrad': True})),
            Case(source='keras_adam', case='adam_amsgrad_defaults', ours={'epsilon': 1e-07},
                 reference=('Adam', {'amsgrad': True}), anchor='keras.optimizers.Adam', exact=True),
            # The same settings as torch_core's adam: with beta2 = 0.9 the maximum takes effect
            # (tests/test_rules_adam.py checks that the two trajectories differ).
            Case(source='torch_core', case='amsgrad',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.0},
                 reference=('Adam', {'lr': 0.05, 'betas': (0.8, 0.9), 'eps': 0.0, 'amsgrad': True})),
            Case(source='numpy', case='lasagne_amsgrad', ours={}, reference=(T.reference_amsgrad, {}),
                 anchor='lasagne.updates.amsgrad', exact=True),
            Case(source='numpy', case='lasagne_amsgrad_options',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.001},
                 reference=(T.reference_amsgrad,
                            {'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.001})),
            Case(source='numpy', case='chainer_amsgrad_defaults', ours={},
                 reference=(T.chainer_adam, {'amsgrad': True}), anchor='chainer.optimizers.AMSGrad', exact=True),
            Case(source='numpy', case='chainer_amsgrad', ours={'learning_rate': 0.05, 'beta2': 0.9, 'epsilon': 0.001},
                 reference=(T.chainer_adam, {'alpha': 0.05, 'beta2': 0.9, 'eps': 0.001, 'amsgrad': True})),
            Case(source='numpy', case='published_amsgrad', ours={}, reference=(T.reference_amsgrad, {}), **PUBLISHED),
            Case(source='numpy', case='published_amsgrad_options',
                 ours={'learning_rate': 0.1, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.0001},
                 reference=(T.reference_amsgrad, {'learning_rate': 0.1, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.0001}),
                 **PUBLISHED),
        ],
        hyper={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 1e-4},
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'epsilon': EPS},
                                lambda h: T.reference_amsgrad(**h)),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adamw',
        cases=[
            Case(source='torch_adam', case='adamw_defaults', ours={}, reference=('AdamW', {}),
                 anchor='torch.optim.AdamW', exact=True),
            Case(source='torch_adam', case='adamw', ours={'learning_rate': 0.05, 'epsilon': 0.001, 'weight_decay': 0.5},
                 reference=('AdamW', {'lr': 0.05, 'eps': 0.001, 'weight_decay': 0.5})),
            Case(source='optax_adam', case='adamw_defaults', ours={'learning_rate': 0.05, 'weight_decay': 0.0001},
                 reference=('adamw', {'learning_rate': 0.05}), anchor='optax.adamw', exact=True),
            Case(source='optax_adam', case='adamw',
                 ours={'learning_rate': 0.05, 'epsilon': 0.001, 'weight_decay': 0.0001},
                 reference=('adamw', {'learning_rate': 0.05, 'eps': 0.001})),
            Case(source='optax_adam', case='adamw_strong_decay',
                 ours={'learning_rate': 0.05, 'epsilon': 0.001, 'weight_decay': 0.5, 'epsilon_root': 0.01},
                 reference=('adamw', {'learning_rate': 0.05, 'eps': 0.001, 'weight_decay': 0.5, 'eps_root': 0.01})),
            Case(source='keras_adam', case='adamw',
                 ours={'learning_rate': 0.05, 'epsilon': 0.001, 'weight_decay': 0.3, 'epsilon_placement': 'raw'},
                 reference=('AdamW', {'learning_rate': 0.05, 'epsilon': 0.001, 'weight_decay': 0.3})),
            Case(source='keras_adam', case='adamw_defaults',
                 ours={'weight_decay': 0.004, 'epsilon': 1e-07, 'epsilon_placement': 'raw'}, reference=('AdamW', {}),
                 anchor='keras.optimizers.AdamW', exact=True),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'epsilon': EPS,
                                 'weight_decay': (0.0, 1.0)},
                                lambda h: T.torch_adamw(h['learning_rate'], h['beta1'], h['beta2'], h['epsilon'],
                                                        h['weight_decay'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'radam',
        cases=[
            Case(source='torch_adam', case='radam', ours={'learning_rate': 0.05, 'epsilon': 0.001},
                 reference=('RAdam', {'lr': 0.05, 'eps': 0.001})),
            Case(source='torch_adam', case='radam_defaults', ours={}, reference=('RAdam', {}),
                 anchor='torch.optim.RAdam', exact=True),
            Case(source='torch_adam', case='radam_decoupled_maximize',
                 ours={'learning_rate': 0.05, 'beta2': 0.99, 'epsilon': 0.001, 'weight_decay': 0.3,
                       'decoupled_weight_decay': True, 'maximize': True},
                 reference=('RAdam',
                            {'lr': 0.05, 'betas': (0.9, 0.99), 'eps': 0.001, 'weight_decay': 0.3,
                             'decoupled_weight_decay': True, 'maximize': True})),
            Case(source='torch_adam', case='radam_weight_decay',
                 ours={'learning_rate': 0.05, 'epsilon': 0.001, 'weight_decay': 0.3},
                 reference=('RAdam', {'lr': 0.05, 'eps': 0.001, 'weight_decay': 0.3})),
            Case(source='optax_adam', case='radam_defaults',
                 ours={'learning_rate': 0.05, 'epsilon_placement': 'corrected'},
                 reference=('radam', {'learning_rate': 0.05}), anchor='optax.radam', exact=True),
            Case(source='optax_adam', case='radam',
                 ours={'learning_rate': 0.05, 'epsilon': 0.001, 'epsilon_placement': 'corrected'},
                 reference=('radam', {'learning_rate': 0.05, 'eps': 0.001})),
            Case(source='optax_adam', case='radam_threshold',
                 ours={'learning_rate': 0.05, 'beta2': 0.99, 'epsilon': 0.001, 'epsilon_placement': 'corrected',
                       'threshold': 8.5, 'epsilon_root': 0.01},
                 reference=('radam',
                            {'learning_rate': 0.05, 'b2': 0.99, 'eps': 0.001, 'threshold': 8.5, 'eps_root': 0.01})),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': (0.5, 0.999), 'epsilon': EPS,
                                 'threshold': (4.0, 6.0)},
                                lambda h: T.torch_radam(h['learning_rate'], h['beta1'], h['beta2'], h['epsilon'],
                                                        h['threshold'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'nadam',
        cases=[
            Case(source='torch_adam', case='nadam_defaults', ours={}, reference=('NAdam', {}),
                 anchor='torch.optim.NAdam', exact=True),
            Case(source='torch_adam', case='nadam',
                 ours={'learning_rate': 0.05, 'beta1': 0.85, 'epsilon': 0.001, 'schedule_decay': 0.1},
                 reference=('NAdam', {'lr': 0.05, 'betas': (0.85, 0.999), 'eps': 0.001, 'momentum_decay': 0.1})),
            Case(source='torch_adam', case='nadam_weight_decay_maximize',
                 ours={'learning_rate': 0.05, 'epsilon': 0.001, 'weight_decay': 0.3, 'maximize': True},
                 reference=('NAdam', {'lr': 0.05, 'eps': 0.001, 'weight_decay': 0.3, 'maximize': True})),
            Case(source='torch_adam', case='nadam_decoupled',
                 ours={'learning_rate': 0.05, 'weight_decay': 0.3, 'decoupled_weight_decay': True},
                 reference=('NAdam', {'lr': 0.05, 'weight_decay': 0.3, 'decoupled_weight_decay': True})),
            Case(source='keras_adam', case='nadam',
                 ours={'learning_rate': 0.05, 'beta1': 0.85, 'epsilon': 0.001, 'schedule_decay': 1.0},
                 reference=('Nadam', {'learning_rate': 0.05, 'beta_1': 0.85, 'epsilon': 0.001})),
            Case(source='keras_adam', case='nadam_defaults',
                 ours={'learning_rate': 0.001, 'epsilon': 1e-07, 'schedule_decay': 1.0}, reference=('Nadam', {}),
                 anchor='keras.optimizers.Nadam', exact=True),
            Case(source='numpy', case='keras2_nadam', ours={'epsilon': 1e-07}, reference=(T.keras2_nadam, {}),
                 anchor='keras2.optimizers.Nadam', exact=True),
            Case(source='numpy', case='keras2_nadam_options',
                 ours={'learning_rate': 0.05, 'beta1': 0.85, 'beta2': 0.99, 'epsilon': 0.001, 'schedule_decay': 0.1},
                 reference=(T.keras2_nadam,
                            {'lr': 0.05, 'beta_1': 0.85, 'beta_2': 0.99, 'epsilon': 0.001, 'schedule_decay': 0.1})),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'epsilon': EPS,
                                 'schedule_decay': (0.0, 1.0)},
                                lambda h: T.keras2_nadam(h['learning_rate'], h['beta1'], h['beta2'], h['epsilon'],
                                                         h['schedule_decay'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adabelief',
        cases=[
            Case(source='optax_adam', case='adabelief', ours={'learning_rate': 0.05},
                 reference=('adabelief', {'learning_rate': 0.05}), anchor='optax.adabelief', exact=True),
            Case(source='optax_adam', case='adabelief_options',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.001, 'epsilon_root': 0.0001},
                 reference=('adabelief',
                            {'learning_rate': 0.05, 'b1': 0.8, 'b2': 0.95, 'eps': 0.001, 'eps_root': 0.0001})),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'epsilon': EPS,
                                 'epsilon_root': EPS},
                                lambda h: T.optax_adabelief(h['learning_rate'], h['beta1'], h['beta2'], h['epsilon'],
                                                            h['epsilon_root'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'yogi',
        cases=[
            Case(source='optax_adam', case='yogi', ours={'learning_rate': 0.05},
                 reference=('yogi', {'learning_rate': 0.05}), anchor='optax.yogi', exact=True),
            Case(source='optax_adam', case='yogi_options',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.01},
                 reference=('yogi', {'learning_rate': 0.05, 'b1': 0.8, 'b2': 0.9, 'eps': 0.01})),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'epsilon': EPS,
                                 'epsilon_root': EPS},
                                lambda h: T.optax_yogi(h['learning_rate'], h['beta1'], h['beta2'], h['epsilon'],
                                                       h['epsilon_root'])),
        overflowing=True,
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adan',
        cases=[
            Case(source='optax_adam', case='adan', ours={'learning_rate': 0.05},
                 reference=('adan', {'learning_rate': 0.05}), anchor='optax.adan', exact=True),
            Case(source='optax_adam', case='adan_options',
                 ours={'learning_rate': 0.05, 'beta1': 0.9, 'beta2': 0.8, 'beta3': 0.95, 'epsilon': 0.001,
                       'epsilon_root': 0.01, 'weight_decay': 0.3},
                 reference=('adan',
                            {'learning_rate': 0.05, 'b1': 0.9, 'b2': 0.8, 'b3': 0.95, 'eps': 0.001, 'eps_root': 0.01,
                             'weight_decay': 0.3})),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'beta3': DECAY, 'epsilon': EPS,
                                 'epsilon_root': EPS, 'weight_decay': (0.0, 1.0)},
                                lambda h: T.optax_adan(h['learning_rate'], h['beta1'], h['beta2'], h['beta3'],
                                                       h['epsilon'], h['epsilon_root'], h['weight_decay'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adopt',
        cases=[
            Case(source='optax_adam', case='adopt_defaults', ours={'learning_rate': 0.05},
                 reference=('contrib.adopt', {'learning_rate': 0.05}), anchor='optax.contrib.adopt', exact=True),
            Case(source='optax_adam', case='adopt_nesterov',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.9, 'epsilon': 0.001, 'nesterov': True},
                 reference=('contrib.adopt',
                            {'learning_rate': 0.05, 'b1': 0.8, 'b2': 0.9, 'eps': 0.001, 'nesterov': True})),
            Case(source='optax_adam', case='adopt_unclipped',
                 ours={'learning_rate': 0.05, 'beta2': 0.5, 'clipping': False},
                 reference=('contrib.adopt', {'learning_rate': 0.05, 'b2': 0.5, 'use_clipping': False})),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'epsilon': EPS},
                                lambda h: T.optax_adopt(h['learning_rate'], h['beta1'], h['beta2'], h['epsilon'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'schedule_free_adamw',
        cases=[
            Case(source='optax_adam', case='schedule_free_adamw_defaults', ours={'learning_rate': 0.05},
                 reference=('contrib.schedule_free_adamw', {'learning_rate': 0.05}),
                 anchor='optax.contrib.schedule_free_adamw', exact=True),
            Case(source='optax_adam', case='schedule_free_adamw_options',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'epsilon': 0.001, 'weight_decay': 0.1,
                       'weight_lr_power': 1.5},
                 reference=('contrib.schedule_free_adamw',
                            {'learning_rate': 0.05, 'b1': 0.8, 'b2': 0.95, 'eps': 0.001, 'weight_decay': 0.1,
                             'weight_lr_power': 1.5})),
            # optax's warmup schedule computes in float32 even under jax_enable_x64: the same
            # optimizer, built from optax's parts with the schedule in float64 (run_optax.py).
            Case(source='optax_adam', case='schedule_free_adamw_warmup',
                 ours={'learning_rate': 0.05, 'warmup_steps': 7, 'weight_decay': 0.01},
                 reference=('float64_warmup_schedule_free_adamw',
                            {'learning_rate': 0.05, 'warmup_steps': 7, 'weight_decay': 0.01})),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'beta1': (0.05, 0.99), 'beta2': DECAY, 'epsilon': EPS,
                                 'weight_decay': (0.0, 1.0), 'weight_lr_power': (0.0, 3.0)},
                                lambda h: T.optax_schedule_free_adamw(h['learning_rate'], h['beta1'], h['beta2'],
                                                                      h['epsilon'], h['weight_decay'],
                                                                      h['weight_lr_power'])),
        # y interpolates x and z with weights beta1 and 1 - beta1, and x is recovered by dividing by beta1
        bad_and_good={'beta1': ([0.0, 1.0, -0.1, NAN], [1e-3, 0.999])},
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adabound',
        cases=[
            Case(source='numpy', case='chainer_adabound', ours={}, reference=(T.chainer_adam, {'adabound': True}),
                 anchor='chainer.optimizers.AdaBound', exact=True),
            # gamma and final_lr chosen so that both bounds clip during the 30 steps.
            Case(source='numpy', case='chainer_adabound_options',
                 ours={'learning_rate': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'final_lr': 0.02, 'gamma': 0.1,
                       'epsilon': 0.001},
                 reference=(T.chainer_adam,
                            {'alpha': 0.05, 'beta1': 0.8, 'beta2': 0.95, 'final_lr': 0.02, 'gamma': 0.1, 'eps': 0.001,
                             'adabound': True})),
        ],
        steps_at_learning_rate_0=True,  # final_lr's bounds
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'final_lr': (0.0, 1.0),
                                 'gamma': (1e-3, 1.0), 'epsilon': EPS},
                                lambda h: T.chainer_adam(h['learning_rate'], h['beta1'], h['beta2'], h['epsilon'],
                                                         adabound=True, final_lr=h['final_lr'], gamma=h['gamma'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'amsbound',
        cases=[
            Case(source='numpy', case='chainer_amsbound', ours={},
                 reference=(T.chainer_adam, {'adabound': True, 'amsgrad': True}), anchor='chainer.optimizers.AMSBound',
                 exact=True),
            Case(source='numpy', case='chainer_amsbound_options',
                 ours={'learning_rate': 0.05, 'beta2': 0.9, 'final_lr': 0.02, 'gamma': 0.1, 'epsilon': 0.001},
                 reference=(T.chainer_adam,
                            {'alpha': 0.05, 'beta2': 0.9, 'final_lr': 0.02, 'gamma': 0.1, 'eps': 0.001,
                             'adabound': True, 'amsgrad': True})),
        ],
        steps_at_learning_rate_0=True,  # final_lr's bounds
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'final_lr': (0.0, 1.0),
                                 'gamma': (1e-3, 1.0), 'epsilon': EPS},
                                lambda h: T.chainer_adam(h['learning_rate'], h['beta1'], h['beta2'], h['epsilon'],
                                                         amsgrad=True, adabound=True, final_lr=h['final_lr'],
                                                         gamma=h['gamma'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'sign_sgd',
        cases=[
            Case(source='optax_sign', case='sign_sgd', ours={'learning_rate': 0.02},
                 reference=('sign_sgd', {'learning_rate': 0.02}), anchor='optax.sign_sgd'),
        ],
        required={'learning_rate': 0.05},
        elementwise=Elementwise({'learning_rate': LR}, lambda h: T.optax_sign_sgd(h['learning_rate'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'signum',
        cases=[
            Case(source='optax_sign', case='signum', ours={'learning_rate': 0.02},
                 reference=('signum', {'learning_rate': 0.02}), anchor='optax.signum'),
            Case(source='optax_sign', case='signum_beta', ours={'learning_rate': 0.05, 'beta': 0.5},
                 reference=('signum', {'learning_rate': 0.05, 'beta': 0.5}), anchor='optax.signum'),
        ],
        required={'learning_rate': 0.05},
        elementwise=Elementwise({'learning_rate': LR, 'beta': DECAY},
                                lambda h: T.optax_signum(h['learning_rate'], h['beta'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'lion',
        cases=[
            Case(source='optax_sign', case='lion', ours={'learning_rate': 0.01},
                 reference=('lion', {'learning_rate': 0.01}), anchor='optax.lion'),
            Case(source='optax_sign', case='lion_options',
                 ours={'learning_rate': 0.02, 'beta1': 0.8, 'beta2': 0.95, 'weight_decay': 0.1},
                 reference=('lion', {'learning_rate': 0.02, 'b1': 0.8, 'b2': 0.95, 'weight_decay': 0.1}),
                 anchor='optax.lion'),
            Case(source='optax_sign', case='lion_no_decay', ours={'learning_rate': 0.01, 'weight_decay': 0.0},
                 reference=('lion', {'learning_rate': 0.01, 'weight_decay': 0.0}), anchor='optax.lion'),
            Case(source='numpy', case='lion_pytorch', ours={'learning_rate': 0.0001, 'weight_decay': 0.0},
                 reference=(T.lion_pytorch, {}), anchor='lion_pytorch.Lion'),
            Case(source='numpy', case='lion_pytorch_decay', ours={'learning_rate': 0.01, 'weight_decay': 0.5},
                 reference=(T.lion_pytorch, {'lr': 0.01, 'weight_decay': 0.5}), anchor='lion_pytorch.Lion'),
        ],
        elementwise=Elementwise({'learning_rate': LR, 'beta1': DECAY, 'beta2': DECAY, 'weight_decay': (0.0, 1.0)},
                                lambda h: T.lion_pytorch(h['learning_rate'], h['beta1'], h['beta2'],
                                                         h['weight_decay'])),
        # lion-pytorch accepts both ends, no bias correction
        bad_and_good={'beta1': (UNIT[0], [0.0, 1.0]), 'beta2': (UNIT[0], [0.0, 1.0])},
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'rprop',
        cases=[
            Case(source='torch_descent', case='rprop_defaults', ours={}, reference=('Rprop', {}),
                 anchor='torch.optim.Rprop'),
            Case(source='torch_descent', case='rprop_options',
                 ours={'learning_rate': 0.05, 'etaminus': 0.3, 'etaplus': 1.5, 'step_size_min': 0.001,
                       'step_size_max': 0.2},
                 reference=('Rprop', {'lr': 0.05, 'etas': (0.3, 1.5), 'step_sizes': (0.001, 0.2)}),
                 anchor='torch.optim.Rprop'),
            Case(source='torch_descent', case='rprop_maximize', ours={'learning_rate': 0.02, 'maximize': True},
                 reference=('Rprop', {'lr': 0.02, 'maximize': True}), anchor='torch.optim.Rprop'),
        ],
        steps_at_learning_rate_0=True,  # step_size_min
        elementwise=Elementwise({'learning_rate': LR, 'etaminus': (0.1, 0.9), 'etaplus': (1.1, 2.0),
                                 'step_size_min': (0.0, 1e-3), 'step_size_max': (0.5, 50.0)},
                                lambda h: T.torch_rprop(h['learning_rate'], h['etaminus'], h['etaplus'],
                                                        h['step_size_min'], h['step_size_max'])),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'lamb',
        cases=[
            Case(source='optax_layerwise', case='lamb_default', ours={'learning_rate': 0.01},
                 reference=('lamb', {'learning_rate': 0.01}), anchor='optax.lamb', exact=True),
            Case(source='optax_layerwise', case='lamb_decay_mask',
                 ours={'learning_rate': 0.02, 'beta1': 0.8, 'beta2': 0.99, 'epsilon': 1e-05, 'epsilon_root': 1e-08,
                       'weight_decay': 0.1, 'weight_decay_mask': MASK},
                 reference=('lamb',
                            {'learning_rate': 0.02, 'b1': 0.8, 'b2': 0.99, 'eps': 1e-05, 'eps_root': 1e-08,
                             'weight_decay': 0.1, 'mask': MASK})),
            Case(source='optax_layerwise', case='lamb_float32', ours={'learning_rate': 0.01, 'weight_decay': 0.01},
                 reference=('lamb', {'learning_rate': 0.01, 'weight_decay': 0.01}), dtype='float32'),
            Case(source='optax_layerwise', case='lamb_zero_params', ours={'learning_rate': 0.01},
                 reference=('lamb', {'learning_rate': 0.01}), zero_init=(0, 2)),
        ],
        elementwise='per-tensor norms (layer-wise)',
        large=(T.reference_lamb, {}),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'lars',
        cases=[
            Case(source='optax_layerwise', case='lars_default', ours={'learning_rate': 0.5},
                 reference=('lars', {'learning_rate': 0.5}), anchor='optax.lars', exact=True),
            Case(source='optax_layerwise', case='lars_nesterov_masks',
                 ours={'learning_rate': 0.2, 'momentum': 0.8, 'weight_decay': 0.01, 'trust_coefficient': 0.1,
                       'epsilon': 0.001, 'nesterov': True, 'weight_decay_mask': [False, True, True, True],
                       'trust_ratio_mask': [False, True, False, True]},
                 reference=('lars',
                            {'learning_rate': 0.2, 'momentum': 0.8, 'weight_decay': 0.01, 'trust_coefficient': 0.1,
                             'eps': 0.001, 'nesterov': True, 'weight_decay_mask': [False, True, True, True],
                             'trust_ratio_mask': [False, True, False, True]})),
            Case(source='optax_layerwise', case='lars_float32', ours={'learning_rate': 0.5, 'weight_decay': 0.01},
                 reference=('lars', {'learning_rate': 0.5, 'weight_decay': 0.01}), dtype='float32'),
            Case(source='optax_layerwise', case='lars_zero_params',
                 ours={'learning_rate': 0.5, 'trust_coefficient': 0.1},
                 reference=('lars', {'learning_rate': 0.5, 'trust_coefficient': 0.1}), zero_init=(1, 3)),
        ],
        elementwise='per-tensor norms (layer-wise)',
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'novograd',
        cases=[
            Case(source='optax_layerwise', case='novograd_default', ours={'learning_rate': 0.01},
                 reference=('novograd', {'learning_rate': 0.01}), anchor='optax.novograd', exact=True),
            Case(source='optax_layerwise', case='novograd_decay',
                 ours={'learning_rate': 0.02, 'beta1': 0.8, 'beta2': 0.5, 'epsilon': 1e-05, 'epsilon_root': 1e-07,
                       'weight_decay': 0.05},
                 reference=('novograd',
                            {'learning_rate': 0.02, 'b1': 0.8, 'b2': 0.5, 'eps': 1e-05, 'eps_root': 1e-07,
                             'weight_decay': 0.05})),
            Case(source='optax_layerwise', case='novograd_float32', ours={'learning_rate': 0.01},
                 reference=('novograd', {'learning_rate': 0.01}), dtype='float32'),
        ],
        elementwise='per-tensor norms (layer-wise)',
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'fromage',
        cases=[
            Case(source='optax_layerwise', case='fromage_default', ours={'learning_rate': 0.01},
                 reference=('fromage', {'learning_rate': 0.01}), anchor='optax.fromage', exact=True),
            Case(source='optax_layerwise', case='fromage_min_norm', ours={'learning_rate': 0.2, 'min_norm': 0.5},
                 reference=('fromage', {'learning_rate': 0.2, 'min_norm': 0.5})),
            Case(source='optax_layerwise', case='fromage_zero_norm', ours={'learning_rate': 0.1, 'min_norm': 0.0},
                 reference=('fromage', {'learning_rate': 0.1, 'min_norm': 0.0}), zero_init=(2,)),
            Case(source='optax_layerwise', case='fromage_float32', ours={'learning_rate': 0.05},
                 reference=('fromage', {'learning_rate': 0.05}), dtype='float32'),
        ],
        elementwise='per-tensor norms (layer-wise)',
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adafactor',
        cases=[
            Case(source='torch_matrix', case='adafactor_default', ours={}, reference=('Adafactor', {}),
                 anchor='torch.optim.Adafactor', exact=True, shapes=WIDE),
            Case(source='torch_matrix', case='adafactor_relative_step_decay',
                 ours={'learning_rate': 0.5, 'beta2_decay': -0.6, 'epsilon1': 1e-06, 'epsilon2': 0.01,
                       'clipping_threshold': 1.5, 'weight_decay': 0.1},
                 reference=('Adafactor',
                            {'lr': 0.5, 'beta2_decay': -0.6, 'eps': (1e-06, 0.01), 'd': 1.5, 'weight_decay': 0.1}),
                 shapes=WIDE),
            Case(source='torch_matrix', case='adafactor_large_epsilon1', ours={'learning_rate': 0.1, 'epsilon1': 0.3},
                 reference=('Adafactor', {'lr': 0.1, 'eps': (0.3, 0.001)}), shapes=WIDE),
            Case(source='torch_matrix', case='adafactor_float32', ours={'learning_rate': 0.1},
                 reference=('Adafactor', {'lr': 0.1}), shapes=WIDE, dtype='float32'),
            Case(source='optax_layerwise', case='adafactor_default',
                 ours={'learning_rate': 0.05, 'relative_step': False, 'epsilon1': 1e-30, 'epsilon1_added': True,
                       'min_dim_size_to_factor': 128}, reference=('adafactor', {'learning_rate': 0.05}),
                 anchor='optax.adafactor', exact=True, shapes=WIDE, tolerance=OPTAX_FLOAT32_DECAY),
            Case(source='optax_layerwise', case='adafactor_factored',
                 ours={'learning_rate': 0.1, 'beta2_decay': -0.7, 'clipping_threshold': 0.5, 'relative_step': False,
                       'epsilon1': 1e-20, 'epsilon1_added': True, 'min_dim_size_to_factor': 2},
                 reference=('adafactor',
                            {'learning_rate': 0.1, 'decay_rate': 0.7, 'clipping_threshold': 0.5, 'eps': 1e-20,
                             'min_dim_size_to_factor': 2}), shapes=WIDE, tolerance=OPTAX_FLOAT32_DECAY),
            Case(source='optax_layerwise', case='adafactor_unscaled_unclipped',
                 ours={'learning_rate': 0.01, 'clipping_threshold': None, 'multiply_by_parameter_scale': False,
                       'relative_step': False, 'epsilon1': 1e-30, 'epsilon1_added': True, 'min_dim_size_to_factor': 3},
                 reference=('adafactor',
                            {'learning_rate': 0.01, 'clipping_threshold': None, 'multiply_by_parameter_scale': False,
                             'min_dim_size_to_factor': 3}), shapes=WIDE, tolerance=OPTAX_FLOAT32_DECAY),
            # optax computes Adafactor's decay rate in float32 even for float64 parameters; these
            # chains are optax.adafactor's own transforms with the decay rate computed in float64,
            # for a comparison at float64 precision (run_optax.py).
            Case(source='optax_layerwise', case='adafactor_float64_decay',
                 ours={'learning_rate': 0.05, 'relative_step': False, 'epsilon1': 1e-30, 'epsilon1_added': True,
                       'min_dim_size_to_factor': 128}, reference=('adafactor_float64_decay', {'learning_rate': 0.05}),
                 shapes=WIDE),
            Case(source='optax_layerwise', case='adafactor_float64_decay_factored',
                 ours={'learning_rate': 0.1, 'beta2_decay': -0.7, 'clipping_threshold': 0.5, 'relative_step': False,
                       'epsilon1': 1e-20, 'epsilon1_added': True, 'min_dim_size_to_factor': 2},
                 reference=('adafactor_float64_decay',
                            {'learning_rate': 0.1, 'decay_rate': 0.7, 'clipping_threshold': 0.5, 'eps': 1e-20,
                             'min_dim_size_to_factor': 2}), shapes=WIDE),
        ],
        elementwise='factored accumulators',
        probe_shape=(3, 2),
        overflowing=True,
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'muon',
        cases=[
            Case(source='torch_matrix', case='muon_default', ours={}, reference=('Muon', {}), anchor='torch.optim.Muon',
                 exact=True, shapes=MATRICES, tolerance=BFLOAT16),
            Case(source='torch_matrix', case='muon_large_steps', ours={'learning_rate': 0.05},
                 reference=('Muon', {'lr': 0.05}), shapes=MATRICES, tolerance=BFLOAT16),
            Case(source='torch_matrix', case='muon_options',
                 ours={'learning_rate': 0.05, 'momentum': 0.9, 'nesterov': False, 'weight_decay': 0.05, 'ns_steps': 3,
                       'epsilon': 1e-05, 'adjust_lr_fn': 'match_rms_adamw'},
                 reference=('Muon',
                            {'lr': 0.05, 'momentum': 0.9, 'nesterov': False, 'weight_decay': 0.05, 'ns_steps': 3,
                             'eps': 1e-05, 'adjust_lr_fn': 'match_rms_adamw'}), shapes=MATRICES, tolerance=BFLOAT16),
            Case(source='torch_matrix', case='muon_fallback', ours={'learning_rate': 0.05},
                 reference=('Muon', {'lr': 0.05}), shapes=MIXED,
                 fallback=('momentum', {'learning_rate': 0.05, 'momentum': 0.9}, 'SGD', {'lr': 0.05, 'momentum': 0.9}),
                 tolerance=BFLOAT16),
            Case(source='torch_matrix', case='muon_fallback_adamw', ours={'learning_rate': 0.05},
                 reference=('Muon', {'lr': 0.05}), shapes=MIXED,
                 fallback=('adamw', {'learning_rate': 0.01, 'weight_decay': 0.05}, 'AdamW',
                           {'lr': 0.01, 'weight_decay': 0.05}), tolerance=BFLOAT16),
            # torch's Muon code transcribed (torch/optim/_muon.py) without its bfloat16 cast: the formula at
            # float64's precision.  The transcription's fallback is torch's SGD with momentum.
            Case(source='numpy', case='torch_muon_default', ours={}, reference=(T.torch_muon, {}), shapes=MATRICES,
                 steps=25),
            Case(source='numpy', case='torch_muon_large_steps', ours={'learning_rate': 0.05},
                 reference=(T.torch_muon, {'lr': 0.05}), shapes=MATRICES, steps=25),
            Case(source='numpy', case='torch_muon_options',
                 ours={'learning_rate': 0.05, 'momentum': 0.9, 'nesterov': False, 'weight_decay': 0.05, 'ns_steps': 3,
                       'epsilon': 1e-05, 'adjust_lr_fn': 'match_rms_adamw'},
                 reference=(T.torch_muon,
                            {'lr': 0.05, 'momentum': 0.9, 'nesterov': False, 'weight_decay': 0.05, 'ns_steps': 3,
                             'eps': 1e-05, 'adjust_lr_fn': 'match_rms_adamw'}), shapes=MATRICES, steps=25),
            Case(source='numpy', case='torch_muon_fallback', ours={'learning_rate': 0.05},
                 reference=(T.torch_muon, {'lr': 0.05, 'fallback_lr': 0.05, 'fallback_momentum': 0.9}), shapes=MIXED,
                 steps=25,
                 fallback=('momentum', {'learning_rate': 0.05, 'momentum': 0.9}, 'SGD', {'lr': 0.05, 'momentum': 0.9})),
            Case(source='optax_layerwise', case='muon_default',
                 ours={'learning_rate': 0.02, 'weight_decay': 0.0, 'epsilon': 1e-08, 'epsilon_added': True,
                       'bias_correction': True, 'fan_out_axis': 1}, reference=('contrib.muon', {'learning_rate': 0.02}),
                 anchor='optax.contrib.muon', exact=True, shapes=MATRICES),
            Case(source='optax_layerwise', case='muon_plain_decay',
                 ours={'learning_rate': 0.05, 'momentum': 0.9, 'nesterov': False, 'weight_decay': 0.1, 'ns_steps': 3,
                       'ns_coefficients': (3.0, -3.2, 1.2), 'epsilon': 1e-06, 'epsilon_added': True,
                       'bias_correction': True, 'fan_out_axis': 1},
                 reference=('contrib.muon',
                            {'learning_rate': 0.05, 'beta': 0.9, 'nesterov': False, 'weight_decay': 0.1, 'ns_steps': 3,
                             'ns_coeffs': (3.0, -3.2, 1.2), 'eps': 1e-06}), shapes=MATRICES),
            Case(source='optax_layerwise', case='muon_consistent_rms',
                 ours={'learning_rate': 0.02, 'weight_decay': 0.0, 'epsilon': 1e-08, 'epsilon_added': True,
                       'bias_correction': True, 'adjust_lr_fn': 'match_rms_adamw'},
                 reference=('contrib.muon', {'learning_rate': 0.02, 'consistent_rms': 0.2}), shapes=MATRICES),
        ],
        required={'fallback': ('adam', {'learning_rate': 0.01})},
        elementwise='a matrix iteration',
        probe_shape=(3, 2),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'sm3',
        cases=[
            Case(source='optax_layerwise', case='sm3_default', ours={'learning_rate': 0.1},
                 reference=('sm3', {'learning_rate': 0.1}), anchor='optax.sm3', exact=True, shapes=WIDE),
            Case(source='optax_layerwise', case='sm3_momentum', ours={'learning_rate': 0.3, 'momentum': 0.5},
                 reference=('sm3', {'learning_rate': 0.3, 'momentum': 0.5}), shapes=WIDE),
            Case(source='optax_layerwise', case='sm3_float32', ours={'learning_rate': 0.1},
                 reference=('sm3', {'learning_rate': 0.1}), shapes=WIDE, dtype='float32'),
        ],
        elementwise='per-axis accumulators',
        probe_shape=(3, 2),
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'sgd_hd',
        cases=[
        ],
        elementwise='a learning rate adapted by a dot product over all parameters (tests/test_unroll.py)',
        overflowing=True,
        elsewhere={'Baydin et al. 2018, SGD-HD': 'tests/test_unroll.py'},
    ),
    # ----------------------------------------------------------------------
    OptimizerInfo(
        'adam_hd',
        cases=[
        ],
        elementwise='a learning rate adapted by a dot product over all parameters (tests/test_unroll.py)',
        elsewhere={'Baydin et al. 2018, Adam-HD': 'tests/test_unroll.py'},
    ),
]

OPTIMIZERS = {info.name: info for info in DATABASE}
#: every reference case of every rule
CASES = [case for info in DATABASE for case in info.cases]
GOLDEN = [case for case in CASES if case.golden]
TRANSCRIBED = [case for case in CASES if not case.golden]
BY_ID = {case.id: case for case in CASES}


def case(source, name):
    """The reference case ``name`` of ``source``."""
    return BY_ID["%s-%s" % (source, name)]


def arguments(name):
    """Keyword arguments rule ``name`` needs to be built on any parameters, built."""
    info = OPTIMIZERS[name]
    kwargs = dict(info.required)
    if "fallback" in kwargs:
        rule, fallback_kwargs = kwargs["fallback"]
        kwargs["fallback"] = symupdates.RULES[rule](**fallback_kwargs)
    return kwargs


def hyperparameters(name):
    """The hyperparameters of the generic numeric tests: ``hyper`` where given, else ``required``."""
    info = OPTIMIZERS[name]
    return dict(info.hyper) if info.hyper is not None else arguments(name)


ELEMENTWISE = {info.name: info.elementwise for info in DATABASE if isinstance(info.elementwise, Elementwise)}
OVERFLOWING = {info.name for info in DATABASE if info.overflowing}
