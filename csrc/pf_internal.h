/*
 * Small helpers shared by every C file of the core (not part of the cdef):
 * array growth with one overflow policy, SWAR byte classifiers, and the
 * UTF-8 sequence validator. Each exists here once; the tokenizer's and the
 * writer's own internals are in jscan_internal.h and jsonw.h.
 */
#ifndef PF_INTERNAL_H
#define PF_INTERNAL_H
#include <stdlib.h>

#include "pyonep_fast.h"

/* ---------- growth ---------- */

/* The one overflow policy: no array grows past PF_ALLOC_MAX bytes; a
 * request beyond it is PF_ETOOBIG, before anything is allocated. Half the
 * address space keeps every size computation below SIZE_MAX, and the
 * lengths that writers add up from several arrays. */
#define PF_ALLOC_MAX (SIZE_MAX / 2)

/* The capacity, in items of `size` bytes, for at least `need` items: the
 * current capacity (at least `minimum`) doubled until it holds them, or
 * exactly `need` where doubling would pass PF_ALLOC_MAX; 0 if `need` items
 * exceed PF_ALLOC_MAX. */
static inline size_t pf_grown_capacity(size_t cap, size_t need, size_t minimum, size_t size)
{
    size_t limit = PF_ALLOC_MAX / size;
    if (need > limit)
        return 0;
    size_t next = cap < minimum ? minimum : cap;
    while (next < need)
        next = next > limit / 2 ? need : next * 2;
    return next;
}

/* Reallocates *array to `count` items of `size` bytes (count * size within
 * PF_ALLOC_MAX, from pf_grown_capacity); PF_ENOMEM leaves it unchanged. */
static inline int pf_resize(void **array, size_t count, size_t size)
{
    void *resized = realloc(*array, count * size);
    if (resized == NULL)
        return PF_ENOMEM;
    *array = resized;
    return PF_OK;
}

static __attribute__((noinline, cold)) int pf_reserve_slow(void **array, size_t *cap, size_t len, size_t extra,
                                                           size_t minimum, size_t size)
{
    size_t next = extra > PF_ALLOC_MAX - len ? 0 : pf_grown_capacity(*cap, len + extra, minimum, size);
    if (next == 0)
        return PF_ETOOBIG;
    int rc = pf_resize(array, next, size);
    if (rc == PF_OK)
        *cap = next;
    return rc;
}

/* Room for `extra` more items after the first `len` of *array, whose
 * capacity is *cap items of `size` bytes: PF_OK, PF_ETOOBIG, or PF_ENOMEM
 * (the array unchanged). The check that there is room is inlined; growing
 * is not (it is rare, and would bloat hot loops). */
static inline int pf_reserve(void **array, size_t *cap, size_t len, size_t extra, size_t minimum, size_t size)
{
    return extra <= *cap - len ? PF_OK : pf_reserve_slow(array, cap, len, extra, minimum, size);
}

/* ---------- SWAR: eight bytes at a time in a uint64_t ---------- */

#define PF_SWAR_ONES UINT64_C(0x0101010101010101)
#define PF_SWAR_HIGHS UINT64_C(0x8080808080808080)

/* Byte tests: masked with PF_SWAR_HIGHS, nonzero iff some byte of w
 * qualifies. The lowest qualifying byte's high bit is always set; a
 * borrow may also set the high bit of a byte above it, so only the lowest
 * flag is exact. Unmasked, so that several tests share one mask. */
#define PF_SWAR_BELOW(w, n) (((w) - PF_SWAR_ONES * (n)) & ~(w))      /* a byte < n, for n <= 0x80 */
#define PF_SWAR_ZERO(w) PF_SWAR_BELOW(w, 1)                          /* a zero byte */

/* A byte that a JSON string literal cannot hold as is, or that ends it, or
 * that starts a multi-byte sequence: < 0x20, '"', '\\', or >= 0x80. */
static inline uint64_t pf_swar_string_special(uint64_t w)
{
    uint64_t quote = w ^ (PF_SWAR_ONES * '"'), backslash = w ^ (PF_SWAR_ONES * '\\');
    return (PF_SWAR_BELOW(w, 0x20) | PF_SWAR_ZERO(quote) | PF_SWAR_ZERO(backslash) | w) & PF_SWAR_HIGHS;
}

/* Whether all eight bytes are ASCII digits: each byte's high nibble is 3,
 * and adding 6 keeps it 3 (so the low nibble is at most 9). */
static inline int pf_swar_all_digits(uint64_t w)
{
    uint64_t high = UINT64_C(0xF0F0F0F0F0F0F0F0);
    return ((w & high) | (((w + PF_SWAR_ONES * 6) & high) >> 4)) == PF_SWAR_ONES * 0x33;
}

/* ---------- UTF-8 ---------- */

/* The UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing
 * past U+10FFFF) whose lead byte s[p] is >= 0x80, checked byte by byte:
 * its length (2 to 4), PF_ETRUNCATED if s ends at `end` inside a sequence
 * that is valid so far, else PF_ESYNTAX. */
static inline int pf_utf8_sequence(const uint8_t *s, size_t p, size_t end)
{
    uint8_t lead = s[p], lo = 0x80, hi = 0xBF;
    int length;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0)
            lo = 0xA0;      /* overlong */
        if (lead == 0xED)
            hi = 0x9F;      /* surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0)
            lo = 0x90;      /* overlong */
        if (lead == 0xF4)
            hi = 0x8F;      /* past U+10FFFF */
    } else {
        return PF_ESYNTAX;  /* a continuation byte, 0xC0/0xC1, or 0xF5..0xFF */
    }
    for (int i = 1; i < length; i++) {
        if (p + (size_t)i >= end)
            return PF_ETRUNCATED;
        uint8_t c = s[p + (size_t)i];
        if (c < lo || c > hi)
            return PF_ESYNTAX;
        lo = 0x80;
        hi = 0xBF;
    }
    return length;
}

#endif
