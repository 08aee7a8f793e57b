/*
 * Deferred JSON-RPC calls. Each call is stored once, already encoded, as
 *   ,"procedure":"P","arguments":ARGS}
 * in one arena; a request body is the auth, then per call {"id": + its id +
 * that text, so assembling a body copies bytes and writes ids, nothing
 * more. Mirrored by pyonep_fast/_core/batch.py.
 */
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

#define LIT(s) s, (sizeof s - 1)

static const char PROCEDURE[] = ",\"procedure\":";
static const char ARGUMENTS[] = ",\"arguments\":";
static const char HEAD[] = "{\"auth\":";
static const char CALLS[] = ",\"calls\":[";
static const char CALL_ID[] = "{\"id\":";
static const char TAIL[] = "]}";

struct pf_batch {
    char *arena;            /* call k: arena[ends[k-1] .. ends[k]), ends[-1] = 0 */
    size_t arena_len, arena_cap;
    uint64_t *ends;
    size_t count, cap;
};

pf_batch *pf_batch_new(void)
{
    return calloc(1, sizeof(pf_batch));
}

void pf_batch_free(pf_batch *b)
{
    if (b == NULL)
        return;
    free(b->arena);
    free(b->ends);
    free(b);
}

void pf_batch_clear(pf_batch *b)
{
    if (b != NULL)
        b->count = b->arena_len = 0;
}

size_t pf_batch_count(const pf_batch *b)
{
    return b == NULL ? 0 : b->count;
}

/* Room for one more call of `extra` bytes. */
static int reserve(pf_batch *b, size_t extra)
{
    int rc = pf_reserve((void **)&b->arena, &b->arena_cap, b->arena_len, extra, 4096, 1);
    if (rc == PF_OK)
        rc = pf_reserve((void **)&b->ends, &b->cap, b->count, 1, 64, sizeof *b->ends);
    return rc;
}

int64_t pf_batch_add(pf_batch *b, const char *procedure, size_t procedure_len,
                     const char *arguments_json, size_t arguments_len)
{
    if (b == NULL || (procedure == NULL && procedure_len > 0) || arguments_json == NULL || arguments_len == 0)
        return PF_EARG;
    int64_t literal = pf_utf8_json_length(procedure, procedure_len);
    if (literal < 0)
        return literal;
    size_t fixed = sizeof PROCEDURE - 1 + sizeof ARGUMENTS - 1 + 1;
    if ((uint64_t)literal > SIZE_MAX - fixed || arguments_len > SIZE_MAX - fixed - (size_t)literal)
        return PF_ETOOBIG;
    size_t size = fixed + (size_t)literal + arguments_len;
    int rc = reserve(b, size);
    if (rc != PF_OK)
        return rc;
    char *p = b->arena + b->arena_len;
    memcpy(p, LIT(PROCEDURE));
    p = pf_put_string(p + sizeof PROCEDURE - 1, procedure, procedure_len);
    memcpy(p, LIT(ARGUMENTS));
    p += sizeof ARGUMENTS - 1;
    memcpy(p, arguments_json, arguments_len);
    p[arguments_len] = '}';
    b->arena_len += size;
    b->ends[b->count] = b->arena_len;
    return (int64_t)b->count++;
}

static size_t int64_chars(int64_t v)
{
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = v < 0 ? 2 : 1;
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

int64_t pf_batch_encode(const pf_batch *b, size_t first, const char *auth_json, size_t auth_len,
                        int64_t first_id, size_t max_calls, size_t max_bytes, pf_buf *out)
{
    if (b == NULL || out == NULL || auth_json == NULL || auth_len == 0 || max_calls == 0)
        return PF_EARG;
    pf_buf_reset(out);
    if (first >= b->count)
        return 0;
    size_t fixed = sizeof HEAD - 1 + sizeof CALLS - 1 + sizeof TAIL - 1;
    if (auth_len > SIZE_MAX / 2 - fixed)
        return PF_ETOOBIG;
    /* Pass 1: how many calls fit, and the exact size of the body. */
    size_t total = fixed + auth_len, n = 0;
    for (size_t k = first; k < b->count && n < max_calls; k++, n++) {
        int64_t id;
        if (__builtin_add_overflow(first_id, (int64_t)k, &id))
            return PF_ERANGE;
        size_t chunk = (size_t)(b->ends[k] - (k ? b->ends[k - 1] : 0));
        size_t size = (n > 0) + sizeof CALL_ID - 1 + int64_chars(id) + chunk;
        if (size > SIZE_MAX / 2 - total)
            return PF_ETOOBIG;
        if (n > 0 && total + size > max_bytes)
            break;
        total += size;
    }
    /* Pass 2: write it with one reservation (plus the integer writer's slack). */
    int rc = pf_buf_reserve(out, total + PF_INT64_MAX_CHARS);
    if (rc != PF_OK)
        return rc;
    char *p = out->data + out->len;
    memcpy(p, LIT(HEAD));
    p += sizeof HEAD - 1;
    memcpy(p, auth_json, auth_len);
    p += auth_len;
    memcpy(p, LIT(CALLS));
    p += sizeof CALLS - 1;
    for (size_t k = first; k < first + n; k++) {
        size_t start = (size_t)(k ? b->ends[k - 1] : 0), chunk = (size_t)b->ends[k] - start;
        if (k > first)
            *p++ = ',';
        memcpy(p, LIT(CALL_ID));
        p = pf_put_int64(p + sizeof CALL_ID - 1, first_id + (int64_t)k);
        memcpy(p, b->arena + start, chunk);
        p += chunk;
    }
    memcpy(p, LIT(TAIL));
    p += sizeof TAIL - 1;
    out->len = (size_t)(p - out->data);
    return (int64_t)n;
}
