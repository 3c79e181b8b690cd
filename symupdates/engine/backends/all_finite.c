/* The scan of AllFinite: whether every element of every array is finite.
   Used by PyTensor's C linker (AllFinite.c_support_code) and by the
   extension module of all_finite_module.c.  Not a template: no %-fields. */

#ifndef SYMUPDATES_ALL_FINITE
#define SYMUPDATES_ALL_FINITE

/* An IEEE value is NaN or infinite when all its exponent bits are set.  The
   test on the bits vectorises (isfinite() on floats does not), and a block of
   elements is tested before the early exit. */
#define SYMUPDATES_SCAN(UINT, MASK)                                             \
    {                                                                           \
        const UINT* u = (const UINT*)PyArray_DATA(c);                           \
        for (npy_intp start = 0; start < n && finite; start += 4096) {          \
            npy_intp stop = n - start > 4096 ? start + 4096 : n;                \
            UINT bad = 0;                                                       \
            for (npy_intp i = start; i < stop; ++i)                             \
                bad |= (UINT)((u[i] & (UINT)(MASK)) == (UINT)(MASK));           \
            finite = !bad;                                                      \
        }                                                                       \
    }

/* 1 when finite, 0 when not, -1 with a Python error set. */
static int symupdates_array_finite(PyArrayObject* a)
{
    PyArrayObject* c = (PyArrayObject*)PyArray_GETCONTIGUOUS(a);   /* a new reference; a copy only if strided */
    if (!c)
        return -1;
    npy_intp n = PyArray_SIZE(c);
    int finite = 1;
    switch (PyArray_TYPE(c)) {
    case NPY_FLOAT16: SYMUPDATES_SCAN(npy_uint16, 0x7c00u) break;
    case NPY_FLOAT32: SYMUPDATES_SCAN(npy_uint32, 0x7f800000u) break;
    case NPY_FLOAT64: SYMUPDATES_SCAN(npy_uint64, 0x7ff0000000000000ull) break;
    default:
        PyErr_Format(PyExc_TypeError, "AllFinite: an array of type %d, expected float16, float32 or float64",
                     PyArray_TYPE(c));
        finite = -1;
    }
    Py_DECREF(c);
    return finite;
}

static int symupdates_all_finite(PyArrayObject** arrays, Py_ssize_t n_arrays)
{
    for (Py_ssize_t k = 0; k < n_arrays; ++k) {
        if (!arrays[k]) {
            PyErr_SetString(PyExc_ValueError, "AllFinite: an input has no value");
            return -1;
        }
        int finite = symupdates_array_finite(arrays[k]);
        if (finite != 1)
            return finite;
    }
    return 1;
}

#endif
