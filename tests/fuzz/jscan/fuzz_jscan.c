/*
 * The span scanner (csrc/jscan.c) on arbitrary bytes: no crash, no read
 * past the text; pf_json_array_spans and pf_json_object_spans agree with
 * pf_json_value_span on the error (the value's own, then PF_ESYNTAX for
 * text after it, then PF_ETYPE) and give element spans that are each one
 * value, in order, inside the container.
 */
#include "../fuzz.h"

static int is_error(int64_t rc)
{
    return rc == PF_ESYNTAX || rc == PF_ETRUNCATED || rc == PF_EDEPTH;
}

/* What the container functions must give for text whose whole-value
 * verdict is `whole`, for a container opening with `open`. */
static int64_t expected_error(const char *buf, int whole, pf_span value, char open)
{
    if (whole != PF_OK)
        return whole;
    return buf[value.off] == open ? 0 : PF_ETYPE;
}

static void check_in_order(const pf_span *spans, int64_t n, pf_span inside)
{
    uint64_t previous_end = inside.off + 1;    /* past the opening bracket */
    for (int64_t i = 0; i < n; i++) {
        CHECK(spans[i].off >= previous_end && spans[i].len > 0);
        CHECK(spans[i].off + spans[i].len < inside.off + inside.len);   /* before the closing one */
        previous_end = spans[i].off + spans[i].len;
    }
}

static void check_array(const char *buf, size_t size, int whole, pf_span value)
{
    pf_span all = {0, size};
    int64_t n = pf_json_array_spans(buf, size, all, NULL, 0);
    int64_t expected = expected_error(buf, whole, value, '[');
    if (expected < 0) {
        CHECK(n == expected);
        return;
    }
    CHECK(n >= 0);
    pf_span *items = malloc(((size_t)n + 1) * sizeof *items);
    CHECK(items != NULL);
    CHECK(pf_json_array_spans(buf, size, all, items, (size_t)n) == n);
    check_in_order(items, n, value);
    for (int64_t i = 0; i < n; i++)
        CHECK(fuzz_is_one_value(buf, items[i]));
    free(items);
}

static void check_object(const char *buf, size_t size, int whole, pf_span value)
{
    pf_span all = {0, size};
    int64_t n = pf_json_object_spans(buf, size, all, NULL, NULL, 0);
    int64_t expected = expected_error(buf, whole, value, '{');
    if (expected < 0) {
        CHECK(n == expected);
        return;
    }
    CHECK(n >= 0);
    pf_span *keys = malloc(((size_t)n + 1) * sizeof *keys), *values = malloc(((size_t)n + 1) * sizeof *values);
    CHECK(keys != NULL && values != NULL);
    CHECK(pf_json_object_spans(buf, size, all, keys, values, (size_t)n) == n);
    for (int64_t i = 0; i < n; i++) {
        CHECK(buf[keys[i].off] == '"' && fuzz_is_one_value(buf, keys[i]));
        CHECK(values[i].off > keys[i].off + keys[i].len && fuzz_is_one_value(buf, values[i]));
        CHECK(i == 0 || keys[i].off > values[i - 1].off + values[i - 1].len);
    }
    free(keys);
    free(values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    pf_span value = {0, 0};
    int rc = pf_json_value_span(buf, size, 0, &value);
    CHECK(rc == PF_OK || is_error(rc));
    if (rc == PF_OK) {
        CHECK(value.len > 0 && fuzz_span_inside(value, size) && fuzz_is_one_value(buf, value));
        /* the same value found from any offset in the blanks before it */
        pf_span again;
        CHECK(pf_json_value_span(buf, size, (size_t)value.off, &again) == PF_OK);
        CHECK(again.off == value.off && again.len == value.len);
    }
    CHECK(pf_json_value_span(buf, size, size + 1, &value) == PF_ERANGE);
    int whole = fuzz_whole_value(buf, size, &value);
    check_array(buf, size, whole, value);
    check_object(buf, size, whole, value);
    pf_span outside = {size, 1};
    CHECK(pf_json_array_spans(buf, size, outside, NULL, 0) == PF_ERANGE);
    return 0;
}
