/* Compiled step-path kernels of the UNIMAL environments (optional; numpy fallback in observation.py / hfield.py).
 *
 * On arrays of a few hundred doubles the numpy versions spend their time in per-call overhead, not in
 * arithmetic. These kernels do the same floating-point operations in the same order, one C call each,
 * so their results are bitwise equal to the numpy code's (build with -ffp-contract=off: no fused
 * multiply-adds). Only the CPython buffer protocol is used (no numpy headers at build time).
 *
 * Proprioceptive(...)  bound once to views of one MjData's arrays; calling it with a (624,) float64 buffer
 *                      holding the static columns writes the dynamic ones (see AgentObservation._bind).
 * CtrlSetter(...)      bound once to MjData.ctrl; checks an action and writes its actuated slots.
 * HfieldSampler(...)   bound once to a terrain height array; calling it writes the (1410,) rotated-grid
 *                      sample minus the centre height, indices clipped (see HeightMap.observe).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <limits.h>
#include <string.h>

#define PROPRIOCEPTIVE_DIM 52

/* ------------------------------------------------------------------ buffers */

/* A C-contiguous buffer of doubles (format "d") with exactly `length` items (any length if length < 0). */
static int get_doubles(PyObject *obj, Py_buffer *view, Py_ssize_t length, int writable, const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous%s float64 array", what, writable ? " writable" : "");
        return -1;
    }
    if (view->itemsize != 8 || view->format == NULL || strcmp(view->format, "d") != 0) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s must have dtype float64", what);
        return -1;
    }
    if (length >= 0 && view->len != length * 8) {
        Py_ssize_t got = view->len / 8;
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "%s must have %zd items, got %zd", what, length, got);
        return -1;
    }
    return 0;
}

/* 1 when a call got no keyword arguments, else 0 with a TypeError naming the callable. */
static int no_keywords(PyObject *kwds, const char *name) {
    if (kwds == NULL || PyDict_GET_SIZE(kwds) == 0) return 1;
    PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", name);
    return 0;
}

/* A copy of a sequence of Python ints as Py_ssize_t (read once, at construction). */
static Py_ssize_t *int_array(PyObject *seq_obj, Py_ssize_t length, const char *what) {
    PyObject *seq = PySequence_Fast(seq_obj, "expected a sequence of ints");
    if (seq == NULL) return NULL;
    if (PySequence_Fast_GET_SIZE(seq) != length) {
        PyErr_Format(PyExc_ValueError, "%s must have %zd items, got %zd", what, length, PySequence_Fast_GET_SIZE(seq));
        Py_DECREF(seq);
        return NULL;
    }
    Py_ssize_t *out = PyMem_Malloc((length > 0 ? length : 1) * sizeof(Py_ssize_t));
    if (out == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < length; i++) {
        out[i] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, i));
        if (out[i] == -1 && PyErr_Occurred()) {
            PyMem_Free(out);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    return out;
}

/* ------------------------------------------------------------------ Proprioceptive */

enum { P_CVEL, P_XPOS, P_XQUAT, P_COM, P_QPOS, P_QVEL, P_LO, P_SPAN, P_COUNT };

typedef struct {
    PyObject_HEAD
    Py_ssize_t n;       /* limbs */
    Py_ssize_t nj;      /* hinge joints */
    Py_ssize_t *slots;  /* (nj,) flat output position of each joint's normalised qpos; its qvel follows */
    Py_buffer views[P_COUNT];
    int bound;
} Proprioceptive;

static void Proprioceptive_dealloc(Proprioceptive *self) {
    if (self->bound) {
        for (int i = 0; i < P_COUNT; i++) PyBuffer_Release(&self->views[i]);
    }
    PyMem_Free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Proprioceptive_init(Proprioceptive *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"cvel", "xpos", "xquat", "com", "qpos", "qvel", "range_lo", "range_span", "slots", NULL};
    PyObject *obj[P_COUNT], *slots;
    static const char *names[P_COUNT] = {"cvel", "xpos", "xquat", "com", "qpos", "qvel", "range_lo", "range_span"};
    if (self->bound) {
        PyErr_SetString(PyExc_RuntimeError, "Proprioceptive is already bound");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOOOOO", kwlist, &obj[0], &obj[1], &obj[2], &obj[3], &obj[4],
                                     &obj[5], &obj[6], &obj[7], &slots)) {
        return -1;
    }
    const Py_ssize_t nj = PySequence_Length(slots);
    if (nj < 0) return -1;
    int got = 0;
    for (; got < P_COUNT; got++) {
        if (get_doubles(obj[got], &self->views[got], got == P_COM ? 3 : -1, 0, names[got]) != 0) goto fail;
    }
    const Py_ssize_t n = self->views[P_XPOS].len / 8 / 3;
    const Py_ssize_t expect[P_COUNT] = {6 * n, 3 * n, 4 * n, 3, nj, nj, nj, nj};
    for (int i = 0; i < P_COUNT; i++) {
        if (self->views[i].len != expect[i] * 8) {
            PyErr_Format(PyExc_ValueError, "%s must have %zd items for %zd limbs and %zd joints, got %zd", names[i],
                         expect[i], n, nj, self->views[i].len / 8);
            goto fail;
        }
    }
    self->slots = int_array(slots, nj, "slots");
    if (self->slots == NULL) goto fail;
    for (Py_ssize_t j = 0; j < nj; j++) {
        if (self->slots[j] < 0 || self->slots[j] + 1 >= n * PROPRIOCEPTIVE_DIM) {
            PyErr_Format(PyExc_ValueError, "slot %zd of joint %zd is outside the observation", self->slots[j], j);
            PyMem_Free(self->slots);
            self->slots = NULL;
            goto fail;
        }
    }
    self->n = n;
    self->nj = nj;
    self->bound = 1;
    return 0;
fail:
    for (int i = 0; i < got; i++) PyBuffer_Release(&self->views[i]);
    return -1;
}

/* Writes columns 0–12 of each limb and the joints' qpos_n / qvel into out (624,); the rest is untouched. */
static PyObject *Proprioceptive_call(Proprioceptive *self, PyObject *args, PyObject *kwds) {
    PyObject *out_obj;
    Py_buffer out_view;
    if (!no_keywords(kwds, "Proprioceptive")) return NULL;
    if (!PyArg_UnpackTuple(args, "Proprioceptive", 1, 1, &out_obj)) return NULL;
    if (get_doubles(out_obj, &out_view, -1, 1, "out") != 0) return NULL;
    const Py_ssize_t n = self->n, nj = self->nj;
    if (out_view.len < n * PROPRIOCEPTIVE_DIM * 8) {
        PyBuffer_Release(&out_view);
        PyErr_Format(PyExc_ValueError, "out must hold at least %zd items", n * PROPRIOCEPTIVE_DIM);
        return NULL;
    }
    double *out = out_view.buf;
    const double *cvel = self->views[P_CVEL].buf, *xpos = self->views[P_XPOS].buf;
    const double *xquat = self->views[P_XQUAT].buf, *com = self->views[P_COM].buf;
    const double *qpos = self->views[P_QPOS].buf, *qvel = self->views[P_QVEL].buf;
    const double *lo = self->views[P_LO].buf, *span = self->views[P_SPAN].buf;
    static const int A[3] = {1, 2, 0}, B[3] = {2, 0, 1};
    const double torso_x = xpos[0];
    for (Py_ssize_t i = 0; i < n; i++) {
        double *row = out + i * PROPRIOCEPTIVE_DIM;
        const double *w = cvel + 6 * i, *v = cvel + 6 * i + 3, *x = xpos + 3 * i;
        double r[3];
        for (int k = 0; k < 3; k++) r[k] = x[k] - com[k];
        /* the numpy path subtracts x_torso·e_x, i.e. (x_torso, 0, 0), from the position */
        row[0] = x[0] - torso_x;
        row[1] = x[1] - 0.0 * torso_x; /* −0.0 when torso_x < 0, as in numpy */
        row[2] = x[2] - 0.0 * torso_x;
        for (int k = 0; k < 3; k++) {
            const double product_a = w[A[k]] * r[B[k]];
            const double product_b = w[B[k]] * r[A[k]];
            row[3 + k] = v[k] + (product_a - product_b);
            row[6 + k] = w[k];
        }
        for (int k = 0; k < 4; k++) row[9 + k] = xquat[4 * i + k];
    }
    for (Py_ssize_t j = 0; j < nj; j++) {
        out[self->slots[j]] = (qpos[j] - lo[j]) / span[j];
        out[self->slots[j] + 1] = qvel[j];
    }
    PyBuffer_Release(&out_view);
    Py_RETURN_NONE;
}

static PyTypeObject ProprioceptiveType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "unimal_gym.envs._kernels.Proprioceptive",
    .tp_doc = PyDoc_STR("Proprioceptive(cvel, xpos, xquat, com, qpos, qvel, range_lo, range_span, slots)\n\n"
                        "Bound to views of one MjData's agent rows: cvel (6n,), xpos (3n,), xquat (4n,), the "
                        "root's subtree COM (3,), the hinge qpos/qvel (nj,), the joint ranges' lower ends and "
                        "spans (nj,), and slots (nj ints, flat output position of qpos_n). Calling it with a "
                        "writable (n*52,) float64 array writes the dynamic columns."),
    .tp_basicsize = sizeof(Proprioceptive),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Proprioceptive_init,
    .tp_dealloc = (destructor)Proprioceptive_dealloc,
    .tp_call = (ternaryfunc)Proprioceptive_call,
};

/* ------------------------------------------------------------------ HfieldSampler */

/* rint() for |v| < 2^51 in the default rounding mode (to nearest, ties to even), as numpy's rint: adding
 * and subtracting 1.5·2^52 leaves no fraction bits, so the addition rounds v to an integer. Inline, where
 * rint() is a libm call on x86-64 without SSE4.1. Needs strict IEEE arithmetic (no -ffast-math). */
static inline double round_half_even(double v) {
    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */
    return (v + shift) - shift;
}

static inline Py_ssize_t clip(Py_ssize_t i, Py_ssize_t last) { return i < 0 ? 0 : (i > last ? last : i); }

typedef struct {
    PyObject_HEAD
    Py_buffer heights; /* (rows, cols) terrain heights, C order */
    Py_buffer grid;    /* (2, m): [dc; dr] column and row offsets */
    Py_ssize_t m;      /* grid points */
    Py_ssize_t rows, cols;
    Py_ssize_t row_origin, col_origin; /* the cell of world (0, 0) */
    double cells_per_metre;
    int *index; /* (m,) work: flat cell of each sample */
    int bound;
} HfieldSampler;

static void HfieldSampler_dealloc(HfieldSampler *self) {
    if (self->bound) {
        PyBuffer_Release(&self->heights);
        PyBuffer_Release(&self->grid);
    }
    PyMem_Free(self->index);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int HfieldSampler_init(HfieldSampler *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"heights", "grid", "cols", "row_origin", "col_origin", "cells_per_metre", NULL};
    PyObject *heights, *grid;
    Py_ssize_t cols, row_origin, col_origin;
    double cells_per_metre;
    if (self->bound) {
        PyErr_SetString(PyExc_RuntimeError, "HfieldSampler is already bound");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOnnnd", kwlist, &heights, &grid, &cols, &row_origin, &col_origin,
                                     &cells_per_metre)) {
        return -1;
    }
    if (get_doubles(heights, &self->heights, -1, 0, "heights") != 0) return -1;
    if (get_doubles(grid, &self->grid, -1, 0, "grid") != 0) {
        PyBuffer_Release(&self->heights);
        return -1;
    }
    Py_ssize_t cells = self->heights.len / 8;
    if (cols <= 0 || cells == 0 || cells % cols != 0 || cells > INT_MAX || self->grid.len % 16 != 0 ||
        !(cells_per_metre > 0)) {
        PyBuffer_Release(&self->heights);
        PyBuffer_Release(&self->grid);
        PyErr_Format(PyExc_ValueError,
                     "heights (%zd cells) must be a non-empty (rows, %zd) array, grid (2, m), cells_per_metre > 0",
                     cells, cols);
        return -1;
    }
    self->m = self->grid.len / 16;
    self->index = PyMem_Malloc((self->m > 0 ? self->m : 1) * sizeof(int));
    if (self->index == NULL) {
        PyBuffer_Release(&self->heights);
        PyBuffer_Release(&self->grid);
        PyErr_NoMemory();
        return -1;
    }
    self->rows = cells / cols;
    self->cols = cols;
    self->row_origin = row_origin;
    self->col_origin = col_origin;
    self->cells_per_metre = cells_per_metre;
    self->bound = 1;
    return 0;
}

/* floor(v) as an index, saturated far outside any array (v is finite). */
static inline Py_ssize_t floor_index(double v) {
    const double f = floor(v);
    return (Py_ssize_t)(f < -1e15 ? -1e15 : (f > 1e15 ? 1e15 : f));
}

/* The sampling loops, compiled twice on x86-64 Linux with GCC (AVX2 and baseline), picked at load time;
 * the same operations either way (no FMA: -ffp-contract=off, and "avx2" does not enable FMA). Indices are
 * computed in doubles (small integers: exact) and clipped with min/max, so the first loop vectorises. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
static void sample(double *out, int *index, const double *h, const double *dc, const double *dr, Py_ssize_t m,
                   Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t row0, Py_ssize_t col0, double c, double s) {
    const double fr0 = (double)row0, fc0 = (double)col0, last_row = (double)(rows - 1), last_col = (double)(cols - 1);
    const double fcols = (double)cols;
    for (Py_ssize_t k = 0; k < m; k++) {
        double col = fc0 + round_half_even(dc[k] * c + dr[k] * s);
        double row = fr0 + round_half_even(dr[k] * c + (-dc[k]) * s);
        col = col < 0.0 ? 0.0 : col;
        col = col > last_col ? last_col : col;
        row = row < 0.0 ? 0.0 : row;
        row = row > last_row ? last_row : row;
        index[k] = (int)(row * fcols + col);
    }
    const double h0 = h[row0 * cols + col0];
    for (Py_ssize_t k = 0; k < m; k++) out[k] = h[index[k]] - h0;
}

/* sampler(out, x, y, cos, sin) -> H[row0, col0], with (row0, col0) the cell under world (x, y)
 * (row_origin − floor(cells_per_metre·y), col_origin + floor(cells_per_metre·x), clipped to the array);
 * writes out[k] = H[clip(row0 + r'_k), clip(col0 + c'_k)] − H[row0, col0] with c' = rint(dc·cos + dr·sin),
 * r' = rint(dr·cos + (−dc)·sin), rounding half to even. */
static PyObject *HfieldSampler_call(HfieldSampler *self, PyObject *args, PyObject *kwds) {
    PyObject *out_obj;
    double x, y, c, s;
    Py_buffer out_view;
    if (!no_keywords(kwds, "HfieldSampler")) return NULL;
    if (!PyArg_ParseTuple(args, "Odddd", &out_obj, &x, &y, &c, &s)) return NULL;
    if (!isfinite(x) || !isfinite(y) || !isfinite(c) || !isfinite(s)) {
        PyErr_SetString(PyExc_ValueError, "x, y, cos and sin must be finite");
        return NULL;
    }
    const Py_ssize_t m = self->m, rows = self->rows, cols = self->cols;
    const Py_ssize_t row0 = clip(self->row_origin - floor_index(self->cells_per_metre * y), rows - 1);
    const Py_ssize_t col0 = clip(self->col_origin + floor_index(self->cells_per_metre * x), cols - 1);
    if (get_doubles(out_obj, &out_view, m, 1, "out") != 0) return NULL;
    const double *h = self->heights.buf, *dc = self->grid.buf;
    /* the buffers stay held, and one sampler belongs to one env: other threads may run meanwhile */
    Py_BEGIN_ALLOW_THREADS
    sample(out_view.buf, self->index, h, dc, dc + m, m, rows, cols, row0, col0, c, s);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out_view);
    return PyFloat_FromDouble(h[row0 * cols + col0]);
}

static PyTypeObject HfieldSamplerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "unimal_gym.envs._kernels.HfieldSampler",
    .tp_doc = PyDoc_STR("HfieldSampler(heights, grid, cols, row_origin, col_origin, cells_per_metre)\n\n"
                        "Bound to a C-contiguous (rows, cols) float64 height array, the (2, m) grid of column "
                        "and row offsets and the world-to-cell map. sampler(out, x, y, cos, sin) writes the m "
                        "heights at the rotated, rounded (half to even) offsets from the cell under (x, y), "
                        "indices clipped to the array, minus that cell's height, and returns that height."),
    .tp_basicsize = sizeof(HfieldSampler),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)HfieldSampler_init,
    .tp_dealloc = (destructor)HfieldSampler_dealloc,
    .tp_call = (ternaryfunc)HfieldSampler_call,
};

/* ------------------------------------------------------------------ CtrlSetter */

typedef struct {
    PyObject_HEAD
    Py_buffer ctrl;    /* (nu,) MjData.ctrl */
    Py_ssize_t *slots; /* (nu,) action slot of each actuator */
    Py_ssize_t nu, width;
    int bound;
} CtrlSetter;

static void CtrlSetter_dealloc(CtrlSetter *self) {
    if (self->bound) PyBuffer_Release(&self->ctrl);
    PyMem_Free(self->slots);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int CtrlSetter_init(CtrlSetter *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"ctrl", "slots", "width", NULL};
    PyObject *ctrl, *slots;
    Py_ssize_t width;
    if (self->bound) {
        PyErr_SetString(PyExc_RuntimeError, "CtrlSetter is already bound");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOn", kwlist, &ctrl, &slots, &width)) return -1;
    if (get_doubles(ctrl, &self->ctrl, -1, 1, "ctrl") != 0) return -1;
    self->nu = self->ctrl.len / 8;
    self->width = width;
    self->slots = int_array(slots, self->nu, "slots");
    int ok = self->slots != NULL;
    for (Py_ssize_t k = 0; ok && k < self->nu; k++) ok = self->slots[k] >= 0 && self->slots[k] < width;
    if (!ok) {
        if (self->slots != NULL && !PyErr_Occurred()) {
            PyErr_Format(PyExc_ValueError, "slots must lie in [0, %zd)", width);
        }
        PyMem_Free(self->slots);
        self->slots = NULL;
        PyBuffer_Release(&self->ctrl);
        return -1;
    }
    self->bound = 1;
    return 0;
}

/* setter(action) -> 0: ctrl[k] = action[slots[k]] was written; 1: not a one-dimensional C-contiguous float64/float32
 * vector of `width` items (nothing written: convert it with numpy, which refuses another shape); 2: it has NaN or inf
 * in some slot (nothing written). */
static PyObject *CtrlSetter_call(CtrlSetter *self, PyObject *args, PyObject *kwds) {
    PyObject *obj;
    Py_buffer view;
    if (!no_keywords(kwds, "CtrlSetter")) return NULL;
    if (!PyArg_UnpackTuple(args, "CtrlSetter", 1, 1, &obj)) return NULL;
    if (PyObject_GetBuffer(obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) {
        PyErr_Clear();
        return PyLong_FromLong(1);
    }
    long status = 1;
    const char *format = view.format == NULL ? "B" : view.format;
    const int is_double = view.itemsize == 8 && strcmp(format, "d") == 0;
    const int is_float = view.itemsize == 4 && strcmp(format, "f") == 0;
    if ((is_double || is_float) && view.ndim == 1 && view.len == self->width * view.itemsize) {
        status = 0;
        for (Py_ssize_t i = 0; i < self->width && status == 0; i++) {
            const double v = is_double ? ((const double *)view.buf)[i] : (double)((const float *)view.buf)[i];
            if (!isfinite(v)) status = 2;
        }
        if (status == 0) {
            double *ctrl = self->ctrl.buf;
            for (Py_ssize_t k = 0; k < self->nu; k++) {
                const Py_ssize_t i = self->slots[k];
                ctrl[k] = is_double ? ((const double *)view.buf)[i] : (double)((const float *)view.buf)[i];
            }
        }
    }
    PyBuffer_Release(&view);
    return PyLong_FromLong(status);
}

static PyTypeObject CtrlSetterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "unimal_gym.envs._kernels.CtrlSetter",
    .tp_doc = PyDoc_STR("CtrlSetter(ctrl, slots, width)\n\n"
                        "Bound to MjData.ctrl (nu,) and the action slot of each actuator. setter(action) "
                        "returns 0 after writing ctrl[k] = action[slots[k]] for a finite one-dimensional C-contiguous "
                        "float64 or float32 vector of width items, 1 (nothing written) for any other input, 2 (nothing "
                        "written) when an item is NaN or inf."),
    .tp_basicsize = sizeof(CtrlSetter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)CtrlSetter_init,
    .tp_dealloc = (destructor)CtrlSetter_dealloc,
    .tp_call = (ternaryfunc)CtrlSetter_call,
};

/* ------------------------------------------------------------------ abs_sum */

/* Σ|a[i]| in numpy's order for add.reduce on a contiguous float64 vector (pairwise summation): fewer
 * than 8 items one after another from 0; up to 128, eight running sums combined as
 * ((0+1)+(2+3))+((4+5)+(6+7)), then the tail; longer, two halves split at a multiple of 8. */
static double pairwise_abs(const double *a, Py_ssize_t n) {
    if (n < 8) {
        double total = 0.0;
        for (Py_ssize_t i = 0; i < n; i++) total += fabs(a[i]);
        return total;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = fabs(a[j]);
        Py_ssize_t i = 8;
        for (; i < n - n % 8; i += 8) {
            for (int j = 0; j < 8; j++) r[j] += fabs(a[i + j]);
        }
        double total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) total += fabs(a[i]);
        return total;
    }
    Py_ssize_t half = n / 2;
    half -= half % 8;
    return pairwise_abs(a, half) + pairwise_abs(a + half, n - half);
}

static PyObject *abs_sum(PyObject *module, PyObject *arg) {
    (void)module;
    Py_buffer view;
    if (get_doubles(arg, &view, -1, 0, "a") != 0) return NULL;
    const double *a = view.buf;
    const Py_ssize_t n = view.len / 8;
    const double total = pairwise_abs(a, n);
    PyBuffer_Release(&view);
    return PyFloat_FromDouble(total);
}

static PyMethodDef kernels_methods[] = {
    {"abs_sum", abs_sum, METH_O,
     PyDoc_STR("abs_sum(a) -> float: the sum of |a| for a C-contiguous float64 array, bitwise equal to "
               "numpy.add.reduce(numpy.abs(a)) (same summation order).")},
    {NULL, NULL, 0, NULL},
};

/* ------------------------------------------------------------------ module */

static struct PyModuleDef kernels_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "unimal_gym.envs._kernels",
    .m_doc = "Compiled step-path kernels (bitwise equal to the numpy fallbacks).",
    .m_size = -1,
    .m_methods = kernels_methods,
};

PyMODINIT_FUNC PyInit__kernels(void) {
    PyTypeObject *types[] = {&ProprioceptiveType, &HfieldSamplerType, &CtrlSetterType};
    const size_t count = sizeof types / sizeof types[0];
    for (size_t i = 0; i < count; i++) {
        if (PyType_Ready(types[i]) < 0) return NULL;
    }
    PyObject *module = PyModule_Create(&kernels_module);
    if (module == NULL) return NULL;
    for (size_t i = 0; i < count; i++) {
        const char *name = strrchr(types[i]->tp_name, '.') + 1; /* "unimal_gym.envs._kernels.X" -> "X" */
        if (PyModule_AddObjectRef(module, name, (PyObject *)types[i]) < 0) {
            Py_DECREF(module);
            return NULL;
        }
    }
    return module;
}
