/*
 * Response demultiplexing: one pass over a JSON-RPC response body that
 * validates it (jscan.c's rules) and maps each entry to the call that sent
 * its id, in O(n) whatever the order. Mirrored by pyonep_fast/_core/demux.py.
 */
#include <string.h>

#include "jscan_internal.h"

enum { MEMBER_OTHER, MEMBER_ID, MEMBER_STATUS, MEMBER_RESULT, MEMBER_ERROR };

typedef struct {
    pf_span id, status, result, error;      /* len 0: absent */
} members;

/* Which of the members we look for the key literal names, escapes decoded. */
static int member_name(const uint8_t *s, pf_span key, int escaped)
{
    char decoded[8];
    const char *name;
    switch (pf_key_text(s, key, escaped, decoded, sizeof decoded, &name)) {
    case 2: return memcmp(name, "id", 2) == 0 ? MEMBER_ID : MEMBER_OTHER;
    case 5: return memcmp(name, "error", 5) == 0 ? MEMBER_ERROR : MEMBER_OTHER;
    case 6:
        if (memcmp(name, "status", 6) == 0)
            return MEMBER_STATUS;
        return memcmp(name, "result", 6) == 0 ? MEMBER_RESULT : MEMBER_OTHER;
    default: return MEMBER_OTHER;
    }
}

/* Walks the object at s[*pos] == '{' inside `depth` open containers,
 * validating it and noting the spans of the members we look for. */
static int walk_object(const uint8_t *s, size_t end, size_t *pos, int depth, members *m)
{
    size_t p = *pos + 1;
    int more, rc;
    if (depth >= PF_MAX_DEPTH)
        return PF_EDEPTH;
    for (more = pf_first_item(s, end, &p, '}'); more == 1; more = pf_next_item(s, end, &p, '}')) {
        pf_span key, value;
        int escaped;
        if ((rc = pf_scan_key(s, end, &p, &key, &escaped)) != PF_OK)
            return rc;
        value.off = p;
        if ((rc = pf_scan_value(s, end, &p, depth + 1)) != PF_OK)
            return rc;
        value.len = p - value.off;
        switch (member_name(s, key, escaped)) {
        case MEMBER_ID: m->id = value; break;
        case MEMBER_STATUS: m->status = value; break;
        case MEMBER_RESULT: m->result = value; break;
        case MEMBER_ERROR: m->error = value; break;
        default: break;
        }
    }
    if (more < 0)
        return more;
    *pos = p;
    return PF_OK;
}

/* The call id an entry's "id" value names, if it is one we can read. */
static int read_id(const uint8_t *s, pf_span id, int64_t *out)
{
    uint8_t c = s[id.off];
    if (c == '"')
        return pf_string_int64(s, id, out);
    if (c == '-' || pf_is_digit(c)) {
        size_t p = id.off;
        pf_number_info info;
        if (pf_scan_number(s, id.off + id.len, &p, &info) != PF_OK || !info.integer)
            return 0;
        return pf_integer_int64(&info, out);
    }
    return 0;
}

static int is_ok(const uint8_t *s, pf_span status)
{
    char decoded[2];
    if (s[status.off] != '"')
        return 0;
    return pf_decode_bounded(s, status, decoded, sizeof decoded) == 2 && decoded[0] == 'o'
           && decoded[1] == 'k';
}

static void assign(const uint8_t *s, const members *m, int64_t position, int64_t first_id,
                   size_t ncalls, pf_slot *slots, pf_demux_info *info)
{
    int64_t id;
    if (m->id.len == 0) {
        info->without_id++;
        return;
    }
    if (!read_id(s, m->id, &id) || id < first_id || (uint64_t)id - (uint64_t)first_id >= ncalls) {
        info->unknown_ids++;
        return;
    }
    pf_slot *slot = &slots[(uint64_t)id - (uint64_t)first_id];
    if (slot->state != PF_SLOT_MISSING) {
        if (slot->duplicates < INT32_MAX)
            slot->duplicates++;
        info->duplicate_ids++;
        return;
    }
    slot->position = position;
    slot->status = m->status;
    slot->result = m->result;
    slot->error = m->error;
    if (m->status.len)
        slot->state = is_ok(s, m->status) ? PF_SLOT_OK : PF_SLOT_FAILED;
    else
        slot->state = m->error.len ? PF_SLOT_ERROR : PF_SLOT_BARE;
}

static int walk_array(const uint8_t *s, size_t end, size_t *pos, int64_t first_id, size_t ncalls,
                      pf_slot *slots, pf_demux_info *info)
{
    size_t p = *pos + 1;
    int more, rc;
    int64_t position = 0;
    for (more = pf_first_item(s, end, &p, ']'); more == 1; more = pf_next_item(s, end, &p, ']'), position++) {
        if (s[p] == '{') {
            members m = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
            if ((rc = walk_object(s, end, &p, 1, &m)) != PF_OK)
                return rc;
            assign(s, &m, position, first_id, ncalls, slots, info);
        } else {
            if ((rc = pf_scan_value(s, end, &p, 1)) != PF_OK)
                return rc;
            info->without_id++;
        }
        info->entries++;
    }
    if (more < 0)
        return more;
    *pos = p;
    return PF_OK;
}

int pf_demux(const char *body, size_t len, int64_t first_id, size_t ncalls,
             pf_slot *slots, pf_demux_info *info)
{
    const uint8_t *s = (const uint8_t *)body;
    size_t p;
    int rc;
    if (info == NULL || (ncalls > 0 && slots == NULL))
        return PF_EARG;
    memset(info, 0, sizeof *info);
    if (ncalls > 0)
        memset(slots, 0, ncalls * sizeof *slots);   /* the caller allocated ncalls slots */
    p = pf_skip_ws(s, len, 0);
    if (p >= len)
        return PF_ETRUNCATED;
    if (s[p] == '[') {
        info->kind = PF_RESPONSE_ARRAY;
        rc = walk_array(s, len, &p, first_id, ncalls, slots, info);
    } else if (s[p] == '{') {
        members m = {{0, 0}, {0, 0}, {0, 0}, {0, 0}};
        rc = walk_object(s, len, &p, 0, &m);
        info->kind = m.error.len ? PF_RESPONSE_ERROR : PF_RESPONSE_OTHER;
        info->error = m.error;
    } else {
        info->kind = PF_RESPONSE_OTHER;
        rc = pf_scan_value(s, len, &p, 0);
    }
    if (rc != PF_OK)
        return rc;
    if (pf_skip_ws(s, len, p) != len)
        return PF_ESYNTAX;
    for (size_t k = 0; k < ncalls; k++)
        info->missing += slots[k].state == PF_SLOT_MISSING;
    return PF_OK;
}
