"""Data-parallel training over MPI, inside the compiled step.

Every process (rank) builds the same model, computes the gradients of its
slice of the mini-batch, and calls the compiled step; the step averages the
gradients over all ranks with one all-reduce *in the PyTensor graph* and
applies the rule to the average, so that every rank takes the same step as
one process on the whole mini-batch would (the idiom of Horovod's
``DistributedOptimizer``, torch's ``DistributedDataParallel`` and
``jax.lax.pmean`` before an optax update)::

    from symupdates.distributed import data_parallel, broadcast_parameters
    broadcast_parameters(params)                   # every rank starts from rank 0's values
    rule = data_parallel(adam(learning_rate=1e-3))
    updates = rule(loss_of_my_slice, params)
    step = pytensor.function([x, y], loss, updates=updates)

and run it as ``mpiexec -n 4 python train.py``.  ``shard_state=True`` is
ZeRO stage 1 (torch's ``ZeroRedundancyOptimizer``): each rank keeps the
optimizer state of its share of the parameters only, steps that share, and
the new values are exchanged in the same step.

The collectives are PyTensor ops (:class:`AllReduceSum`, :class:`AllGather`)
with implementations for the C/CVM linker, Numba and the py linker.  With
MPICH (the ``mpich`` wheel that ``pip install symupdates[distributed]``
installs) the C and Numba implementations call ``MPI_Allreduce`` and
``MPI_Allgatherv`` of the library mpi4py loaded, directly, with MPICH's
integer handles (Numba by symbol name, so that the op has a Numba cache
key); with another MPI they fall back to mpi4py from Python.

An uncaught exception on one rank would leave the others waiting in a
collective forever; so once :func:`data_parallel` or
:func:`broadcast_parameters` has run on a communicator of more than one
rank, an uncaught exception prints its traceback and then aborts the whole
job (``MPI_Abort``), like ``python -m mpi4py``.  mpiexec ends every rank
with a non-zero exit code.

mpi4py is imported when first needed: importing :mod:`symupdates` does not
need it.
"""

import ctypes
import glob
import os
import sys
import time
from collections import OrderedDict

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.link.c.op import COp

from .core import as_type_of, check_params, get_or_compute_grads, is_state, param_label
from .schedules import with_schedules

__all__ = ["data_parallel", "broadcast_parameters", "AllReduceSum", "AllGather", "RankDisagreementError",
           "shard_owners"]

#: Tag attribute on the state variables of a sharded rule: ``(rank, size)``.
SHARD_TAG = "symupdates_shard"


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise ImportError("symupdates.distributed needs mpi4py: pip install 'symupdates[distributed]'") from error
    return MPI


def _communicator(comm):
    return _mpi().COMM_WORLD if comm is None else comm


class RankDisagreementError(ValueError):
    """The ranks built different parameter lists; raised on every rank alike."""

    #: every rank raises it at the same point, so no rank needs to abort the others
    on_every_rank = True


# ---------------------------------------------------------------------------
# ending the whole job when one rank fails


_ABORT_HOOKED = []

#: How long a failing rank waits, after printing its traceback, before it aborts the job.
ABORT_GRACE_SECONDS = 0.5


def _abort_job_on_uncaught_exception(comm):
    """After an uncaught exception's traceback, ``MPI_Abort`` the job (once per process)."""
    if comm.Get_size() == 1 or _ABORT_HOOKED:
        return
    previous = sys.excepthook

    def hook(kind, value, traceback):
        previous(kind, value, traceback)
        if getattr(value, "on_every_rank", False):
            return  # all ranks raise it: they leave MPI together
        sys.stderr.flush()
        sys.stdout.flush()
        # MPICH's process manager forwards output asynchronously and stops
        # forwarding when the job aborts: without a pause the traceback just
        # printed was lost in part or whole (seen under load, mpich 5.0).
        time.sleep(ABORT_GRACE_SECONDS)
        _mpi().COMM_WORLD.Abort(1)

    sys.excepthook = hook
    _ABORT_HOOKED.append(hook)


# ---------------------------------------------------------------------------
# the ranks must agree on the parameters


def _describe(params):
    return [(param_label(p, i), tuple(p.get_value(borrow=True).shape), str(p.dtype)) for i, p in enumerate(params)]


def _check_agreement(params, comm, who):
    """Raise :class:`RankDisagreementError` on every rank unless all ranks hold the same parameter shapes and dtypes."""
    mine = _describe(params)
    everyone = comm.allgather(mine)
    if all(d == everyone[0] for d in everyone):
        return
    lines = []
    for rank, desc in enumerate(everyone):
        listed = ", ".join("%s %s %s" % (name, shape, dtype) for name, shape, dtype in desc)
        lines.append("  rank %d: %d parameters: %s" % (rank, len(desc), listed))
    raise RankDisagreementError(
        "%s: the ranks' parameters differ in number, shape or dtype; every rank must build the same "
        "model (rank %d of %d here):\n%s" % (who, comm.Get_rank(), comm.Get_size(), "\n".join(lines))
    )


# ---------------------------------------------------------------------------
# the collective ops


def _uses_mpich_handles():
    """True when mpi4py runs on MPICH's ABI: integer handles the compiled code may call with."""
    MPI = _mpi()
    return MPI.Get_library_version().startswith("MPICH") and isinstance(MPI._handleof(MPI.COMM_WORLD), int)


def _handles(dtype):
    """MPICH's integer handles of the datatype for ``dtype`` and of MPI_SUM."""
    MPI = _mpi()
    datatype = {"float64": MPI.DOUBLE, "float32": MPI.FLOAT, "float16": None}[str(dtype)]
    if datatype is None:
        raise TypeError("the MPI collectives support float32 and float64 buffers, got %s" % dtype)
    return MPI._handleof(datatype), MPI._handleof(MPI.SUM)


def _mpi_address(name):
    """The address of the function ``name`` in the MPI library mpi4py loaded."""
    library = ctypes.CDLL(_mpi().__file__)  # dlsym searches the extension's dependencies: mpi4py's libmpi
    return ctypes.cast(getattr(library, name), ctypes.c_void_p).value


def _mpi_function_addresses():
    """``(MPI_Allreduce, MPI_Allgatherv)`` addresses, for the C implementations."""
    return _mpi_address("MPI_Allreduce"), _mpi_address("MPI_Allgatherv")


_COMMS = {}


def _comm_of(handle):
    if handle not in _COMMS:
        _COMMS[handle] = _mpi().Comm.f2py(handle)
    return _COMMS[handle]


_C_SUPPORT = r"""
typedef int (*symupdates_allreduce_fn)(const void*, void*, int, int, int, int);
typedef int (*symupdates_allgatherv_fn)(const void*, int, int, void*, const int*, const int*, int, int);
static symupdates_allreduce_fn symupdates_mpi_allreduce = NULL;
static symupdates_allgatherv_fn symupdates_mpi_allgatherv = NULL;

/* The functions of the MPI library mpi4py loaded, found by symupdates.distributed (no link flags, one library). */
static int symupdates_mpi_load(void)
{
    PyObject* module = PyImport_ImportModule("symupdates.distributed");
    PyObject* addresses = module ? PyObject_CallMethod(module, "_mpi_function_addresses", NULL) : NULL;
    Py_XDECREF(module);
    if (!addresses)
        return -1;
    symupdates_mpi_allreduce = (symupdates_allreduce_fn)PyLong_AsVoidPtr(PyTuple_GetItem(addresses, 0));
    symupdates_mpi_allgatherv = (symupdates_allgatherv_fn)PyLong_AsVoidPtr(PyTuple_GetItem(addresses, 1));
    Py_DECREF(addresses);
    return PyErr_Occurred() ? -1 : 0;
}
"""


class _Collective(COp):
    """A collective over the ranks of the communicator ``comm_handle`` (its ``py2f()`` integer)."""

    def _check_input(self, x):
        x = pt.as_tensor_variable(x)
        if x.ndim != 1 or x.dtype not in ("float32", "float64"):
            raise TypeError("%s takes a float32 or float64 vector, got %s" % (type(self).__name__, x.type))
        return x

    def c_support_code(self, **kwargs):
        return _C_SUPPORT

    def c_headers(self, **kwargs):
        return ["<limits.h>"]

    def c_code_cache_version(self):
        return (1,)

    def _c_prelude(self, node, x, fail):
        if not _uses_mpich_handles():
            from pytensor.graph.utils import MethodNotDefined

            raise MethodNotDefined("the C implementation needs MPICH's integer handles")
        datatype, sum_op = _handles(node.inputs[0].dtype)
        # the caller closes this block: a failure jumps out of it, never across an initialisation
        return datatype, sum_op, """
        {
        if (!symupdates_mpi_allreduce && symupdates_mpi_load() != 0) { %(fail)s }
        PyArrayObject* contiguous = PyArray_GETCONTIGUOUS(%(x)s);
        if (!contiguous) { %(fail)s }
        if (PyArray_SIZE(contiguous) > INT_MAX) {
            Py_DECREF(contiguous);
            PyErr_SetString(PyExc_ValueError, "MPI collectives take at most INT_MAX elements");
            %(fail)s
        }
        """ % {"x": x, "fail": fail}


class AllReduceSum(_Collective):
    """The element-wise sum of a vector over all ranks of a communicator (``MPI_Allreduce`` with ``MPI_SUM``).

    Every rank must run it, with a vector of the same length and dtype.
    """

    __props__ = ("comm_handle",)

    def __init__(self, comm_handle):
        _ensure_numba_registered()
        self.comm_handle = int(comm_handle)

    def make_node(self, x):
        x = self._check_input(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        x = np.ascontiguousarray(inputs[0])
        total = np.empty_like(x)
        _comm_of(self.comm_handle).Allreduce(x, total)
        outputs[0][0] = total

    def c_code(self, node, name, inputs, outputs, sub):
        (x,), (z,), fail = inputs, outputs, sub["fail"]
        datatype, sum_op, prelude = self._c_prelude(node, x, fail)
        return prelude + """
        {
            npy_intp n = PyArray_SIZE(contiguous);
            if (!(%(z)s && PyArray_NDIM(%(z)s) == 1 && PyArray_SIZE(%(z)s) == n && PyArray_IS_C_CONTIGUOUS(%(z)s)
                  && PyArray_TYPE(%(z)s) == PyArray_TYPE(contiguous))) {
                Py_XDECREF(%(z)s);
                %(z)s = (PyArrayObject*)PyArray_EMPTY(1, &n, PyArray_TYPE(contiguous), 0);
            }
            if (!%(z)s) { Py_DECREF(contiguous); %(fail)s }
            int error = symupdates_mpi_allreduce(PyArray_DATA(contiguous), PyArray_DATA(%(z)s), (int)n,
                                                 %(datatype)d, %(sum_op)d, %(comm)d);
            Py_DECREF(contiguous);
            if (error) { PyErr_Format(PyExc_RuntimeError, "MPI_Allreduce failed: error %%d", error); %(fail)s }
        }
        }
        """ % dict(z=z, fail=fail, datatype=datatype, sum_op=sum_op, comm=self.comm_handle)


class AllGather(_Collective):
    """Every rank's vector, concatenated in rank order, on every rank (``MPI_Allgatherv``).

    ``counts[r]`` is the length of rank ``r``'s vector (zero allowed).
    """

    __props__ = ("comm_handle", "counts")

    def __init__(self, comm_handle, counts):
        _ensure_numba_registered()
        self.comm_handle = int(comm_handle)
        self.counts = tuple(int(c) for c in counts)

    def make_node(self, x):
        x = self._check_input(x)
        return Apply(self, [x], [pt.TensorType(x.dtype, shape=(sum(self.counts),))()])

    def perform(self, node, inputs, outputs):
        x = np.ascontiguousarray(inputs[0])
        counts = np.asarray(self.counts)
        everything = np.empty(int(counts.sum()), dtype=x.dtype)
        displacements = np.concatenate([[0], np.cumsum(counts)[:-1]])
        _comm_of(self.comm_handle).Allgatherv(x, [everything, counts, displacements, _mpi()._typedict[x.dtype.char]])
        outputs[0][0] = everything

    def c_code(self, node, name, inputs, outputs, sub):
        (x,), (z,), fail = inputs, outputs, sub["fail"]
        datatype, _, prelude = self._c_prelude(node, x, fail)
        displacements = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(int)
        return prelude + """
        {
            static const int counts[] = {%(counts)s};
            static const int displacements[] = {%(displacements)s};
            npy_intp n = %(total)d;
            if (!(%(z)s && PyArray_SIZE(%(z)s) == n && PyArray_IS_C_CONTIGUOUS(%(z)s)
                  && PyArray_TYPE(%(z)s) == PyArray_TYPE(contiguous))) {
                Py_XDECREF(%(z)s);
                %(z)s = (PyArrayObject*)PyArray_EMPTY(1, &n, PyArray_TYPE(contiguous), 0);
            }
            if (!%(z)s) { Py_DECREF(contiguous); %(fail)s }
            int error = symupdates_mpi_allgatherv(PyArray_DATA(contiguous), (int)PyArray_SIZE(contiguous), %(datatype)d,
                                                  PyArray_DATA(%(z)s), counts, displacements, %(datatype)d, %(comm)d);
            Py_DECREF(contiguous);
            if (error) { PyErr_Format(PyExc_RuntimeError, "MPI_Allgatherv failed: error %%d", error); %(fail)s }
        }
        }
        """ % dict(z=z, fail=fail, datatype=datatype, comm=self.comm_handle, total=sum(self.counts),
                   counts=", ".join(map(str, self.counts)),
                   displacements=", ".join(map(str, displacements)))


#: Bumped when the Numba implementations change: part of their cache keys.
NUMBA_VERSION = 1


def _numba_external(name, *arguments):
    """``name`` of mpi4py's MPI library as a Numba external function (called by symbol, so Numba may cache it)."""
    import llvmlite.binding
    from numba.core import types

    llvmlite.binding.add_symbol(name, _mpi_address(name))  # this process's address of the symbol
    pointer = types.uintp  # pointers are passed as integers of their width
    return types.ExternalFunction(name, types.int32(*[pointer if a == "p" else types.int32 for a in arguments]))


def _register_numba():
    """Numba implementations calling MPI by symbol (nopython, cacheable); mpi4py in object mode without MPICH."""
    try:
        from pytensor.link.numba.dispatch.basic import (generate_fallback_impl, numba_njit,
                                                         register_funcify_and_cache_key)
    except ImportError:  # pragma: no cover - numba is optional
        return

    @register_funcify_and_cache_key(AllReduceSum)
    def numba_allreduce(op, node, **kwargs):
        if not _uses_mpich_handles():
            return generate_fallback_impl(op, node, **kwargs), None
        allreduce = _numba_external("MPI_Allreduce", "p", "p", "i", "i", "i", "i")
        datatype, sum_op = _handles(node.inputs[0].dtype)
        comm = op.comm_handle

        @numba_njit
        def all_reduce_sum(x):
            x = np.ascontiguousarray(x)
            total = np.empty_like(x)
            error = allreduce(x.ctypes.data, total.ctypes.data, x.size, datatype, sum_op, comm)
            if error != 0:
                raise RuntimeError("MPI_Allreduce failed")
            return total

        return all_reduce_sum, "symupdates.AllReduceSum(%d, %d, %d, %d)" % (NUMBA_VERSION, comm, datatype, sum_op)

    @register_funcify_and_cache_key(AllGather)
    def numba_allgather(op, node, **kwargs):
        if not _uses_mpich_handles():
            return generate_fallback_impl(op, node, **kwargs), None
        allgatherv = _numba_external("MPI_Allgatherv", "p", "i", "i", "p", "p", "p", "i", "i")
        datatype, _ = _handles(node.inputs[0].dtype)
        comm = op.comm_handle
        counts_tuple = op.counts
        ranks = len(counts_tuple)
        total_length = sum(counts_tuple)
        out_dtype = np.dtype(node.inputs[0].dtype)

        @numba_njit
        def all_gather(x):
            x = np.ascontiguousarray(x)
            counts = np.empty(ranks, dtype=np.int32)
            displacements = np.empty(ranks, dtype=np.int32)
            offset = 0
            for r in range(ranks):
                counts[r] = counts_tuple[r]
                displacements[r] = offset
                offset += counts_tuple[r]
            everything = np.empty(total_length, dtype=out_dtype)
            error = allgatherv(x.ctypes.data, x.size, datatype, everything.ctypes.data, counts.ctypes.data,
                               displacements.ctypes.data, datatype, comm)
            if error != 0:
                raise RuntimeError("MPI_Allgatherv failed")
            return everything

        return all_gather, "symupdates.AllGather(%d, %d, %d, %s)" % (NUMBA_VERSION, comm, datatype, counts_tuple)


_NUMBA_REGISTERED = []


def _ensure_numba_registered():
    """Register the Numba implementations when the first collective is built (keeps this import light)."""
    if not _NUMBA_REGISTERED:
        _NUMBA_REGISTERED.append(True)
        _register_numba()


# ---------------------------------------------------------------------------
# flat buffers: one collective per dtype per step


def _by_dtype(indices, params):
    groups = OrderedDict()
    for i in indices:
        groups.setdefault(str(params[i].dtype), []).append(i)
    return groups


def _shape(param):
    return tuple(param.get_value(borrow=True).shape)


def _split(flat, indices, params):
    """``flat`` cut into the pieces of ``params[i]`` for ``i`` in ``indices``, each reshaped to its parameter."""
    pieces, offset = {}, 0
    for i in indices:
        shape = _shape(params[i])
        n = int(np.prod(shape, dtype=np.int64))
        pieces[i] = flat[offset:offset + n].reshape(shape, ndim=len(shape))
        offset += n
    return pieces


def average_gradients(grads, params, comm=None):
    """``grads`` averaged over the ranks of ``comm``: one all-reduce of a flat buffer per dtype."""
    comm = _communicator(comm)
    size = comm.Get_size()
    if size == 1:
        return list(grads)
    averaged = [None] * len(params)
    for dtype, indices in _by_dtype(range(len(params)), params).items():
        flat = pt.concatenate([grads[i].ravel() for i in indices]) if len(indices) > 1 else grads[indices[0]].ravel()
        total = AllReduceSum(comm.py2f())(flat)
        mean = total / np.asarray(size, dtype=dtype)
        for i, piece in _split(mean, indices, params).items():
            averaged[i] = piece
    return averaged


# ---------------------------------------------------------------------------
# sharding


def shard_owners(params, size):
    """The rank owning each parameter: largest first, each to the least-loaded rank (ties: lowest rank).

    Deterministic in the parameters' shapes, so every rank computes the same assignment.
    """
    sizes = [int(np.prod(_shape(p), dtype=np.int64)) for p in params]
    load = [0] * size
    owners = [0] * len(params)
    for i in sorted(range(len(params)), key=lambda i: (-sizes[i], i)):
        rank = min(range(size), key=lambda r: (load[r], r))
        owners[i] = rank
        load[rank] += sizes[i]
    return owners


def _split_chain(rule):
    """``(transforms, rest)`` of a :func:`symupdates.chain`: the transforms must see every gradient."""
    from .registry import kind_of
    from .wrappers import chain

    parts = getattr(rule, "parts", None)
    if not parts:
        return [], rule
    at = [kind_of(p) for p in parts].index("rule")
    return list(parts[:at]), chain(*parts[at:])


def _sharded_updates(rule, grads, params, comm):
    """ZeRO stage 1: ``rule`` on this rank's share, then every share's new values gathered on every rank."""
    rank, size = comm.Get_rank(), comm.Get_size()
    transforms, rule = _split_chain(rule)
    for transform in transforms:
        grads = transform(grads, params)
    owners = shard_owners(params, size)
    mine = [i for i in range(len(params)) if owners[i] == rank]
    inner = with_schedules(rule([grads[i] for i in mine], [params[i] for i in mine])) if mine else OrderedDict()
    for var in inner:
        if is_state(var):
            setattr(var.tag, SHARD_TAG, (rank, size))
    updates = OrderedDict()
    for dtype, indices in _by_dtype(range(len(params)), params).items():
        in_rank_order = sorted(indices, key=lambda i: (owners[i], i))
        counts = [sum(int(np.prod(_shape(params[i]), dtype=np.int64)) for i in indices if owners[i] == r)
                  for r in range(size)]
        own = [inner.get(params[i], params[i]).ravel() for i in in_rank_order if owners[i] == rank]
        block = pt.concatenate(own) if len(own) > 1 else own[0] if own else pt.zeros((0,), dtype=dtype)
        everything = AllGather(comm.py2f(), counts)(block)
        pieces = _split(everything, in_rank_order, params)
        for i in indices:
            updates[params[i]] = as_type_of(pieces[i], params[i])
    for var, expr in inner.items():
        if var not in updates:
            updates[var] = expr
    return updates


# ---------------------------------------------------------------------------
# the public functions


def data_parallel(rule, comm=None, shard_state=False):
    """A rule that averages the gradients over all ranks of ``comm``, then applies ``rule``.

    ``rule`` is any ``f(loss_or_grads, params) -> updates``: a rule with its
    hyperparameters (``adam(learning_rate=1e-3)``) or a
    :func:`symupdates.chain`.  Each rank passes the loss (or gradients) of
    its own slice of the mini-batch; for a loss that is a mean over equal
    slices, the averaged gradient is the gradient of the whole mini-batch,
    so every rank takes the step one process would take on all of it.  The
    average is one ``MPI_Allreduce`` of all gradients in one flat buffer
    (per dtype) inside the compiled step.

    In a :func:`symupdates.chain` the average is taken before the chain's
    gradient transforms, so that ``chain(clip_by_global_norm(max_norm=1.0),
    data_parallel(adam()))`` clips by the global norm of the averaged
    gradient, exactly as ``data_parallel(chain(clip_by_global_norm(...),
    adam()))`` does.

    ``shard_state=True`` is ZeRO stage 1: the parameters are assigned to
    ranks, balanced by size (:func:`shard_owners`); each rank creates the
    optimizer state of its own parameters only and computes their new
    values, and one ``MPI_Allgatherv`` in the same step gives every rank
    every new value.  Optimizer state per rank is about ``1/N`` of the
    whole.  The gradient transforms of a chain still see all gradients; the
    rule itself must treat parameters independently (every rule of this
    package does; wrappers such as :func:`symupdates.skip_nonfinite` that
    look at all parameters act on the rank's share).  State of a sharded
    rule is saved one file per rank by :func:`symupdates.save_state`.

    The ranks' parameter lists (number, shapes, dtypes) are compared when
    the updates are built; if they differ, every rank raises
    :class:`RankDisagreementError`.  On a communicator of one rank the
    result is exactly ``rule(loss_or_grads, params)``.

    Anchors: Horovod's ``DistributedOptimizer``, torch's
    ``DistributedDataParallel`` and ``ZeroRedundancyOptimizer``,
    ``jax.lax.pmean`` before an optax update.
    """
    if not callable(rule):
        raise TypeError("data_parallel: rule must be a function of (loss_or_grads, params), such as "
                        "adam(learning_rate=1e-3); got %r" % (rule,))
    if not isinstance(shard_state, (bool, np.bool_)):
        raise TypeError("data_parallel: shard_state must be True or False, got %r" % (shard_state,))
    if comm is not None and not (hasattr(comm, "Get_size") and hasattr(comm, "py2f")):
        raise TypeError("data_parallel: comm must be an mpi4py communicator (default MPI.COMM_WORLD), got %r"
                        % (comm,))

    def reduce_gradients(loss_or_grads, params):
        params = check_params(params)
        grads = get_or_compute_grads(loss_or_grads, params)
        communicator = _communicator(comm)
        _check_agreement(params, communicator, "data_parallel")
        _abort_job_on_uncaught_exception(communicator)
        return average_gradients(grads, params, communicator)

    def apply_to_averaged(grads, params):
        communicator = _communicator(comm)
        if shard_state and communicator.Get_size() > 1:
            return _sharded_updates(rule, list(grads), check_params(params), communicator)
        return with_schedules(rule(grads, params))

    def parallel(loss_or_grads, params):
        if _communicator(comm).Get_size() == 1:
            check_params(params)
            return rule(loss_or_grads, params)
        return apply_to_averaged(reduce_gradients(loss_or_grads, params), params)

    parallel.kind = "rule"
    # for symupdates.chain: average before the chain's gradient transforms
    parallel.reduce_gradients = reduce_gradients
    parallel.apply_to_averaged = apply_to_averaged
    return parallel


def broadcast_parameters(params, root=0, comm=None):
    """Give every rank the values of ``params`` on rank ``root`` (Horovod's ``broadcast_parameters``).

    Call it once after building the model, so that all ranks start from the
    same point.  The ranks' parameter lists are checked first
    (:class:`RankDisagreementError`).
    """
    params = check_params(params)
    comm = _communicator(comm)
    if not 0 <= root < comm.Get_size():
        raise ValueError("broadcast_parameters: root must be a rank of the communicator (0..%d), got %r"
                         % (comm.Get_size() - 1, root))
    _check_agreement(params, comm, "broadcast_parameters")
    _abort_job_on_uncaught_exception(comm)
    for param in params:
        value = np.ascontiguousarray(param.get_value())
        comm.Bcast(value, root=root)
        param.set_value(value)


# ---------------------------------------------------------------------------
# state files of sharded rules


def shard_file(variables, path, reading=False):
    """The file of this rank for sharded state (``state.npz`` -> ``state.rank1-of-4.npz``), else ``path``.

    Used by :func:`symupdates.save_state` and :func:`symupdates.load_state`;
    needs no MPI, it reads the tag :func:`data_parallel` put on the state.
    """
    shards = {getattr(v.tag, SHARD_TAG) for v in variables if hasattr(v.tag, SHARD_TAG)}
    if not shards:
        return path
    if len(shards) > 1:
        raise ValueError("these updates hold the state of several shards %s; save each rank's updates on "
                         "its own rank" % sorted(shards))
    (rank, size), = shards
    stem, extension = os.path.splitext(os.fspath(path))
    mine = "%s.rank%d-of-%d%s" % (stem, rank, size, extension or ".npz")
    if reading and not os.path.exists(mine):
        others = sorted(glob.glob("%s.rank*-of-*%s" % (glob.escape(stem), extension or ".npz")))
        raise ValueError("no state file %s for rank %d of %d%s" % (
            mine, rank, size, "; found %s: sharded state resumes on the number of ranks that saved it"
            % ", ".join(os.path.basename(o) for o in others) if others else ""))
    return mine
