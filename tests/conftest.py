"""Test-session settings.

Numeric tests compile hundreds of small functions; under PyTensor's default
backend each compilation costs seconds on a cold cache.  They therefore run
with the Python linker (``FAST_COMPILE``), whose per-call cost is negligible
for the small test problems, and ``tests/test_backends.py`` checks that
every rule gives the same numbers under the compiled backends (C, Numba,
JAX, PyTorch) with explicit modes.  Set ``SYMUPDATES_TEST_MODE`` to run the
numeric tests under another mode (e.g. ``NUMBA``).
"""

import os

# Under pytest-xdist (README's test command runs two workers), every worker
# compiles into a directory of its own, C modules and PyTensor's Numba cache
# (``<base_compiledir>/numba``) alike: workers sharing one would wait on
# PyTensor's compile lock, and could read a Numba cache entry the other is
# still writing.
_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    _flags = [f for f in os.environ.get("PYTENSOR_FLAGS", "").split(",") if f]
    _base = next((f.split("=", 1)[1] for f in _flags if f.startswith("base_compiledir=")),
                 os.path.join(os.environ.get("HOME", os.path.expanduser("~")), ".pytensor"))  # PyTensor's default
    os.environ["PYTENSOR_FLAGS"] = ",".join([f for f in _flags if not f.startswith("base_compiledir=")]
                                            + ["base_compiledir=" + os.path.join(_base, "xdist-" + _worker)])

import pytensor  # noqa: E402  (after the flags above)
import pytest  # noqa: E402

pytensor.config.mode = os.environ.get("SYMUPDATES_TEST_MODE", "FAST_COMPILE")


@pytest.fixture
def no_new_shared(monkeypatch):
    """Fails the test if a shared variable (optimizer state) is created after this point."""
    created = []
    original = pytensor.shared

    def counting_shared(*args, **kwargs):
        var = original(*args, **kwargs)
        created.append(var)
        return var

    monkeypatch.setattr(pytensor, "shared", counting_shared)
    yield created
    assert created == [], "state was created before the error: %s" % [v.name for v in created]


#: The core the quick command runs (README: ``-m quick``, about a minute with
#: cold caches on 2 cores): every rule against its references, the peers'
#: own suites, the errors, the compositions and the documentation's examples.
QUICK = {"test_references.py", "test_optimizers.py", "test_formulas.py", "test_errors.py", "test_rules_adam.py",
         "test_rules_descent.py",
         "test_rules_layerwise.py", "test_lasagne_port.py", "test_docs.py", "test_transforms.py", "test_schedules.py",
         "test_state.py", "test_lasagne_updates.py", "test_pymc_updates.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in QUICK:
            item.add_marker(pytest.mark.quick)
