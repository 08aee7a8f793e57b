/*
 * Internals of the JSON writer shared by jsonw.c, dtoa.c and series.c (and
 * any other C file that writes JSON into a pf_buf): the buffer layout and
 * writers that store into memory already reserved, so hot loops reserve
 * once and then write without per-value capacity checks.
 */
#ifndef PF_JSONW_H
#define PF_JSONW_H
#include "pyonep_fast.h"

struct pf_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Longest outputs: "-9223372036854775808" and "-1.7976931348623157e+308". */
#define PF_INT64_MAX_CHARS 20
#define PF_DOUBLE_MAX_CHARS 24

/* Makes room for `extra` more bytes after len: PF_OK, PF_ENOMEM, or
 * PF_ETOOBIG when len + extra overflows. */
int pf_buf_reserve(pf_buf *b, size_t extra);

/* "00" "01" ... "99": two digits per lookup. */
extern const char pf_digit_pairs[200];

/* The writers below store at p (room reserved by the caller) and return the
 * end of what they wrote. */
char *pf_put_uint64(char *p, uint64_t v);
char *pf_put_int64(char *p, int64_t v);
/* repr(v) for a finite v (at most PF_DOUBLE_MAX_CHARS bytes). */
char *pf_put_double(char *p, double v);

/* Checks that s[0..n) is UTF-8 (RFC 3629: no overlong forms, surrogates,
 * code points past U+10FFFF, or truncated sequences). Returns the length of
 * its JSON string literal, quotes included, or PF_EUTF8 (int64_t keeps
 * the largest literal exact). */
int64_t pf_utf8_json_length(const char *s, size_t n);
/* Writes the JSON string literal of valid UTF-8 s[0..n) (at most 2 + 6n
 * bytes; exactly pf_utf8_json_length(s, n)). */
char *pf_put_string(char *p, const char *s, size_t n);

#endif
