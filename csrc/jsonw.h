/*
 * Internals of the JSON writer shared by jsonw.c, dtoa.c and series.c (and
 * any other C file that writes JSON into a pf_buf): the buffer layout and
 * writers that store into memory already reserved, so hot loops reserve
 * once and then write without per-value capacity checks.
 */
#ifndef PF_JSONW_H
#define PF_JSONW_H
#include "pf_internal.h"

struct pf_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Longest outputs: "-9223372036854775808" and "-1.7976931348623157e+308". */
#define PF_INT64_MAX_CHARS 20
#define PF_DOUBLE_MAX_CHARS 24

/* Makes room for `extra` more bytes after len: PF_OK, PF_ENOMEM, or
 * PF_ETOOBIG past PF_ALLOC_MAX bytes. */
int pf_buf_reserve(pf_buf *b, size_t extra);

/* "00" "01" ... "99": two digits per lookup. */
extern const char pf_digit_pairs[200];

/* The writers below store at p (room reserved by the caller) and return the
 * end of what they wrote. */
char *pf_put_uint64(char *p, uint64_t v);
char *pf_put_int64(char *p, int64_t v);
/* repr(v) for a finite v (at most PF_DOUBLE_MAX_CHARS bytes). */
char *pf_put_double(char *p, double v);

/* The same in two passes, for loops over many values: each pass on its own
 * has short dependency chains, so the CPU overlaps consecutive values (one
 * value's digits-to-text chain is longer than its out-of-order window). */
typedef struct {
    uint64_t digits;  /* no trailing zeros; 0 for zero */
    int16_t exp10;    /* decimal exponent of the first digit */
    uint8_t length;   /* number of digits */
    uint8_t negative;
} pf_shortest;
/* Pass one for finite values[0..n). */
void pf_shortest_batch(const double *values, size_t n, pf_shortest *out);
/* Pass two: writes the text of d at p (at most PF_DOUBLE_MAX_CHARS) and
 * returns its end; it stores fixed-size blocks, so the caller reserves
 * PF_SHORTEST_ROOM bytes at p (bytes past the text are left undefined). */
#define PF_SHORTEST_ROOM 40
char *pf_put_shortest(char *p, const pf_shortest *d);

/* Checks that s[0..n) is UTF-8 (RFC 3629: no overlong forms, surrogates,
 * code points past U+10FFFF, or truncated sequences). Returns the length of
 * its JSON string literal, quotes included, or PF_EUTF8 (int64_t keeps
 * the largest literal exact). */
int64_t pf_utf8_json_length(const char *s, size_t n);
/* Writes the JSON string literal of valid UTF-8 s[0..n) (at most 2 + 6n
 * bytes; exactly pf_utf8_json_length(s, n)). */
char *pf_put_string(char *p, const char *s, size_t n);

#endif
