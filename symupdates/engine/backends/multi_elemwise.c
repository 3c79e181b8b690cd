/* The C kernel of symupdates' MultiElemwise: a template filled in by
   symupdates/engine/backends/c.py (Python %%-formatting).

   One instance per composite and row layout, never per number of rows.
   Every symbol ends in %(name)s, so that several instances can live in one
   C module (PyTensor's C linker compiles a whole graph as one module). */

/* Element e reads the inputs at e, then writes the outputs at e; an output
   may share memory with the input it replaces, never with another element,
   so there is no dependence between iterations. */
static void kernel_%(name)s(%(params)s)
{
%(hoisted)s
    #pragma GCC ivdep
    for (npy_intp e = 0; e < n; ++e) {
%(loads)s%(decls)s        {
%(body)s
        }
%(stores)s    }
}

/* One row's data pointers and element count. */
typedef struct { npy_intp n; const char* x[%(width)d]; char* y[%(nout_or_1)d]; } row_%(name)s;

/* Elements [lo, hi) of the node's rows laid end to end. */
static void run_range_%(name)s(const row_%(name)s* rows, Py_ssize_t n_rows, npy_intp lo, npy_intp hi,
                               int* failed%(inv_params)s)
{
    npy_intp start = 0;
    for (Py_ssize_t r = 0; r < n_rows && start < hi; ++r) {
        const row_%(name)s* row = rows + r;
        npy_intp a = lo > start ? lo - start : 0;
        npy_intp b = hi - start < row->n ? hi - start : row->n;
        if (a < b)
            kernel_%(name)s(%(slice_args)s%(inv_args)s);
        start += row->n;
    }
}

/* All rows.  Large nodes are split into one contiguous share of elements per
   thread, in a single parallel region for the whole node: starting a region
   costs microseconds, and splitting each tensor separately would start one
   per tensor. */
static void run_rows_%(name)s(const row_%(name)s* rows, Py_ssize_t n_rows, npy_intp total, int* failed%(inv_params)s)
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
            run_range_%(name)s(rows, n_rows, lo, hi, &f%(inv_args)s);
            any_failed |= f;
        }
        if (any_failed) *failed = 1;
        return;
    }
#endif
    run_range_%(name)s(rows, n_rows, 0, total, failed%(inv_args)s);
}

/* Whether ``a`` is one of the node's input arrays. */
static int is_input_%(name)s(PyArrayObject* a, PyArrayObject** inputs, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; ++k)
        if (inputs[k] == a) return 1;
    return 0;
}

/* Run a whole node.  ``in_arr``: the rows' inputs (row 0's %(width)d, row 1's
   ...); ``invs``: the 0-d invariants; ``outs``: one slot per output holding a
   new reference or NULL (the buffer of the last call, reused when it fits),
   replaced by a new reference to the output; ``destroy[o]``: the row
   position output o overwrites, or -1.  Returns 0 with a Python error set on
   failure. */
static int run_node_%(name)s(PyArrayObject** in_arr, PyArrayObject** invs, PyArrayObject** outs,
                             const npy_int64* destroy, Py_ssize_t n_rows)
{
    static const int in_types[] = {%(in_types)s};
    static const int out_types[] = {%(out_types)s};
    static const int inv_types[] = {%(inv_types)s};
    static const int is_scalar[] = {%(scalar_flags)s};
    const int width = %(width)d, nout = %(nout)d, ninv = %(n_inv)d, ref = %(ref)d;
    int ok = 0, failed = 0;
    npy_intp total = 0;
    row_%(name)s* rows = (row_%(name)s*)PyMem_Calloc(n_rows > 0 ? n_rows : 1, sizeof(row_%(name)s));
    PyArrayObject** tmp = (PyArrayObject**)PyMem_Calloc(n_rows * width + 1, sizeof(PyArrayObject*));  /* owned copies */
    if (!rows || !tmp) {
        PyErr_NoMemory();
        goto done;
    }
    for (int k = 0; k < ninv; ++k)
        if (!invs[k] || PyArray_TYPE(invs[k]) != inv_types[k]) {
            PyErr_SetString(PyExc_TypeError, "MultiElemwise: an invariant is not an array of the expected dtype");
            goto done;
        }
    for (Py_ssize_t r = 0; r < n_rows; ++r) {
        for (int k = 0; k < width; ++k) {
            Py_ssize_t i = r * width + k;
            if (!in_arr[i] || PyArray_TYPE(in_arr[i]) != in_types[k]) {
                PyErr_SetString(PyExc_TypeError, "MultiElemwise: a row input is not an array of the expected dtype");
                goto done;
            }
            if (!is_scalar[k]) {
                if (k > ref && !PyArray_SAMESHAPE(in_arr[r * width + ref], in_arr[i])) {
                    PyErr_Format(PyExc_ValueError,
                        "MultiElemwise: row %%zd mixes tensors of different shapes; every tensor of a "
                        "parameter's row must have the parameter's shape", r);
                    goto done;
                }
                if (!PyArray_IS_C_CONTIGUOUS(in_arr[i])) {
                    tmp[i] = (PyArrayObject*)PyArray_NewCopy(in_arr[i], NPY_CORDER);
                    if (!tmp[i]) goto done;
                }
            }
            rows[r].x[k] = PyArray_BYTES(tmp[i] ? tmp[i] : in_arr[i]);
        }
        rows[r].n = PyArray_SIZE(in_arr[r * width + ref]);
        total += rows[r].n;
    }
    for (Py_ssize_t r = 0; r < n_rows; ++r) {
        PyArrayObject* reference = in_arr[r * width + ref];
        for (int j = 0; j < nout; ++j) {
            Py_ssize_t o = r * nout + j;
            npy_int64 d = destroy[o];
            PyArrayObject* old = outs[o];
            PyArrayObject* out = NULL;
            if (d >= 0 && tmp[r * width + d] == NULL && PyArray_ISWRITEABLE(in_arr[r * width + d])) {
                out = in_arr[r * width + d];     /* overwrite the replaced tensor */
                Py_INCREF(out);
            } else if (old && PyArray_Check(old) && PyArray_TYPE(old) == out_types[j]
                       && PyArray_SAMESHAPE(old, reference) && PyArray_IS_C_CONTIGUOUS(old)
                       && PyArray_ISWRITEABLE(old) && !is_input_%(name)s(old, in_arr, n_rows * width)) {
                out = old;                         /* reuse last call's buffer */
                Py_INCREF(out);
            } else {
                out = (PyArrayObject*)PyArray_EMPTY(PyArray_NDIM(reference), PyArray_DIMS(reference), out_types[j], 0);
                if (!out) goto done;
            }
            rows[r].y[j] = PyArray_BYTES(out);
            outs[o] = out;
            Py_XDECREF(old);
        }
    }
    Py_BEGIN_ALLOW_THREADS
    run_rows_%(name)s(rows, n_rows, total, &failed%(inv_values)s);
    Py_END_ALLOW_THREADS
    if (failed)
        PyErr_SetString(PyExc_RuntimeError, "MultiElemwise: the scalar kernel failed");
    else
        ok = 1;
done:
    if (tmp)
        for (Py_ssize_t i = 0; i < n_rows * width; ++i) Py_XDECREF(tmp[i]);
    PyMem_Free(tmp);
    PyMem_Free(rows);
    return ok;
}
