/*
 * Shortest round-trip formatting of doubles, laid out exactly like Python's
 * repr(float).
 *
 * Digits: most doubles go through Dragonbox (see dragonbox() below); the
 * powers of two, whose rounding interval is lopsided, and the subnormals go
 * through the Schubfach method (R. Giulietti, "The Schubfach way to render
 * doubles", 2020). Both give the same decimal (described here for
 * Schubfach). For v = c 2^q, the decimals that read back as v are those
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
 *
 * Speed: integers below 2^53 and decimals of at most 15 significant digits
 * (sensor readings) skip both through exact checks (short_decimal);
 * loops over many values format in two passes, the digits of a batch
 * (pf_shortest_batch) and then their text (pf_put_shortest), so that the
 * CPU overlaps consecutive values; digits are written two per table
 * lookup, eight per 32-bit chunk.
 */
#include <float.h>
#include <string.h>

#include "dtoa_table.h"
#include "jsonw.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#if FLT_EVAL_METHOD != 0
#error "short_decimal relies on doubles evaluated in double precision (SSE2, not x87)"
#endif

#define MANTISSA_BITS 52
#define HIDDEN_BIT ((uint64_t)1 << MANTISSA_BITS)
#define Q_MIN (-1074)
#define MASK63 (((uint64_t)1 << 63) - 1)
/* The hot loops must inline their helpers: a call per value costs more
 * than some of the helpers themselves. */
#define INLINE static inline __attribute__((always_inline))

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
 * generator in build.py checks them): floor(q log10 2), floor(log10(3/4 2^q)),
 * floor(e log2 10). The shifts of negative values are arithmetic. */
static inline int floor_log10_pow2(int q) { return (int)(((int64_t)q * 661971961083) >> 41); }
static inline int floor_log10_three_quarters_pow2(int q)
{
    return (int)(((int64_t)q * 661971961083 - 274743187321) >> 41);
}
static inline int floor_log2_pow10(int e) { return (int)(((int64_t)e * 913124641741) >> 38); }

INLINE uint64_t mul_high(uint64_t a, uint64_t b)
{
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
}

/* g cp / 2^127 rounded to odd, with g = g1 2^63 + g0 (two 63-bit halves). */
INLINE uint64_t round_to_odd(uint64_t g1, uint64_t g0, uint64_t cp)
{
    unsigned __int128 y = (unsigned __int128)g1 * cp;
    uint64_t z = ((uint64_t)y >> 1) + mul_high(g0, cp);
    uint64_t floor = (uint64_t)(y >> 64) + (z >> 63);
    return floor | (((z & MASK63) + MASK63) >> 63);
}

/* Shortest decimal f 10^e in the rounding interval of c 2^q (c > 0); f
 * may end in zeros. */
INLINE void shortest_decimal(int q, uint64_t c, uint64_t *f_out, int *e_out)
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
    *e_out = k;
    if (s >= 10) {
        uint64_t sp10 = s / 10 * 10, tp10 = sp10 + 10;
        int upin = vbl + open <= sp10 << 2;
        int wpin = (tp10 << 2) + open <= vbr;
        if (upin != wpin) {
            *f_out = upin ? sp10 : tp10;
            return;
        }
    }
    uint64_t t = s + 1;
    int uin = vbl + open <= s << 2;
    int win = (t << 2) + open <= vbr;
    if (uin != win) {
        *f_out = uin ? s : t;
        return;
    }
    int64_t cmp = (int64_t)(vb - ((s + t) << 1));
    *f_out = cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t;
}

/* floor(y) mod 2 and whether y is an integer, for y = x 2^(beta - 128)
 * cache (Dragonbox's compute_mul_parity: the low 128 bits of the product
 * hold the point at bit 128 - beta). */
INLINE void parity_of_scaled(uint64_t x, const uint64_t *cache, int beta, int *parity, int *integer)
{
    unsigned __int128 low_product = (unsigned __int128)x * cache[1];
    uint64_t high = x * cache[0] + (uint64_t)(low_product >> 64), low = (uint64_t)low_product;
    *parity = (int)(high >> (64 - beta)) & 1;
    *integer = ((high << beta) | (low >> (64 - beta))) == 0;
}

/* Shortest decimal f 10^e in the symmetric rounding interval of fc 2^e2
 * (a normal double that is not a power of two, or the smallest normal
 * power): Dragonbox (J. Jeon, "Dragonbox: A New Floating-Point
 * Binary-to-Decimal Conversion Algorithm", 2020), round to nearest, ties to
 * even. One 192-bit product gives the interval's upper end z and its width
 * delta scaled by 10^k so that 100 <= delta < 1000; a multiple of 1000 in
 * the interval (r = z mod 1000 within delta) is the shorter answer, else
 * the multiple of 100 nearest to v is, found from z - delta / 2 and settled
 * by the exact parity of v 10^k when that estimate sits on a boundary. The
 * same decimal as Schubfach, with a third of the multiplications. */
INLINE void dragonbox(int e2, uint64_t fc, uint64_t *f_out, int *e_out)
{
    uint64_t two_fc = fc << 1;
    int closed = (fc & 1) == 0;  /* even: both ends read back as v */
    int minus_k = floor_log10_pow2(e2) - 2;
    const uint64_t *cache = pf_pow10_cache[-minus_k - PF_CACHE_K_MIN];
    int beta = e2 + floor_log2_pow10(-minus_k);  /* 1..4 */
    uint32_t delta = (uint32_t)(cache[0] >> (63 - beta));
    uint64_t u = (two_fc | 1) << beta;
    unsigned __int128 z = (unsigned __int128)u * cache[0] + mul_high(u, cache[1]);
    uint64_t zi = (uint64_t)(z >> 64);
    int z_integer = (uint64_t)z == 0;

    uint64_t f = zi / 1000;
    uint32_t r = (uint32_t)(zi - 1000 * f);
    int shorter;
    if (r < delta) {
        shorter = !(r == 0 && z_integer && !closed);  /* z itself is out */
        if (!shorter) {
            f -= 1;
            r = 1000;
        }
    } else if (r > delta) {
        shorter = 0;
    } else {  /* r == delta: is the lower end x at most 1000 f? */
        int x_parity, x_integer;
        parity_of_scaled(two_fc - 1, cache, beta, &x_parity, &x_integer);
        shorter = x_parity | (x_integer & closed);
    }
    if (shorter) {
        *f_out = f;
        *e_out = minus_k + 3;
        return;
    }
    uint32_t dist = r - delta / 2 + 50;  /* r >= delta here: no wrap */
    int approx_y_parity = ((dist ^ 50) & 1) != 0;
    int on_boundary = dist % 100 == 0;
    f = f * 10 + dist / 100;
    if (on_boundary) {
        int y_parity, y_integer;
        parity_of_scaled(two_fc, cache, beta, &y_parity, &y_integer);
        if (y_parity != approx_y_parity) {
            f -= 1;
        } else if ((f & 1) && y_integer) {  /* a tie: to even */
            f -= 1;
        }
    }
    *f_out = f;
    *e_out = minus_k + 2;
}

INLINE int decimal_length(uint64_t v)
{
    v |= 1;  /* 0 has one digit; no power of ten is odd */
    int bits = 64 - __builtin_clzll(v);
    int guess = (bits * 1233) >> 12;
    return guess - (v < POW10[guess]) + 1;
}

/* Powers of ten that doubles hold exactly. */
static const double EXACT_POW10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Fast path for the doubles whose shortest decimal has at most 15
 * significant digits (what sensors and people write). For a = |v| in
 * [1e-7, 1e15), d is chosen so that a 10^d < 10^15; m = round(a 10^d) is
 * then the only candidate at that scale, and m / 10^d == a checks it
 * exactly (m and 10^d are exact doubles and IEEE division rounds
 * correctly), so m 10^-d reads back as a. Distinct decimals of at most 15
 * significant digits are distinct doubles (DBL_DIG), so no shorter decimal
 * reads back as a: m (trailing zeros aside) is the shortest. Returns 0 when
 * the check fails: the value needs 16 or 17 digits (or d was one too
 * small), which the general path settles. */
INLINE int short_decimal(double a, int binary_exponent, uint64_t *f_out, int *e_out)
{
    if (!(a >= 1e-7 && a < 1e15)) {
        return 0;
    }
    int upper = floor_log10_pow2(binary_exponent + 1);  /* a < 10^(upper + 1) */
    if (upper >= 0 && a < EXACT_POW10[upper]) {
        upper -= 1;
    }
    int d = 14 - upper;  /* 0..21 */
    double m = (double)(int64_t)(a * EXACT_POW10[d] + 0.5);
    if (m / EXACT_POW10[d] != a) {
        return 0;
    }
    *f_out = (uint64_t)m;
    *e_out = -d;
    return 1;
}

/* n / 10^k if 10^k divides n (then also *divides = 1), else n: n times
 * the inverse of 5^k modulo 2^64 is n / 5^k when 5^k divides n and large
 * otherwise, and rotating right by k divides by 2^k when that is exact
 * and makes the result large otherwise (Granlund and Montgomery). */
#define STRIP_STEP(n, e, k, inverse, limit)                                      \
    do {                                                                         \
        uint64_t product = (n) * (uint64_t)(inverse);                            \
        uint64_t rotated = (product >> (k)) | (product << (64 - (k)));           \
        int divides = rotated <= (uint64_t)(limit);                              \
        (n) = divides ? rotated : (n);                                           \
        (e) += divides ? (k) : 0;                                                \
    } while (0)

/* Removes the trailing zeros of 0 < *f < 10^16 without branches (the fast
 * path's digits have many, in varying number). */
INLINE void strip_zeros(uint64_t *f, int *e)
{
    uint64_t n = *f;
    int k = *e;
    STRIP_STEP(n, k, 8, 0xc767074b22e90e21u, 184467440737u);
    STRIP_STEP(n, k, 4, 0xd288ce703afb7e91u, 1844674407370955u);
    STRIP_STEP(n, k, 2, 0x8f5c28f5c28f5c29u, 184467440737095516u);
    STRIP_STEP(n, k, 1, 0xcccccccccccccccdu, 1844674407370955161u);
    *f = n;
    *e = k;
}

/* Pass one: the digits of repr(v) for a finite v. try_short: whether to
 * try short_decimal first (it only saves time; Dragonbox finds the same
 * digits). */
INLINE pf_shortest shortest(double v, int try_short)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    pf_shortest out = {0, 0, 1, (uint8_t)(bits >> 63)};
    uint64_t t = bits & (HIDDEN_BIT - 1);
    int bq = (int)(bits >> MANTISSA_BITS) & 0x7ff;
    uint64_t f;
    int e;
    /* log10_low = floor(log10 2^b) for 2^b <= |v| < 2^(b + 1): then
     * 10^log10_low <= |v| < 2 10^(log10_low + 1), and so is the shortest
     * decimal (it is 10^log10_low if that is in v's rounding interval):
     * its length follows from one comparison, known early. */
    int log10_low;
    if (bq != 0) {
        log10_low = floor_log10_pow2(bq - 1023);
        uint64_t c = HIDDEN_BIT | t;
        int mq = 1075 - bq;  /* |v| = c 2^-mq */
        if (mq > 0 && mq <= MANTISSA_BITS && (c >> mq) << mq == c) {
            /* An integer below 2^53 is its own shortest decimal: no other
             * decimal is within half a gap (<= 1/2) of it. */
            f = c >> mq;
            e = 0;
        } else if (try_short && short_decimal(v < 0 ? -v : v, bq - 1023, &f, &e)) {
            strip_zeros(&f, &e);  /* f < 10^15: at most 14 zeros, 8+4+2 */
        } else if (t != 0 || bq == 1) {
            dragonbox(-mq, c, &f, &e);
        } else {  /* a power of two: the gap below is half the gap above */
            shortest_decimal(-mq, c, &f, &e);
        }
    } else if (t != 0) {
        log10_low = floor_log10_pow2(63 - __builtin_clzll(t) + Q_MIN);
        shortest_decimal(Q_MIN, t, &f, &e);
    } else {
        return out;  /* 0.0 */
    }
    /* Strip trailing zeros: coarse steps first; most values have none. */
    if (f % 10 == 0) {
        while (f % 100000000 == 0) {
            f /= 100000000;
            e += 8;
        }
        if (f % 10000 == 0) {
            f /= 10000;
            e += 4;
        }
        if (f % 100 == 0) {
            f /= 100;
            e += 2;
        }
        if (f % 10 == 0) {
            f /= 10;
            e += 1;
        }
    }
    int length = log10_low - e + 1;  /* 0..17: f has this many digits or one more */
    int longer = f >= POW10[length];
    out.digits = f;
    out.length = (uint8_t)(length + longer);
    out.exp10 = (int16_t)(log10_low + longer);
    return out;
}

/* Values in a series tend to be alike: when the first of a batch needs
 * 16 or 17 digits, the others skip short_decimal, whose check would likely
 * fail after a costly division. */
void pf_shortest_batch(const double *values, size_t n, pf_shortest *out)
{
    if (n == 0) {
        return;
    }
    out[0] = shortest(values[0], 1);
    if (out[0].length <= 15) {
        for (size_t i = 1; i < n; i++) {
            out[i] = shortest(values[i], 1);
        }
    } else {
        for (size_t i = 1; i < n; i++) {
            out[i] = shortest(values[i], 0);
        }
    }
}

/* The 8 digits of x < 10^8, zero-padded, as ASCII in memory order (the
 * first digit in the lowest byte), without a division or table: x splits
 * into two 4-digit lanes of a 64-bit word, each lane into two 2-digit
 * halves (q = lane * 10486 >> 20 is lane / 100 below 43699), each half
 * into two digits (half * 103 >> 10 is half / 10 below 179); the lanes
 * never carry into one another. */
INLINE uint64_t ascii_8_digits(uint32_t x)
{
    uint32_t high = x / 10000;
    uint64_t v = high | (uint64_t)(x - high * 10000) << 32;
    uint64_t q = (v * 10486 >> 20) & 0x0000007f0000007fu;
    v = q | (v - q * 100) << 16;
    q = (v * 103 >> 10) & 0x000f000f000f000fu;
    v = q | (v - q * 10) << 8;
    return v | 0x3030303030303030u;
}

/* The 16 digits of two numbers below 10^8 (high's first), as ASCII in
 * memory order, in one SSE2 register: the same splits as ascii_8_digits,
 * on four 4-digit lanes at once (x * 5243 >> 19 is x / 100 below 43699,
 * x * 6554 >> 16 is x / 10 below 16389). */
INLINE unsigned __int128 ascii_16_digits(uint32_t high, uint32_t low)
{
#ifndef __SSE2__
    return ascii_8_digits(high) | (unsigned __int128)ascii_8_digits(low) << 64;
#else
    __m128i x = _mm_set_epi64x(low, high);
    __m128i q = _mm_srli_epi64(_mm_mul_epu32(x, _mm_set1_epi64x(3518437209)), 45);  /* x / 10000 */
    __m128i r = _mm_sub_epi32(x, _mm_mul_epu32(q, _mm_set1_epi64x(10000)));
    __m128i v = _mm_or_si128(q, _mm_slli_epi64(r, 32));  /* 32-bit lanes < 10^4 */
    q = _mm_srli_epi16(_mm_mulhi_epu16(v, _mm_set1_epi16(5243)), 3);
    r = _mm_sub_epi16(v, _mm_mullo_epi16(q, _mm_set1_epi16(100)));
    v = _mm_or_si128(q, _mm_slli_epi32(r, 16));  /* 16-bit lanes < 100 */
    q = _mm_mulhi_epu16(v, _mm_set1_epi16(6554));
    r = _mm_sub_epi16(v, _mm_mullo_epi16(q, _mm_set1_epi16(10)));
    v = _mm_or_si128(_mm_or_si128(q, _mm_slli_epi16(r, 8)), _mm_set1_epi8('0'));
    uint64_t first = (uint64_t)_mm_cvtsi128_si64(v), second = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v));
    return first | (unsigned __int128)second << 64;
#endif
}

INLINE void store_16(char *p, unsigned __int128 text) { memcpy(p, &text, 16); }

char *pf_put_uint64(char *p, uint64_t v)
{
    int n = decimal_length(v);
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

/* Pass two: the text, in Python's repr layout. The digits of f < 10^17
 * are made in registers, the first digit and the next ones in a 128-bit
 * word padded with '0's (n > 8: f scaled to 17 digits by a power of
 * ten). They are written with fixed-size stores, one before the point and
 * one after it, and the end is then set from the length n; stores reach
 * up to PF_SHORTEST_ROOM bytes past p. */
INLINE char *put_shortest(char *p, const pf_shortest *d)
{
    *p = '-';
    p += d->negative;
    uint64_t f = d->digits;
    int n = d->length, exp10 = d->exp10;
    if (f == 0) {
        memcpy(p, "0.0", 3);
        return p + 3;
    }
    unsigned __int128 word;  /* the digits after the first, then '0's */
    char first_char;
    if (n <= 8) {  /* short decimals: one 8-digit block */
        uint64_t digits = ascii_8_digits((uint32_t)f) >> 8 * (8 - n);
        int point = exp10 + 1;
        if (point > 0 && point < n) {  /* sensor readings: ddd.ddd in 64 bits */
            memcpy(p, &digits, 8);
            p[point] = '.';
            digits >>= 8 * point;
            memcpy(p + point + 1, &digits, 8);
            return p + n + 1;
        }
        const unsigned __int128 zeros = (unsigned __int128)0x3030303030303030u << 64 | 0x3030303030303030u;
        first_char = (char)digits;
        word = digits >> 8 | zeros << 8 * (n - 1);
    } else {
        uint64_t scaled = f * POW10[17 - n];
        uint64_t upper = scaled / 100000000;  /* < 10^9 */
        uint32_t first = (uint32_t)(upper / 100000000);
        uint32_t middle = (uint32_t)(upper - (uint64_t)first * 100000000);
        uint32_t low = (uint32_t)(scaled - upper * 100000000);
        word = ascii_16_digits(middle, low);
        first_char = (char)('0' + first);
    }
    *p = first_char;
    store_16(p + 1, word);
    if (exp10 < -4 || exp10 >= 16) {  /* d.ddde+XX: the point after one digit */
        store_16(p + 2, word);
        p[1] = '.';
        p += n + (n > 1);
        int x = exp10;
        memcpy(p, x < 0 ? "e-" : "e+", 2);
        p += 2;
        if (x < 0) {
            x = -x;
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
        *p = first_char;
        store_16(p + 1, word);
        return p + n;
    }
    int point = exp10 + 1;  /* digits before the point: 1..16 */
    if (n <= point) {  /* an integer: ddd000.0, the '0's are there */
        memcpy(p + point, ".0", 2);
        return p + point + 2;
    }
    p[point] = '.';  /* ddd.ddd */
    store_16(p + point + 1, word >> 8 * (point - 1));
    return p + n + 1;
}

char *pf_put_shortest(char *p, const pf_shortest *d) { return put_shortest(p, d); }

char *pf_put_double(char *p, double v)
{
    char text[PF_SHORTEST_ROOM];
    pf_shortest d = shortest(v, 1);
    size_t len = (size_t)(put_shortest(text, &d) - text);
    memcpy(p, text, len);
    return p + len;
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
