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

import pytensor

pytensor.config.mode = os.environ.get("SYMUPDATES_TEST_MODE", "FAST_COMPILE")
