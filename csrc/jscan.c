/*
 * Strict RFC 8259 validation that reports spans instead of building values.
 *
 * Accepted: exactly RFC 8259's grammar (whitespace = space, tab, LF, CR;
 * no BOM, comments, trailing commas, NaN/Infinity, leading zeros), UTF-8
 * per RFC 3629 inside strings (no overlongs, no encoded surrogates, nothing
 * above U+10FFFF), no raw control characters in strings. One deliberate
 * narrowing of RFC 8259 §8.2: a \u escape must denote a Unicode scalar
 * value, so a high surrogate escape must be followed by a low one and a
 * lone surrogate escape is an error. orjson refuses those too, and they
 * have no UTF-8 form, so every string accepted here decodes everywhere.
 * Numbers are checked for grammar only: 1e400 is valid JSON here (orjson
 * refuses it, json.loads reads inf). At most PF_MAX_DEPTH nested
 * containers. pyonep_fast/_core/jscan.py mirrors this file check by check.
 */
#include <string.h>

#include "jscan_internal.h"

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Four hex digits at s[*pos]; stores the code unit. */
static int scan_hex4(const uint8_t *s, size_t end, size_t *pos, unsigned *unit)
{
    size_t p = *pos;
    unsigned value = 0;
    for (int i = 0; i < 4; i++, p++) {
        if (p >= end)
            return PF_ETRUNCATED;
        int h = hex_value(s[p]);
        if (h < 0)
            return PF_ESYNTAX;
        value = value << 4 | (unsigned)h;
    }
    *pos = p;
    *unit = value;
    return PF_OK;
}

/* The escape after a backslash at s[*pos - 1]. */
static int scan_escape(const uint8_t *s, size_t end, size_t *pos)
{
    size_t p = *pos;
    unsigned unit;
    int rc;
    if (p >= end)
        return PF_ETRUNCATED;
    switch (s[p]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        *pos = p + 1;
        return PF_OK;
    case 'u':
        break;
    default:
        return PF_ESYNTAX;
    }
    p++;
    if ((rc = scan_hex4(s, end, &p, &unit)) != PF_OK)
        return rc;
    if (unit >= 0xDC00 && unit <= 0xDFFF)
        return PF_ESYNTAX;                      /* a low surrogate alone */
    if (unit >= 0xD800 && unit <= 0xDBFF) {     /* needs \u + a low surrogate */
        if (p >= end)
            return PF_ETRUNCATED;
        if (s[p] != '\\')
            return PF_ESYNTAX;
        if (++p >= end)
            return PF_ETRUNCATED;
        if (s[p] != 'u')
            return PF_ESYNTAX;
        p++;
        if ((rc = scan_hex4(s, end, &p, &unit)) != PF_OK)
            return rc;
        if (unit < 0xDC00 || unit > 0xDFFF)
            return PF_ESYNTAX;
    }
    *pos = p;
    return PF_OK;
}

/* One UTF-8 sequence whose lead byte s[*pos] is >= 0x80; moves *pos past it. */
static int scan_utf8(const uint8_t *s, size_t end, size_t *pos)
{
    int length = pf_utf8_sequence(s, *pos, end);
    if (length < 0)
        return length;
    *pos += (size_t)length;
    return PF_OK;
}

int pf_scan_string(const uint8_t *s, size_t end, size_t *pos, int *escaped)
{
    size_t p = *pos;
    int saw_escape = 0, rc;
    if (p >= end)
        return PF_ETRUNCATED;
    if (s[p] != '"')
        return PF_ESYNTAX;
    p++;
    for (;;) {
        while (end - p >= 8) {
            uint64_t word;
            memcpy(&word, s + p, 8);
            if (pf_swar_string_special(word))
                break;
            p += 8;
        }
        if (p >= end)
            return PF_ETRUNCATED;
        uint8_t c = s[p];
        if (c == '"') {
            *pos = p + 1;
            if (escaped)
                *escaped = saw_escape;
            return PF_OK;
        }
        if (c == '\\') {
            saw_escape = 1;
            p++;
            if ((rc = scan_escape(s, end, &p)) != PF_OK)
                return rc;
        } else if (c < 0x20) {
            return PF_ESYNTAX;
        } else if (c >= 0x80) {
            if ((rc = scan_utf8(s, end, &p)) != PF_OK)
                return rc;
        } else {
            p++;
        }
    }
}

static int scan_literal(const uint8_t *s, size_t end, size_t *pos, const char *word, size_t n)
{
    size_t p = *pos;
    for (size_t i = 0; i < n; i++, p++) {
        if (p >= end)
            return PF_ETRUNCATED;
        if (s[p] != (uint8_t)word[i])
            return PF_ESYNTAX;
    }
    *pos = p;
    return PF_OK;
}

int pf_scan_value(const uint8_t *s, size_t end, size_t *pos, int depth)
{
    /* Iterative: open[i] is '[' or '{' for the i-th container opened here. */
    uint8_t open[PF_MAX_DEPTH];
    int nest = 0, rc;
    size_t p = *pos;

value:
    p = pf_skip_ws(s, end, p);
    if (p >= end)
        return PF_ETRUNCATED;
    switch (s[p]) {
    case '"':
        if ((rc = pf_scan_string(s, end, &p, NULL)) != PF_OK)
            return rc;
        break;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        if ((rc = pf_scan_number(s, end, &p, NULL)) != PF_OK)
            return rc;
        break;
    case 't':
        if ((rc = scan_literal(s, end, &p, "true", 4)) != PF_OK)
            return rc;
        break;
    case 'f':
        if ((rc = scan_literal(s, end, &p, "false", 5)) != PF_OK)
            return rc;
        break;
    case 'n':
        if ((rc = scan_literal(s, end, &p, "null", 4)) != PF_OK)
            return rc;
        break;
    case '[':
    case '{':
        if (depth + nest >= PF_MAX_DEPTH)
            return PF_EDEPTH;
        open[nest++] = s[p++];
        p = pf_skip_ws(s, end, p);
        if (p >= end)
            return PF_ETRUNCATED;
        if (s[p] == (open[nest - 1] == '[' ? ']' : '}')) {
            p++;
            nest--;
            break;
        }
        if (open[nest - 1] == '[')
            goto value;
        goto key;
    default:
        return PF_ESYNTAX;
    }

after_value:
    if (nest == 0) {
        *pos = p;
        return PF_OK;
    }
    p = pf_skip_ws(s, end, p);
    if (p >= end)
        return PF_ETRUNCATED;
    if (s[p] == ',') {
        p++;
        if (open[nest - 1] == '[')
            goto value;
        p = pf_skip_ws(s, end, p);
        goto key;
    }
    if (s[p] == (open[nest - 1] == '[' ? ']' : '}')) {
        p++;
        nest--;
        goto after_value;
    }
    return PF_ESYNTAX;

key:
    /* p is at the first non-blank character where a member must start. */
    if (p >= end)
        return PF_ETRUNCATED;
    if ((rc = pf_scan_string(s, end, &p, NULL)) != PF_OK)
        return rc;
    p = pf_skip_ws(s, end, p);
    if (p >= end)
        return PF_ETRUNCATED;
    if (s[p] != ':')
        return PF_ESYNTAX;
    p++;
    goto value;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static unsigned read_hex4(const uint8_t *s)
{
    return (unsigned)(hex_value(s[0]) << 12 | hex_value(s[1]) << 8 | hex_value(s[2]) << 4 | hex_value(s[3]));
}

int64_t pf_decode_bounded(const uint8_t *s, pf_span literal, char *out, size_t cap)
{
    size_t p = literal.off + 1, stop = literal.off + literal.len - 1, n = 0;
    char one[4];
    while (p < stop) {
        const uint8_t *run = s + p;
        const uint8_t *bs = memchr(run, '\\', stop - p);
        size_t plain = bs ? (size_t)(bs - run) : stop - p, width = 1;
        if (plain > cap - n)
            return -1;
        memcpy(out + n, run, plain);
        n += plain;
        p += plain;
        if (p >= stop)
            break;
        uint8_t c = s[p + 1];
        p += 2;
        switch (c) {
        case 'b': one[0] = '\b'; break;
        case 'f': one[0] = '\f'; break;
        case 'n': one[0] = '\n'; break;
        case 'r': one[0] = '\r'; break;
        case 't': one[0] = '\t'; break;
        case 'u': {
            unsigned cp = read_hex4(s + p);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {   /* validated: \uDC00-\uDFFF follows */
                cp = 0x10000 + ((cp - 0xD800) << 10) + (read_hex4(s + p + 2) - 0xDC00);
                p += 6;
            }
            width = put_utf8(one, cp);
            break;
        }
        default: one[0] = (char)c; break;   /* '"', '\\', '/' */
        }
        if (width > cap - n)
            return -1;
        memcpy(out + n, one, width);
        n += width;
    }
    return (int64_t)n;
}

size_t pf_unescape(const uint8_t *s, pf_span literal, char *out)
{
    /* The decoded text is never longer than the literal. */
    return (size_t)pf_decode_bounded(s, literal, out, literal.len);
}

int pf_string_int64(const uint8_t *s, pf_span literal, int64_t *out)
{
    char decoded[32];
    int64_t n = pf_decode_bounded(s, literal, decoded, sizeof decoded);
    if (n <= 0)
        return 0;
    size_t p = 0;
    pf_number_info info;
    if (decoded[0] != '-' && !pf_is_digit((uint8_t)decoded[0]))
        return 0;
    if (pf_scan_number((const uint8_t *)decoded, (size_t)n, &p, &info) != PF_OK || p != (size_t)n
        || !info.integer)
        return 0;
    return pf_integer_int64(&info, out);
}

/* Checks that span lies inside the buffer; returns its end. */
static int span_end(size_t len, pf_span span, size_t *end)
{
    if (span.off > len || span.len > len - span.off)
        return PF_ERANGE;
    *end = (size_t)(span.off + span.len);
    return PF_OK;
}

int pf_json_value_span(const char *buf, size_t len, size_t off, pf_span *out)
{
    const uint8_t *s = (const uint8_t *)buf;
    if (off > len)
        return PF_ERANGE;
    size_t p = pf_skip_ws(s, len, off);
    size_t start = p;
    int rc = pf_scan_value(s, len, &p, 0);
    if (rc != PF_OK)
        return rc;
    out->off = start;
    out->len = p - start;
    return PF_OK;
}

int pf_not_a_container(const uint8_t *s, size_t p, size_t end)
{
    int rc = pf_scan_value(s, end, &p, 0);
    if (rc != PF_OK)
        return rc;
    return pf_skip_ws(s, end, p) == end ? PF_ETYPE : PF_ESYNTAX;
}

int64_t pf_json_array_spans(const char *buf, size_t len, pf_span array, pf_span *out, size_t cap)
{
    const uint8_t *s = (const uint8_t *)buf;
    size_t end, p;
    int64_t count = 0;
    int more, rc = span_end(len, array, &end);
    if (rc != PF_OK)
        return rc;
    p = pf_skip_ws(s, end, array.off);
    if (p >= end)
        return PF_ETRUNCATED;
    if (s[p] != '[')
        return pf_not_a_container(s, p, end);
    p++;
    for (more = pf_first_item(s, end, &p, ']'); more == 1; more = pf_next_item(s, end, &p, ']')) {
        size_t start = p;
        if ((rc = pf_scan_value(s, end, &p, 1)) != PF_OK)
            return rc;
        if ((size_t)count < cap) {
            out[count].off = start;
            out[count].len = p - start;
        }
        count++;
    }
    if (more < 0)
        return more;
    return pf_skip_ws(s, end, p) == end ? count : PF_ESYNTAX;
}

int64_t pf_json_object_spans(const char *buf, size_t len, pf_span object,
                             pf_span *keys, pf_span *values, size_t cap)
{
    const uint8_t *s = (const uint8_t *)buf;
    size_t end, p;
    int64_t count = 0;
    int more, rc = span_end(len, object, &end);
    if (rc != PF_OK)
        return rc;
    p = pf_skip_ws(s, end, object.off);
    if (p >= end)
        return PF_ETRUNCATED;
    if (s[p] != '{')
        return pf_not_a_container(s, p, end);
    p++;
    for (more = pf_first_item(s, end, &p, '}'); more == 1; more = pf_next_item(s, end, &p, '}')) {
        pf_span key;
        size_t value;
        if ((rc = pf_scan_key(s, end, &p, &key, NULL)) != PF_OK)
            return rc;
        value = p;
        if ((rc = pf_scan_value(s, end, &p, 1)) != PF_OK)
            return rc;
        if ((size_t)count < cap) {
            keys[count] = key;
            values[count].off = value;
            values[count].len = p - value;
        }
        count++;
    }
    if (more < 0)
        return more;
    return pf_skip_ws(s, end, p) == end ? count : PF_ESYNTAX;
}
