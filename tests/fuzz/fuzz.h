/*
 * Shared by the libFuzzer harnesses in tests/fuzz/<name>/ (built and run by
 * bench/fuzz.py). A harness links every C file of csrc/ and may use the internal
 * headers; a broken invariant aborts, which libFuzzer reports as a crash
 * with the input that caused it.
 */
#ifndef PF_FUZZ_H
#define PF_FUZZ_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyonep_fast.h"

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* A heap copy of exactly n bytes (plus a NUL that is not counted when
 * nul is set), so that ASan sees any read past the end of the text. */
static inline char *fuzz_copy(const void *data, size_t n, int nul)
{
    char *copy = malloc(n + (nul != 0) + (n == 0 && !nul));   /* malloc(0) may give NULL */
    CHECK(copy != NULL);
    if (n > 0)
        memcpy(copy, data, n);
    if (nul)
        copy[n] = '\0';
    return copy;
}

/* Whether span lies inside a buffer of len bytes. */
static inline int fuzz_span_inside(pf_span span, size_t len)
{
    return span.off <= len && span.len <= len - span.off;
}

/* Whether buf[span] is exactly one JSON value (jscan's rules, no blanks
 * around it), checked in a copy of exactly that size. */
static inline int fuzz_is_one_value(const char *buf, pf_span span)
{
    char *copy = fuzz_copy(buf + span.off, (size_t)span.len, 0);
    pf_span value;
    int ok = pf_json_value_span(copy, (size_t)span.len, 0, &value) == PF_OK && value.off == 0
             && value.len == span.len;
    free(copy);
    return ok;
}

/* The error that jscan's rules give for text that should be exactly one
 * JSON value with only whitespace around it (PF_OK if it is), and its span. */
static inline int fuzz_whole_value(const char *buf, size_t len, pf_span *value)
{
    int rc = pf_json_value_span(buf, len, 0, value);
    if (rc != PF_OK)
        return rc;
    for (size_t p = (size_t)(value->off + value->len); p < len; p++)
        if (buf[p] != ' ' && buf[p] != '\n' && buf[p] != '\r' && buf[p] != '\t')
            return PF_ESYNTAX;
    return PF_OK;
}

#endif
