/*
 * Response demultiplexing (csrc/demux.c) on arbitrary bytes, for call ids
 * around zero and at both ends of int64: no crash, no read past the body;
 * the verdict is jscan's for one whole value; every slot's spans lie in
 * the body and are values of the right shape; the counters add up.
 */
#include "../fuzz.h"

static const struct {
    int64_t first_id;
    size_t ncalls;
} CALLS[] = {{0, 0}, {0, 8}, {-3, 64}, {INT64_MAX - 3, 8}, {INT64_MIN, 4}};

static void check_span(const char *body, pf_span span, size_t len)
{
    if (span.len > 0)
        CHECK(fuzz_span_inside(span, len) && fuzz_is_one_value(body, span));
}

static void check_demux(const char *body, size_t len, int whole, pf_span value, int64_t first_id, size_t ncalls)
{
    pf_slot *slots = ncalls ? malloc(ncalls * sizeof *slots) : NULL;
    pf_demux_info info;
    int rc = pf_demux(body, len, first_id, ncalls, slots, &info);
    CHECK(rc == whole);
    if (rc == PF_OK) {
        char first = body[value.off];
        CHECK(info.kind == (first == '[' ? PF_RESPONSE_ARRAY
                            : first == '{' && info.error.len > 0 ? PF_RESPONSE_ERROR : PF_RESPONSE_OTHER));
        check_span(body, info.error, len);
        uint64_t found = 0, duplicates = 0;
        for (size_t k = 0; k < ncalls; k++) {
            const pf_slot *slot = &slots[k];
            CHECK(slot->state >= PF_SLOT_MISSING && slot->state <= PF_SLOT_BARE);
            if (slot->state == PF_SLOT_MISSING) {
                CHECK(slot->duplicates == 0 && slot->status.len == 0 && slot->result.len == 0);
                continue;
            }
            found++;
            duplicates += (uint64_t)slot->duplicates;
            CHECK(slot->position >= 0 && (uint64_t)slot->position < info.entries);
            CHECK((slot->status.len > 0) == (slot->state == PF_SLOT_OK || slot->state == PF_SLOT_FAILED));
            CHECK(slot->state != PF_SLOT_ERROR || slot->error.len > 0);
            CHECK(slot->state != PF_SLOT_BARE || slot->error.len == 0);
            check_span(body, slot->status, len);
            check_span(body, slot->result, len);
            check_span(body, slot->error, len);
            if (slot->state == PF_SLOT_OK)
                CHECK(body[slot->status.off] == '"');
        }
        CHECK(info.missing == ncalls - found && info.duplicate_ids == duplicates);
        CHECK(info.entries == found + duplicates + info.unknown_ids + info.without_id);
        CHECK(info.kind == PF_RESPONSE_ARRAY || info.entries == 0);
    }
    free(slots);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    pf_span value = {0, 0};
    int whole = fuzz_whole_value(body, size, &value);
    for (size_t c = 0; c < sizeof CALLS / sizeof CALLS[0]; c++)
        check_demux(body, size, whole, value, CALLS[c].first_id, CALLS[c].ncalls);
    CHECK(pf_demux(body, size, 0, 1, NULL, NULL) == PF_EARG);
    return 0;
}
