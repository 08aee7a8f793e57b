/*
 * M2X value lists through the entries parser (pf_entries_parse_m2x) on
 * arbitrary bytes: no crash, no read past the text; the verdict and count
 * are pf_json_array_spans'; each entry's value is what strtoll, strtod and
 * the string decoder give for the last "value" member's text, its time is
 * set only from a "timestamp" string and lies in years 0001..9999, and a
 * canonical time (YYYY-MM-DDTHH:MM:SS.mmmZ) reads back as its own text;
 * normalize for a numeric and an alphanumeric stream leaves sorted,
 * unique, typed columns and lists the invalid entries by rising position.
 */
#include <errno.h>
#include <math.h>

#include "../fuzz.h"
#include "jscan_internal.h"

#define MIN_MS INT64_C(-62135596800000)
#define MAX_MS INT64_C(253402300799999)

/* The decoded text of the string literal at buf[span] (heap, NUL-terminated); *n its length. */
static char *decoded(const char *buf, pf_span span, size_t *n)
{
    char *text = fuzz_copy("", (size_t)span.len, 1);
    *n = pf_unescape((const uint8_t *)buf, span, text);
    text[*n] = 0;
    return text;
}

/* The last members named "timestamp" and "value" of the object at element (len 0: none). */
static void members(const char *buf, size_t size, pf_span element, pf_span *stamp, pf_span *value)
{
    int64_t count = pf_json_object_spans(buf, size, element, NULL, NULL, 0);
    CHECK(count >= 0);
    pf_span *keys = malloc(((size_t)count + 1) * sizeof *keys), *values = malloc(((size_t)count + 1) * sizeof *values);
    CHECK(keys != NULL && values != NULL);
    CHECK(pf_json_object_spans(buf, size, element, keys, values, (size_t)count) == count);
    stamp->len = value->len = 0;
    for (int64_t k = 0; k < count; k++) {
        size_t n;
        char *name = decoded(buf, keys[k], &n);
        if (n == 9 && memcmp(name, "timestamp", 9) == 0)
            *stamp = values[k];
        if (n == 5 && memcmp(name, "value", 5) == 0)
            *value = values[k];
        free(name);
    }
    free(keys);
    free(values);
}

/* YYYY-MM-DDTHH:MM:SS.mmmZ of ms (years 0001..9999). */
static void format_ms(int64_t ms, char out[25])
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000), rest = ms - days * 86400000;
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(out, 25, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m, (int)d, (int)(rest / 3600000),
             (int)(rest / 60000 % 60), (int)(rest / 1000 % 60), (int)(rest % 1000));
}

static void check_entry(const pf_entries *e, size_t i, const char *buf, size_t size, pf_span element)
{
    pf_span stamp = {0, 0}, value = {0, 0};
    if (buf[element.off] == '{')
        members(buf, size, element, &stamp, &value);
    int kind = pf_entries_kinds(e)[i];
    int64_t t = pf_entries_timestamps(e)[i];
    const uint64_t *ends = pf_entries_string_ends(e);
    uint64_t begin = i ? ends[i - 1] : 0, length = ends[i] - begin;
    int stamp_string = stamp.len > 0 && buf[stamp.off] == '"';
    if (!stamp_string)
        CHECK(t == 0 && kind == PF_ENTRY_INVALID);
    if (t != 0)
        CHECK(t >= MIN_MS && t <= MAX_MS);
    if (stamp_string && kind != PF_ENTRY_INVALID) {
        size_t n;
        char *text = decoded(buf, stamp, &n), again[25];
        format_ms(t, again);
        if (n == 24 && text[10] == 'T' && text[19] == '.' && text[23] == 'Z')
            CHECK(memcmp(again, text, 24) == 0);
        free(text);
    }
    if (kind == PF_VALUE_INT || kind == PF_VALUE_FLOAT) {
        char *text = fuzz_copy(buf + value.off, (size_t)value.len, 1);
        CHECK(value.len > 0 && (text[0] == '-' || (text[0] >= '0' && text[0] <= '9')));
        if (kind == PF_VALUE_INT) {
            errno = 0;
            CHECK(strtoll(text, NULL, 10) == pf_entries_ints(e)[i] && errno == 0 && !strpbrk(text, ".eE"));
        } else {
            double v = strtod(text, NULL);
            CHECK(memcmp(&pf_entries_floats(e)[i], &v, sizeof v) == 0);
        }
        free(text);
    }
    if (kind == PF_VALUE_STRING) {
        size_t n;
        CHECK(value.len > 0 && buf[value.off] == '"');
        char *text = decoded(buf, value, &n);
        CHECK(length == n && memcmp(pf_entries_string_data(e) + begin, text, n) == 0);
        free(text);
    } else {
        CHECK(length == 0);
    }
}

static void check_normalized(const pf_entries *e, int64_t valid, int64_t parsed, int kind)
{
    size_t n = pf_entries_len(e), ninv = pf_entries_invalid_len(e);
    CHECK(valid >= 0 && (size_t)valid == n && n + ninv <= (size_t)parsed);
    for (size_t i = 0; i < n; i++) {
        CHECK(pf_entries_kinds(e)[i] == kind);
        CHECK(i == 0 || pf_entries_timestamps(e)[i - 1] < pf_entries_timestamps(e)[i]);
        CHECK(kind != PF_VALUE_FLOAT || isfinite(pf_entries_floats(e)[i]));
    }
    for (size_t i = 0; i < ninv; i++)
        CHECK(pf_entries_invalid_positions(e)[i] < (uint64_t)parsed
              && (i == 0 || pf_entries_invalid_positions(e)[i - 1] < pf_entries_invalid_positions(e)[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    pf_span all = {0, size};
    static pf_entries *e;      /* reused across runs, as the server's worker threads do */
    if (e == NULL)
        CHECK((e = pf_entries_new()) != NULL);
    int64_t count = pf_json_array_spans(buf, size, all, NULL, 0);
    int64_t parsed = pf_entries_parse_m2x(e, buf, size, all);
    CHECK(parsed == count);
    if (parsed < 0) {
        CHECK(pf_entries_len(e) == 0);
        return 0;
    }
    pf_span *elements = malloc(((size_t)parsed + 1) * sizeof *elements);
    CHECK(elements != NULL);
    CHECK(pf_json_array_spans(buf, size, all, elements, (size_t)parsed) == parsed);
    for (size_t i = 0; i < (size_t)parsed; i++)
        check_entry(e, i, buf, size, elements[i]);
    free(elements);
    static const int KINDS[] = {PF_VALUE_FLOAT, PF_VALUE_STRING};
    for (size_t k = 0; k < 2; k++) {
        if (k > 0)
            CHECK(pf_entries_parse_m2x(e, buf, size, all) == parsed);
        check_normalized(e, pf_entries_normalize(e, KINDS[k], 0, 16), parsed, KINDS[k]);
    }
    return 0;
}
