"""The PyMC stage's test session (see .ci/run): PyMC's PyTensor line, no torch.

Like tests/conftest.py, functions compile with the Python linker
(``FAST_COMPILE``): the models are tiny and a cold C cache costs minutes.
"""

import os

import pytensor

pytensor.config.mode = os.environ.get("SYMUPDATES_TEST_MODE", "FAST_COMPILE")
