/*
 * The double formatter (csrc/dtoa.c) on the input read as doubles (every
 * 8 bytes one bit pattern): NaN/inf refused; otherwise the text reads back
 * through strtod bit for bit, no decimal with fewer significant digits
 * does, it follows repr's layout (scientific exactly when the exponent is
 * < -4 or >= 16), and the batch path that the Series encoder uses writes
 * the same text. The finite values then go
 * through a Series as [[t, v], ...] and the entries parser reads them back.
 */
#include <math.h>

#include "../fuzz.h"
#include "jsonw.h"

#define MAX_VALUES 8       /* bench/fuzz.py gives at most 64 bytes */

/* Significant digits of a repr text (0 for zero), and the decimal
 * exponent of the first one. */
static void digits_of(const char *text, int *count, int *exponent)
{
    char digits[40];
    int n = 0, integer_digits = -1, first = -1, last = -1;
    const char *p = text + (text[0] == '-');
    for (; *p && *p != 'e'; p++) {
        if (*p == '.')
            integer_digits = n;
        else
            digits[n++] = *p;
    }
    if (integer_digits < 0)
        integer_digits = n;
    for (int i = 0; i < n; i++) {
        if (digits[i] != '0') {
            first = first < 0 ? i : first;
            last = i;
        }
    }
    *count = first < 0 ? 0 : last - first + 1;
    *exponent = first < 0 ? 0 : integer_digits - 1 - first + (*p == 'e' ? atoi(p + 1) : 0);
}

/* Whether some decimal of `precision` significant digits reads back as
 * v (finite, nonzero) through strtod. If one lies in v's rounding
 * interval, so does one of the correctly rounded decimal and its
 * neighbours one unit in the last place away: the interval holds v, and
 * on the way from v to that decimal it meets the grid point next to v. */
static int round_trips_with(double v, int precision)
{
    char text[48];
    snprintf(text, sizeof text, "%.*e", precision - 1, fabs(v));
    long long mantissa = 0;
    for (const char *p = text; *p != 'e'; p++)
        if (*p != '.')
            mantissa = mantissa * 10 + (*p - '0');
    int exp10 = atoi(strchr(text, 'e') + 1) - (precision - 1);
    for (long long m = mantissa - 1; m <= mantissa + 1; m++) {
        snprintf(text, sizeof text, "%llde%d", m, exp10);
        if (m > 0 && strtod(text, NULL) == fabs(v))
            return 1;
    }
    return 0;
}

static void check_one(double v)
{
    char text[40];
    int n = pf_format_double(v, text);
    if (!isfinite(v)) {
        CHECK(n == PF_ENONFINITE);
        return;
    }
    CHECK(n > 0 && n <= PF_DOUBLE_MAX_CHARS);
    text[n] = '\0';
    double back = strtod(text, NULL);
    CHECK(memcmp(&back, &v, sizeof v) == 0);
    int count, exponent;
    digits_of(text, &count, &exponent);
    if (v != 0) {
        /* shortest: a shorter decimal would also be one of count - 1 digits */
        CHECK(count <= 17 && (count == 1 || !round_trips_with(v, count - 1)));
        CHECK((strchr(text, 'e') != NULL) == (exponent < -4 || exponent >= 16));
    } else {
        CHECK(strcmp(text, signbit(v) ? "-0.0" : "0.0") == 0);
    }
    CHECK(strchr(text, 'e') != NULL || strchr(text, '.') != NULL);

    char put[PF_DOUBLE_MAX_CHARS + PF_SHORTEST_ROOM];
    CHECK(pf_put_double(put, v) - put == n && memcmp(put, text, (size_t)n) == 0);
    pf_shortest digits;
    pf_shortest_batch(&v, 1, &digits);
    CHECK(pf_put_shortest(put, &digits) - put == n && memcmp(put, text, (size_t)n) == 0);
}

/* The finite values through a Series and back through the entries
 * parser (the handles live across runs: their allocations would cost
 * more than the checks under ASan, and reuse is what callers do). */
static void check_series(const double *values, size_t n)
{
    static pf_series *series;
    static pf_buf *body;
    static pf_entries *e;
    if (series == NULL) {
        series = pf_series_new(PF_VALUE_FLOAT);
        body = pf_buf_new(0);
        e = pf_entries_new();
        CHECK(series && body && e);
    }
    int64_t ts[MAX_VALUES];
    for (size_t i = 0; i < n; i++)
        ts[i] = (int64_t)i - 2;
    pf_buf_reset(body);
    CHECK(pf_series_append_float(series, ts, values, n) == PF_OK);
    CHECK(pf_series_encode_entries(series, 0, n, 0, body) == PF_OK);
    CHECK(pf_series_drop_front(series, n) == PF_OK && pf_series_len(series) == 0);
    char *copy = fuzz_copy(pf_buf_data(body), pf_buf_len(body), 0);
    pf_span all = {0, pf_buf_len(body)};
    CHECK(pf_entries_parse(e, copy, pf_buf_len(body), all) == (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        CHECK(pf_entries_kinds(e)[i] == PF_VALUE_FLOAT && pf_entries_timestamps(e)[i] == ts[i]);
        CHECK(memcmp(&pf_entries_floats(e)[i], &values[i], sizeof values[i]) == 0);
    }
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    double finite[MAX_VALUES];
    size_t n = 0;
    for (size_t off = 0; off + sizeof(double) <= size && n < MAX_VALUES; off += sizeof(double)) {
        double v;
        memcpy(&v, data + off, sizeof v);
        check_one(v);
        if (isfinite(v))
            finite[n++] = v;
    }
    check_series(finite, n);
    return 0;
}
