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

# Under pytest-xdist (README's test command runs ``-n 2``), every worker
# compiles into a directory of its own: workers sharing one would wait on
# PyTensor's compile lock instead of compiling side by side.
_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    os.environ["PYTENSOR_FLAGS"] = ",".join(filter(None, [
        os.environ.get("PYTENSOR_FLAGS"),
        "compiledir_format=compiledir_%(short_platform)s-%(processor)s-%(python_version)s-" + _worker,
    ]))

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
