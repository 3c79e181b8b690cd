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

__all__ = ["c_kernel_available", "c_kernel_source", "c_kernel_module", "use_openmp"]


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


def c_kernel_source(op):
    """Source of the extension module for ``op``: depends on the composite and the
    row layout, never on the number of rows."""
    from ..op import PARALLEL_MIN_SIZE, reference_position, scalar_node

    cached = getattr(op, "_c_source", None)
    if cached is not None:
        return cached
    composite = op.scalar_op
    width, n_inv, nout = op.row_width, op.n_invariants, op.nout_row
    in_dtypes = [i.type.dtype for i in composite.inputs]
    out_dtypes = [o.type.dtype for o in composite.outputs]
    ctype = lambda d: _C_TYPES[d][0]  # noqa: E731
    typenum = lambda d: _C_TYPES[d][1]  # noqa: E731
    scalar_node = scalar_node(op)
    inames = ["i%d" % k for k in range(width)] + ["c%d" % k for k in range(n_inv)]
    onames = ["o%d" % j for j in range(nout)]
    body = composite.c_code(scalar_node, "mtk", inames, onames, {"fail": "{ *failed = 1; }", "id": "0"})
    support = composite.c_support_code() + "\n" + composite.c_support_code_apply(scalar_node, "mtk")

    params = ["npy_intp n", "int* failed"]
    params += ["const %s* x%d" % (ctype(in_dtypes[k]), k) for k in range(width)]
    params += ["%s* y%d" % (ctype(out_dtypes[j]), j) for j in range(nout)]
    params += ["%s c%d" % (ctype(in_dtypes[width + k]), k) for k in range(n_inv)]
    hoisted = "".join(
        "    const %s i%d = x%d[0];\n" % (ctype(in_dtypes[k]), k, k) for k in range(width) if op.scalars[k]
    )
    loads = "".join(
        "        %s i%d = x%d[e];\n" % (ctype(in_dtypes[k]), k, k) for k in range(width) if not op.scalars[k]
    )
    decls = "".join("        %s o%d;\n" % (ctype(out_dtypes[j]), j) for j in range(nout))
    stores = "".join("        y%d[e] = o%d;\n" % (j, j) for j in range(nout))
    inv_params = "".join(", %s c%d" % (ctype(in_dtypes[width + k]), k) for k in range(n_inv))
    inv_args = "".join(", c%d" % k for k in range(n_inv))
    # Elements [a, b) of one row: a tensor input is offset by a, a 0-d one is not.
    slice_args = ["b - a", "failed"]
    slice_args += [
        "(const %s*)row->x[%d]%s" % (ctype(in_dtypes[k]), k, "" if op.scalars[k] else " + a") for k in range(width)
    ]
    slice_args += ["(%s*)row->y[%d] + a" % (ctype(out_dtypes[j]), j) for j in range(nout)]
    kernel = """
/* Element e reads the inputs at e, then writes the outputs at e; an output
   may share memory with the input it replaces, never with another element,
   so there is no dependence between iterations. */
static void kernel(%(params)s)
{
%(hoisted)s
    #pragma GCC ivdep
    for (npy_intp e = 0; e < n; ++e) {
%(loads)s%(decls)s        {
%(body)s
        }
%(stores)s    }
}

#define WIDTH %(width)d
#define NOUT %(nout)d
/* One row's data pointers and element count. */
typedef struct { npy_intp n; const char* x[WIDTH]; char* y[NOUT > 0 ? NOUT : 1]; } row_t;

/* Elements [lo, hi) of the node's rows laid end to end. */
static void run_range(const row_t* rows, Py_ssize_t n_rows, npy_intp lo, npy_intp hi, int* failed%(inv_params)s)
{
    npy_intp start = 0;
    for (Py_ssize_t r = 0; r < n_rows && start < hi; ++r) {
        const row_t* row = rows + r;
        npy_intp a = lo > start ? lo - start : 0;
        npy_intp b = hi - start < row->n ? hi - start : row->n;
        if (a < b)
            kernel(%(slice_args)s%(inv_args)s);
        start += row->n;
    }
}

/* All rows.  Large nodes are split into one contiguous share of elements per
   thread, in a single parallel region for the whole node: starting a region
   costs microseconds, and splitting each tensor separately would start one
   per tensor. */
static void run_rows(const row_t* rows, Py_ssize_t n_rows, npy_intp total, int* failed%(inv_params)s)
{
#ifdef _OPENMP
    if (total >= %(minsize)d) {
        int any_failed = 0;
        #pragma omp parallel reduction(|:any_failed)
        {
            npy_intp nth = omp_get_num_threads(), t = omp_get_thread_num();
            /* Shares start on multiples of 64 elements: threads do not write the
               same cache line of a tensor. */
            npy_intp lo = (total / nth * t + total %% nth * t / nth) & ~(npy_intp)63;
            npy_intp hi = t + 1 == nth ? total
                        : (total / nth * (t + 1) + total %% nth * (t + 1) / nth) & ~(npy_intp)63;
            int f = 0;
            run_range(rows, n_rows, lo, hi, &f%(inv_args)s);
            any_failed |= f;
        }
        if (any_failed) *failed = 1;
        return;
    }
#endif
    run_range(rows, n_rows, 0, total, failed%(inv_args)s);
}
""" % dict(params=", ".join(params), hoisted=hoisted, minsize=PARALLEL_MIN_SIZE, loads=loads, decls=decls,
           body=body, stores=stores, width=width, nout=nout, inv_params=inv_params, inv_args=inv_args,
           slice_args=", ".join(slice_args))

    in_types = ", ".join(typenum(d) for d in in_dtypes[:width]) or "0"
    out_types = ", ".join(typenum(d) for d in out_dtypes) or "0"
    inv_types = ", ".join(typenum(d) for d in in_dtypes[width:]) or "0"
    scalar_flags = ", ".join("1" if s else "0" for s in op.scalars) or "0"
    inv_values = "".join(
        ", *(%s*)PyArray_DATA(invs[%d])" % (ctype(in_dtypes[width + k]), k) for k in range(n_inv)
    )

    driver = r"""
#define NINV %(n_inv)d
#define REF %(ref)d  /* the row position whose shape the outputs take */
static const int in_types[] = {%(in_types)s};
static const int out_types[] = {%(out_types)s};
static const int inv_types[] = {%(inv_types)s};
static const int is_scalar[] = {%(scalar_flags)s};

/* Fetch the array in storage cell ``cell`` (a one-element list); borrowed. */
static PyArrayObject* cell_array(PyObject* cell, int typenum, const char* what)
{
    PyObject* value = PyList_GET_ITEM(cell, 0);
    if (!PyArray_Check(value) || PyArray_TYPE((PyArrayObject*)value) != typenum) {
        PyErr_Format(PyExc_TypeError, "MultiElemwise: %%s is not an array of the expected dtype", what);
        return NULL;
    }
    return (PyArrayObject*)value;
}

/* Whether ``a`` is one of the node's input arrays. */
static int is_input(PyArrayObject* a, PyArrayObject** inputs, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; ++k)
        if (inputs[k] == a) return 1;
    return 0;
}

/* The output buffers of every row, then one kernel call over all rows (so a
   buffer reused from the last call is checked against every input first). */
static int prepare_and_run(PyObject* row_cells, PyObject* out_cells, const npy_int64* destroy,
                           Py_ssize_t n_rows, PyArrayObject** invs, row_t* rows,
                           PyArrayObject** in_arr, PyArrayObject** tmp)
{
    npy_intp total = 0;
    for (Py_ssize_t r = 0; r < n_rows; ++r) {
        for (int k = 0; k < WIDTH; ++k) {
            Py_ssize_t i = r * WIDTH + k;
            in_arr[i] = cell_array(PyList_GET_ITEM(row_cells, i), in_types[k], "a row input");
            if (!in_arr[i]) return 0;
            if (!is_scalar[k]) {
                if (k > REF && !PyArray_SAMESHAPE(in_arr[r * WIDTH + REF], in_arr[i])) {
                    PyErr_Format(PyExc_ValueError,
                        "MultiElemwise: row %%zd mixes tensors of different shapes; every tensor of a "
                        "parameter's row must have the parameter's shape", r);
                    return 0;
                }
                if (!PyArray_IS_C_CONTIGUOUS(in_arr[i])) {
                    tmp[i] = (PyArrayObject*)PyArray_NewCopy(in_arr[i], NPY_CORDER);
                    if (!tmp[i]) return 0;
                }
            }
            rows[r].x[k] = PyArray_BYTES(tmp[i] ? tmp[i] : in_arr[i]);
        }
        rows[r].n = PyArray_SIZE(in_arr[r * WIDTH + REF]);
        total += rows[r].n;
    }
    for (Py_ssize_t r = 0; r < n_rows; ++r) {
        PyArrayObject* ref = in_arr[r * WIDTH + REF];
        for (int j = 0; j < NOUT; ++j) {
            PyObject* cell = PyList_GET_ITEM(out_cells, r * NOUT + j);
            npy_int64 d = destroy[r * NOUT + j];
            PyArrayObject* out = NULL;
            if (d >= 0 && tmp[r * WIDTH + d] == NULL && PyArray_ISWRITEABLE(in_arr[r * WIDTH + d])) {
                out = in_arr[r * WIDTH + d];     /* overwrite the replaced tensor */
                Py_INCREF(out);
            } else {
                PyObject* old = PyList_GET_ITEM(cell, 0);
                if (PyArray_Check(old) && PyArray_TYPE((PyArrayObject*)old) == out_types[j]
                    && PyArray_SAMESHAPE((PyArrayObject*)old, ref)
                    && PyArray_IS_C_CONTIGUOUS((PyArrayObject*)old)
                    && PyArray_ISWRITEABLE((PyArrayObject*)old)
                    && !is_input((PyArrayObject*)old, in_arr, n_rows * WIDTH)) {
                    out = (PyArrayObject*)old;   /* reuse last call's buffer */
                    Py_INCREF(out);
                }
                if (!out)
                    out = (PyArrayObject*)PyArray_EMPTY(PyArray_NDIM(ref), PyArray_DIMS(ref), out_types[j], 0);
                if (!out) return 0;
            }
            rows[r].y[j] = PyArray_BYTES(out);
            PyObject* previous = PyList_GET_ITEM(cell, 0);
            PyList_SET_ITEM(cell, 0, (PyObject*)out);   /* steals the new reference */
            Py_XDECREF(previous);
        }
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    run_rows(rows, n_rows, total, &failed%(inv_values)s);
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_RuntimeError, "MultiElemwise: the scalar kernel failed");
        return 0;
    }
    return 1;
}

/* run(row_cells, invariant_cells, output_cells, destroy, n_rows) */
static PyObject* run(PyObject* self, PyObject* args)
{
    PyObject *row_cells, *inv_cells, *out_cells;
    const char* destroy_bytes;
    Py_ssize_t destroy_len, n_rows;
    if (!PyArg_ParseTuple(args, "O!O!O!y#n", &PyList_Type, &row_cells, &PyList_Type, &inv_cells,
                          &PyList_Type, &out_cells, &destroy_bytes, &destroy_len, &n_rows))
        return NULL;
    PyArrayObject* invs[NINV > 0 ? NINV : 1];
    for (int k = 0; k < NINV; ++k) {
        invs[k] = cell_array(PyList_GET_ITEM(inv_cells, k), inv_types[k], "an invariant");
        if (!invs[k]) return NULL;
    }
    row_t* rows = (row_t*)PyMem_Calloc(n_rows > 0 ? n_rows : 1, sizeof(row_t));
    PyArrayObject** in_arr = (PyArrayObject**)PyMem_Calloc(n_rows * WIDTH + 1, sizeof(PyArrayObject*));
    PyArrayObject** tmp = (PyArrayObject**)PyMem_Calloc(n_rows * WIDTH + 1, sizeof(PyArrayObject*));  /* owned copies */
    int ok = rows && in_arr && tmp;
    if (!ok)
        PyErr_NoMemory();
    else
        ok = prepare_and_run(row_cells, out_cells, (const npy_int64*)destroy_bytes, n_rows, invs, rows,
                             in_arr, tmp);
    if (tmp)
        for (Py_ssize_t i = 0; i < n_rows * WIDTH; ++i) Py_XDECREF(tmp[i]);
    PyMem_Free(tmp);
    PyMem_Free(in_arr);
    PyMem_Free(rows);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}
""" % dict(n_inv=n_inv, in_types=in_types, out_types=out_types, inv_types=inv_types,
           scalar_flags=scalar_flags, inv_values=inv_values, ref=reference_position(op.scalars))

    source = "\n".join(
        ["#define PY_SSIZE_T_CLEAN", "#include <Python.h>", "#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION", "#include <numpy/arrayobject.h>",
         "#ifdef _OPENMP", "#include <omp.h>", "#endif"]
        + ["#include %s" % (h if h[0] in "<\"" else "<%s>" % h) for h in composite.c_headers()]
        + [support, kernel, driver]
    )
    op._c_source = source
    return source


def _module_code(source, name):
    return source + r"""
static PyMethodDef methods[] = {{"run", run, METH_VARARGS, "Run the kernel on every row."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "%(name)s", NULL, -1, methods};
PyMODINIT_FUNC PyInit_%(name)s(void) { import_array(); return PyModule_Create(&moduledef); }
""" % dict(name=name)


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
    from pytensor.link.c.cmodule import GCC_compiler, dlimport

    source = c_kernel_source(op)
    composite = op.scalar_op
    # The flags PyTensor's CLinker adds to every module (compile_args() has no -O).
    flags = ["-O3", "-fno-math-errno", "-Wno-unused-label", "-Wno-unused-variable", "-Wno-write-strings"]
    flags += list(GCC_compiler.compile_args()) + list(composite.c_compile_args())
    if use_openmp():
        flags.append("-fopenmp")
    libs = list(composite.c_libraries())
    key_text = "\n".join([source, " ".join(flags), " ".join(libs), pytensor.__version__, sys.version])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:24]
    with _c_lock:
        module = _c_modules.get(key)
        if module is not None:
            return module
        name = "symupdates_mt_" + key
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
                    libs_with_omp = libs + (["gomp"] if use_openmp() else [])
                    module = GCC_compiler.compile_str(
                        name,
                        _module_code(source, name),
                        location=location,
                        include_dirs=list(composite.c_header_dirs()),
                        lib_dirs=list(composite.c_lib_dirs()),
                        libs=libs_with_omp,
                        preargs=flags,
                    )
        _c_modules[key] = module
        return module
