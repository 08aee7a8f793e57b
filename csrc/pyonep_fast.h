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
typedef struct pf_buf pf_buf;

/* A growable byte buffer. Writers append; on any error they return a
 * negative code and leave the buffer as it was. Growth is overflow-checked
 * (PF_ETOOBIG past SIZE_MAX / 2 bytes). */
pf_buf *pf_buf_new(size_t capacity);          /* NULL if out of memory */
void pf_buf_free(pf_buf *b);
void pf_buf_reset(pf_buf *b);                 /* length 0, capacity kept */
size_t pf_buf_len(const pf_buf *b);
size_t pf_buf_capacity(const pf_buf *b);      /* bytes allocated */
/* Valid until the next write to b. */
const char *pf_buf_data(const pf_buf *b);

int pf_buf_write_raw(pf_buf *b, const char *data, size_t len);
int pf_buf_write_int64(pf_buf *b, int64_t v);
/* Shortest text that round-trips, identical to Python's repr(float);
 * PF_ENONFINITE for NaN/inf (nothing written). */
int pf_buf_write_double(pf_buf *b, double v);
/* A JSON string literal with quotes. Escapes '"', '\\' and all of
 * U+0000..U+001F (\b \f \n \r \t short forms, \u00xx lowercase otherwise);
 * other valid UTF-8 is copied unchanged; invalid UTF-8 (overlong,
 * surrogates, > U+10FFFF, truncated, stray continuation bytes) gives
 * PF_EUTF8 and writes nothing. */
int pf_buf_write_string(pf_buf *b, const char *utf8, size_t len);

/* Writes repr(v) into out (at least 32 bytes, not NUL-terminated);
 * returns its length, or PF_ENONFINITE. */
int pf_format_double(double v, char *out);

/* ---------- JSON scanning (jscan.c): spans without building values ------ */
/* Strict RFC 8259 (see jscan.c for the one narrowing: \u escapes must form
 * Unicode scalar values). Errors: PF_ETRUNCATED when the text ends where
 * more was required, PF_EDEPTH past PF_MAX_DEPTH nested containers,
 * PF_ESYNTAX for any other malformation, PF_ERANGE for a span or offset
 * outside the buffer. Nothing past len (or past a span's end) is read. */
typedef struct {
    uint64_t off;   /* byte offset of the value's first character */
    uint64_t len;   /* byte length of the value's text */
} pf_span;

/* Validates the single JSON value starting at or after `off` (leading
 * whitespace skipped) and stores its span. What follows the value is not
 * examined. Returns PF_OK or an error. */
int pf_json_value_span(const char *buf, size_t len, size_t off, pf_span *out);
/* For the JSON array that `array` holds (whitespace around it allowed
 * inside the span, nothing else): stores the spans of its elements into out
 * (up to cap; out may be NULL when cap is 0); returns the element count
 * (which may exceed cap: call again with more room) or an error: the
 * value's own error first, then PF_ESYNTAX for text after it, then
 * PF_ETYPE if it is valid JSON but not an array. */
int64_t pf_json_array_spans(const char *buf, size_t len, pf_span array, pf_span *out, size_t cap);
/* The same for a JSON object: stores key spans (of the key string literal,
 * quotes included) and value spans; returns the member count (may exceed
 * cap). Duplicate keys are all reported, in order. */
int64_t pf_json_object_spans(const char *buf, size_t len, pf_span object,
                             pf_span *keys, pf_span *values, size_t cap);


/* ---------- Batch: deferred JSON-RPC calls (batch.c) ---------- */
typedef struct pf_batch pf_batch;

pf_batch *pf_batch_new(void);                 /* NULL if out of memory */
void pf_batch_free(pf_batch *b);
void pf_batch_clear(pf_batch *b);             /* no calls, memory kept */
size_t pf_batch_count(const pf_batch *b);
/* Queues one call: procedure (UTF-8, escaped once here; PF_EUTF8 if
 * invalid) and its arguments as an already encoded JSON array (copied once
 * into the batch's arena, not re-validated; PF_EARG if empty). O(1)
 * amortised. Returns the call's index; on error nothing is queued. */
int64_t pf_batch_add(pf_batch *b, const char *procedure, size_t procedure_len,
                     const char *arguments_json, size_t arguments_len);
/* Writes into out (reset first) one complete request body
 *   {"auth":AUTH,"calls":[{"id":ID,"procedure":"P","arguments":ARGS},...]}
 * holding calls first, first+1, ... : as many as fit both max_calls and
 * max_bytes (a single call larger than max_bytes still goes out alone).
 * Call k of the batch gets id first_id + k. auth_json is written verbatim
 * (PF_EARG if empty). Returns the number of calls written (>= 1), 0 if
 * first >= count (out left empty), PF_EARG for max_calls 0, PF_ERANGE if
 * the id of a call considered for the body overflows int64, or another
 * error. */
int64_t pf_batch_encode(const pf_batch *b, size_t first, const char *auth_json, size_t auth_len,
                        int64_t first_id, size_t max_calls, size_t max_bytes, pf_buf *out);


/* ---------- Demux: map a JSON-RPC response back to its calls (demux.c) -- */
#define PF_RESPONSE_ARRAY 1     /* a top-level array of entries */
#define PF_RESPONSE_ERROR 2     /* a top-level object with "error" */
#define PF_RESPONSE_OTHER 3     /* any other valid JSON value */

#define PF_SLOT_MISSING 0       /* no entry carried this call's id */
#define PF_SLOT_OK 1            /* "status": "ok" */
#define PF_SLOT_FAILED 2        /* "status" other than "ok" (string or list) */
#define PF_SLOT_ERROR 3         /* "error" and no "status" */
#define PF_SLOT_BARE 4          /* neither "status" nor "error" */

typedef struct {
    int32_t state;              /* PF_SLOT_* */
    int32_t duplicates;         /* further entries that carried the same id */
    int64_t position;           /* index of the entry in the response array */
    pf_span status;             /* JSON text of "status" (len 0: absent) */
    pf_span result;             /* JSON text of "result" (len 0: absent) */
    pf_span error;              /* JSON text of "error" (len 0: absent) */
} pf_slot;

typedef struct {
    int32_t kind;               /* PF_RESPONSE_* */
    pf_span error;              /* PF_RESPONSE_ERROR: the "error" value */
    uint64_t entries;           /* entries in the array */
    uint64_t unknown_ids;       /* entries whose id matched no call */
    uint64_t duplicate_ids;     /* entries whose id was already seen */
    uint64_t missing;           /* calls with no entry */
    uint64_t without_id;        /* entries with no "id" (or not an object) */
} pf_demux_info;

/* One pass over body, which must be one valid JSON value (jscan.c's rules)
 * with only whitespace around it. Call k (0 <= k < ncalls) was sent with
 * id first_id + k; slots has ncalls elements, filled in call order. An id
 * is an integer literal or a string whose decoded text is one
 * (-?(0|[1-9][0-9]*)), within int64; any other id counts in unknown_ids.
 * Member names are compared after decoding escapes; of duplicate members
 * the last wins (as in orjson/json.loads). "ok" is a "status" string that
 * decodes to ok. The first entry with a given id wins; later ones are
 * counted in its slot's duplicates. Returns PF_OK, PF_EARG (info NULL, or
 * slots NULL with ncalls > 0), or the error for a body that is not valid
 * JSON (slots and info then undefined). */
int pf_demux(const char *body, size_t len, int64_t first_id, size_t ncalls,
             pf_slot *slots, pf_demux_info *info);


/* ---------- Series: columnar (timestamp, value) buffers (series.c) ------ */
#define PF_VALUE_INT 1
#define PF_VALUE_FLOAT 2
#define PF_VALUE_STRING 3

typedef struct pf_series pf_series;

/* NULL if value_kind is not a PF_VALUE_* or memory is short. Points are
 * indexed from 0 = the oldest not yet dropped. */
pf_series *pf_series_new(int value_kind);
void pf_series_free(pf_series *s);
int pf_series_kind(const pf_series *s);
size_t pf_series_len(const pf_series *s);
/* Bytes that pf_series_encode_entries of every point would write, at most
 * (exact for the strings' part; saturates at SIZE_MAX). */
size_t pf_series_encoded_size(const pf_series *s);
/* The most leading points whose entries fit max_bytes by that bound (so a
 * flush can cap a request's size); 0 if not even one does. */
size_t pf_series_count_within(const pf_series *s, size_t max_bytes);
/* Appends n points (one call per batch). On any error nothing is appended. */
int pf_series_append_int(pf_series *s, const int64_t *ts, const int64_t *values, size_t n);
/* PF_ENONFINITE if any value is NaN/inf. */
int pf_series_append_float(pf_series *s, const int64_t *ts, const double *values, size_t n);
/* Point i's UTF-8 bytes are data[ends[i-1] .. ends[i]) (ends[-1] = 0);
 * PF_EARG if ends decrease, PF_EUTF8 if any point is invalid UTF-8. */
int pf_series_append_string(pf_series *s, const int64_t *ts, const char *data,
                            const uint64_t *ends, size_t n);
/* Column access for readers, point 0 first; valid until the next
 * append/drop. The two string accessors first move the points left after
 * pf_series_drop_front to the start of their buffers (no allocation), so
 * that their ends read as in pf_series_append_string. */
const int64_t *pf_series_timestamps(const pf_series *s);
const int64_t *pf_series_ints(const pf_series *s);
const double *pf_series_floats(const pf_series *s);
const char *pf_series_string_data(pf_series *s);
const uint64_t *pf_series_string_ends(pf_series *s);
/* Appends [[ts,v],[ts,v],...] for points first .. first+n-1 to out
 * (descending != 0: from the last of those to the first); PF_ERANGE if
 * first + n > len. Nothing is written on error. */
int pf_series_encode_entries(const pf_series *s, size_t first, size_t n, int descending, pf_buf *out);
/* Appends M2X's values list:
 * [{"timestamp":"2015-02-03T00:33:43.422Z","value":v},...]; timestamps are
 * in units of 1/ticks_per_second s (1, 1000 or 1000000, else PF_EARG),
 * printed in UTC with milliseconds truncated toward the past; PF_ERANGE
 * for a time outside years 0001..9999 or first + n > len. Nothing is
 * written on error. */
int pf_series_encode_m2x(const pf_series *s, size_t first, size_t n, int64_t ticks_per_second,
                         pf_buf *out);
/* Drops the first n points (after they were acknowledged); PF_ERANGE if
 * n > len. Amortised O(1) per point. */
int pf_series_drop_front(pf_series *s, size_t n);

/* ---------- Entries: the server's ingest parser (entries.c) ---------- */
#define PF_ENTRY_INVALID 0      /* kinds beyond PF_VALUE_* */

typedef struct pf_entries pf_entries;

pf_entries *pf_entries_new(void);             /* NULL if out of memory */
void pf_entries_free(pf_entries *e);
/* Parses the JSON array at span (a record/recordbatch entries argument,
 * inside a bigger body: nothing outside the span is read) into columns,
 * replacing previous contents, without building values. The span must
 * hold one array with only whitespace around it; errors as for
 * pf_json_array_spans (jscan.c's rules; PF_ETYPE for another value).
 * Each element becomes one entry: [t, v] with t an integer literal in
 * int64 and v a number or string gets kind PF_VALUE_INT (integer literal
 * in int64), PF_VALUE_FLOAT (any other number, correctly rounded; inf
 * after rounding -> PF_ENTRY_INVALID) or PF_VALUE_STRING (unescaped
 * UTF-8); any other element is PF_ENTRY_INVALID with its t when its first
 * item was such a t, else t = 0 and no time. For every entry, ints[i] is
 * 0 unless it is INT, floats[i] is 0.0 unless it is FLOAT, and its string
 * is empty unless it is STRING. Returns the entry count, or an error (the
 * columns are then empty). */
int64_t pf_entries_parse(pf_entries *e, const char *buf, size_t len, pf_span array);
/* Parses M2X's value list at span, [{"timestamp": T, "value": V}, ...]
 * (a POST .../values body's "values", or one stream's list in an updates
 * body), into the same columns as pf_entries_parse, with the same errors.
 * T is a string in the ISO 8601 forms of pyonep_fast.m2x.utils.parse_date
 * over ASCII digits (entries.c's m2x_time), read as milliseconds since
 * the epoch truncated toward the past, within years 0001..9999; an entry
 * has no time when T is missing, not a string or not such a time. V is
 * read as pf_entries_parse reads values. Other members are skipped; of
 * repeated members the last counts. An element that is not an object has
 * no time. Negative times are times before 1970 (normalize does not read
 * them as relative). Returns the entry count, or an error. */
int64_t pf_entries_parse_m2x(pf_entries *e, const char *buf, size_t len, pf_span array);
/* Applies the server's timestamp and typing rules for a dataport of
 * value_kind (PF_VALUE_*), in place, once per parse (PF_EARG otherwise):
 *  - t < 0 becomes now + t (landing outside int64 or before the epoch makes the entry invalid),
 *    for entries from pf_entries_parse only;
 *  - values convert to the port's kind (rules in entries.c, identical to
 *    pyonep_fast._core.entries.convert_value), else the entry is invalid;
 *    strings longer than max_string_bytes are invalid;
 *  - valid entries are sorted by t (stable) and only the last of equal t's
 *    is kept; invalid entries are moved out, keeping their order, to the
 *    invalid list.
 * Afterwards every entry has the port's kind; a string port's numbers are
 * text (decimal for integers, repr for floats). Returns the number of
 * valid entries; on error nothing has changed. */
int64_t pf_entries_normalize(pf_entries *e, int value_kind, int64_t now, size_t max_string_bytes);
size_t pf_entries_len(const pf_entries *e);
/* Columns of pf_entries_len entries, valid until the next parse or
 * normalize (may be NULL while the length is 0; NULL for a NULL handle). */
const int64_t *pf_entries_timestamps(const pf_entries *e);
const uint8_t *pf_entries_kinds(const pf_entries *e);
const int64_t *pf_entries_ints(const pf_entries *e);         /* meaningful for INT entries */
const double *pf_entries_floats(const pf_entries *e);        /* meaningful for FLOAT entries */
const char *pf_entries_string_data(const pf_entries *e);
const uint64_t *pf_entries_string_ends(const pf_entries *e); /* as in pf_series_append_string */
/* After normalize: the invalid entries' timestamps as given in the input
 * (before relative-time resolution; 0 when it had none), in input order. */
size_t pf_entries_invalid_len(const pf_entries *e);
const int64_t *pf_entries_invalid_timestamps(const pf_entries *e);
const uint8_t *pf_entries_invalid_has_time(const pf_entries *e);
/* ... and their indexes in the parsed array. */
const uint64_t *pf_entries_invalid_positions(const pf_entries *e);


/* CDEF END */
#endif
