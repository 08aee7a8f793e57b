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
    if (extra <= b->cap - b->len) {
        return PF_OK;
    }
    if (extra > SIZE_MAX / 2 - b->len) {  /* also keeps doubling below in range */
        return PF_ETOOBIG;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap < MIN_CAPACITY ? MIN_CAPACITY : b->cap;
    while (cap < need) {
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (data == NULL) {
        return PF_ENOMEM;
    }
    b->data = data;
    b->cap = cap;
    return PF_OK;
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

#define ONES ((uint64_t)0x0101010101010101)
#define HIGHS ((uint64_t)0x8080808080808080)

/* Nonzero if any of the 8 bytes is >= 0x80, < 0x20, '"' or '\\'. */
static inline uint64_t needs_attention(uint64_t w)
{
    uint64_t quote = w ^ (ONES * '"');
    uint64_t backslash = w ^ (ONES * '\\');
    uint64_t below = (w - ONES * 0x20) & ~w;
    uint64_t zero_quote = (quote - ONES) & ~quote;
    uint64_t zero_backslash = (backslash - ONES) & ~backslash;
    return (w | below | zero_quote | zero_backslash) & HIGHS;
}

/* Length of the valid UTF-8 sequence starting at s[i] (a byte >= 0x80), or
 * 0 if it is not one (RFC 3629 table 3-7). */
static inline size_t utf8_sequence(const unsigned char *s, size_t i, size_t n)
{
    unsigned char c = s[i];
    size_t avail = n - i;
    if (c >= 0xc2 && c <= 0xdf) {
        return avail >= 2 && (s[i + 1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (avail < 3) {
            return 0;
        }
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return s[i + 1] >= lo && s[i + 1] <= hi && (s[i + 2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (avail < 4) {
            return 0;
        }
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return s[i + 1] >= lo && s[i + 1] <= hi && (s[i + 2] & 0xc0) == 0x80 && (s[i + 3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;  /* continuation byte, 0xc0/0xc1, or 0xf5..0xff */
}

int64_t pf_utf8_json_length(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    uint64_t extra = 0;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!needs_attention(w)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            extra += EXTRA[c];
            i++;
        } else {
            size_t len = utf8_sequence(s, i, n);
            if (len == 0) {
                return PF_EUTF8;
            }
            i += len;
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
            if (!(needs_attention(w) & ~(w & HIGHS))) {  /* bytes >= 0x80 need nothing here */
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
