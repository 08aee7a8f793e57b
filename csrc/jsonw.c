/*
 * Growable byte buffer and JSON value writers (numbers in dtoa.c).
 */
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

#define MIN_CAPACITY 64

pf_buf *pf_buf_new(size_t capacity)
{
    pf_buf *b = calloc(1, sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    if (capacity > 0 && pf_buf_reserve(b, capacity) != PF_OK) {
        free(b);
        return NULL;
    }
    return b;
}

void pf_buf_free(pf_buf *b)
{
    if (b != NULL) {
        free(b->data);
        free(b);
    }
}

void pf_buf_reset(pf_buf *b)
{
    if (b != NULL) {
        b->len = 0;
    }
}

size_t pf_buf_len(const pf_buf *b) { return b == NULL ? 0 : b->len; }

size_t pf_buf_capacity(const pf_buf *b) { return b == NULL ? 0 : b->cap; }

const char *pf_buf_data(const pf_buf *b) { return b == NULL ? NULL : b->data; }

int pf_buf_reserve(pf_buf *b, size_t extra)
{
    return pf_reserve((void **)&b->data, &b->cap, b->len, extra, MIN_CAPACITY, 1);
}

int pf_buf_write_raw(pf_buf *b, const char *data, size_t len)
{
    if (b == NULL || (data == NULL && len > 0)) {
        return PF_EARG;
    }
    int rc = pf_buf_reserve(b, len);
    if (rc != PF_OK) {
        return rc;
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
    }
    return PF_OK;
}

int pf_buf_write_int64(pf_buf *b, int64_t v)
{
    if (b == NULL) {
        return PF_EARG;
    }
    int rc = pf_buf_reserve(b, PF_INT64_MAX_CHARS);
    if (rc != PF_OK) {
        return rc;
    }
    b->len = (size_t)(pf_put_int64(b->data + b->len, v) - b->data);
    return PF_OK;
}

int pf_buf_write_double(pf_buf *b, double v)
{
    if (b == NULL) {
        return PF_EARG;
    }
    if (v - v != 0) {  /* NaN or infinity (false for every finite v) */
        return PF_ENONFINITE;
    }
    int rc = pf_buf_reserve(b, PF_DOUBLE_MAX_CHARS);
    if (rc != PF_OK) {
        return rc;
    }
    b->len = (size_t)(pf_put_double(b->data + b->len, v) - b->data);
    return PF_OK;
}

int pf_buf_write_string(pf_buf *b, const char *utf8, size_t len)
{
    if (b == NULL || (utf8 == NULL && len > 0)) {
        return PF_EARG;
    }
    int64_t need = pf_utf8_json_length(utf8, len);
    if (need < 0) {
        return (int)need;
    }
    if ((uint64_t)need > SIZE_MAX) {
        return PF_ETOOBIG;
    }
    int rc = pf_buf_reserve(b, (size_t)need);
    if (rc != PF_OK) {
        return rc;
    }
    b->len = (size_t)(pf_put_string(b->data + b->len, utf8, len) - b->data);
    return PF_OK;
}

/* ---------- strings ---------- */

/* 0: copied as is; 1: two-character escape; 5: \u00XX. */
static const unsigned char EXTRA[256] = {
    5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

int64_t pf_utf8_json_length(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    uint64_t extra = 0;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!pf_swar_string_special(w)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            extra += EXTRA[c];
            i++;
        } else {
            int len = pf_utf8_sequence(s, i, n);
            if (len < 0) {
                return PF_EUTF8;
            }
            i += (size_t)len;
        }
    }
    /* n + extra + 2 <= 6n + 2: exact in 64 bits for any size_t n here */
    return (int64_t)(n + extra + 2);
}

char *pf_put_string(char *p, const char *str, size_t n)
{
    static const char HEX[16] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, copied = 0;
    *p++ = '"';
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(pf_swar_string_special(w) & ~(w & PF_SWAR_HIGHS))) {  /* bytes >= 0x80 need nothing here */
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c >= 0x80 || EXTRA[c] == 0) {
            i++;
            continue;
        }
        memcpy(p, s + copied, i - copied);
        p += i - copied;
        *p++ = '\\';
        switch (c) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            memcpy(p, "u00", 3);
            p[3] = HEX[c >> 4];
            p[4] = HEX[c & 15];
            p += 5;
        }
        copied = ++i;
    }
    if (n > copied) {  /* s may be NULL when n is 0 */
        memcpy(p, s + copied, n - copied);
        p += n - copied;
    }
    *p++ = '"';
    return p;
}
