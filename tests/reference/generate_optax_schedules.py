"""Golden values of optax's schedules, for tests/test_schedules.py.

Run with jax and optax installed (test-time tools only)::

    python tests/reference/generate_optax_schedules.py

writes tests/reference/data/optax_schedules.npz: one array per case, the
schedule's value at steps 0 .. STEPS-1, computed in float64.  The cases are
named; tests/test_schedules.py builds the same schedules with symupdates
under the same names.
"""

import os

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

STEPS = 60
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "optax_schedules.npz")

CASES = {
    "constant": optax.constant_schedule(0.3),
    "polynomial": optax.polynomial_schedule(1.0, 0.01, power=2.5, transition_steps=40, transition_begin=5),
    "linear": optax.linear_schedule(0.2, 0.05, transition_steps=30, transition_begin=10),
    "exponential": optax.exponential_decay(0.5, transition_steps=7, decay_rate=0.8),
    "exponential_staircase_begin_end": optax.exponential_decay(
        0.5, transition_steps=6, decay_rate=0.7, transition_begin=4, staircase=True, end_value=0.05
    ),
    "exponential_growth_end": optax.exponential_decay(0.01, transition_steps=5, decay_rate=1.5, end_value=0.2),
    "cosine_decay": optax.cosine_decay_schedule(0.4, decay_steps=45, alpha=0.1, exponent=1.5),
    "warmup_cosine_decay": optax.warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=8, decay_steps=50, end_value=0.02),
    "piecewise_constant": optax.piecewise_constant_schedule(0.2, {10: 0.5, 25: 0.1, 40: 3.0}),
    "piecewise_interpolate_linear": optax.piecewise_interpolate_schedule("linear", 1.0, {4: 0.1, 20: 0.5, 45: 0.01}),
    "piecewise_interpolate_cosine": optax.piecewise_interpolate_schedule("cosine", 1.0, {10: 2.0, 30: 0.1}),
    "linear_onecycle": optax.linear_onecycle_schedule(50, 0.6),
    "cosine_onecycle": optax.cosine_onecycle_schedule(50, 0.6, pct_start=0.25),
    "sgdr": optax.sgdr_schedule([
        dict(init_value=0.0, peak_value=1.0, warmup_steps=3, decay_steps=15, end_value=0.1),
        dict(init_value=0.1, peak_value=0.5, warmup_steps=2, decay_steps=20),
        dict(init_value=0.0, peak_value=0.25, warmup_steps=4, decay_steps=30, exponent=2.0),
    ]),
    "join": optax.join_schedules(
        [optax.linear_schedule(0.0, 1.0, 10), optax.constant_schedule(1.0), optax.exponential_decay(1.0, 3, 0.5)],
        [10, 25],
    ),
}


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    steps = jnp.arange(STEPS, dtype=jnp.int64)
    golden = {name: np.asarray([float(fn(s)) for s in steps], dtype=np.float64) for name, fn in CASES.items()}
    np.savez(OUT, optax_version=np.asarray(optax.__version__), **golden)
    print("wrote %d schedules to %s (optax %s)" % (len(golden), OUT, optax.__version__))


if __name__ == "__main__":
    main()
