"""The table of tests/optimizers.py: every rule, every anchor, arguments that build."""

import inspect

import pytest

import optimizers
import symupdates

EXACT = [case for case in optimizers.CASES if case.exact]


def test_the_table_covers_exactly_the_registered_rules():
    assert [info.name for info in optimizers.DATABASE] == list(symupdates.RULES)
    for name in symupdates.RULES:
        assert symupdates.RULES[name] is getattr(symupdates, name)


def test_every_rule_has_a_reference():
    for info in optimizers.DATABASE:
        assert info.cases or info.elsewhere, info.name


def test_case_names_are_unique():
    assert len(optimizers.BY_ID) == len(optimizers.CASES)


def test_every_anchor_is_checked_by_a_reference_case():
    declared = {(name, anchor) for name, rule in symupdates.RULES.items() for anchor in rule.anchors}
    checked = {(case.rule, case.anchor) for case in optimizers.CASES if case.anchor}
    # Blocks' anchors are checked with the numbers of Blocks' own tests (tests/test_blocks.py),
    # SparseAdam against torch live on row-sparse gradients (tests/test_sparse.py).
    elsewhere = {(info.name, what) for info in optimizers.DATABASE for what in info.elsewhere}
    assert checked <= declared
    assert declared - checked == {(name, what) for name, what in elsewhere if what in symupdates.RULES[name].anchors}
    assert not checked & elsewhere


def test_every_anchored_case_runs_the_anchors_switches():
    # A case of an anchor runs every argument the anchor declares; it may
    # vary the numbers (learning rate, decay rates), never the switches.
    for case in optimizers.CASES:
        if case.anchor is None:
            continue
        declared = symupdates.RULES[case.rule].anchors[case.anchor]
        assert set(declared) <= set(case.ours), case.id
        for key, value in declared.items():
            if isinstance(value, (str, bool)) or value is None:
                assert case.ours[key] == value, (case.id, key)


#: keyword arguments a case may add to an anchor's: optax has no default learning rate.
HYPERPARAMETERS_ONLY = {"learning_rate"}


@pytest.mark.parametrize("case", EXACT, ids=[case.id for case in EXACT])
def test_anchor_arguments_are_those_of_its_reference_case(case):
    # The case runs the rule with exactly the anchor's arguments (plus a
    # learning rate where the reference has no default) ...
    declared = symupdates.RULES[case.rule].anchors[case.anchor]
    assert set(case.ours) - set(declared) <= HYPERPARAMETERS_ONLY
    assert {k: case.ours[k] for k in declared} == declared
    # ... and a golden reference runs its own defaults (with that learning
    # rate; torch's and Keras' AMSGrad is Adam(amsgrad=True)).
    if case.golden:
        assert set(case.reference[1]) <= {"learning_rate", "lr", "amsgrad"}, case.id
        assert case.reference[1].get("learning_rate", case.ours.get("learning_rate")) == case.ours.get(
            "learning_rate"), case.id


def test_required_arguments_are_what_the_rule_cannot_do_without():
    for info in optimizers.DATABASE:
        parameters = inspect.signature(info.rule).parameters
        needed = {name for name, p in list(parameters.items())[2:] if p.default is inspect.Parameter.empty}
        if "fallback" in parameters and parameters["fallback"].default is None:
            needed.add("fallback")
        assert set(info.required) == needed, info.name
        assert callable(info.rule(**optimizers.arguments(info.name)))


def test_every_core_rule_with_a_torch_counterpart_is_covered():
    covered = {case.rule for case in optimizers.GOLDEN if case.source == "torch_core"}
    assert covered == {
        "sgd", "momentum", "nesterov_momentum", "adagrad", "rmsprop", "adadelta", "adam", "adamax", "amsgrad",
    }


def test_the_dtype_matrix_gives_non_default_values():
    for info in optimizers.DATABASE:
        if info.hyper is None:
            continue
        parameters = inspect.signature(info.rule).parameters
        for name, value in info.hyper.items():
            assert parameters[name].default != value, (info.name, name)


def test_elementwise_rules_have_ranges_for_their_hyperparameters():
    for name, elementwise in optimizers.ELEMENTWISE.items():
        parameters = inspect.signature(symupdates.RULES[name]).parameters
        assert set(elementwise.ranges) <= set(parameters), name
        for low, high in elementwise.ranges.values():
            assert low < high, name
    for info in optimizers.DATABASE:
        assert isinstance(info.elementwise, (optimizers.Elementwise, str)), info.name
