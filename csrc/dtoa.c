/*
 * Shortest round-trip formatting of doubles, laid out exactly like Python's
 * repr(float).
 *
 * Digits: the Schubfach method (R. Giulietti, "The Schubfach way to render
 * doubles", 2020). For v = c 2^q, the decimals that read back as v are those
 * inside the rounding interval Rv = [v - half gap below, v + half gap
 * above] (closed when c is even: round-half-even then maps the bounds to v).
 * With k = floor(log10 of the interval width), Rv holds at least one
 * multiple of 10^k and at most one multiple of 10^(k+1). The method computes
 * 4 v 10^-k and the two bounds scaled alike, each rounded to odd from a
 * 126-bit approximation of 10^-k (dtoa_table.h), which keeps every
 * comparison with an integer exact. It then takes:
 *   - the multiple of 10^(k+1) in Rv if there is one (shorter; a still
 *     shorter decimal in Rv would also be that multiple: trailing zeros
 *     are stripped afterwards);
 *   - else the multiple of 10^k that is in Rv among floor(v 10^-k) and the
 *     next one, or the closer of the two if both are (ties: the even one).
 * That is the shortest decimal that reads back as v and, among those, the
 * closest to v with ties to even: the digits of Python's repr (David Gay's
 * shortest mode), which tests/test_core_jsonw.py checks differentially.
 *
 * Layout (Python's 'r' format): with E the decimal exponent of the first
 * digit, scientific notation when E < -4 or E >= 16 ("1e+16", "1.5e-05",
 * at least two exponent digits, no ".0"), else fixed notation with at least
 * one digit after the point ("100.0", "0.0001").
 */
#include <string.h>

#include "dtoa_table.h"
#include "jsonw.h"

#define MANTISSA_BITS 52
#define HIDDEN_BIT ((uint64_t)1 << MANTISSA_BITS)
#define Q_MIN (-1074)
#define MASK63 (((uint64_t)1 << 63) - 1)

const char pf_digit_pairs[200] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                 "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                 "8081828384858687888990919293949596979899";

static const uint64_t POW10[20] = {
    1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u, 1000000000u,
    10000000000u, 100000000000u, 1000000000000u, 10000000000000u, 100000000000000u,
    1000000000000000u, 10000000000000000u, 100000000000000000u, 1000000000000000000u,
    10000000000000000000u,
};

/* Logarithms in fixed point, exact over every exponent a double has (the
 * generator checks them): floor(q log10 2), floor(log10(3/4 2^q)),
 * floor(e log2 10). The shifts of negative values are arithmetic. */
static inline int floor_log10_pow2(int q) { return (int)(((int64_t)q * 661971961083) >> 41); }
static inline int floor_log10_three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083 - 274743187321) >> 41);
}
static inline int floor_log2_pow10(int e) { return (int)(((int64_t)e * 913124641741) >> 38); }

static inline uint64_t mul_high(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/* g cp / 2^127 rounded to odd, with g = g1 2^63 + g0 (two 63-bit halves). */
static inline uint64_t round_to_odd(uint64_t g1, uint64_t g0, uint64_t cp)
{
    unsigned __int128 y = (unsigned __int128)g1 * cp;
    uint64_t z = ((uint64_t)y >> 1) + mul_high(g0, cp);
    uint64_t floor = (uint64_t)(y >> 64) + (z >> 63);
    return floor | (((z & MASK63) + MASK63) >> 63);
}

/* Shortest decimal f 10^e in the rounding interval of c 2^q (c > 0). */
static void shortest_decimal(int q, uint64_t c, uint64_t *f_out, int *e_out)
{
    uint64_t open = c & 1;  /* odd c: the interval excludes its bounds */
    uint64_t cb = c << 2, cbr = cb + 2, cbl;
    int k;
    if (c != HIDDEN_BIT || q == Q_MIN) {
        cbl = cb - 2;
        k = floor_log10_pow2(q);
    } else {  /* a power of two: the gap below is half the gap above */
        cbl = cb - 1;
        k = floor_log10_three_quarters_pow2(q);
    }
    int h = q + floor_log2_pow10(-k) + 2;  /* 1..4: cb << h fits */
    const uint64_t *g = pf_pow10_g[-k - PF_POW10_E_MIN];
    uint64_t vb = round_to_odd(g[0], g[1], cb << h);
    uint64_t vbl = round_to_odd(g[0], g[1], cbl << h);
    uint64_t vbr = round_to_odd(g[0], g[1], cbr << h);

    uint64_t s = vb >> 2;  /* floor(v 10^-k) */
    if (s >= 10) {
        uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
        int upin = vbl + open <= sp10 << 2;
        int wpin = (tp10 << 2) + open <= vbr;
        if (upin != wpin) {
            *f_out = upin ? sp10 : tp10;
            *e_out = k;
            return;
        }
    }
    uint64_t t = s + 1;
    int uin = vbl + open <= s << 2;
    int win = (t << 2) + open <= vbr;
    if (uin != win) {
        *f_out = uin ? s : t;
    } else {
        int64_t cmp = (int64_t)(vb - ((s + t) << 1));
        *f_out = cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t;
    }
    *e_out = k;
}

static inline int decimal_length(uint64_t v)
{
    v |= 1;  /* 0 has one digit; no power of ten is odd */
    int bits = 64 - __builtin_clzll(v);
    int guess = (bits * 1233) >> 12;
    return guess - (v < POW10[guess]) + 1;
}

/* Writes the n decimal digits of v (v < 10^n) at p. */
static inline void put_digits(char *p, uint64_t v, int n)
{
    char *q = p + n;
    while (v >= 100) {
        uint64_t r = v % 100;
        v /= 100;
        q -= 2;
        memcpy(q, pf_digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        memcpy(q - 2, pf_digit_pairs + 2 * v, 2);
    } else {
        q[-1] = (char)('0' + v);
    }
}

char *pf_put_uint64(char *p, uint64_t v)
{
    int n = decimal_length(v);
    put_digits(p, v, n);
    return p + n;
}

char *pf_put_int64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return pf_put_uint64(p, (uint64_t)0 - (uint64_t)v);
    }
    return pf_put_uint64(p, (uint64_t)v);
}

/* f 10^e (f > 0) in Python's repr layout. */
static char *put_decimal(char *p, uint64_t f, int e)
{
    /* Strip trailing zeros: coarse steps first, most values have none. */
    if (f % 10 == 0) {
        while (f % 100000000 == 0) { f /= 100000000; e += 8; }
        if (f % 10000 == 0) { f /= 10000; e += 4; }
        if (f % 100 == 0) { f /= 100; e += 2; }
        if (f % 10 == 0) { f /= 10; e += 1; }
    }
    int n = decimal_length(f);
    int exp10 = e + n - 1;  /* exponent of the first digit */
    if (exp10 < -4 || exp10 >= 16) {
        /* d.ddde+XX: the digits go one place right, the first moves back */
        put_digits(p + 1, f, n);
        p[0] = p[1];
        if (n > 1) {
            p[1] = '.';
            p += n + 1;
        } else {
            p += 1;
        }
        *p++ = 'e';
        int x = exp10;
        if (x < 0) {
            *p++ = '-';
            x = -x;
        } else {
            *p++ = '+';
        }
        if (x >= 100) {
            *p++ = (char)('0' + x / 100);
            x %= 100;
        }
        memcpy(p, pf_digit_pairs + 2 * x, 2);
        return p + 2;
    }
    if (exp10 < 0) {  /* 0.000ddd */
        memcpy(p, "0.0000", 6);
        p += 1 - exp10;
        put_digits(p, f, n);
        return p + n;
    }
    if (n <= exp10 + 1) {  /* an integer: ddd000.0 */
        put_digits(p, f, n);
        p += n;
        memset(p, '0', (size_t)(exp10 + 1 - n));
        p += exp10 + 1 - n;
        memcpy(p, ".0", 2);
        return p + 2;
    }
    /* ddd.ddd: write at p + 1, move the integer part back over the gap */
    put_digits(p + 1, f, n);
    memmove(p, p + 1, (size_t)(exp10 + 1));
    p[exp10 + 1] = '.';
    return p + n + 1;
}

char *pf_put_double(char *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (bits >> 63) {
        *p++ = '-';
    }
    uint64_t t = bits & (HIDDEN_BIT - 1);
    int bq = (int)(bits >> MANTISSA_BITS) & 0x7ff;
    uint64_t f;
    int e;
    if (bq != 0) {
        uint64_t c = HIDDEN_BIT | t;
        int mq = 1075 - bq;  /* v = c 2^-mq */
        if (mq > 0 && mq <= MANTISSA_BITS) {
            /* An integer below 2^53 is its own shortest decimal: no other
             * decimal is within half a gap (<= 1/2) of it. */
            uint64_t integer = c >> mq;
            if (integer << mq == c) {
                return put_decimal(p, integer, 0);
            }
        }
        shortest_decimal(-mq, c, &f, &e);
    } else if (t != 0) {
        shortest_decimal(Q_MIN, t, &f, &e);
    } else {
        memcpy(p, "0.0", 3);
        return p + 3;
    }
    return put_decimal(p, f, e);
}

int pf_format_double(double v, char *out)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    if (((bits >> MANTISSA_BITS) & 0x7ff) == 0x7ff) {
        return PF_ENONFINITE;
    }
    return (int)(pf_put_double(out, v) - out);
}
