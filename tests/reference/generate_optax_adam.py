"""Golden trajectories of optax for the Adam family.

Run with jax and optax installed (test-time tools only)::

    python tests/reference/generate_optax_adam.py

JAX runs in float64 (``jax_enable_x64``).  For every case below, applies the
optax optimizer to the test problem of tests/harness.py for ``STEPS`` steps
and writes ``tests/reference/data/optax_adam_<case>.npz``;
tests/test_rules_adam.py replays each case with the symupdates rule and
keyword arguments named in it.
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for harness

import harness  # noqa: E402

STEPS = 30

#: case -> (symupdates rule, its keyword arguments, optax alias, its keyword arguments)
CASES = {
    # The anchors' cases: optax's defaults, with the learning rate it requires.
    "adam_defaults": (
        "adam", {"learning_rate": 0.05, "epsilon_placement": "corrected"}, "adam", {"learning_rate": 0.05}
    ),
    "amsgrad_defaults": (
        "amsgrad",
        {"learning_rate": 0.05, "epsilon_placement": "corrected", "maximum_of": "corrected"},
        "amsgrad",
        {"learning_rate": 0.05},
    ),
    "adamax_defaults": ("adamax", {"learning_rate": 0.05, "epsilon_placement": "inside_max"}, "adamax",
                        {"learning_rate": 0.05}),
    "adamw_defaults": ("adamw", {"learning_rate": 0.05, "weight_decay": 1e-4}, "adamw", {"learning_rate": 0.05}),
    "radam_defaults": ("radam", {"learning_rate": 0.05, "epsilon_placement": "corrected"}, "radam",
                       {"learning_rate": 0.05}),
    "adam": (
        "adam",
        {"learning_rate": 0.05, "epsilon": 1e-3, "epsilon_placement": "corrected"},
        "adam",
        {"learning_rate": 0.05, "eps": 1e-3},
    ),
    "adam_eps_root": (
        "adam",
        {"learning_rate": 0.05, "beta1": 0.8, "epsilon": 1e-3, "epsilon_placement": "corrected", "epsilon_root": 1e-2},
        "adam",
        {"learning_rate": 0.05, "b1": 0.8, "eps": 1e-3, "eps_root": 1e-2},
    ),
    "amsgrad": (
        "amsgrad",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-3, "epsilon_placement": "corrected",
         "maximum_of": "corrected"},
        "amsgrad",
        {"learning_rate": 0.05, "b1": 0.8, "b2": 0.9, "eps": 1e-3},
    ),
    "amsgrad_eps_root": (
        "amsgrad",
        {"learning_rate": 0.05, "beta2": 0.9, "epsilon": 1e-3, "epsilon_placement": "corrected",
         "maximum_of": "corrected", "epsilon_root": 1e-2},
        "amsgrad",
        {"learning_rate": 0.05, "b2": 0.9, "eps": 1e-3, "eps_root": 1e-2},
    ),
    "adamax": (
        "adamax",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-2, "epsilon_placement": "inside_max"},
        "adamax",
        {"learning_rate": 0.05, "b1": 0.8, "b2": 0.95, "eps": 1e-2},
    ),
    "adamw": (
        "adamw",
        {"learning_rate": 0.05, "epsilon": 1e-3, "weight_decay": 1e-4},
        "adamw",
        {"learning_rate": 0.05, "eps": 1e-3},
    ),
    "adamw_strong_decay": (
        "adamw",
        {"learning_rate": 0.05, "epsilon": 1e-3, "weight_decay": 0.5, "epsilon_root": 1e-2},
        "adamw",
        {"learning_rate": 0.05, "eps": 1e-3, "weight_decay": 0.5, "eps_root": 1e-2},
    ),
    "radam": (
        "radam",
        {"learning_rate": 0.05, "epsilon": 1e-3, "epsilon_placement": "corrected"},
        "radam",
        {"learning_rate": 0.05, "eps": 1e-3},
    ),
    "radam_threshold": (
        "radam",
        {"learning_rate": 0.05, "beta2": 0.99, "epsilon": 1e-3, "epsilon_placement": "corrected", "threshold": 8.5,
         "epsilon_root": 1e-2},
        "radam",
        {"learning_rate": 0.05, "b2": 0.99, "eps": 1e-3, "threshold": 8.5, "eps_root": 1e-2},
    ),
    "adabelief": ("adabelief", {"learning_rate": 0.05}, "adabelief", {"learning_rate": 0.05}),
    "adabelief_options": (
        "adabelief",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-3, "epsilon_root": 1e-4},
        "adabelief",
        {"learning_rate": 0.05, "b1": 0.8, "b2": 0.95, "eps": 1e-3, "eps_root": 1e-4},
    ),
    "yogi": ("yogi", {"learning_rate": 0.05}, "yogi", {"learning_rate": 0.05}),
    "yogi_options": (
        "yogi",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-2},
        "yogi",
        {"learning_rate": 0.05, "b1": 0.8, "b2": 0.9, "eps": 1e-2},
    ),
    "adan": ("adan", {"learning_rate": 0.05}, "adan", {"learning_rate": 0.05}),
    "adan_options": (
        "adan",
        {"learning_rate": 0.05, "beta1": 0.9, "beta2": 0.8, "beta3": 0.95, "epsilon": 1e-3, "epsilon_root": 1e-2,
         "weight_decay": 0.3},
        "adan",
        {"learning_rate": 0.05, "b1": 0.9, "b2": 0.8, "b3": 0.95, "eps": 1e-3, "eps_root": 1e-2,
         "weight_decay": 0.3},
    ),
    # optax.contrib
    "adopt_defaults": ("adopt", {"learning_rate": 0.05}, "contrib.adopt", {"learning_rate": 0.05}),
    "adopt_nesterov": (
        "adopt",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.9, "epsilon": 1e-3, "nesterov": True},
        "contrib.adopt",
        {"learning_rate": 0.05, "b1": 0.8, "b2": 0.9, "eps": 1e-3, "nesterov": True},
    ),
    "adopt_unclipped": (
        "adopt",
        {"learning_rate": 0.05, "beta2": 0.5, "clipping": False},
        "contrib.adopt",
        {"learning_rate": 0.05, "b2": 0.5, "use_clipping": False},
    ),
    "schedule_free_adamw_defaults": (
        "schedule_free_adamw", {"learning_rate": 0.05}, "contrib.schedule_free_adamw", {"learning_rate": 0.05}
    ),
    "schedule_free_adamw_options": (
        "schedule_free_adamw",
        {"learning_rate": 0.05, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-3, "weight_decay": 0.1,
         "weight_lr_power": 1.5},
        "contrib.schedule_free_adamw",
        {"learning_rate": 0.05, "b1": 0.8, "b2": 0.95, "eps": 1e-3, "weight_decay": 0.1, "weight_lr_power": 1.5},
    ),
    # optax's warmup schedule computes in float32 even under jax_enable_x64:
    # the same optimizer, built from optax's parts with the schedule in float64.
    "schedule_free_adamw_warmup": (
        "schedule_free_adamw",
        {"learning_rate": 0.05, "warmup_steps": 7, "weight_decay": 0.01},
        "float64_warmup_schedule_free_adamw",
        {"learning_rate": 0.05, "warmup_steps": 7, "weight_decay": 0.01},
    ),
}


def float64_warmup_schedule_free_adamw(learning_rate, warmup_steps, weight_decay):
    """optax.contrib.schedule_free_adamw(learning_rate, warmup_steps, weight_decay=...), float64 schedule."""
    import jax.numpy as jnp
    import optax

    def schedule(count):
        return learning_rate * jnp.minimum(jnp.asarray(count, jnp.float64) / warmup_steps, 1.0)

    base = optax.chain(
        optax.scale_by_rms(decay=0.999, eps=1e-8, eps_in_sqrt=False, bias_correction=True),
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_learning_rate(schedule),
    )
    return optax.contrib.schedule_free(base, learning_rate=schedule, b1=0.9, weight_lr_power=2.0)


def optimizer_of(alias, kwargs):
    """The optax optimizer a case names: ``"adam"``, ``"contrib.adopt"``, or a builder of this module."""
    import optax

    if alias in globals():
        return globals()[alias](**kwargs)
    found = optax
    for part in alias.split("."):
        found = getattr(found, part)
    return found(**kwargs)


def file_name(case):
    return "optax_adam_" + case


def problem():
    return harness.make_problem(steps=STEPS)


def optax_reference(case):
    """The trajectory of the case's optax optimizer, computed now (float64)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    _, _, alias, kwargs = CASES[case]
    prob = problem()
    optimizer = optimizer_of(alias, kwargs)
    params = [jnp.asarray(v) for v in prob["init"]]
    state = optimizer.init(params)
    trajectory = []
    for t in range(prob["steps"]):
        grads = harness.numpy_grads(prob, [np.asarray(p) for p in params], t)
        updates, state = optimizer.update([jnp.asarray(g) for g in grads], state, params)
        params = optax.apply_updates(params, updates)
        trajectory.append([np.array(p, dtype=prob["dtype"]) for p in params])
    return trajectory


def main():
    import optax

    print("optax", optax.__version__)
    for case in CASES:
        path = os.path.join(harness.DATA_DIR, file_name(case) + ".npz")
        harness.save_trajectory(path, optax_reference(case))
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
