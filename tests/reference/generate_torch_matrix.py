"""Golden trajectories of torch.optim.Adafactor and torch.optim.Muon on the test problem.

Run with torch installed (a test-time tool only, ``pip install torch==2.13.0``)::

    python tests/reference/generate_torch_matrix.py [case ...]

For each case of :data:`CASES` (or only those named), runs the torch.optim
optimizer on ``tests/harness.py``'s problem with the case's shapes, dtype and
steps, and writes ``tests/reference/data/torch_matrix_<case>.npz``.
``tests/test_rules_matrix.py`` runs the symupdates rule ``rule`` with the
keyword arguments ``ours`` (and ``fallback``, a rule name and its arguments,
for Muon's non-matrix parameters) on the same problem and compares; it also
runs torch live with :func:`torch_trajectory` when torch is importable.

torch.optim.Muon accepts matrices only and recommends another optimizer for
the other parameters; the ``fallback`` cases give those to
``torch.optim.SGD`` with momentum or to ``torch.optim.AdamW`` (torch's
recommendation), stepped together with Muon.  Muon runs its
Newton-Schulz iteration in bfloat16 whatever the parameters' dtype, so its
trajectories carry bfloat16 rounding (the tests account for it).  torch's
scalar state (Adafactor's step) follows the default dtype, set to float64
while a float64 reference runs.
"""

import contextlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for harness

import harness  # noqa: E402

WIDE = [(), (5,), (3, 4), (2, 3, 2), (5, 3, 2)]
MATRICES = [(3, 4), (5, 2), (4, 4)]
MIXED = [(), (5,), (3, 4), (2, 3, 2), (5, 2)]
STEPS = 25

#: name -> rule, ours (its kwargs), torch (class name, kwargs), shapes, dtype, fallback
CASES = {
    "adafactor_default": dict(rule="adafactor", ours={}, torch=("Adafactor", {}), shapes=WIDE),
    "adafactor_relative_step_decay": dict(
        rule="adafactor",
        ours=dict(learning_rate=0.5, beta2_decay=-0.6, epsilon1=1e-6, epsilon2=1e-2, clipping_threshold=1.5,
                  weight_decay=0.1),
        torch=("Adafactor", dict(lr=0.5, beta2_decay=-0.6, eps=(1e-6, 1e-2), d=1.5, weight_decay=0.1)),
        shapes=WIDE,
    ),
    "adafactor_large_epsilon1": dict(
        rule="adafactor", ours=dict(learning_rate=0.1, epsilon1=0.3),
        torch=("Adafactor", dict(lr=0.1, eps=(0.3, 1e-3))), shapes=WIDE,
    ),
    "adafactor_float32": dict(
        rule="adafactor", ours=dict(learning_rate=0.1), torch=("Adafactor", dict(lr=0.1)), shapes=WIDE,
        dtype="float32",
    ),
    "muon_default": dict(rule="muon", ours={}, torch=("Muon", {}), shapes=MATRICES),
    "muon_large_steps": dict(
        rule="muon", ours=dict(learning_rate=0.05), torch=("Muon", dict(lr=0.05)), shapes=MATRICES,
    ),
    "muon_options": dict(
        rule="muon",
        ours=dict(learning_rate=0.05, momentum=0.9, nesterov=False, weight_decay=0.05, ns_steps=3,
                  epsilon=1e-5, adjust_lr_fn="match_rms_adamw"),
        torch=("Muon", dict(lr=0.05, momentum=0.9, nesterov=False, weight_decay=0.05, ns_steps=3, eps=1e-5,
                            adjust_lr_fn="match_rms_adamw")),
        shapes=MATRICES,
    ),
    "muon_fallback": dict(
        rule="muon", ours=dict(learning_rate=0.05), torch=("Muon", dict(lr=0.05)), shapes=MIXED,
        fallback=("momentum", dict(learning_rate=0.05, momentum=0.9), "SGD", dict(lr=0.05, momentum=0.9)),
    ),
    "muon_fallback_adamw": dict(
        rule="muon", ours=dict(learning_rate=0.05), torch=("Muon", dict(lr=0.05)), shapes=MIXED,
        fallback=("adamw", dict(learning_rate=0.01, weight_decay=0.05), "AdamW", dict(lr=0.01, weight_decay=0.05)),
    ),
}


def case_problem(case):
    return harness.make_problem(steps=case.get("steps", STEPS), shapes=case.get("shapes", WIDE),
                                dtype=case.get("dtype", "float64"))


@contextlib.contextmanager
def default_dtype(dtype):
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def torch_trajectory(case):
    """The case's trajectory under torch.optim (matrices to Muon, the rest to the fallback)."""
    import torch

    name, kwargs = case["torch"]
    problem = case_problem(case)

    def make_optimizer(params):
        if "fallback" not in case:
            return getattr(torch.optim, name)(params, **kwargs)
        _, _, other_name, other_kwargs = case["fallback"]
        optimizers = [
            getattr(torch.optim, name)([p for p in params if p.ndim == 2], **kwargs),
            getattr(torch.optim, other_name)([p for p in params if p.ndim != 2], **other_kwargs),
        ]

        class Both:
            def step(self):
                for optimizer in optimizers:
                    optimizer.step()

        return Both()

    with default_dtype(problem["dtype"]):
        return harness.torch_trajectory(make_optimizer, problem)


def main():
    names = sys.argv[1:] or list(CASES)
    for name in names:
        path = os.path.join(harness.DATA_DIR, "torch_matrix_%s.npz" % name)
        harness.save_trajectory(path, torch_trajectory(CASES[name]))
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main()
