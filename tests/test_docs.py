"""The documentation runs and describes the code."""

import doctest
import glob
import os
import subprocess
import sys

import docutils.core
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = [os.path.join(ROOT, "README.rst")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.rst")))


@pytest.mark.parametrize("path", DOCUMENTS, ids=os.path.basename)
def test_examples_in_document_run(path):
    result = doctest.testfile(path, module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, "%d of %d examples in %s failed" % (result.failed, result.attempted, path)


@pytest.mark.parametrize("path", DOCUMENTS, ids=os.path.basename)
def test_document_is_valid_restructuredtext(path):
    with open(path) as f:
        source = f.read()
    docutils.core.publish_doctree(
        source, source_path=path, settings_overrides={"halt_level": 2, "report_level": 2}
    )


def test_readme_test_command_is_what_ci_runs():
    with open(os.path.join(ROOT, "README.rst")) as f:
        readme = f.read()
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        ci = f.read()
    command = "python3 -m pip install -q -e '.[test]' && python3 -m pytest -q -n 2 --dist worksteal"
    assert command in readme and command in ci


def test_rule_table_is_generated_from_the_code():
    script = os.path.join(ROOT, "docs", "generate_rule_table.py")
    result = subprocess.run([sys.executable, script, "--check"], cwd=ROOT)
    assert result.returncode == 0, "docs/rules.rst is stale: run python docs/generate_rule_table.py"
