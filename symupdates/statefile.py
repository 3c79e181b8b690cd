"""Optimizer state files: save all state by name, write atomically, load only what matches.

The file is a NumPy ``.npz`` archive with one array per state variable of
the updates (moments, accumulators, averages, step counters and the
counters of the schedules they use), keyed by the variable's name
(``W.adam.m``, ``adam.t``, ``cosine_decay.t``).  Names that occur more than
once (two rules' counters, unnamed parameters) get ``#2``, ``#3`` ... in
the order of the updates, so the same code building the same updates finds
the same entries.  Parameters are not included: save them as you do now.

The state of a sharded data-parallel rule
(``symupdates.distributed.data_parallel(rule, shard_state=True)``) is
different on every rank: each rank writes and reads its own file,
``state.rank<r>-of-<n>.npz`` for the ``path`` ``state.npz``
(:func:`symupdates.distributed.shard_file`), so every rank calls
:func:`save_state` and :func:`load_state` with the same ``path``; resuming
needs the same number of ranks.
"""

import os
import tempfile

import numpy as np

from .schedules import with_schedules
from .state import state_variables

__all__ = ["save_state", "load_state", "state_names"]

#: Marks a file as ours; the value is the format version.
FORMAT_KEY = "__symupdates_state_format__"
FORMAT_VERSION = 1


def _file_of_this_rank(variables, path, reading=False):
    from .distributed import shard_file  # imports no MPI; imported late to keep `import symupdates` light

    return shard_file(variables, os.fspath(path), reading)


def state_names(updates):
    """``{name: variable}`` for every optimizer-state variable of ``updates``, in order."""
    named, seen = {}, {}
    for var in state_variables(with_schedules(updates)):
        base = var.name or "state"
        seen[base] = seen.get(base, 0) + 1
        named[base if seen[base] == 1 else "%s#%d" % (base, seen[base])] = var
    return named


def save_state(updates, path):
    """Write the optimizer state of ``updates`` to ``path``, atomically.

    The archive is written to a temporary file next to ``path``, flushed to
    disk, and renamed over ``path``: a crash at any moment leaves either the
    previous file or the new one, never a partial file.
    """
    named = state_names(updates)
    arrays = {name: var.get_value(borrow=True) for name, var in named.items()}
    arrays[FORMAT_KEY] = np.asarray(FORMAT_VERSION)
    path = _file_of_this_rank(named.values(), path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    try:  # make the rename itself durable
        directory_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


def load_state(updates, path):
    """Set the optimizer state of ``updates`` from a file written by :func:`save_state`.

    Every entry is checked first: a missing or extra name, or a shape or
    dtype that differs from the variable's, raises ``ValueError`` and
    changes nothing.
    """
    variables = state_names(updates)
    path = _file_of_this_rank(variables.values(), path, reading=True)
    with np.load(path, allow_pickle=False) as archive:
        if FORMAT_KEY not in archive.files:
            raise ValueError("%s is not a symupdates state file" % (path,))
        values = {name: archive[name] for name in archive.files if name != FORMAT_KEY}
    missing = [n for n in variables if n not in values]
    extra = [n for n in values if n not in variables]
    if missing or extra:
        raise ValueError(
            "%s does not match these updates: missing %s, unexpected %s"
            % (path, ", ".join(missing) or "nothing", ", ".join(extra) or "nothing")
        )
    for name, var in variables.items():
        current = var.get_value(borrow=True)
        if values[name].shape != current.shape or values[name].dtype != current.dtype:
            raise ValueError(
                "%s: %s has shape %s and dtype %s in the file; the updates need shape %s and dtype %s"
                % (path, name, values[name].shape, values[name].dtype, current.shape, current.dtype)
            )
    for name, var in variables.items():
        var.set_value(values[name])
