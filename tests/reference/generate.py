"""Writes the golden files of tests/reference/data from the table of tests/optimizers.py.

Run from the repository root, with the source libraries installed (test-time
tools only: ``pip install torch==2.13.0``; jax and optax; keras)::

    python tests/reference/generate.py                  # every source
    python tests/reference/generate.py torch_adam ...   # the named sources
    python tests/reference/generate.py torch_adam_adam  # one case (its file name)
    python tests/reference/generate.py --check ...      # compare with the committed files, write nothing

Every golden case of the table (``optimizers.GOLDEN``) names its source, our
call and the reference's call; each source's library module
(``run_torch.py``, ``run_optax.py``, ``run_keras.py``) runs the reference on
the case's harness problem, and the trajectory is written to
``tests/reference/data/<source>_<case>.npz`` with ``harness.save_trajectory``
(keys ``"s{step}_p{index}"``).  The source ``optax_schedules``
(``generate_optax_schedules.py``) writes the schedules' values for
tests/test_schedules.py.
"""

import importlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/, for harness and optimizers
sys.path.insert(0, HERE)

import harness  # noqa: E402
import optimizers  # noqa: E402

#: source -> the library module that runs it
LIBRARIES = {source: "run_" + source.split("_")[0] for source in optimizers.SOURCES}


def cases_named(names):
    """The golden cases of the named sources or files (all without names)."""
    if not names:
        return list(optimizers.GOLDEN)
    by_file = {case.file_name: case for case in optimizers.GOLDEN}
    unknown = [n for n in names if n not in optimizers.SOURCES and n not in by_file and n != "optax_schedules"]
    if unknown:
        raise SystemExit("unknown sources or cases: %s (sources: %s)" % (", ".join(unknown),
                                                                          ", ".join(optimizers.SOURCES)))
    return [case for case in optimizers.GOLDEN if case.source in names or case.file_name in names]


def main(argv):
    check = "--check" in argv
    names = [a for a in argv if a != "--check"]
    libraries, differing = {}, []
    for case in cases_named(names):
        module = LIBRARIES[case.source]
        if module not in libraries:
            libraries[module] = importlib.import_module(module)
            print(libraries[module].version())
        trajectory = libraries[module].trajectory(case)
        path = os.path.join(harness.DATA_DIR, case.file_name + ".npz")
        if check:
            committed = harness.load_trajectory(case.file_name)
            try:
                harness.assert_golden_is_live(committed, trajectory)
            except AssertionError as error:
                differing.append(case.file_name)
                print("DIFFERS", os.path.relpath(path), str(error).strip().splitlines()[1:3])
                continue
            same = all((a == b).all() for s, r in zip(committed, trajectory) for a, b in zip(s, r))
            print("same" if same else "same to the last bits", os.path.relpath(path))
        else:
            harness.save_trajectory(path, trajectory)
            print("wrote", os.path.relpath(path))
    if not check and (not names or "optax_schedules" in names):
        importlib.import_module("generate_optax_schedules").main()
    if differing:
        raise SystemExit("%d golden files differ from their source: %s" % (len(differing), ", ".join(differing)))


if __name__ == "__main__":
    main(sys.argv[1:])
