/*
 * Tokenizer helpers shared by jscan.c, demux.c and entries.c (not part of
 * the cdef). Every helper reads s[*pos .. end) only and reports the first
 * error in left-to-right order, exactly as pyonep_fast/_core/jscan.py does:
 * PF_ETRUNCATED when the text ends where more was required, PF_ESYNTAX for
 * anything else, PF_EDEPTH past PF_MAX_DEPTH open containers.
 */
#ifndef PF_JSCAN_INTERNAL_H
#define PF_JSCAN_INTERNAL_H
#include <string.h>

#include "pf_internal.h"

/* What a number's text holds, for callers that convert it (entries.c). */
typedef struct {
    uint64_t mantissa;      /* the significant digits, exact when nsig <= 19 */
    uint64_t nsig;          /* significant digits (leading zeros excluded) */
    int64_t nfrac;          /* digits after the decimal point */
    int64_t exp10;          /* the explicit exponent, saturated at +-PF_EXP_SATURATION */
    int negative;
    int integer;            /* neither fraction nor exponent */
} pf_number_info;

#define PF_EXP_SATURATION 1000000000000000LL

static inline int pf_is_ws(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline int pf_is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static inline size_t pf_skip_ws(const uint8_t *s, size_t end, size_t p)
{
    while (p < end && pf_is_ws(s[p]))
        p++;
    return p;
}

/* The value of eight ASCII digits in a little-endian word (SWAR). */
static inline uint64_t pf_eight_digits_value(uint64_t w)
{
    w = (w & UINT64_C(0x0F0F0F0F0F0F0F0F)) * 2561 >> 8;
    w = (w & UINT64_C(0x00FF00FF00FF00FF)) * 6553601 >> 16;
    return (w & UINT64_C(0x0000FFFF0000FFFF)) * UINT64_C(42949672960001) >> 32;
}

/* A run of digits at s[p]: returns its end, accumulating into *mantissa
 * (which wraps past 19 digits; callers only trust it when nsig <= 19). */
static inline size_t pf_digit_run(const uint8_t *s, size_t end, size_t p, uint64_t *mantissa)
{
    uint64_t m = *mantissa;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, s + p, 8);
        if (!pf_swar_all_digits(w))
            break;
        m = m * 100000000 + pf_eight_digits_value(w);
        p += 8;
    }
#endif
    while (p < end && pf_is_digit(s[p]))
        m = m * 10 + (uint64_t)(s[p++] - '0');
    *mantissa = m;
    return p;
}

/* Validates the number at s[*pos] (a bad first character is PF_ESYNTAX)
 * and moves *pos past it. The grammar is RFC 8259's; what follows the
 * number is the caller's business (so "01" scans as "0"). info may be
 * NULL. */
static inline __attribute__((always_inline)) int pf_scan_number(const uint8_t *s, size_t end, size_t *pos,
                                                               pf_number_info *info)
{
    size_t p = *pos, run;
    uint64_t mantissa = 0, nsig = 0;
    int64_t nfrac = 0, exp10 = 0;
    int negative = 0, integer = 1, exp_negative = 0;

    if (p >= end)
        return PF_ETRUNCATED;
    if (s[p] == '-') {
        negative = 1;
        if (++p == end)
            return PF_ETRUNCATED;
    }
    if (s[p] == '0') {
        p++;
    } else if (s[p] >= '1' && s[p] <= '9') {
        run = p;
        p = pf_digit_run(s, end, p, &mantissa);
        nsig = p - run;
    } else {
        return PF_ESYNTAX;
    }
    if (p < end && s[p] == '.') {
        integer = 0;
        if (++p == end)
            return PF_ETRUNCATED;
        if (!pf_is_digit(s[p]))
            return PF_ESYNTAX;
        size_t point = p;
        if (nsig == 0)                          /* 0.000ddd: zeros before the first significant digit */
            while (p < end && s[p] == '0')
                p++;
        run = p;
        p = pf_digit_run(s, end, p, &mantissa);
        nsig += p - run;
        nfrac = (int64_t)(p - point);
    }
    if (p < end && (s[p] | 0x20) == 'e') {
        integer = 0;
        if (++p == end)
            return PF_ETRUNCATED;
        if (s[p] == '+' || s[p] == '-') {
            exp_negative = s[p] == '-';
            if (++p == end)
                return PF_ETRUNCATED;
        }
        if (!pf_is_digit(s[p]))
            return PF_ESYNTAX;
        do {
            if (exp10 < PF_EXP_SATURATION)
                exp10 = exp10 * 10 + (s[p] - '0');
            p++;
        } while (p < end && pf_is_digit(s[p]));
        if (exp10 > PF_EXP_SATURATION)
            exp10 = PF_EXP_SATURATION;
    }
    if (info) {
        info->mantissa = mantissa;
        info->nsig = nsig;
        info->nfrac = nfrac;
        info->exp10 = exp_negative ? -exp10 : exp10;
        info->negative = negative;
        info->integer = integer;
    }
    *pos = p;
    return PF_OK;
}

/* Validates the string literal at s[*pos] (which must be '"'), UTF-8 and
 * escapes included; moves *pos past the closing quote. *escaped (may be
 * NULL) tells whether the literal holds a backslash. */
int pf_scan_string(const uint8_t *s, size_t end, size_t *pos, int *escaped);

/* Validates one value at s[*pos] (leading whitespace skipped) and moves
 * *pos past it. depth is the number of containers already open around it. */
int pf_scan_value(const uint8_t *s, size_t end, size_t *pos, int depth);

/* The error for a span that should hold one container but whose value at
 * s[p] (first non-blank) is not one: the value's own error, else
 * PF_ESYNTAX for text after it before end, else PF_ETYPE. */
int pf_not_a_container(const uint8_t *s, size_t p, size_t end);

/* Decodes a string literal that pf_scan_string accepted (span includes the
 * quotes) into UTF-8 at out, which has room for literal.len bytes (the
 * decoded text is never longer); returns the decoded length. */
size_t pf_unescape(const uint8_t *s, pf_span literal, char *out);

/* Decodes a validated string literal into out (cap bytes); returns the
 * decoded length, or -1 if it needs more than cap bytes. */
int64_t pf_decode_bounded(const uint8_t *s, pf_span literal, char *out, size_t cap);

/* Parses a validated string literal holding exactly an integer literal
 * (-?(0|[1-9][0-9]*), escapes decoded) within int64; 1 on success. */
int pf_string_int64(const uint8_t *s, pf_span literal, int64_t *out);

/* Converts a validated integer literal's text (info->integer) to int64;
 * 1 on success, 0 when it is out of range. */
static inline int pf_integer_int64(const pf_number_info *info, int64_t *out)
{
    if (info->nsig > 19)
        return 0;
    if (info->negative) {
        if (info->mantissa > (uint64_t)INT64_MAX + 1)
            return 0;
        /* -(2^63) without signed overflow */
        *out = info->mantissa == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)info->mantissa;
    } else {
        if (info->mantissa > (uint64_t)INT64_MAX)
            return 0;
        *out = (int64_t)info->mantissa;
    }
    return 1;
}

/* Walking a container whose opening bracket the caller has checked:
 *   for (more = pf_first_item(s, end, &p, ']'); more == 1; more = pf_next_item(s, end, &p, ']'))
 *       ...one element (or member) at s[p], moving p past it...
 *   if (more < 0) return more;            // p is now past the closing bracket
 * pf_first_item starts just past the opening bracket, pf_next_item just
 * past an element; both return 1 with *pos on the next element (never at
 * end), 0 with *pos past `close`, or PF_ETRUNCATED / PF_ESYNTAX. */
static inline int pf_first_item(const uint8_t *s, size_t end, size_t *pos, uint8_t close)
{
    size_t p = pf_skip_ws(s, end, *pos);
    if (p >= end)
        return PF_ETRUNCATED;
    *pos = s[p] == close ? p + 1 : p;
    return s[p] != close;
}

static inline int pf_next_item(const uint8_t *s, size_t end, size_t *pos, uint8_t close)
{
    size_t p = pf_skip_ws(s, end, *pos);
    if (p >= end)
        return PF_ETRUNCATED;
    if (s[p] == close) {
        *pos = p + 1;
        return 0;
    }
    if (s[p] != ',')
        return PF_ESYNTAX;
    p = pf_skip_ws(s, end, p + 1);
    if (p >= end)
        return PF_ETRUNCATED;
    *pos = p;
    return 1;
}

/* An object member's key (the string literal at *pos) and the colon after
 * it: the key's span into *key, *escaped (may be NULL) as pf_scan_string
 * gives it, *pos on the value (not yet validated). */
static inline int pf_scan_key(const uint8_t *s, size_t end, size_t *pos, pf_span *key, int *escaped)
{
    size_t p = *pos;
    int rc = pf_scan_string(s, end, &p, escaped);
    if (rc != PF_OK)
        return rc;
    key->off = *pos;
    key->len = p - *pos;
    p = pf_skip_ws(s, end, p);
    if (p >= end)
        return PF_ETRUNCATED;
    if (s[p] != ':')
        return PF_ESYNTAX;
    *pos = pf_skip_ws(s, end, p + 1);
    return PF_OK;
}

/* The text of a key literal that pf_scan_key accepted, for comparing it
 * with member names: *name points at its bytes in place when it holds no
 * escape (`escaped` as pf_scan_key gave it), else at its decoded text in
 * buf (cap bytes). Returns the length, or -1 if the decoded text needs
 * more than cap bytes (longer than any name the caller looks for). */
static inline int64_t pf_key_text(const uint8_t *s, pf_span key, int escaped, char *buf, size_t cap,
                                  const char **name)
{
    if (!escaped) {
        *name = (const char *)s + key.off + 1;
        return (int64_t)key.len - 2;
    }
    *name = buf;
    return pf_decode_bounded(s, key, buf, cap);
}

#endif
