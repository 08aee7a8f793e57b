/*
 * The JSON writer (csrc/jsonw.c, and the batch encoder on top of it) on
 * arbitrary bytes: a string is refused exactly when a plain UTF-8 decoder
 * written here refuses it; otherwise its literal is byte for byte the one
 * built here from the header's escaping rules, a valid JSON value that
 * jscan's decoder reads back as the input; an int64 reads back through
 * strtoll; a batch body around the string is one valid JSON value.
 */
#include <errno.h>

#include "../fuzz.h"
#include "jscan_internal.h"
#include "jsonw.h"

/* RFC 3629 by decoding code points: no overlong forms, surrogates, code
 * points past U+10FFFF or truncated sequences. */
static int utf8_valid(const uint8_t *s, size_t n)
{
    static const uint32_t SMALLEST[4] = {0, 0x80, 0x800, 0x10000};
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp;
        size_t extra;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            extra = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= extra)
            return 0;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < SMALLEST[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += extra + 1;
    }
    return 1;
}

/* The literal the header specifies for valid UTF-8 s[0..n); its length. */
static size_t expected_literal(const uint8_t *s, size_t n, char *out)
{
    size_t k = 0;
    out[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        const char *shorthand = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                                : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (shorthand) {
            memcpy(out + k, shorthand, 2);
            k += 2;
        } else if (c < 0x20) {
            k += (size_t)sprintf(out + k, "\\u%04x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    out[k++] = '"';
    return k;
}

/* Handles reused across runs, as callers do (and fresh ones per run would
 * cost more than the checks under ASan). */
static pf_buf *b;
static pf_batch *batch;

static void check_string(const uint8_t *data, size_t size)
{
    pf_buf_reset(b);
    int rc = pf_buf_write_string(b, (const char *)data, size);
    int64_t length = pf_utf8_json_length((const char *)data, size);
    if (!utf8_valid(data, size)) {
        CHECK(rc == PF_EUTF8 && length == PF_EUTF8 && pf_buf_len(b) == 0);
        return;
    }
    CHECK(rc == PF_OK && length >= 0 && pf_buf_len(b) == (size_t)length);
    char *expected = malloc(6 * size + 2);
    CHECK(expected != NULL);
    CHECK(expected_literal(data, size, expected) == pf_buf_len(b));
    CHECK(memcmp(expected, pf_buf_data(b), pf_buf_len(b)) == 0);
    free(expected);

    pf_span literal = {0, pf_buf_len(b)};
    CHECK(fuzz_is_one_value(pf_buf_data(b), literal));
    char *decoded = malloc(pf_buf_len(b));
    CHECK(decoded != NULL);
    CHECK(pf_unescape((const uint8_t *)pf_buf_data(b), literal, decoded) == size);
    CHECK(size == 0 || memcmp(decoded, data, size) == 0);
    free(decoded);
}

static void check_int64(const uint8_t *data, size_t size)
{
    int64_t v;
    if (size < sizeof v)
        return;
    memcpy(&v, data, sizeof v);
    pf_buf_reset(b);
    CHECK(pf_buf_write_int64(b, v) == PF_OK);
    pf_span text = {0, pf_buf_len(b)};
    CHECK(fuzz_is_one_value(pf_buf_data(b), text));
    char *copy = fuzz_copy(pf_buf_data(b), pf_buf_len(b), 1);
    errno = 0;
    CHECK(strtoll(copy, NULL, 10) == v && errno == 0);
    free(copy);
}

static void check_batch(const uint8_t *data, size_t size)
{
    static const char AUTH[] = "{\"cik\":\"x\"}", ARGUMENTS[] = "[1,{\"a\":[]}]";
    pf_batch_clear(batch);
    int64_t rc = pf_batch_add(batch, (const char *)data, size, ARGUMENTS, sizeof ARGUMENTS - 1);
    CHECK(rc == (utf8_valid(data, size) ? 0 : PF_EUTF8));
    CHECK(pf_batch_add(batch, "read", 4, ARGUMENTS, sizeof ARGUMENTS - 1) == (rc == 0 ? 1 : 0));
    int64_t ncalls = (int64_t)pf_batch_count(batch);
    CHECK(pf_batch_encode(batch, 0, AUTH, sizeof AUTH - 1, INT64_MAX - 1, 8, 1 << 20, b) == ncalls);
    pf_span value;
    CHECK(fuzz_whole_value(pf_buf_data(b), pf_buf_len(b), &value) == PF_OK);
    CHECK(pf_batch_encode(batch, 0, AUTH, sizeof AUTH - 1, INT64_MAX, 8, 1 << 20, b) == (ncalls > 1 ? PF_ERANGE : 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (b == NULL)
        CHECK((b = pf_buf_new(0)) != NULL && (batch = pf_batch_new()) != NULL);
    check_string(data, size);
    check_int64(data, size);
    check_batch(data, size);
    return 0;
}
