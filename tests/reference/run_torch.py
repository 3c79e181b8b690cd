"""torch.optim on the harness problem: the golden trajectories of the torch sources.

A library of ``tests/reference/generate.py`` (which writes the files) and of
``tests/test_references.py`` (which runs torch live when it is installed,
``pip install torch==2.13.0``).  The cases, with the torch.optim class and
its arguments, are the table's (``tests/optimizers.py``):

* ``torch_core``: settings under which torch's published form and Lasagne's
  coincide exactly (momentum with a constant learning rate: Lasagne's
  ``v = mu v - lr g`` is ``-lr`` times torch's ``b = mu b + g``; adagrad,
  rmsprop, adam, amsgrad and adamax with both epsilons 0, where the two
  epsilon placements agree; adadelta with any epsilon);
* ``torch_adam``, ``torch_descent``: torch's own forms, every switch;
* ``torch_matrix``: Adafactor and Muon.  torch.optim.Muon accepts matrices
  only; a case with a ``fallback`` gives the other parameters to that torch
  optimizer (SGD with momentum, or AdamW, torch's recommendation), stepped
  together with Muon.  Muon runs its Newton-Schulz iteration in bfloat16
  whatever the parameters' dtype, so its trajectories carry bfloat16
  rounding (the tests account for it).

torch keeps some scalar state (NAdam's ``mu_product``, the step, ASGD's step
size and averaging weight, Adafactor's step) in its default dtype: for the
sources of :data:`SCALARS_IN_PROBLEM_DTYPE` it is set to the problem's dtype
while a reference runs, so that float64 references are float64 throughout
(``torch_core`` was written with torch's default, float32 scalars: its forms
keep no such state).
"""

import contextlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for harness

import harness  # noqa: E402

SCALARS_IN_PROBLEM_DTYPE = {"torch_adam", "torch_descent", "torch_matrix"}
#: sources run with torch's single-tensor code path (``foreach=False``)
SINGLE_TENSOR = {"torch_descent"}


@contextlib.contextmanager
def default_dtype(dtype):
    import torch

    previous = torch.get_default_dtype()
    if dtype is not None:
        torch.set_default_dtype(getattr(torch, dtype))
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def trajectory(case):
    """The trajectory of the case's torch.optim optimizer, computed now."""
    import torch

    name, kwargs = case.reference
    if case.source in SINGLE_TENSOR:
        kwargs = dict(kwargs, foreach=False)
    problem = case.problem()

    def make_optimizer(params):
        if case.fallback is None:
            return getattr(torch.optim, name)(params, **kwargs)
        _, _, other_name, other_kwargs = case.fallback
        optimizers = [
            getattr(torch.optim, name)([p for p in params if p.ndim == 2], **kwargs),
            getattr(torch.optim, other_name)([p for p in params if p.ndim != 2], **other_kwargs),
        ]

        class Both:
            def step(self):
                for optimizer in optimizers:
                    optimizer.step()

        return Both()

    with default_dtype(problem["dtype"] if case.source in SCALARS_IN_PROBLEM_DTYPE else None):
        return harness.torch_trajectory(make_optimizer, problem)


def version():
    import torch

    return "torch " + torch.__version__
