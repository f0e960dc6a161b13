/* doit_scout._ctracer: the hot path of doit_scout.probes' C probe.
 *
 * On CPython 3.11 a frame evaluation function (PEP 523, below) sees every frame begin, in every
 * thread; elsewhere a C profile function (PyEval_SetProfile, set per thread) gets every call of a
 * Python frame, a resumed generator's or coroutine's included. Either notes the code object once
 * per destination (the window the Python side set with set_target, or the session while a module
 * is being imported), and calls back into Python only for the few code objects whose call says
 * more than that they ran (os.environ reads, linecache, multiprocessing's process starters).
 *
 * Each code object seen gets a slot in an open-addressing table that holds a strong reference
 * to it (the windows keep every code object alive anyway), its kind and the destination it was
 * last noted in: a call of a code object already noted costs one table probe, no allocation. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>
#include <stdint.h>

/* CPython 3.11: a frame evaluation function (PEP 523) sees every frame begin (a resumed generator's
 * too) in every thread, and leaves the interpreter's specialized instructions in place, which any
 * profile or trace function turns off: on call-heavy code a profile function that does nothing at
 * all costs 1.5x, a frame evaluation function that notes the code 1.05x. Elsewhere (the layout of
 * its frames is CPython's own, version by version) the profile function does the work. */
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030C0000
#define EVAL_FRAME 1
#define Py_BUILD_CORE
#include <internal/pycore_frame.h>
#undef Py_BUILD_CORE
#else
#define EVAL_FRAME 0
#endif

enum { KIND_PLAIN = 0, KIND_MODULE = 1, KIND_ALWAYS = 2, KIND_NAMED = 3, KIND_IGNORED = 4 };

typedef struct {
    PyObject *code;     /* strong reference; NULL: an empty slot */
    uint64_t noted_in;  /* the destination it was last noted in (0: none) */
    int kind;
} Slot;

typedef struct {
    PyObject_HEAD
    PyObject *target;    /* dict: id(code) -> code, the open window's */
    PyObject *session;   /* dict: where code run while importing goes */
    PyObject *always;    /* tuple of code objects: call back on every call */
    PyObject *named;     /* frozenset of names: call back when first noted in a destination */
    PyObject *callback;  /* callable(frame) */
    PyObject *keep;      /* tuple of str: code of a file under one of them is noted */
    PyObject *skip;      /* tuple of str: else, code of a file under one of them is not (empty: all is) */
    uint64_t target_id, session_id, next_id;
    long imports;        /* `<module>` frames being run */
    PyThreadState *calling_back;  /* the thread whose code the callback runs now (not noted) */
    Slot *slots;
    size_t size, used;   /* size: a power of two */
} Probe;

static PyObject *module_name;  /* "<module>" */
static PyObject *source_suffix;  /* ".py" */

static size_t slot_hash(PyObject *code) {
    uintptr_t p = (uintptr_t)code;
    return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull);
}

static int grow(Probe *self) {
    size_t size = self->size ? self->size * 2 : 4096;
    Slot *slots = PyMem_Calloc(size, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < self->size; i++) {
        Slot *old = &self->slots[i];
        if (old->code == NULL) continue;
        size_t j = slot_hash(old->code) & (size - 1);
        while (slots[j].code != NULL) j = (j + 1) & (size - 1);
        slots[j] = *old;
    }
    PyMem_Free(self->slots);
    self->slots = slots;
    self->size = size;
    return 0;
}

/* 1: `file` starts with one of `prefixes` (a tuple of str, or NULL). */
static int under(PyObject *file, PyObject *prefixes) {
    Py_ssize_t n = prefixes == NULL ? 0 : PyTuple_GET_SIZE(prefixes);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t hit = PyUnicode_Tailmatch(file, PyTuple_GET_ITEM(prefixes, i), 0, PY_SSIZE_T_MAX, -1);
        if (hit < 0) PyErr_Clear();
        if (hit == 1) return 1;
    }
    return 0;
}

static int kind_of(Probe *self, PyCodeObject *code) {
    PyObject *name = code->co_name;
    if (name == module_name || PyUnicode_Compare(name, module_name) == 0) return KIND_MODULE;
    Py_ssize_t n = PyTuple_GET_SIZE(self->always);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyTuple_GET_ITEM(self->always, i) == (PyObject *)code) return KIND_ALWAYS;
    }
    int named = PySet_Contains(self->named, name);
    if (named < 0) PyErr_Clear();
    if (named > 0) return KIND_NAMED;
    /* Code of the standard library and of installed packages, and code compiled from strings
     * (`<template>`, `<string>`), are most of what a test runs and nothing its record names (a
     * `.py` file of the project): not noting them keeps each window small. */
    PyObject *file = code->co_filename;
    if (self->skip == NULL || PyTuple_GET_SIZE(self->skip) == 0 || !PyUnicode_Check(file)) return KIND_PLAIN;
    Py_ssize_t source = PyUnicode_Tailmatch(file, source_suffix, 0, PY_SSIZE_T_MAX, 1);
    if (source < 0) {
        PyErr_Clear();
        return KIND_PLAIN;
    }
    if (source == 0) return KIND_IGNORED;
    if (under(file, self->keep)) return KIND_PLAIN;
    return under(file, self->skip) ? KIND_IGNORED : KIND_PLAIN;
}

static Slot *slot_of(Probe *self, PyCodeObject *code) {
    if (self->used * 2 >= self->size && grow(self) < 0) return NULL;
    size_t mask = self->size - 1, i = slot_hash((PyObject *)code) & mask;
    while (self->slots[i].code != NULL) {
        if (self->slots[i].code == (PyObject *)code) return &self->slots[i];
        i = (i + 1) & mask;
    }
    Slot *slot = &self->slots[i];
    Py_INCREF(code);
    slot->code = (PyObject *)code;
    slot->noted_in = 0;
    slot->kind = kind_of(self, code);
    self->used++;
    return slot;
}

/* callback(code, frame, first, second): the frame of the call (None when it has no frame object
 * yet: then the caller's is the callback's caller, sys._getframe(1)), or its first two locals. */
static void call_back(Probe *self, PyCodeObject *code, PyObject *frame, PyObject *first, PyObject *second) {
    PyThreadState *tstate = PyThreadState_Get();
    PyThreadState *outer = self->calling_back;
    self->calling_back = tstate;
    PyObject *result = PyObject_CallFunctionObjArgs(self->callback, (PyObject *)code, frame ? frame : Py_None,
                                                    first ? first : Py_None, second ? second : Py_None, NULL);
    self->calling_back = outer;
    if (result == NULL) PyErr_WriteUnraisable(self->callback);  /* never into the code under test */
    Py_XDECREF(result);
}

/* Notes `code` in its destination; 1: it is a special one to call back for. */
static int note(Probe *self, PyCodeObject *code, Slot *slot) {
    if (slot->kind == KIND_IGNORED) return 0;
    int importing = self->imports > 0 || self->target == NULL;
    uint64_t into = importing ? self->session_id : self->target_id;
    int kind = slot->kind;
    if (slot->noted_in != into) {
        PyObject *key = PyLong_FromVoidPtr(code);
        if (key == NULL || PyDict_SetItem(importing ? self->session : self->target, key, (PyObject *)code) < 0) {
            PyErr_WriteUnraisable((PyObject *)self);
            kind = KIND_PLAIN;
        } else {
            slot->noted_in = into;
        }
        Py_XDECREF(key);
        return kind == KIND_NAMED || kind == KIND_ALWAYS;
    }
    return kind == KIND_ALWAYS;
}

/* What a call event does; 0 always: an error here must not reach the code that was called. */
static int on_call(Probe *self, PyFrameObject *frame) {
    PyCodeObject *code = PyFrame_GetCode(frame);
    Slot *slot = slot_of(self, code);
    if (slot == NULL) {
        PyErr_WriteUnraisable((PyObject *)self);
    } else if (slot->kind == KIND_MODULE) {
        self->imports++;
    } else if (note(self, code, slot)) {
        call_back(self, code, (PyObject *)frame, NULL, NULL);
    }
    Py_DECREF(code);
    return 0;
}

static int profile(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg) {
    Probe *self = (Probe *)obj;
    if (what == PyTrace_CALL) return on_call(self, frame);
    if (what == PyTrace_RETURN && self->imports > 0) {
        /* a `<module>` frame that began before the probe did ends with none counted: not below 0 */
        PyCodeObject *code = PyFrame_GetCode(frame);
        if (code->co_name == module_name || PyUnicode_Compare(code->co_name, module_name) == 0) self->imports--;
        Py_DECREF(code);
    }
    return 0;
}

#if EVAL_FRAME
static Probe *evaluating;  /* the probe the frame evaluation function notes into (one an interpreter) */

static PyObject *evaluate(PyThreadState *tstate, _PyInterpreterFrame *frame, int throwflag) {
    Probe *self = evaluating;
    if (self == NULL || self->calling_back == tstate) return _PyEval_EvalFrameDefault(tstate, frame, throwflag);
    /* A generator resumed by throw() or close() comes in with its exception set: set aside while
     * the probe notes and calls back (no C API call may run with one set), then put back. */
    PyObject *type = NULL, *value = NULL, *traceback = NULL;
    int pending = PyErr_Occurred() != NULL;
    if (pending) PyErr_Fetch(&type, &value, &traceback);
    PyCodeObject *code = frame->f_code;
    Slot *slot = slot_of(self, code);
    int module = 0;
    if (slot == NULL) {
        PyErr_WriteUnraisable((PyObject *)self);
    } else if (slot->kind == KIND_MODULE) {
        module = 1;
        self->imports++;
    } else if (note(self, code, slot)) {
        /* the locals are the arguments yet; the frame has no frame object (the caller's has) */
        int n = code->co_nlocalsplus;
        call_back(self, code, NULL, n > 0 ? frame->localsplus[0] : NULL, n > 1 ? frame->localsplus[1] : NULL);
    }
    if (pending) PyErr_Restore(type, value, traceback);
    PyObject *result = _PyEval_EvalFrameDefault(tstate, frame, throwflag);
    if (module && self->imports > 0) self->imports--;
    return result;
}
#endif

static int Probe_init(Probe *self, PyObject *args, PyObject *kwds) {
    static char *keywords[] = {"session", "always", "named", "callback", NULL};
    PyObject *session, *always, *named, *callback;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!O:Probe", keywords, &PyDict_Type, &session, &PyTuple_Type,
                                     &always, &PyFrozenSet_Type, &named, &callback))
        return -1;
    Py_INCREF(session); Py_XSETREF(self->session, session);
    Py_INCREF(always); Py_XSETREF(self->always, always);
    Py_INCREF(named); Py_XSETREF(self->named, named);
    Py_INCREF(callback); Py_XSETREF(self->callback, callback);
    self->session_id = ++self->next_id;
    return 0;
}

static int Probe_traverse(Probe *self, visitproc visit, void *arg) {
    Py_VISIT(self->target);
    Py_VISIT(self->session);
    Py_VISIT(self->always);
    Py_VISIT(self->named);
    Py_VISIT(self->callback);
    Py_VISIT(self->keep);
    Py_VISIT(self->skip);
    for (size_t i = 0; i < self->size; i++) Py_VISIT(self->slots[i].code);
    return 0;
}

static int Probe_clear(Probe *self) {
    Py_CLEAR(self->target);
    Py_CLEAR(self->session);
    Py_CLEAR(self->always);
    Py_CLEAR(self->named);
    Py_CLEAR(self->callback);
    Py_CLEAR(self->keep);
    Py_CLEAR(self->skip);
    for (size_t i = 0; i < self->size; i++) Py_CLEAR(self->slots[i].code);
    self->used = 0;
    return 0;
}

static void Probe_dealloc(Probe *self) {
    PyObject_GC_UnTrack(self);
    Probe_clear(self);
    PyMem_Free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Probe_start(Probe *self, PyObject *unused) {
    PyEval_SetProfile(profile, (PyObject *)self);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Probe_stop(Probe *self, PyObject *unused) {
    PyEval_SetProfile(NULL, NULL);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Probe_start_all(Probe *self, PyObject *unused) {
#if EVAL_FRAME
    Py_INCREF(self);
    Py_XSETREF(evaluating, self);
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), evaluate);
    Py_RETURN_NONE;
#else
    PyErr_SetString(PyExc_RuntimeError, "no frame evaluation function in this Python: start() each thread");
    return NULL;
#endif
}

static PyObject *Probe_stop_all(Probe *self, PyObject *unused) {
#if EVAL_FRAME
    PyInterpreterState *interp = PyInterpreterState_Get();
    if (_PyInterpreterState_GetEvalFrameFunc(interp) == evaluate)
        _PyInterpreterState_SetEvalFrameFunc(interp, _PyEval_EvalFrameDefault);
    Py_CLEAR(evaluating);
#endif
    Py_RETURN_NONE;
}

static PyObject *Probe_installed_all(Probe *self, PyObject *unused) {
#if EVAL_FRAME
    return PyBool_FromLong(evaluating == self
                           && _PyInterpreterState_GetEvalFrameFunc(PyInterpreterState_Get()) == evaluate);
#else
    Py_RETURN_FALSE;
#endif
}

static PyObject *Probe_set_target(Probe *self, PyObject *target) {
    if (target == Py_None) {
        Py_CLEAR(self->target);
    } else if (!PyDict_Check(target)) {
        PyErr_SetString(PyExc_TypeError, "set_target: a dict or None");
        return NULL;
    } else {
        Py_INCREF(target);
        Py_XSETREF(self->target, target);
    }
    self->target_id = ++self->next_id;
    Py_RETURN_NONE;
}

static PyObject *Probe_enter(Probe *self, PyObject *frame) {
    if (!PyFrame_Check(frame)) {
        PyErr_SetString(PyExc_TypeError, "enter: a frame");
        return NULL;
    }
    on_call(self, (PyFrameObject *)frame);
    Py_RETURN_NONE;
}

static int all_str(PyObject *tuple) {
    if (!PyTuple_Check(tuple)) return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++)
        if (!PyUnicode_Check(PyTuple_GET_ITEM(tuple, i))) return 0;
    return 1;
}

/* skip_files(skip, keep): from now on, code first called from a file under one of `skip` and
 * none of `keep` (tuples of str), or from no `.py` file, is not noted. */
static PyObject *Probe_skip_files(Probe *self, PyObject *args) {
    PyObject *skip, *keep;
    if (!PyArg_ParseTuple(args, "OO:skip_files", &skip, &keep)) return NULL;
    if (!all_str(skip) || !all_str(keep)) {
        PyErr_SetString(PyExc_TypeError, "skip_files takes two tuples of str");
        return NULL;
    }
    Py_INCREF(skip);
    Py_XSETREF(self->skip, skip);
    Py_INCREF(keep);
    Py_XSETREF(self->keep, keep);
    Py_RETURN_NONE;
}

static PyObject *Probe_get_imports(Probe *self, void *closure) { return PyLong_FromLong(self->imports); }

static PyMethodDef Probe_methods[] = {
    {"start", (PyCFunction)Probe_start, METH_NOARGS, "Profile this thread's calls."},
    {"stop", (PyCFunction)Probe_stop, METH_NOARGS, "Stop profiling this thread (any profile function)."},
    {"start_all", (PyCFunction)Probe_start_all, METH_NOARGS, "Note every thread's frames (3.11: PEP 523)."},
    {"stop_all", (PyCFunction)Probe_stop_all, METH_NOARGS, "Stop noting every thread's frames."},
    {"installed_all", (PyCFunction)Probe_installed_all, METH_NOARGS, "start_all() is in effect."},
    {"set_target", (PyCFunction)Probe_set_target, METH_O, "The dict that code run from now on goes into."},
    {"enter", (PyCFunction)Probe_enter, METH_O, "What a call event of this frame does."},
    {"skip_files", (PyCFunction)Probe_skip_files, METH_VARARGS, "Note no code from files under these prefixes."},
    {NULL}
};

static PyGetSetDef Probe_getset[] = {
    {"imports", (getter)Probe_get_imports, NULL, "`<module>` frames being run", NULL},
    {NULL}
};

static PyTypeObject ProbeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "doit_scout._ctracer.Probe",
    .tp_basicsize = sizeof(Probe),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Probe(session, always, named, callback): notes each code object called, once per destination.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Probe_init,
    .tp_dealloc = (destructor)Probe_dealloc,
    .tp_traverse = (traverseproc)Probe_traverse,
    .tp_clear = (inquiry)Probe_clear,
    .tp_methods = Probe_methods,
    .tp_getset = Probe_getset,
};

static struct PyModuleDef ctracer_module = {
    PyModuleDef_HEAD_INIT, "doit_scout._ctracer", "The C hot path of doit_scout.probes.", -1, NULL,
};

PyMODINIT_FUNC PyInit__ctracer(void) {
    if (PyType_Ready(&ProbeType) < 0) return NULL;
    module_name = PyUnicode_InternFromString("<module>");
    source_suffix = PyUnicode_InternFromString(".py");
    if (module_name == NULL) return NULL;
    PyObject *module = PyModule_Create(&ctracer_module);
    if (module == NULL) return NULL;
    if (PyModule_AddIntConstant(module, "EVAL_FRAME", EVAL_FRAME) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    Py_INCREF(&ProbeType);
    if (PyModule_AddObject(module, "Probe", (PyObject *)&ProbeType) < 0) {
        Py_DECREF(&ProbeType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
