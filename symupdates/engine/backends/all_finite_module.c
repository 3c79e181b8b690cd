/* The extension module AllFinite's thunk calls on the VM linkers: the node's
   storage cells go in, the 0-d bool is stored in the output cell.  A template
   filled in by symupdates/engine/backends/c.py after all_finite.c. */

/* run(input_cells, output_cell) */
static PyObject* run(PyObject* self, PyObject* args)
{
    PyObject *in_cells, *out_cell;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &in_cells, &PyList_Type, &out_cell))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(in_cells);
    PyArrayObject** arrays = (PyArrayObject**)PyMem_Calloc(n + 1, sizeof(PyArrayObject*));
    if (!arrays)
        return PyErr_NoMemory();
    for (Py_ssize_t k = 0; k < n; ++k) {
        PyObject* value = PyList_GET_ITEM(PyList_GET_ITEM(in_cells, k), 0);
        arrays[k] = PyArray_Check(value) ? (PyArrayObject*)value : NULL;   /* borrowed */
    }
    int finite = symupdates_all_finite(arrays, n);
    PyMem_Free(arrays);
    if (finite < 0)
        return NULL;
    PyObject* out = PyList_GET_ITEM(out_cell, 0);
    if (!(out && PyArray_Check(out) && PyArray_NDIM((PyArrayObject*)out) == 0
          && PyArray_TYPE((PyArrayObject*)out) == NPY_BOOL)) {
        out = PyArray_SimpleNew(0, NULL, NPY_BOOL);
        if (!out)
            return NULL;
        PyObject* previous = PyList_GET_ITEM(out_cell, 0);
        PyList_SET_ITEM(out_cell, 0, out);   /* steals the new reference */
        Py_XDECREF(previous);
    }
    *(npy_bool*)PyArray_DATA((PyArrayObject*)out) = (npy_bool)finite;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {{"run", run, METH_VARARGS, "Whether every input is finite."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "%(module)s", NULL, -1, methods};
PyMODINIT_FUNC PyInit_%(module)s(void) { import_array(); return PyModule_Create(&moduledef); }
