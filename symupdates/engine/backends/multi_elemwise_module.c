/* The stand-alone extension module of one MultiElemwise kernel, used by the
   op's own thunk on the VM linkers (``Mode(linker="cvm")`` ...): the node's
   storage cells go in, one C call runs every row.  A template filled in by
   symupdates/engine/backends/c.py after multi_elemwise.c. */

/* run(row_cells, invariant_cells, output_cells, destroy, n_rows) */
static PyObject* run(PyObject* self, PyObject* args)
{
    PyObject *row_cells, *inv_cells, *out_cells;
    const char* destroy_bytes;
    Py_ssize_t destroy_len, n_rows, n_in, n_out, n_inv;
    if (!PyArg_ParseTuple(args, "O!O!O!y#n", &PyList_Type, &row_cells, &PyList_Type, &inv_cells,
                          &PyList_Type, &out_cells, &destroy_bytes, &destroy_len, &n_rows))
        return NULL;
    n_in = PyList_GET_SIZE(row_cells);
    n_out = PyList_GET_SIZE(out_cells);
    n_inv = PyList_GET_SIZE(inv_cells);
    PyArrayObject** arrays = (PyArrayObject**)PyMem_Calloc(n_in + n_out + n_inv + 1, sizeof(PyArrayObject*));
    if (!arrays)
        return PyErr_NoMemory();
    PyArrayObject **in_arr = arrays, **outs = arrays + n_in, **invs = arrays + n_in + n_out;
    for (Py_ssize_t i = 0; i < n_in; ++i) {
        PyObject* value = PyList_GET_ITEM(PyList_GET_ITEM(row_cells, i), 0);
        in_arr[i] = PyArray_Check(value) ? (PyArrayObject*)value : NULL;   /* borrowed */
    }
    for (Py_ssize_t k = 0; k < n_inv; ++k) {
        PyObject* value = PyList_GET_ITEM(PyList_GET_ITEM(inv_cells, k), 0);
        invs[k] = PyArray_Check(value) ? (PyArrayObject*)value : NULL;
    }
    for (Py_ssize_t o = 0; o < n_out; ++o) {
        PyObject* value = PyList_GET_ITEM(PyList_GET_ITEM(out_cells, o), 0);
        outs[o] = PyArray_Check(value) ? (PyArrayObject*)value : NULL;
        Py_XINCREF(outs[o]);
    }
    int ok = run_node_%(name)s(in_arr, invs, outs, (const npy_int64*)destroy_bytes, n_rows);
    for (Py_ssize_t o = 0; o < n_out; ++o) {
        if (!outs[o])
            continue;
        PyObject* cell = PyList_GET_ITEM(out_cells, o);
        PyObject* previous = PyList_GET_ITEM(cell, 0);
        PyList_SET_ITEM(cell, 0, (PyObject*)outs[o]);   /* steals the new reference */
        Py_XDECREF(previous);
    }
    PyMem_Free(arrays);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {{"run", run, METH_VARARGS, "Run the kernel on every row."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "%(module)s", NULL, -1, methods};
PyMODINIT_FUNC PyInit_%(module)s(void) { import_array(); return PyModule_Create(&moduledef); }
