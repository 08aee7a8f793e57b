/*
 * Series: columnar (int64 timestamp, value) buffers of one value kind.
 *
 * Live points are [start, end) of the columns. drop_front only advances
 * start; the live part moves back to the front once the dropped prefix is
 * as long as the live part (or an append needs the room), so dropping is
 * amortised O(1) per point however the points are taken off.
 *
 * Strings keep their bytes in one buffer with cumulative end offsets, plus
 * the cumulative length of their JSON literals (measured when appended), so
 * the encoded size of any range is known without rescanning.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

struct pf_series {
    int kind;
    size_t start, end, cap;     /* live points, column capacity (points) */
    int64_t *ts;
    int64_t *ints;              /* PF_VALUE_INT */
    double *floats;             /* PF_VALUE_FLOAT */
    char *data;                 /* PF_VALUE_STRING: bytes of every point */
    size_t data_cap;
    uint64_t *ends;             /* end offset of point i's bytes in data */
    uint64_t *json_ends;        /* cumulative length of the JSON literals */
};

/* Per-point upper bounds of "[ts,v]," in entries (strings: plus the literal). */
#define ENTRY_OVERHEAD (4 + PF_INT64_MAX_CHARS)
#define INT_ENTRY_MAX (ENTRY_OVERHEAD + PF_INT64_MAX_CHARS)
#define FLOAT_ENTRY_MAX (ENTRY_OVERHEAD + PF_DOUBLE_MAX_CHARS)

/* {"timestamp":"2015-02-03T00:33:43.422Z","value":V}, */
static const char M2X_HEAD[] = "{\"timestamp\":\"";
static const char M2X_MID[] = "Z\",\"value\":";
#define ISO_CHARS 23  /* 2015-02-03T00:33:43.422 */
#define M2X_OVERHEAD (sizeof M2X_HEAD - 1 + ISO_CHARS + sizeof M2X_MID - 1 + 2)

/* Days from 1970-01-01 to 0001-01-01 and to 9999-12-31. */
#define DAYS_MIN (-719162)
#define DAYS_MAX 2932896

pf_series *pf_series_new(int value_kind)
{
    if (value_kind != PF_VALUE_INT && value_kind != PF_VALUE_FLOAT && value_kind != PF_VALUE_STRING) {
        return NULL;
    }
    pf_series *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return NULL;
    }
    s->kind = value_kind;
    if (value_kind == PF_VALUE_STRING) {  /* never NULL, even with only empty strings */
        s->data_cap = 256;
        s->data = malloc(s->data_cap);
        if (s->data == NULL) {
            free(s);
            return NULL;
        }
    }
    return s;
}

void pf_series_free(pf_series *s)
{
    if (s == NULL) {
        return;
    }
    free(s->ts);
    free(s->ints);
    free(s->floats);
    free(s->data);
    free(s->ends);
    free(s->json_ends);
    free(s);
}

int pf_series_kind(const pf_series *s) { return s == NULL ? PF_EARG : s->kind; }

size_t pf_series_len(const pf_series *s) { return s == NULL ? 0 : s->end - s->start; }

/* Offset where point i's bytes (or literal lengths) begin. */
static inline uint64_t begin_of(const uint64_t *ends, size_t i) { return i == 0 ? 0 : ends[i - 1]; }

static size_t saturating_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

static size_t saturating_mul(size_t a, size_t b) { return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b; }

/* Entries bytes of live points [first, first + n). */
static size_t entries_size(const pf_series *s, size_t first, size_t n)
{
    size_t per_point = s->kind == PF_VALUE_INT ? INT_ENTRY_MAX
                     : s->kind == PF_VALUE_FLOAT ? FLOAT_ENTRY_MAX : ENTRY_OVERHEAD;
    size_t size = saturating_add(2, saturating_mul(n, per_point));
    if (s->kind == PF_VALUE_STRING && n > 0) {
        size_t i = s->start + first;
        uint64_t literals = s->json_ends[i + n - 1] - begin_of(s->json_ends, i);
        size = saturating_add(size, literals > SIZE_MAX ? SIZE_MAX : (size_t)literals);
    }
    return size;
}

size_t pf_series_encoded_size(const pf_series *s)
{
    return s == NULL ? 0 : entries_size(s, 0, s->end - s->start);
}

size_t pf_series_count_within(const pf_series *s, size_t max_bytes)
{
    if (s == NULL) {
        return 0;
    }
    size_t lo = 0, hi = s->end - s->start;  /* entries_size grows with n: bisect */
    while (lo < hi) {
        size_t mid = hi - (hi - lo) / 2;
        if (entries_size(s, 0, mid) <= max_bytes) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

/* Moves the live points to the front of the columns. */
static void compact(pf_series *s)
{
    size_t live = s->end - s->start;
    if (s->start == 0) {
        return;
    }
    memmove(s->ts, s->ts + s->start, live * sizeof *s->ts);
    if (s->kind == PF_VALUE_INT) {
        memmove(s->ints, s->ints + s->start, live * sizeof *s->ints);
    } else if (s->kind == PF_VALUE_FLOAT) {
        memmove(s->floats, s->floats + s->start, live * sizeof *s->floats);
    } else {
        uint64_t base = s->ends[s->start - 1], json_base = s->json_ends[s->start - 1];
        uint64_t bytes = live > 0 ? s->ends[s->end - 1] - base : 0;
        memmove(s->data, s->data + base, (size_t)bytes);
        for (size_t i = 0; i < live; i++) {
            s->ends[i] = s->ends[s->start + i] - base;
            s->json_ends[i] = s->json_ends[s->start + i] - json_base;
        }
    }
    s->end = live;
    s->start = 0;
}

/* Room for n more points in every column of the series' kind. */
static int reserve_points(pf_series *s, size_t n)
{
    if (n <= s->cap - s->end) {
        return PF_OK;
    }
    compact(s);
    if (n <= s->cap - s->end) {
        return PF_OK;
    }
    size_t cap = n > PF_ALLOC_MAX - s->end ? 0 : pf_grown_capacity(s->cap, s->end + n, 16, sizeof(int64_t));
    if (cap == 0) {
        return PF_ETOOBIG;
    }
    int rc = pf_resize((void **)&s->ts, cap, sizeof *s->ts);
    if (rc == PF_OK && s->kind == PF_VALUE_INT) {
        rc = pf_resize((void **)&s->ints, cap, sizeof *s->ints);
    } else if (rc == PF_OK && s->kind == PF_VALUE_FLOAT) {
        rc = pf_resize((void **)&s->floats, cap, sizeof *s->floats);
    } else if (rc == PF_OK) {
        rc = pf_resize((void **)&s->ends, cap, sizeof *s->ends);
        if (rc == PF_OK) {
            rc = pf_resize((void **)&s->json_ends, cap, sizeof *s->json_ends);
        }
    }
    if (rc == PF_OK) {  /* on failure, the columns that did grow keep working */
        s->cap = cap;
    }
    return rc;
}

/* PF_OK if n points of kind can be appended from these arrays. */
static int check_append(const pf_series *s, int kind, const void *ts, const void *values, size_t n)
{
    if (s == NULL) {
        return PF_EARG;
    }
    if (s->kind != kind) {
        return PF_ETYPE;
    }
    return n > 0 && (ts == NULL || values == NULL) ? PF_EARG : PF_OK;
}

int pf_series_append_int(pf_series *s, const int64_t *ts, const int64_t *values, size_t n)
{
    int rc = check_append(s, PF_VALUE_INT, ts, values, n);
    if (rc == PF_OK) {
        rc = reserve_points(s, n);
    }
    if (rc != PF_OK || n == 0) {
        return rc;
    }
    memcpy(s->ts + s->end, ts, n * sizeof *ts);
    memcpy(s->ints + s->end, values, n * sizeof *values);
    s->end += n;
    return PF_OK;
}

int pf_series_append_float(pf_series *s, const int64_t *ts, const double *values, size_t n)
{
    int rc = check_append(s, PF_VALUE_FLOAT, ts, values, n);
    if (rc != PF_OK) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (values[i] - values[i] != 0) {  /* NaN or infinity */
            return PF_ENONFINITE;
        }
    }
    rc = reserve_points(s, n);
    if (rc != PF_OK || n == 0) {
        return rc;
    }
    memcpy(s->ts + s->end, ts, n * sizeof *ts);
    memcpy(s->floats + s->end, values, n * sizeof *values);
    s->end += n;
    return PF_OK;
}

int pf_series_append_string(pf_series *s, const int64_t *ts, const char *data, const uint64_t *ends,
                            size_t n)
{
    int rc = check_append(s, PF_VALUE_STRING, ts, ends, n);
    if (rc != PF_OK || n == 0) {
        return rc;
    }
    uint64_t bytes = ends[n - 1];
    if (data == NULL) {
        if (bytes > 0) {
            return PF_EARG;
        }
        data = "";  /* n empty strings */
    }
    /* The columns grow first (that changes no point); the new points count
     * only once s->end moves past them, after everything checked out. */
    rc = reserve_points(s, n);
    if (rc != PF_OK) {
        return rc;
    }
    uint64_t base = begin_of(s->ends, s->end), json_end = begin_of(s->json_ends, s->end);
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (ends[i] < prev) {
            return PF_EARG;
        }
        int64_t literal = pf_utf8_json_length(data + prev, (size_t)(ends[i] - prev));
        if (literal < 0) {
            return (int)literal;
        }
        json_end += (uint64_t)literal;  /* < 7 * total bytes: no overflow */
        s->json_ends[s->end + i] = json_end;
        s->ends[s->end + i] = base + ends[i];
        prev = ends[i];
    }
    if (bytes > PF_ALLOC_MAX - base) {  /* before narrowing uint64_t to size_t */
        return PF_ETOOBIG;
    }
    rc = pf_reserve((void **)&s->data, &s->data_cap, (size_t)base, (size_t)bytes, 256, 1);
    if (rc != PF_OK) {
        return rc;
    }
    if (bytes > 0) {
        memcpy(s->data + base, data, (size_t)bytes);
    }
    memcpy(s->ts + s->end, ts, n * sizeof *ts);
    s->end += n;
    return PF_OK;
}

const int64_t *pf_series_timestamps(const pf_series *s) { return s == NULL ? NULL : s->ts + s->start; }

const int64_t *pf_series_ints(const pf_series *s)
{
    return s == NULL || s->kind != PF_VALUE_INT ? NULL : s->ints + s->start;
}

const double *pf_series_floats(const pf_series *s)
{
    return s == NULL || s->kind != PF_VALUE_FLOAT ? NULL : s->floats + s->start;
}

const char *pf_series_string_data(pf_series *s)
{
    if (s == NULL || s->kind != PF_VALUE_STRING) {
        return NULL;
    }
    compact(s);
    return s->data;
}

const uint64_t *pf_series_string_ends(pf_series *s)
{
    if (s == NULL || s->kind != PF_VALUE_STRING) {
        return NULL;
    }
    compact(s);
    return s->ends;
}

int pf_series_drop_front(pf_series *s, size_t n)
{
    if (s == NULL) {
        return PF_EARG;
    }
    if (n > s->end - s->start) {
        return PF_ERANGE;
    }
    s->start += n;
    if (s->start == s->end) {
        s->start = s->end = 0;
    } else if (s->start >= s->end - s->start) {
        compact(s);
    }
    return PF_OK;
}

/* ---------- encoding ---------- */

static int check_range(const pf_series *s, size_t first, size_t n, const pf_buf *out)
{
    if (s == NULL || out == NULL) {
        return PF_EARG;
    }
    size_t len = s->end - s->start;
    return first > len || n > len - first ? PF_ERANGE : PF_OK;
}

/* Points are written in chunks of SHORTEST_BATCH: for doubles, pass one
 * (pf_shortest_batch) formats a chunk's digits, then pass two writes each
 * point's text (it stores blocks up to PF_SHORTEST_ROOM bytes past a
 * value: room reserved past the encoding's bound). */
#define SHORTEST_BATCH 64

/* Pass one for the count points from absolute index i on, going down
 * from i when descending (a no-op for other kinds than double). */
static void fill_batch(const pf_series *s, size_t i, size_t count, int descending, pf_shortest *batch)
{
    if (s->kind != PF_VALUE_FLOAT) {
        return;
    }
    if (descending) {
        double reversed[SHORTEST_BATCH];
        for (size_t j = 0; j < count; j++) {
            reversed[j] = s->floats[i - j];
        }
        pf_shortest_batch(reversed, count, batch);
    } else {
        pf_shortest_batch(s->floats + i, count, batch);
    }
}

/* Writes point i's value (absolute index) at p; a double's digits are in
 * *digits (from fill_batch). */
static inline char *put_value(const pf_series *s, char *p, size_t i, const pf_shortest *digits)
{
    switch (s->kind) {
    case PF_VALUE_INT:
        return pf_put_int64(p, s->ints[i]);
    case PF_VALUE_FLOAT:
        return pf_put_shortest(p, digits);
    default: {
        uint64_t begin = begin_of(s->ends, i);
        return pf_put_string(p, s->data + begin, (size_t)(s->ends[i] - begin));
    }
    }
}

/* Consecutive timestamps mostly share all but their last four digits
 * (sampling at a steady rate): the shared part is formatted once per
 * change and copied, and only four digits are converted per point. */
typedef struct {
    int64_t high;   /* t / 10000 of the text below (-1: none yet) */
    size_t len;     /* its digits */
    char text[24];  /* 16 are copied at a time */
} timestamp_prefix;

static inline char *put_timestamp(char *p, int64_t t, timestamp_prefix *prefix)
{
    if (t < 10000) {
        return pf_put_int64(p, t);
    }
    int64_t high = t / 10000;
    uint32_t low = (uint32_t)(t - high * 10000);
    if (high != prefix->high) {
        prefix->high = high;
        prefix->len = (size_t)(pf_put_int64(prefix->text, high) - prefix->text);  /* <= 15 */
    }
    memcpy(p, prefix->text, 16);  /* the room of a 20-digit timestamp */
    p += prefix->len;
    memcpy(p, pf_digit_pairs + 2 * (low / 100), 2);
    memcpy(p + 2, pf_digit_pairs + 2 * (low % 100), 2);
    return p + 4;
}

int pf_series_encode_entries(const pf_series *s, size_t first, size_t n, int descending, pf_buf *out)
{
    int rc = check_range(s, first, n, out);
    if (rc == PF_OK) {
        rc = pf_buf_reserve(out, saturating_add(entries_size(s, first, n), PF_SHORTEST_ROOM));
    }
    if (rc != PF_OK) {
        return rc;
    }
    char *p = out->data + out->len;
    *p++ = '[';
    size_t lo = s->start + first;
    pf_shortest batch[SHORTEST_BATCH];
    timestamp_prefix prefix = {-1, 0, {0}};
    for (size_t k = 0; k < n; k += SHORTEST_BATCH) {
        size_t count = n - k < SHORTEST_BATCH ? n - k : SHORTEST_BATCH;
        size_t i = descending ? lo + n - 1 - k : lo + k;
        ptrdiff_t step = descending ? -1 : 1;
        fill_batch(s, i, count, descending, batch);
        for (size_t j = 0; j < count; j++, i += (size_t)step) {
            *p++ = '[';
            p = put_timestamp(p, s->ts[i], &prefix);
            *p++ = ',';
            p = put_value(s, p, i, &batch[j]);
            memcpy(p, "],", 2);
            p += 2;
        }
    }
    if (n > 0) {
        p--;  /* the last comma */
    }
    *p++ = ']';
    out->len = (size_t)(p - out->data);
    return PF_OK;
}

/* "YYYY-MM-DDTHH:MM:SS.mmm" of a time t / ticks_per_second s after the
 * epoch, or NULL outside years 0001..9999. */
static char *put_iso_time(char *p, int64_t t, int64_t ticks_per_second)
{
    /* floor division without overflow, even for INT64_MIN */
    int64_t secs = t / ticks_per_second, sub = t % ticks_per_second;
    if (sub < 0) {
        sub += ticks_per_second;
        secs -= 1;
    }
    int64_t ms = ticks_per_second == 1 ? 0 : ticks_per_second == 1000 ? sub : sub / 1000;
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    if (days < DAYS_MIN || days > DAYS_MAX) {
        return NULL;
    }
    /* Civil date from days, in 400-year eras of 146097 days that start on
     * March 1st (so the leap day ends a year); z > 0 in this range. */
    int64_t z = days + 719468;
    int64_t era = z / 146097, doe = z % 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int day = (int)(doy - (153 * mp + 2) / 5 + 1);
    int month = (int)(mp < 10 ? mp + 3 : mp - 9);
    int year = (int)(yoe + era * 400 + (month <= 2));
    int hour = (int)(sod / 3600), minute = (int)(sod / 60 % 60), second = (int)(sod % 60);

    memcpy(p, pf_digit_pairs + 2 * (year / 100), 2);
    memcpy(p + 2, pf_digit_pairs + 2 * (year % 100), 2);
    p[4] = '-';
    memcpy(p + 5, pf_digit_pairs + 2 * month, 2);
    p[7] = '-';
    memcpy(p + 8, pf_digit_pairs + 2 * day, 2);
    p[10] = 'T';
    memcpy(p + 11, pf_digit_pairs + 2 * hour, 2);
    p[13] = ':';
    memcpy(p + 14, pf_digit_pairs + 2 * minute, 2);
    p[16] = ':';
    memcpy(p + 17, pf_digit_pairs + 2 * second, 2);
    p[19] = '.';
    p[20] = (char)('0' + ms / 100);
    memcpy(p + 21, pf_digit_pairs + 2 * (ms % 100), 2);
    return p + ISO_CHARS;
}

int pf_series_encode_m2x(const pf_series *s, size_t first, size_t n, int64_t ticks_per_second,
                         pf_buf *out)
{
    int rc = check_range(s, first, n, out);
    if (rc != PF_OK) {
        return rc;
    }
    if (ticks_per_second != 1 && ticks_per_second != 1000 && ticks_per_second != 1000000) {
        return PF_EARG;
    }
    /* entries_size bounds "[ts,v]," with 20 characters for ts: swap that
     * for the object's fixed text */
    size_t per_point = M2X_OVERHEAD - ENTRY_OVERHEAD;
    size_t size = saturating_add(entries_size(s, first, n), saturating_mul(n, per_point));
    rc = pf_buf_reserve(out, saturating_add(size, PF_SHORTEST_ROOM));
    if (rc != PF_OK) {
        return rc;
    }
    char *p = out->data + out->len;
    *p++ = '[';
    pf_shortest batch[SHORTEST_BATCH];
    for (size_t k = 0, i = s->start + first; k < n; k += SHORTEST_BATCH) {
        size_t count = n - k < SHORTEST_BATCH ? n - k : SHORTEST_BATCH;
        fill_batch(s, i, count, 0, batch);
        for (size_t j = 0; j < count; j++, i++) {
            memcpy(p, M2X_HEAD, sizeof M2X_HEAD - 1);
            p = put_iso_time(p + sizeof M2X_HEAD - 1, s->ts[i], ticks_per_second);
            if (p == NULL) {
                return PF_ERANGE;  /* out->len unchanged: nothing written */
            }
            memcpy(p, M2X_MID, sizeof M2X_MID - 1);
            p = put_value(s, p + sizeof M2X_MID - 1, i, &batch[j]);
            memcpy(p, "},", 2);
            p += 2;
        }
    }
    if (n > 0) {
        p--;
    }
    *p++ = ']';
    out->len = (size_t)(p - out->data);
    return PF_OK;
}
