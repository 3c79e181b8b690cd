"""Golden trajectories of optax's layer-wise and matrix rules on the test problem.

Run from the repository root (needs jax and optax, test-time tools only)::

    python tests/reference/generate_optax_layerwise.py

For every case of :data:`CASES` it runs the optax optimizer on
``tests/harness.py``'s problem (with the case's shapes, steps and dtype) and
writes ``tests/reference/data/optax_layerwise_<case>.npz``.  ``tests/test_rules_layerwise.py``
and ``tests/test_rules_matrix.py`` read the same table: ``rule`` and
``ours`` say which symupdates call must reproduce the trajectory; ``optax``
names the optax function and its arguments.  The optax arguments are written
out in full here, independently of symupdates' defaults.

optax's SM3 does not accept 0-d parameters; for those the case runs optax on
the parameter as a 1-element vector (an SM3 accumulator of one element), and
the trajectory stores it reshaped back to 0-d.
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import harness  # noqa: E402

MIXED = [(), (5,), (3, 4), (2, 3, 2)]
WIDE = [(), (5,), (3, 4), (2, 3, 2), (5, 3, 2)]
MATRICES = [(3, 4), (5, 2), (4, 4)]
MASK = [True, False, True, True]

#: name -> rule (symupdates), ours (its kwargs), optax (function, kwargs), shapes, steps, dtype
CASES = {
    "lamb_default": dict(
        rule="lamb", ours=dict(learning_rate=0.01), optax=("lamb", dict(learning_rate=0.01)),
    ),
    "lamb_decay_mask": dict(
        rule="lamb",
        ours=dict(learning_rate=0.02, beta1=0.8, beta2=0.99, epsilon=1e-5, epsilon_root=1e-8,
                  weight_decay=0.1, weight_decay_mask=MASK),
        optax=("lamb", dict(learning_rate=0.02, b1=0.8, b2=0.99, eps=1e-5, eps_root=1e-8,
                            weight_decay=0.1, mask=MASK)),
    ),
    "lamb_float32": dict(
        rule="lamb", ours=dict(learning_rate=0.01, weight_decay=0.01),
        optax=("lamb", dict(learning_rate=0.01, weight_decay=0.01)), dtype="float32",
    ),
    "lamb_zero_params": dict(
        rule="lamb", ours=dict(learning_rate=0.01), optax=("lamb", dict(learning_rate=0.01)), zero_init=[0, 2],
    ),
    "lars_default": dict(
        rule="lars", ours=dict(learning_rate=0.5), optax=("lars", dict(learning_rate=0.5)),
    ),
    "lars_nesterov_masks": dict(
        rule="lars",
        ours=dict(learning_rate=0.2, momentum=0.8, weight_decay=0.01, trust_coefficient=0.1, epsilon=1e-3,
                  nesterov=True, weight_decay_mask=[False, True, True, True],
                  trust_ratio_mask=[False, True, False, True]),
        optax=("lars", dict(learning_rate=0.2, momentum=0.8, weight_decay=0.01, trust_coefficient=0.1, eps=1e-3,
                            nesterov=True, weight_decay_mask=[False, True, True, True],
                            trust_ratio_mask=[False, True, False, True])),
    ),
    "lars_float32": dict(
        rule="lars", ours=dict(learning_rate=0.5, weight_decay=0.01),
        optax=("lars", dict(learning_rate=0.5, weight_decay=0.01)), dtype="float32",
    ),
    "lars_zero_params": dict(
        rule="lars", ours=dict(learning_rate=0.5, trust_coefficient=0.1),
        optax=("lars", dict(learning_rate=0.5, trust_coefficient=0.1)), zero_init=[1, 3],
    ),
    "novograd_default": dict(
        rule="novograd", ours=dict(learning_rate=0.01), optax=("novograd", dict(learning_rate=0.01)),
    ),
    "novograd_decay": dict(
        rule="novograd",
        ours=dict(learning_rate=0.02, beta1=0.8, beta2=0.5, epsilon=1e-5, epsilon_root=1e-7, weight_decay=0.05),
        optax=("novograd", dict(learning_rate=0.02, b1=0.8, b2=0.5, eps=1e-5, eps_root=1e-7, weight_decay=0.05)),
    ),
    "novograd_float32": dict(
        rule="novograd", ours=dict(learning_rate=0.01), optax=("novograd", dict(learning_rate=0.01)),
        dtype="float32",
    ),
    "fromage_default": dict(
        rule="fromage", ours=dict(learning_rate=0.01), optax=("fromage", dict(learning_rate=0.01)),
    ),
    "fromage_min_norm": dict(
        rule="fromage", ours=dict(learning_rate=0.2, min_norm=0.5),
        optax=("fromage", dict(learning_rate=0.2, min_norm=0.5)),
    ),
    "fromage_zero_norm": dict(
        rule="fromage", ours=dict(learning_rate=0.1, min_norm=0.0),
        optax=("fromage", dict(learning_rate=0.1, min_norm=0.0)), zero_init=[2],
    ),
    "fromage_float32": dict(
        rule="fromage", ours=dict(learning_rate=0.05), optax=("fromage", dict(learning_rate=0.05)),
        dtype="float32",
    ),
    "sm3_default": dict(
        rule="sm3", ours=dict(learning_rate=0.1), optax=("sm3", dict(learning_rate=0.1)), shapes=WIDE,
    ),
    "sm3_momentum": dict(
        rule="sm3", ours=dict(learning_rate=0.3, momentum=0.5), optax=("sm3", dict(learning_rate=0.3, momentum=0.5)),
        shapes=WIDE,
    ),
    "sm3_float32": dict(
        rule="sm3", ours=dict(learning_rate=0.1), optax=("sm3", dict(learning_rate=0.1)), shapes=WIDE,
        dtype="float32",
    ),
    "adafactor_default": dict(
        rule="adafactor",
        ours=dict(learning_rate=0.05, relative_step=False, epsilon1=1e-30, epsilon1_added=True,
                  min_dim_size_to_factor=128),
        optax=("adafactor", dict(learning_rate=0.05)), shapes=WIDE,
    ),
    "adafactor_factored": dict(
        rule="adafactor",
        ours=dict(learning_rate=0.1, beta2_decay=-0.7, clipping_threshold=0.5, relative_step=False,
                  epsilon1=1e-20, epsilon1_added=True, min_dim_size_to_factor=2),
        optax=("adafactor", dict(learning_rate=0.1, decay_rate=0.7, clipping_threshold=0.5, eps=1e-20,
                                 min_dim_size_to_factor=2)),
        shapes=WIDE,
    ),
    "adafactor_unscaled_unclipped": dict(
        rule="adafactor",
        ours=dict(learning_rate=0.01, clipping_threshold=None, multiply_by_parameter_scale=False,
                  relative_step=False, epsilon1=1e-30, epsilon1_added=True, min_dim_size_to_factor=3),
        optax=("adafactor", dict(learning_rate=0.01, clipping_threshold=None, multiply_by_parameter_scale=False,
                                 min_dim_size_to_factor=3)),
        shapes=WIDE,
    ),
    # optax computes Adafactor's decay rate in float32 even for float64 parameters; these
    # chains are optax.adafactor's own transforms with the decay rate computed in float64,
    # for a comparison at float64 precision.
    "adafactor_float64_decay": dict(
        rule="adafactor",
        ours=dict(learning_rate=0.05, relative_step=False, epsilon1=1e-30, epsilon1_added=True,
                  min_dim_size_to_factor=128),
        optax=("adafactor_float64_decay", dict(learning_rate=0.05)), shapes=WIDE,
    ),
    "adafactor_float64_decay_factored": dict(
        rule="adafactor",
        ours=dict(learning_rate=0.1, beta2_decay=-0.7, clipping_threshold=0.5, relative_step=False,
                  epsilon1=1e-20, epsilon1_added=True, min_dim_size_to_factor=2),
        optax=("adafactor_float64_decay", dict(learning_rate=0.1, decay_rate=0.7, clipping_threshold=0.5, eps=1e-20,
                                               min_dim_size_to_factor=2)),
        shapes=WIDE,
    ),
    "muon_default": dict(
        rule="muon",
        ours=dict(learning_rate=0.02, weight_decay=0.0, epsilon=1e-8, epsilon_added=True, bias_correction=True,
                  fan_out_axis=1),
        optax=("contrib.muon", dict(learning_rate=0.02)), shapes=MATRICES,
    ),
    "muon_plain_decay": dict(
        rule="muon",
        ours=dict(learning_rate=0.05, momentum=0.9, nesterov=False, weight_decay=0.1, ns_steps=3,
                  ns_coefficients=(3.0, -3.2, 1.2), epsilon=1e-6, epsilon_added=True, bias_correction=True,
                  fan_out_axis=1),
        optax=("contrib.muon", dict(learning_rate=0.05, beta=0.9, nesterov=False, weight_decay=0.1, ns_steps=3,
                                    ns_coeffs=(3.0, -3.2, 1.2), eps=1e-6)),
        shapes=MATRICES,
    ),
    "muon_consistent_rms": dict(
        rule="muon",
        ours=dict(learning_rate=0.02, weight_decay=0.0, epsilon=1e-8, epsilon_added=True, bias_correction=True,
                  adjust_lr_fn="match_rms_adamw"),
        optax=("contrib.muon", dict(learning_rate=0.02, consistent_rms=0.2)), shapes=MATRICES,
    ),
}

STEPS = 25


def case_problem(case):
    problem = harness.make_problem(steps=case.get("steps", STEPS), shapes=case.get("shapes", MIXED),
                                   dtype=case.get("dtype", "float64"))
    for i in case.get("zero_init", ()):  # the conventions at a zero norm
        problem["init"][i] = np.zeros_like(problem["init"][i])
    return problem


def adafactor_float64_decay(learning_rate, decay_rate=0.8, clipping_threshold=1.0, eps=1e-30,
                            min_dim_size_to_factor=128):
    """optax.adafactor's chain (no momentum, no weight decay) with a float64 decay rate."""
    import jax.numpy as jnp
    import optax
    from optax._src import factorized

    def decay_rate_fn(step, exponent):
        return 1.0 - jnp.asarray(step + 1, jnp.float64) ** (-exponent)

    return optax.chain(
        factorized.scale_by_factored_rms(True, decay_rate, 0, min_dim_size_to_factor, eps, decay_rate_fn),
        optax.clip_by_block_rms(clipping_threshold),
        optax.scale_by_learning_rate(learning_rate, flip_sign=False),
        optax.scale_by_param_block_rms(),
        optax.scale(-1),
    )


def optax_trajectory(case):
    import jax
    import jax.numpy as jnp
    import optax

    function, kwargs = case["optax"]
    make = adafactor_float64_decay if function == "adafactor_float64_decay" else optax
    for part in function.split(".") if make is optax else ():
        make = getattr(make, part)
    optimizer = make(**kwargs)
    problem = case_problem(case)
    # optax's SM3 has no accumulator for a 0-d tensor: run it as a 1-element vector.
    as_vector = case["rule"] == "sm3"
    shapes = [np.shape(v) for v in problem["init"]]

    def to_optax(arrays):
        return [jnp.asarray(a.reshape(1) if as_vector and a.ndim == 0 else a) for a in arrays]

    params = to_optax(problem["init"])
    state = optimizer.init(params)
    trajectory = []
    for t in range(problem["steps"]):
        numpy_params = [np.asarray(p).reshape(s) for p, s in zip(params, shapes)]
        grads = to_optax(harness.numpy_grads(problem, numpy_params, t))
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        step = [np.asarray(p).reshape(s) for p, s in zip(params, shapes)]
        assert all(x.dtype == problem["dtype"] for x in step), "optax changed the dtype"
        trajectory.append(step)
    return trajectory


def main():
    import jax

    jax.config.update("jax_enable_x64", True)
    names = sys.argv[1:] or list(CASES)  # optionally, only the cases named
    for name in names:
        case = CASES[name]
        path = os.path.join(harness.DATA_DIR, "optax_layerwise_%s.npz" % name)
        harness.save_trajectory(path, optax_trajectory(case))
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
