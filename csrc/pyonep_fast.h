/*
 * pyonep_fast C core: the public API, and cffi's cdef (build.py reads the
 * region between the CDEF markers; keep it plain declarations and integer
 * #defines that cffi's parser accepts).
 *
 * Rules for everything declared here:
 *  - pure functions over caller-owned or handle-owned buffers: no I/O, no
 *    Python API, no globals that change after load (cffi releases the GIL);
 *  - every function that can fail returns an int: >= 0 on success, a
 *    negative PF_E* code otherwise; pf_strerror() names it;
 *  - no input may make a function crash, hang, or read/write out of bounds.
 */
#ifndef PYONEP_FAST_H
#define PYONEP_FAST_H
#include <stddef.h>
#include <stdint.h>

/* CDEF BEGIN */

/* ---------- errors (errors.c) ---------- */
#define PF_OK 0
#define PF_ENOMEM -1        /* allocation failed */
#define PF_EUTF8 -2         /* string is not valid UTF-8 */
#define PF_ENONFINITE -3    /* NaN or infinity cannot be written as JSON */
#define PF_ESYNTAX -4       /* malformed JSON */
#define PF_ETRUNCATED -5    /* JSON text ends early */
#define PF_EDEPTH -6        /* JSON nested deeper than PF_MAX_DEPTH */
#define PF_ETYPE -7         /* a value of the wrong type for this operation */
#define PF_ERANGE -8        /* number or index out of range */
#define PF_EARG -9          /* invalid argument (null handle, bad option) */
#define PF_ETOOBIG -10      /* size limit exceeded */
#define PF_MAX_DEPTH 512

const char *pf_strerror(int code);

/* ---------- growable byte buffer + JSON writer (jsonw.c) ---------- */

/* ---------- JSON scanning (jscan.c): spans without building values ------ */

/* ---------- Batch: deferred JSON-RPC calls (batch.c) ---------- */

/* ---------- Demux: map a JSON-RPC response back to its calls (demux.c) -- */

/* ---------- Series: columnar (timestamp, value) buffers (series.c) ------ */

/* ---------- Entries: the server's ingest parser (entries.c) ---------- */

/* CDEF END */
#endif
