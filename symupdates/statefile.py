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
import secrets
import socket
import stat
import zipfile
import zlib

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
    previous file or the new one, never a partial file.  An existing file
    keeps its permissions; a new file gets the umask's (as ``open`` would
    give it).  Temporary files of the same ``path`` left by a writer that
    was killed (its process is gone) are removed; those of a live writer are
    left alone.
    """
    named = state_names(updates)
    arrays = {name: var.get_value(borrow=True) for name, var in named.items()}
    arrays[FORMAT_KEY] = np.asarray(FORMAT_VERSION)
    path = _file_of_this_rank(named.values(), path)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(directory, os.path.basename(path))
    temporary, fd = _create_temporary(directory, os.path.basename(path))
    try:
        if os.path.exists(path):
            os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
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


# A temporary file is named ".<target>.<host>.<pid>.<random>.tmp": the host
# and process id tell a later save whether its writer is still alive.


def _temporary_prefix(basename):
    return ".%s." % basename


def _create_temporary(directory, basename):
    """A new temporary file for ``basename``, created with mode 0666 less the umask: ``(path, fd)``."""
    while True:
        name = "%s%s.%d.%s.tmp" % (_temporary_prefix(basename), socket.gethostname(), os.getpid(),
                                   secrets.token_hex(4))
        temporary = os.path.join(directory, name)
        try:
            return temporary, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue


def _remove_stale_temporaries(directory, basename):
    """Remove this host's temporary files of ``basename`` whose writing process is gone."""
    prefix, host = _temporary_prefix(basename), socket.gethostname()
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        parts = name[len(prefix):-len(".tmp")].rsplit(".", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue  # another host's writer, or not ours: its liveness cannot be told here
        if not _process_is_gone(int(parts[1])):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:  # another save removed it first
            pass


def _process_is_gone(pid):
    if pid == os.getpid():
        return False  # another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. another user's live process
        return False
    return False


def load_state(updates, path):
    """Set the optimizer state of ``updates`` from a file written by :func:`save_state`.

    Every entry is checked first: a file that is not a state file, of
    another format version, a missing or extra name, or a shape or dtype
    that differs from the variable's, raises ``ValueError`` and changes
    nothing.
    """
    variables = state_names(updates)
    path = _file_of_this_rank(variables.values(), path, reading=True)
    values = _read_state_file(path)
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


def _read_state_file(path):
    """``{name: array}`` of a state file; ``ValueError`` for any other file, ``OSError`` for none."""
    not_ours = "%s is not a symupdates state file (an .npz archive written by symupdates.save_state)" % (path,)
    unreadable = (EOFError, ValueError, zipfile.BadZipFile, zlib.error, KeyError)
    try:
        archive = np.load(path, allow_pickle=False)
    except unreadable as error:  # text, empty, truncated or pickled files
        raise ValueError(not_ours) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):  # an .npy array
        raise ValueError(not_ours)
    with archive:
        if FORMAT_KEY not in archive.files:
            raise ValueError(not_ours)
        try:
            values = {name: archive[name] for name in archive.files}
        except unreadable as error:  # a damaged entry
            raise ValueError("%s: %s" % (not_ours, error)) from error
    version = values.pop(FORMAT_KEY)
    if version.shape != () or version.dtype.kind not in "iu" or int(version) != FORMAT_VERSION:
        raise ValueError(
            "%s has state file format version %s; this symupdates reads version %d: "
            "load it with the symupdates that wrote it" % (path, version, FORMAT_VERSION)
        )
    return values
