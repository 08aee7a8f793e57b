/*
 * The server's ingest parser: a record/recordbatch entries array
 * [[t, v], ...], or an M2X value list [{"timestamp": "...", "value": v}],
 * read straight into columns (no value objects), then typed for a dataport
 * or stream, sorted and deduplicated by normalize. The rules are
 * pyonep_fast/_core/entries.py's (convert_value and PyEntries), which the
 * tests hold identical to these.
 *
 * Numbers become doubles correctly rounded: Clinger's exact fast path when
 * the significand has at most 15 digits (or 19 with a zero exponent) and
 * the power of ten is exact, else strtod on the significant digits
 * rewritten as "DIGITSe-N" (no decimal point, so no locale can change it)
 * after clamping magnitudes that can only give 0 or infinity.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan_internal.h"
#include "jsonw.h"

struct pf_entries {
    size_t n, cap;
    int64_t *ts;
    uint8_t *kinds;
    uint8_t *has_time;
    int64_t *ints;
    double *floats;
    uint64_t *ends;             /* entry i's string: sdata[ends[i-1] .. ends[i]) */
    char *sdata;
    size_t slen, scap;
    char *scratch;              /* digits for strtod */
    size_t scratch_cap;
    size_t ninv;
    int64_t *inv_ts;
    uint8_t *inv_has_time;
    uint64_t *inv_pos;
    int normalized;
    int relative_times;         /* t < 0 is now + t (One Platform), else a time before 1970 (M2X) */
};

static const double POW10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define TWO_53 (UINT64_C(1) << 53)
/* Room for one number's text with whatever the jsonw.h writers may store
 * past its end (at most 24 + 16 bytes for a double). */
#define NUMBER_ROOM 48

pf_entries *pf_entries_new(void)
{
    return calloc(1, sizeof(pf_entries));
}

static void free_columns(pf_entries *e)
{
    free(e->ts);
    free(e->kinds);
    free(e->has_time);
    free(e->ints);
    free(e->floats);
    free(e->ends);
}

void pf_entries_free(pf_entries *e)
{
    if (e == NULL)
        return;
    free_columns(e);
    free(e->sdata);
    free(e->scratch);
    free(e->inv_ts);
    free(e->inv_has_time);
    free(e->inv_pos);
    free(e);
}

static int grow_columns(pf_entries *e, size_t need)
{
    size_t cap = pf_grown_capacity(e->cap, need, 1024, sizeof(int64_t));
    if (cap == 0)
        return PF_ETOOBIG;
    /* Each array keeps at least the old capacity if a later one fails. */
    if (pf_resize((void **)&e->ts, cap, sizeof *e->ts) || pf_resize((void **)&e->kinds, cap, 1)
        || pf_resize((void **)&e->has_time, cap, 1) || pf_resize((void **)&e->ints, cap, sizeof *e->ints)
        || pf_resize((void **)&e->floats, cap, sizeof *e->floats)
        || pf_resize((void **)&e->ends, cap, sizeof *e->ends))
        return PF_ENOMEM;
    e->cap = cap;
    return PF_OK;
}

/* Clinger's exact cases; 1 if it produced the value. */
static int double_fast(const pf_number_info *ni, double *out)
{
    double v;
    if (ni->nsig == 0) {
        v = 0.0;
    } else {
        if (ni->nsig > 19)
            return 0;
        uint64_t w = ni->mantissa;
        int64_t q = ni->exp10 - ni->nfrac;
        if (q == 0) {
            v = (double)w;                      /* one correctly rounded conversion */
        } else if (w < TWO_53 && q >= -22 && q <= 22) {
            v = q > 0 ? (double)w * POW10[q] : (double)w / POW10[-q];
        } else if (w < TWO_53 && q > 22 && q <= 22 + 15) {
            for (int64_t k = q - 22; k > 0; k--) {   /* w * 10^(q-22) stays exact? */
                if (w >= TWO_53 / 10)
                    return 0;
                w *= 10;
            }
            v = (double)w * 1e22;
        } else {
            return 0;
        }
    }
    *out = ni->negative ? -v : v;
    return 1;
}

/* Bytes of scratch that double_slow needs for a number with info ni. */
static size_t slow_scratch(const pf_number_info *ni)
{
    return (size_t)ni->nsig + 32;
}

/* Any number: the significant digits of text[0 .. n) and the power of ten
 * rewritten for strtod into scratch (slow_scratch(ni) bytes). */
static double double_slow(const uint8_t *text, size_t n, const pf_number_info *ni, char *scratch)
{
    double v;
    int64_t q = ni->exp10 - ni->nfrac;
    int64_t magnitude = (int64_t)ni->nsig + q;      /* value in [10^(m-1), 10^m) */
    if (ni->nsig == 0 || magnitude < -330) {
        v = 0.0;
    } else if (magnitude > 310) {
        v = INFINITY;
    } else {
        size_t k = 0;
        int leading = 1;
        for (size_t p = 0; p < n; p++) {
            uint8_t c = text[p];
            if ((c | 0x20) == 'e')
                break;
            if (!pf_is_digit(c) || (leading && c == '0'))
                continue;                       /* sign, point, leading zeros */
            leading = 0;
            scratch[k++] = (char)c;
        }
        snprintf(scratch + k, 32, "e%lld", (long long)q);
        v = strtod(scratch, NULL);
    }
    return ni->negative ? -v : v;
}

static int ensure_scratch(pf_entries *e, size_t need)
{
    return pf_reserve((void **)&e->scratch, &e->scratch_cap, 0, need, 4096, 1);
}

/* The double of a validated number at text[0 .. n): 1 if finite, 0 if it
 * rounds to infinity (only the strtod path can), or PF_ENOMEM. */
static int number_double(pf_entries *e, const uint8_t *text, size_t n, const pf_number_info *ni, double *out)
{
    if (double_fast(ni, out))
        return 1;
    int rc = ensure_scratch(e, slow_scratch(ni));
    if (rc != PF_OK)
        return rc;
    *out = double_slow(text, n, ni, e->scratch);
    return !isinf(*out);
}

/* The value at s[*pos] (non-blank, inside two open containers) of entry
 * i: a number into ints[i] or floats[i], a string appended to sdata
 * (unescaped); *kind its PF_VALUE_*, or PF_ENTRY_INVALID for any other
 * value and for a number that rounds to infinity. */
static int entry_value(pf_entries *e, const uint8_t *s, size_t end, size_t *pos, size_t i, int *kind)
{
    size_t p = *pos, start = p;
    pf_number_info ni;
    int rc;
    *kind = PF_ENTRY_INVALID;
    if (s[p] == '-' || pf_is_digit(s[p])) {
        if ((rc = pf_scan_number(s, end, &p, &ni)) != PF_OK)
            return rc;
        if (ni.integer && pf_integer_int64(&ni, &e->ints[i])) {
            *kind = PF_VALUE_INT;
        } else {
            if ((rc = number_double(e, s + start, p - start, &ni, &e->floats[i])) < 0)
                return rc;
            *kind = rc ? PF_VALUE_FLOAT : PF_ENTRY_INVALID;     /* the caller resets the columns */
        }
    } else if (s[p] == '"') {
        int escaped;
        if ((rc = pf_scan_string(s, end, &p, &escaped)) != PF_OK)
            return rc;
        pf_span literal = {start, p - start};
        if ((rc = pf_reserve((void **)&e->sdata, &e->scap, e->slen, literal.len, 4096, 1)) != PF_OK)
            return rc;
        if (escaped) {
            e->slen += pf_unescape(s, literal, e->sdata + e->slen);
        } else {
            memcpy(e->sdata + e->slen, s + start + 1, literal.len - 2);
            e->slen += literal.len - 2;
        }
        *kind = PF_VALUE_STRING;
    } else if ((rc = pf_scan_value(s, end, &p, 2)) != PF_OK) {
        return rc;
    }
    *pos = p;
    return PF_OK;
}

/* Completes entry i, whose value (if any) was read since ends[i] was set
 * to the string data's length: without a time or a valid value it is
 * invalid, keeps its time and drops the value. */
static void finish_entry(pf_entries *e, size_t i, int kind, int64_t t, uint8_t has_time)
{
    if (!has_time || kind == PF_ENTRY_INVALID) {
        kind = PF_ENTRY_INVALID;
        e->slen = (size_t)e->ends[i];
        e->ints[i] = 0;
        e->floats[i] = 0.0;
    } else {
        e->ends[i] = e->slen;
    }
    e->ts[i] = has_time ? t : 0;
    e->has_time[i] = has_time;
    e->kinds[i] = (uint8_t)kind;
}

/* One element at s[*pos] (non-blank) into entry i. */
static int parse_entry(pf_entries *e, const uint8_t *s, size_t end, size_t *pos, size_t i)
{
    size_t p = *pos;
    pf_number_info ni;
    int more, rc, kind = PF_ENTRY_INVALID;
    int64_t t = 0;
    uint8_t has_time = 0;

    e->ints[i] = 0;
    e->floats[i] = 0.0;
    e->ends[i] = e->slen;
    if (s[p] != '[') {
        if ((rc = pf_scan_value(s, end, &p, 1)) != PF_OK)
            return rc;
        goto finish;
    }
    p++;
    if ((more = pf_first_item(s, end, &p, ']')) <= 0) {
        if (more < 0)
            return more;
        goto finish;
    }
    /* the timestamp */
    if (s[p] == '-' || pf_is_digit(s[p])) {
        if ((rc = pf_scan_number(s, end, &p, &ni)) != PF_OK)
            return rc;
        has_time = ni.integer && pf_integer_int64(&ni, &t);
    } else if ((rc = pf_scan_value(s, end, &p, 2)) != PF_OK) {
        return rc;
    }
    if ((more = pf_next_item(s, end, &p, ']')) <= 0) {
        if (more < 0)
            return more;
        goto finish;
    }
    /* the value */
    if ((rc = entry_value(e, s, end, &p, i, &kind)) != PF_OK)
        return rc;
    while ((more = pf_next_item(s, end, &p, ']')) == 1) {
        kind = PF_ENTRY_INVALID;                /* more than two items */
        if ((rc = pf_scan_value(s, end, &p, 2)) != PF_OK)
            return rc;
    }
    if (more < 0)
        return more;
finish:
    finish_entry(e, i, kind, t, has_time);
    *pos = p;
    return PF_OK;
}

/* Parses one element at s[*pos] (non-blank) into entry i. */
typedef int (*element_parser)(pf_entries *e, const uint8_t *s, size_t end, size_t *pos, size_t i);

static int64_t parse(pf_entries *e, const uint8_t *s, size_t len, pf_span array, element_parser element)
{
    size_t end, p;
    int more, rc;
    if (array.off > len || array.len > len - array.off)
        return PF_ERANGE;
    end = (size_t)(array.off + array.len);
    p = pf_skip_ws(s, end, (size_t)array.off);
    if (p >= end)
        return PF_ETRUNCATED;
    if (s[p] != '[')
        return pf_not_a_container(s, p, end);
    p++;
    for (more = pf_first_item(s, end, &p, ']'); more == 1; more = pf_next_item(s, end, &p, ']')) {
        if (e->n == e->cap && (rc = grow_columns(e, e->n + 1)) != PF_OK)
            return rc;
        if ((rc = element(e, s, end, &p, e->n)) != PF_OK)
            return rc;
        e->n++;
    }
    if (more < 0)
        return more;
    if (pf_skip_ws(s, end, p) != end)
        return PF_ESYNTAX;
    return (int64_t)e->n;
}

static int64_t parse_with(pf_entries *e, const char *buf, size_t len, pf_span array, element_parser element,
                          int relative_times)
{
    if (e == NULL || (buf == NULL && len > 0))
        return PF_EARG;
    e->n = e->slen = e->ninv = 0;
    e->normalized = 0;
    e->relative_times = relative_times;
    int64_t rc = parse(e, (const uint8_t *)buf, len, array, element);
    if (rc < 0)
        e->n = e->slen = 0;
    return rc;
}

int64_t pf_entries_parse(pf_entries *e, const char *buf, size_t len, pf_span array)
{
    return parse_with(e, buf, len, array, parse_entry, 1);
}

/* ---- M2X value lists ---- */

#define M2X_MIN_MS INT64_C(-62135596800000)     /* 0001-01-01T00:00:00.000Z */
#define M2X_MAX_MS INT64_C(253402300799999)     /* 9999-12-31T23:59:59.999Z */

/* Exactly `count` ASCII digits at t[*p] into *out. */
static int fixed_digits(const uint8_t *t, size_t n, size_t *p, int count, int *out)
{
    int v = 0;
    for (int k = 0; k < count; k++) {
        if (*p >= n || !pf_is_digit(t[*p]))
            return 0;
        v = v * 10 + (t[(*p)++] - '0');
    }
    *out = v;
    return 1;
}

/* One or two ASCII digits at t[*p] into *out. */
static int one_or_two_digits(const uint8_t *t, size_t n, size_t *p, int *out)
{
    if (!fixed_digits(t, n, p, 1, out))
        return 0;
    if (*p < n && pf_is_digit(t[*p]))
        *out = *out * 10 + (t[(*p)++] - '0');
    return 1;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return DAYS[m - 1] + (m == 2 && leap);
}

/* The milliseconds since the epoch (truncated toward the past) of an ISO
 * 8601 text in the forms the m2x client's parse_date reads (pyonep_fast.
 * m2x.utils: YYYY, YYYY-M[M], YYYY-M[M]-D[D], YYYYMMDD, then optionally
 * T or space, HH, [:]MM, [:]S[S], [.,]fraction, Z or +-HH[:][MM]; no zone
 * is UTC; a time needs a day), over ASCII digits, with datetime's field
 * ranges and a zone under 24 h, landing in years 0001..9999 UTC. 1 if it
 * is one, 0 otherwise. */
static int m2x_time(const uint8_t *t, size_t n, int64_t *ms)
{
    size_t p = 0;
    int year, month = 1, day = 1, hour = 0, minute = 0, second = 0, micros = 0, has_day = 0;
    int64_t offset = 0;     /* minutes east of UTC */
    if (!fixed_digits(t, n, &p, 4, &year))
        return 0;
    if (p < n && t[p] == '-') {
        p++;
        if (!one_or_two_digits(t, n, &p, &month))
            return 0;
        if (p < n && t[p] == '-') {
            p++;
            if (!one_or_two_digits(t, n, &p, &day))
                return 0;
            has_day = 1;
        }
    } else if (p < n && pf_is_digit(t[p])) {
        if (!fixed_digits(t, n, &p, 2, &month) || !fixed_digits(t, n, &p, 2, &day))
            return 0;
        has_day = 1;
    }
    if (p < n && (t[p] == 'T' || t[p] == ' ')) {
        p++;
        if (!has_day || !fixed_digits(t, n, &p, 2, &hour))
            return 0;
        if (p < n && (t[p] == ':' || pf_is_digit(t[p]))) {
            p += t[p] == ':';
            if (!fixed_digits(t, n, &p, 2, &minute))
                return 0;
            if (p < n && (t[p] == ':' || pf_is_digit(t[p]))) {
                p += t[p] == ':';
                if (!one_or_two_digits(t, n, &p, &second))
                    return 0;
                if (p < n && (t[p] == '.' || t[p] == ',')) {
                    p++;
                    if (p >= n || !pf_is_digit(t[p]))
                        return 0;
                    int k = 0;
                    for (; p < n && pf_is_digit(t[p]); p++, k++)
                        if (k < 6)          /* microseconds: later digits are dropped */
                            micros = micros * 10 + (t[p] - '0');
                    for (; k < 6; k++)
                        micros *= 10;
                }
            }
        }
        if (p < n && t[p] == 'Z') {
            p++;
        } else if (p < n && (t[p] == '+' || t[p] == '-')) {
            int negative = t[p++] == '-', zh, zm = 0;
            if (!fixed_digits(t, n, &p, 2, &zh))
                return 0;
            p += p < n && t[p] == ':';
            if (p < n && pf_is_digit(t[p]) && !fixed_digits(t, n, &p, 2, &zm))
                return 0;
            offset = (int64_t)zh * 60 + zm;
            if (offset >= 24 * 60)
                return 0;
            if (negative)
                offset = -offset;
        }
    }
    if (p != n || year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)
        || hour > 23 || minute > 59 || second > 59)
        return 0;
    int64_t seconds = days_from_civil(year, month, day) * 86400 + (int64_t)hour * 3600 + minute * 60 + second
                      - offset * 60;
    int64_t value = seconds * 1000 + micros / 1000;
    if (value < M2X_MIN_MS || value > M2X_MAX_MS)
        return 0;
    *ms = value;
    return 1;
}

/* Which member of a value object the key literal names, escapes decoded:
 * 1 "timestamp", 2 "value", 0 another. */
static int m2x_member(const uint8_t *s, pf_span key, int escaped)
{
    char decoded[16];
    const char *name;
    int64_t n = pf_key_text(s, key, escaped, decoded, sizeof decoded, &name);
    if (n == 9 && memcmp(name, "timestamp", 9) == 0)
        return 1;
    return n == 5 && memcmp(name, "value", 5) == 0 ? 2 : 0;
}

/* The time of the string literal at s[*pos] (validated here): 1 with *ms
 * set if it is one (m2x_time), 0 if not, or an error. */
static int m2x_timestamp(pf_entries *e, const uint8_t *s, size_t end, size_t *pos, int64_t *ms)
{
    size_t start = *pos;
    int escaped, rc;
    if ((rc = pf_scan_string(s, end, pos, &escaped)) != PF_OK)
        return rc;
    pf_span literal = {start, *pos - start};
    if (!escaped)
        return m2x_time(s + start + 1, literal.len - 2, ms);
    if ((rc = ensure_scratch(e, literal.len)) != PF_OK)
        return rc;
    return m2x_time((const uint8_t *)e->scratch, pf_unescape(s, literal, e->scratch), ms);
}

/* One element of an M2X value list, {"timestamp": "...", "value": v}, at
 * s[*pos] (non-blank) into entry i. Other members are validated and
 * skipped; of repeated members the last counts. */
static int parse_m2x_entry(pf_entries *e, const uint8_t *s, size_t end, size_t *pos, size_t i)
{
    size_t p = *pos, base = e->slen;
    int more, rc, kind = PF_ENTRY_INVALID;
    int64_t t = 0;
    uint8_t has_time = 0;

    e->ints[i] = 0;
    e->floats[i] = 0.0;
    e->ends[i] = base;
    if (s[p] != '{') {
        if ((rc = pf_scan_value(s, end, &p, 1)) != PF_OK)
            return rc;
        goto finish;
    }
    p++;
    for (more = pf_first_item(s, end, &p, '}'); more == 1; more = pf_next_item(s, end, &p, '}')) {
        pf_span key;
        int escaped, member;
        if ((rc = pf_scan_key(s, end, &p, &key, &escaped)) != PF_OK)
            return rc;
        if (p >= end)
            return PF_ETRUNCATED;
        member = m2x_member(s, key, escaped);
        if (member == 1 && s[p] == '"') {
            if ((rc = m2x_timestamp(e, s, end, &p, &t)) < 0)
                return rc;
            has_time = (uint8_t)rc;
        } else if (member == 2) {
            e->slen = base;                     /* a repeated value replaces the earlier one */
            e->ints[i] = 0;
            e->floats[i] = 0.0;
            if ((rc = entry_value(e, s, end, &p, i, &kind)) != PF_OK)
                return rc;
        } else {
            if ((rc = pf_scan_value(s, end, &p, 2)) != PF_OK)
                return rc;
            if (member == 1)
                has_time = 0;                   /* a timestamp that is not a string */
        }
    }
    if (more < 0)
        return more;
finish:
    finish_entry(e, i, kind, t, has_time);
    *pos = p;
    return PF_OK;
}

int64_t pf_entries_parse_m2x(pf_entries *e, const char *buf, size_t len, pf_span array)
{
    return parse_with(e, buf, len, array, parse_m2x_entry, 0);
}

/* ---- normalize ---- */

typedef struct {
    int64_t t;
    uint64_t i;
} keyed;

/* Stable sort by t (bottom-up merge sort; tmp holds n items). */
static void sort_by_time(keyed *a, keyed *tmp, size_t n)
{
    size_t i;
    for (i = 1; i < n && a[i - 1].t <= a[i].t; i++)
        ;
    if (i >= n)
        return;                                 /* already in order: the usual case */
    keyed *from = a, *to = tmp;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = mid + width < n ? mid + width : n;
            size_t x = lo, y = mid, k = lo;
            while (x < mid && y < hi)
                to[k++] = from[y].t < from[x].t ? from[y++] : from[x++];
            while (x < mid)
                to[k++] = from[x++];
            while (y < hi)
                to[k++] = from[y++];
        }
        keyed *swap = from;
        from = to;
        to = swap;
        if (width > SIZE_MAX / 2)
            break;
    }
    if (from != a)
        memcpy(a, from, n * sizeof *a);
}

/* An integer port's reading of a string: -?[0-9]+ within int64. */
static int integer_text(const char *text, size_t n, int64_t *out)
{
    size_t i = 0;
    int negative = n > 0 && text[0] == '-';
    uint64_t acc = 0, limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    i = (size_t)negative;
    if (i == n)
        return 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(uint8_t)text[i] - '0';
        if (d > 9 || acc > (limit - d) / 10)
            return 0;
        acc = acc * 10 + d;
    }
    *out = negative ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
    return 1;
}

/* A float port's reading of a string: the JSON number grammar, finite.
 * The caller made scratch room for a number of n digits. */
static int number_text(pf_entries *e, const char *text, size_t n, double *out)
{
    pf_number_info ni;
    size_t p = 0;
    const uint8_t *t = (const uint8_t *)text;
    if (n == 0 || pf_scan_number(t, n, &p, &ni) != PF_OK || p != n)
        return 0;
    if (!double_fast(&ni, out))
        *out = double_slow(t, n, &ni, e->scratch);
    return !isinf(*out);
}

static size_t string_len(const pf_entries *e, size_t i)
{
    return (size_t)(e->ends[i] - (i ? e->ends[i - 1] : 0));
}

static const char *string_at(const pf_entries *e, size_t i)
{
    return e->sdata + (i ? e->ends[i - 1] : 0);
}

/* Converts entry i for the port, in place in ints/floats (strings are
 * written when the columns are rebuilt); 1 if valid. */
static int convert(pf_entries *e, size_t i, int port, size_t max_string_bytes)
{
    uint8_t kind = e->kinds[i];
    switch (port) {
    case PF_VALUE_INT:
        if (kind == PF_VALUE_STRING)
            return integer_text(string_at(e, i), string_len(e, i), &e->ints[i]);
        return kind == PF_VALUE_INT;
    case PF_VALUE_FLOAT:
        if (kind == PF_VALUE_INT) {
            e->floats[i] = (double)e->ints[i];
            return 1;
        }
        if (kind == PF_VALUE_STRING)
            return number_text(e, string_at(e, i), string_len(e, i), &e->floats[i]);
        return kind == PF_VALUE_FLOAT;
    default:
        return kind != PF_VALUE_STRING || string_len(e, i) <= max_string_bytes;
    }
}

typedef struct {
    int64_t *ts, *ints;
    uint8_t *kinds, *has_time;
    double *floats;
    uint64_t *ends;
    char *sdata;
    size_t scap;
    keyed *order, *tmp;
} fresh;

static void free_fresh(fresh *f)
{
    free(f->ts);
    free(f->ints);
    free(f->kinds);
    free(f->has_time);
    free(f->floats);
    free(f->ends);
    free(f->sdata);
    free(f->order);
    free(f->tmp);
}

/* Everything normalize needs, allocated before anything changes. */
static int allocate(pf_entries *e, int port, fresh *f)
{
    size_t n = e->n ? e->n : 1, text = 0, longest = 0;
    for (size_t i = 0; i < e->n; i++) {
        size_t add = e->kinds[i] == PF_VALUE_STRING ? string_len(e, i)
                     : e->kinds[i] == PF_ENTRY_INVALID ? 0 : NUMBER_ROOM;
        if (e->kinds[i] == PF_VALUE_STRING && add > longest)
            longest = add;
        if (add > PF_ALLOC_MAX - text)
            return PF_ETOOBIG;
        text += add;
    }
    memset(f, 0, sizeof *f);
    if (n > PF_ALLOC_MAX / sizeof(keyed))
        return PF_ETOOBIG;
    f->ts = malloc(n * sizeof *f->ts);
    f->ints = malloc(n * sizeof *f->ints);
    f->kinds = malloc(n);
    f->has_time = malloc(n);
    f->floats = malloc(n * sizeof *f->floats);
    f->ends = malloc(n * sizeof *f->ends);
    f->order = malloc(n * sizeof *f->order);
    f->tmp = malloc(n * sizeof *f->tmp);
    f->scap = port == PF_VALUE_STRING ? text + NUMBER_ROOM : 1;
    f->sdata = malloc(f->scap);
    int rc = f->ts && f->ints && f->kinds && f->has_time && f->floats && f->ends && f->order && f->tmp
             && f->sdata ? PF_OK : PF_ENOMEM;
    if (rc == PF_OK && port == PF_VALUE_FLOAT)
        rc = ensure_scratch(e, longest + 32);
    if (rc == PF_OK && (pf_resize((void **)&e->inv_ts, n, sizeof *e->inv_ts) != PF_OK
                        || pf_resize((void **)&e->inv_has_time, n, 1) != PF_OK
                        || pf_resize((void **)&e->inv_pos, n, sizeof *e->inv_pos) != PF_OK))
        rc = PF_ENOMEM;
    if (rc != PF_OK)
        free_fresh(f);
    return rc;
}

/* The usual batch needs no new columns: every entry already of the port's
 * kind (or an integer for a float port), times strictly increasing once
 * resolved. Then it is normalized in place; 0 if it is not such a batch. */
static int normalize_in_place(pf_entries *e, int port, int64_t now, size_t max_string_bytes)
{
    int64_t previous = INT64_MIN;
    for (size_t i = 0; i < e->n; i++) {
        uint8_t kind = e->kinds[i];
        int64_t t = e->ts[i];
        if (kind != port && !(port == PF_VALUE_FLOAT && kind == PF_VALUE_INT))
            return 0;
        if (kind == PF_VALUE_STRING && string_len(e, i) > max_string_bytes)
            return 0;
        if (t < 0 && e->relative_times && (__builtin_add_overflow(now, t, &t) || t < 0))
            return 0;
        if (i > 0 && t <= previous)
            return 0;
        previous = t;
    }
    for (size_t i = 0; i < e->n; i++) {
        if (e->ts[i] < 0 && e->relative_times)
            e->ts[i] += now;
        if (e->kinds[i] != port) {
            e->floats[i] = (double)e->ints[i];
            e->ints[i] = 0;
            e->kinds[i] = (uint8_t)port;
        }
    }
    e->ninv = 0;
    e->normalized = 1;
    return 1;
}

int64_t pf_entries_normalize(pf_entries *e, int value_kind, int64_t now, size_t max_string_bytes)
{
    fresh f;
    if (e == NULL || value_kind < PF_VALUE_INT || value_kind > PF_VALUE_STRING || e->normalized)
        return PF_EARG;
    if (normalize_in_place(e, value_kind, now, max_string_bytes))
        return (int64_t)e->n;
    int rc = allocate(e, value_kind, &f);
    if (rc != PF_OK)
        return rc;
    size_t m = 0, kept = 0, slen = 0;
    e->ninv = 0;
    for (size_t i = 0; i < e->n; i++) {
        int64_t t = e->ts[i];
        int valid = e->kinds[i] != PF_ENTRY_INVALID;
        if (valid && t < 0 && e->relative_times && (__builtin_add_overflow(now, t, &t) || t < 0))
            valid = 0;                          /* relative, landing outside int64 or before the epoch */
        if (valid && convert(e, i, value_kind, max_string_bytes)) {
            f.order[m].t = t;
            f.order[m].i = i;
            m++;
        } else {
            e->inv_ts[e->ninv] = e->ts[i];
            e->inv_has_time[e->ninv] = e->has_time[i];
            e->inv_pos[e->ninv] = i;
            e->ninv++;
        }
    }
    sort_by_time(f.order, f.tmp, m);
    for (size_t x = 0; x < m; x++) {
        if (x + 1 < m && f.order[x + 1].t == f.order[x].t)
            continue;                           /* a later entry has the same time */
        size_t i = (size_t)f.order[x].i;
        f.ts[kept] = f.order[x].t;
        f.kinds[kept] = (uint8_t)value_kind;
        f.has_time[kept] = 1;
        f.ints[kept] = value_kind == PF_VALUE_INT ? e->ints[i] : 0;
        f.floats[kept] = value_kind == PF_VALUE_FLOAT ? e->floats[i] : 0.0;
        if (value_kind == PF_VALUE_STRING) {
            char *p = f.sdata + slen;
            if (e->kinds[i] == PF_VALUE_STRING) {
                memcpy(p, string_at(e, i), string_len(e, i));
                p += string_len(e, i);
            } else if (e->kinds[i] == PF_VALUE_INT) {
                p = pf_put_int64(p, e->ints[i]);
            } else {
                p = pf_put_double(p, e->floats[i]);
            }
            slen = (size_t)(p - f.sdata);
        }
        f.ends[kept++] = slen;
    }
    free_columns(e);
    free(e->sdata);
    e->ts = f.ts;
    e->ints = f.ints;
    e->kinds = f.kinds;
    e->has_time = f.has_time;
    e->floats = f.floats;
    e->ends = f.ends;
    e->sdata = f.sdata;
    e->scap = f.scap;
    e->slen = slen;
    e->cap = e->n ? e->n : 1;
    e->n = kept;
    e->normalized = 1;
    free(f.order);
    free(f.tmp);
    return (int64_t)kept;
}

/* The getters accept NULL (giving 0 or NULL), as every function of the API does. */
size_t pf_entries_len(const pf_entries *e) { return e == NULL ? 0 : e->n; }
const int64_t *pf_entries_timestamps(const pf_entries *e) { return e == NULL ? NULL : e->ts; }
const uint8_t *pf_entries_kinds(const pf_entries *e) { return e == NULL ? NULL : e->kinds; }
const int64_t *pf_entries_ints(const pf_entries *e) { return e == NULL ? NULL : e->ints; }
const double *pf_entries_floats(const pf_entries *e) { return e == NULL ? NULL : e->floats; }
const char *pf_entries_string_data(const pf_entries *e) { return e == NULL ? NULL : e->sdata; }
const uint64_t *pf_entries_string_ends(const pf_entries *e) { return e == NULL ? NULL : e->ends; }
size_t pf_entries_invalid_len(const pf_entries *e) { return e == NULL ? 0 : e->ninv; }
const int64_t *pf_entries_invalid_timestamps(const pf_entries *e) { return e == NULL ? NULL : e->inv_ts; }
const uint8_t *pf_entries_invalid_has_time(const pf_entries *e) { return e == NULL ? NULL : e->inv_has_time; }
const uint64_t *pf_entries_invalid_positions(const pf_entries *e) { return e == NULL ? NULL : e->inv_pos; }
