/*
 * The server's ingest parser (csrc/entries.c) on arbitrary bytes: no
 * crash, no read past the text; the verdict and count are
 * pf_json_array_spans'; each entry's columns are what strtoll, strtod and
 * the string decoder give for its own text (floats bit for bit); normalize
 * for each port kind leaves sorted, unique, typed columns.
 */
#include <errno.h>
#include <math.h>

#include "../fuzz.h"
#include "jscan_internal.h"
#include "jsonw.h"

#define MAX_STRING_BYTES 8

static const struct {
    int kind;
    int64_t now;
} PORTS[] = {{PF_VALUE_INT, 1400000000}, {PF_VALUE_FLOAT, INT64_MIN + 1000}, {PF_VALUE_STRING, 0}};

static int is_number(char c)
{
    return c == '-' || (c >= '0' && c <= '9');
}

/* The number at buf[span] as strtoll reads it: 1 if it is an integer
 * literal within int64. */
static int read_int64(const char *buf, pf_span span, int64_t *out)
{
    char *text = fuzz_copy(buf + span.off, (size_t)span.len, 1);
    int integer = strpbrk(text, ".eE") == NULL;
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    integer = integer && errno == 0;
    free(text);
    *out = integer ? v : 0;
    return integer;
}

static double read_double(const char *buf, pf_span span)
{
    char *text = fuzz_copy(buf + span.off, (size_t)span.len, 1);
    double v = strtod(text, NULL);
    free(text);
    return v;
}

/* Entry i of e against element `element` of buf. */
static void check_entry(const pf_entries *e, size_t i, const char *buf, size_t size, pf_span element)
{
    pf_span items[3];
    int64_t count = buf[element.off] == '[' ? pf_json_array_spans(buf, size, element, items, 3) : 0;
    CHECK(count >= 0);
    int64_t t = 0, ivalue;
    int has_time = count >= 1 && is_number(buf[items[0].off]) && read_int64(buf, items[0], &t);
    int kind = PF_ENTRY_INVALID;
    const uint64_t *ends = pf_entries_string_ends(e);
    uint64_t begin = i ? ends[i - 1] : 0, length = ends[i] - begin;
    if (has_time && count == 2 && is_number(buf[items[1].off])) {
        if (read_int64(buf, items[1], &ivalue)) {
            kind = PF_VALUE_INT;
            CHECK(pf_entries_ints(e)[i] == ivalue);
        } else {
            double v = read_double(buf, items[1]);
            kind = isinf(v) ? PF_ENTRY_INVALID : PF_VALUE_FLOAT;
            if (kind == PF_VALUE_FLOAT)
                CHECK(memcmp(&pf_entries_floats(e)[i], &v, sizeof v) == 0);
        }
    } else if (has_time && count == 2 && buf[items[1].off] == '"') {
        kind = PF_VALUE_STRING;
        char *decoded = malloc((size_t)items[1].len);
        CHECK(decoded != NULL);
        size_t n = pf_unescape((const uint8_t *)buf, items[1], decoded);
        CHECK(length == n && memcmp(pf_entries_string_data(e) + begin, decoded, n) == 0);
        free(decoded);
    }
    CHECK(pf_entries_kinds(e)[i] == kind);
    CHECK(pf_entries_timestamps(e)[i] == t);
    if (kind != PF_VALUE_INT)
        CHECK(pf_entries_ints(e)[i] == 0);
    if (kind != PF_VALUE_FLOAT) {
        double zero = 0.0;
        CHECK(memcmp(&pf_entries_floats(e)[i], &zero, sizeof zero) == 0);
    }
    if (kind != PF_VALUE_STRING)
        CHECK(length == 0);
}

static void check_normalized(const pf_entries *e, int64_t valid, int64_t parsed, int port)
{
    size_t n = pf_entries_len(e);
    CHECK(valid >= 0 && (size_t)valid == n);
    CHECK(pf_entries_invalid_len(e) + n <= (size_t)parsed);
    const int64_t *ts = pf_entries_timestamps(e);
    const uint64_t *ends = pf_entries_string_ends(e);
    for (size_t i = 0; i < n; i++) {
        CHECK(pf_entries_kinds(e)[i] == port);
        CHECK(i == 0 || ts[i - 1] < ts[i]);
        CHECK(port != PF_VALUE_FLOAT || isfinite(pf_entries_floats(e)[i]));
        uint64_t begin = i ? ends[i - 1] : 0;
        CHECK(ends[i] >= begin && (port == PF_VALUE_STRING || ends[i] == begin));
        if (port == PF_VALUE_STRING)
            CHECK(pf_utf8_json_length(pf_entries_string_data(e) + begin, (size_t)(ends[i] - begin)) >= 0);
    }
    for (size_t i = 0; i < pf_entries_invalid_len(e); i++)
        CHECK(pf_entries_invalid_has_time(e)[i] <= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    pf_span all = {0, size};
    int64_t count = pf_json_array_spans(buf, size, all, NULL, 0);
    static pf_entries *e;      /* reused across runs, as the server does */
    if (e == NULL)
        CHECK((e = pf_entries_new()) != NULL);
    int64_t parsed = pf_entries_parse(e, buf, size, all);
    CHECK(parsed == count);
    if (parsed < 0) {
        CHECK(pf_entries_len(e) == 0);
    } else {
        CHECK(pf_entries_len(e) == (size_t)parsed);
        pf_span *elements = malloc(((size_t)parsed + 1) * sizeof *elements);
        CHECK(elements != NULL);
        CHECK(pf_json_array_spans(buf, size, all, elements, (size_t)parsed) == parsed);
        for (size_t i = 0; i < (size_t)parsed; i++)
            check_entry(e, i, buf, size, elements[i]);
        free(elements);
        for (size_t p = 0; p < sizeof PORTS / sizeof PORTS[0]; p++) {
            if (p > 0)
                CHECK(pf_entries_parse(e, buf, size, all) == parsed);
            int64_t valid = pf_entries_normalize(e, PORTS[p].kind, PORTS[p].now, MAX_STRING_BYTES);
            check_normalized(e, valid, parsed, PORTS[p].kind);
            CHECK(pf_entries_normalize(e, PORTS[p].kind, PORTS[p].now, MAX_STRING_BYTES) == PF_EARG);
        }
    }
    return 0;
}
