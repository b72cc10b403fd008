/* A Python C extension that exists only in the tmpdump's python/ directory
 * and needs libtmpdump_testdep.so from its lib/. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "testdep.h"

static PyObject* greeting(PyObject* self, PyObject* args) {
  (void)self;
  (void)args;
  return PyUnicode_FromString(testdep_greeting());
}

static PyMethodDef methods[] = {{"greeting", greeting, METH_NOARGS, "The test library's greeting."},
                                {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tmpdump_cext", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_tmpdump_cext(void) {
  return PyModule_Create(&module);
}
