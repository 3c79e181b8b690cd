"""The C implementation of :class:`~symupdates.engine.op.MultiElemwise`.

A small extension module, compiled once per composite and row layout (never
per tensor count) and cached on disk in PyTensor's compile directory, holds
one static kernel generated from the composite's scalar C code.  One call
runs every row of the node; a large node is split into one contiguous share
of elements per core inside a single OpenMP region.  The per-tensor
bookkeeping is a C loop over the node's storage cells, so a step costs one
Python call.
"""

import hashlib
import os
import sys
import threading

import pytensor
from pytensor import config

__all__ = ["c_kernel_available", "c_kernel_source", "c_kernel_module", "compiled_module", "use_openmp",
           "all_finite_source", "all_finite_module"]


_C_TYPES = {
    "float16": None,
    "float32": ("npy_float32", "NPY_FLOAT32"),
    "float64": ("npy_float64", "NPY_FLOAT64"),
    "int8": ("npy_int8", "NPY_INT8"),
    "int16": ("npy_int16", "NPY_INT16"),
    "int32": ("npy_int32", "NPY_INT32"),
    "int64": ("npy_int64", "NPY_INT64"),
    "uint8": ("npy_uint8", "NPY_UINT8"),
    "uint16": ("npy_uint16", "NPY_UINT16"),
    "uint32": ("npy_uint32", "NPY_UINT32"),
    "uint64": ("npy_uint64", "NPY_UINT64"),
    "bool": ("npy_bool", "NPY_BOOL"),
}

#: Version of the C code of ``multi_elemwise.c``: part of PyTensor's module key.
C_VERSION = 2

_c_modules = {}
_c_lock = threading.Lock()


def c_kernel_available(op, node):
    """Whether the C kernel can run ``op`` (known dtypes, C code for the composite)."""
    dtypes = [i.type.dtype for i in op.scalar_op.inputs] + [o.type.dtype for o in op.scalar_op.outputs]
    if any(_C_TYPES.get(d) is None for d in dtypes):
        return False
    try:
        c_kernel_source(op)
    except Exception:  # MethodNotDefined / NotImplementedError from a scalar op without C code
        return False
    return True


def _template(filename):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), filename)) as f:
        return f.read()


def c_kernel_source(op, name="mt"):
    """The kernel and node driver of ``op`` (``multi_elemwise.c`` filled in), with
    every symbol suffixed by ``name``: depends on the composite and the row
    layout, never on the number of rows."""
    from ..op import PARALLEL_MIN_SIZE, reference_position, scalar_node

    cache = op.__dict__.setdefault("_c_source", {})
    if name in cache:
        return cache[name]
    composite = op.scalar_op
    width, n_inv, nout = op.row_width, op.n_invariants, op.nout_row
    in_dtypes = [i.type.dtype for i in composite.inputs]
    out_dtypes = [o.type.dtype for o in composite.outputs]
    ctype = lambda d: _C_TYPES[d][0]  # noqa: E731
    typenum = lambda d: _C_TYPES[d][1]  # noqa: E731
    node = scalar_node(op)
    sub_name = "mtk_" + name
    inames = ["i%d" % k for k in range(width)] + ["c%d" % k for k in range(n_inv)]
    onames = ["o%d" % j for j in range(nout)]
    body = composite.c_code(node, sub_name, inames, onames, {"fail": "{ *failed = 1; }", "id": "0"})

    params = ["npy_intp n", "int* failed"]
    params += ["const %s* x%d" % (ctype(in_dtypes[k]), k) for k in range(width)]
    params += ["%s* y%d" % (ctype(out_dtypes[j]), j) for j in range(nout)]
    params += ["%s c%d" % (ctype(in_dtypes[width + k]), k) for k in range(n_inv)]
    # Elements [a, b) of one row: a tensor input is offset by a, a 0-d one is not.
    slice_args = ["b - a", "failed"]
    slice_args += [
        "(const %s*)row->x[%d]%s" % (ctype(in_dtypes[k]), k, "" if op.zero_dim[k] else " + a") for k in range(width)
    ]
    slice_args += ["(%s*)row->y[%d] + a" % (ctype(out_dtypes[j]), j) for j in range(nout)]
    source = _template("multi_elemwise.c") % dict(
        name=name,
        params=", ".join(params),
        hoisted="".join(
            "    const %s i%d = x%d[0];\n" % (ctype(in_dtypes[k]), k, k) for k in range(width) if op.zero_dim[k]
        ),
        loads="".join(
            "        %s i%d = x%d[e];\n" % (ctype(in_dtypes[k]), k, k) for k in range(width) if not op.zero_dim[k]
        ),
        decls="".join("        %s o%d;\n" % (ctype(out_dtypes[j]), j) for j in range(nout)),
        body=body,
        stores="".join("        y%d[e] = o%d;\n" % (j, j) for j in range(nout)),
        width=width,
        nout=nout,
        nout_or_1=max(nout, 1),
        n_inv=n_inv,
        inv_params="".join(", %s c%d" % (ctype(in_dtypes[width + k]), k) for k in range(n_inv)),
        inv_args="".join(", c%d" % k for k in range(n_inv)),
        slice_args=", ".join(slice_args),
        minsize=PARALLEL_MIN_SIZE,
        in_types=", ".join(typenum(d) for d in in_dtypes[:width]) or "0",
        out_types=", ".join(typenum(d) for d in out_dtypes) or "0",
        inv_types=", ".join(typenum(d) for d in in_dtypes[width:]) or "0",
        scalar_flags=", ".join("1" if s else "0" for s in op.zero_dim) or "0",
        inv_values="".join(
            ", *(%s*)PyArray_DATA(invs[%d])" % (ctype(in_dtypes[width + k]), k) for k in range(n_inv)
        ),
        ref=reference_position(op.zero_dim),
    )
    support = composite.c_support_code_apply(node, sub_name)
    cache[name] = support + "\n" + source
    return cache[name]


def c_headers(op):
    """Headers of the kernel: the composite's, and OpenMP's."""
    headers = ["#include %s" % (h if h[0] in "<\"" else "<%s>" % h) for h in op.scalar_op.c_headers()]
    return headers + ["#ifdef _OPENMP", "#include <omp.h>", "#endif"]


def _module_code(op, module):
    return "\n".join(
        ["#define PY_SSIZE_T_CLEAN", "#include <Python.h>", "#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION",
         "#include <numpy/arrayobject.h>"]
        + c_headers(op)
        + [op.scalar_op.c_support_code(), c_kernel_source(op), _template("multi_elemwise_module.c") % dict(name="mt", module=module)]
    )


def use_openmp():
    """Whether the C kernel splits large tensors over the cores.

    PyTensor's ``config.openmp`` is off by default (it was written for the
    convolution op); an optimizer step is memory-bound and gains from every
    core, so the kernel uses OpenMP unless ``OMP_NUM_THREADS=1``.  The
    number of threads follows ``OMP_NUM_THREADS`` (default: all cores).
    """
    return os.environ.get("OMP_NUM_THREADS", "").strip() != "1"


def c_kernel_module(op, node):
    """The compiled kernel module of ``op``: memory, then disk cache, then gcc."""
    composite = op.scalar_op
    # The flags PyTensor's CLinker adds to every module (compile_args() has no -O).
    flags = ["-O3", "-fno-math-errno", "-Wno-unused-label", "-Wno-unused-variable", "-Wno-write-strings"]
    flags += list(composite.c_compile_args())
    if use_openmp():
        flags.append("-fopenmp")
    return compiled_module(
        "symupdates_mt_", lambda name: _module_code(op, name), flags,
        libs=list(composite.c_libraries()) + (["gomp"] if use_openmp() else []),
        include_dirs=list(composite.c_header_dirs()), lib_dirs=list(composite.c_lib_dirs()),
    )


def all_finite_source():
    """The scan of :class:`~symupdates.engine.finite.AllFinite` (``all_finite.c``)."""
    return _template("all_finite.c")


def all_finite_module():
    """The compiled extension module of AllFinite's VM thunk (one for every node)."""
    headers = ["#define PY_SSIZE_T_CLEAN", "#include <Python.h>", "#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION",
               "#include <numpy/arrayobject.h>"]
    return compiled_module(
        "symupdates_af_",
        lambda name: "\n".join(headers + [all_finite_source(), _template("all_finite_module.c") % dict(module=name)]),
        ["-O3", "-fno-math-errno"],
    )


def compiled_module(prefix, source, flags, libs=(), include_dirs=(), lib_dirs=()):
    """An extension module built from ``source(module_name)``: memory, then disk cache, then gcc.

    The module is named ``prefix`` plus a hash of its source, flags,
    PyTensor and Python versions, and kept in PyTensor's compile directory
    (``<compiledir>/symupdates/<hash>``).
    """
    from pytensor.link.c.cmodule import GCC_compiler, dlimport

    flags = list(flags) + list(GCC_compiler.compile_args())
    key_text = "\n".join([source(prefix), " ".join(flags), " ".join(libs), pytensor.__version__, sys.version])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:24]
    with _c_lock:
        module = _c_modules.get(key)
        if module is not None:
            return module
        name = prefix + key
        location = os.path.join(config.compiledir, "symupdates", key)
        suffix = ".pyd" if sys.platform == "win32" else ".so"
        path = os.path.join(location, name + suffix)
        try:
            module = dlimport(path) if os.path.exists(path) else None
        except ImportError:
            module = None
        if module is None:
            from pytensor.compile.compilelock import lock_ctx

            os.makedirs(location, exist_ok=True)
            # Our own lock: PyTensor's global one is held through whole compilations.
            with lock_ctx(lock_dir=os.path.dirname(location)):
                if os.path.exists(path):
                    module = dlimport(path)
                else:
                    module = GCC_compiler.compile_str(
                        name, source(name), location=location, include_dirs=list(include_dirs),
                        lib_dirs=list(lib_dirs), libs=list(libs), preargs=flags,
                    )
        _c_modules[key] = module
        return module
