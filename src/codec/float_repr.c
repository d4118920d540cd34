/* Shortest round-trip formatting of doubles, Python-repr style.
 *
 * Fast path: exact integer arithmetic in 128 bits. A double v = m * 2^e reads
 * back from any decimal strictly inside (or, for even m, on the edge of) its
 * rounding interval. Scaling v and both interval ends by a power of ten that
 * makes the interval at least one unit wide turns the search for the
 * shortest decimal into integer work: strip decimal digits while some
 * multiple of 10^j still lies in the interval, then take the multiple nearest
 * to v. The scaled values stay below 2^58 and the intermediate products
 * below 2^128 for binary exponents in [-88, 90] (about 1.5e-11 to 1.2e43),
 * which is where real data lives; everything else takes the slow path.
 * Before it, values with at most 4 decimals and under 2^40 (prices, counts)
 * take an even shorter exact route, shortest_short(). */
#include "float_repr.h"
#include "digits.h"

#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

#define FAST_E_MIN (-88)
#define FAST_E_MAX 90

static const uint64_t POW10[20] = {1ull,
                                   10ull,
                                   100ull,
                                   1000ull,
                                   10000ull,
                                   100000ull,
                                   1000000ull,
                                   10000000ull,
                                   100000000ull,
                                   1000000000ull,
                                   10000000000ull,
                                   100000000000ull,
                                   1000000000000ull,
                                   10000000000000ull,
                                   100000000000000ull,
                                   1000000000000000ull,
                                   10000000000000000ull,
                                   100000000000000000ull,
                                   1000000000000000000ull,
                                   10000000000000000000ull};

/* 5^0 .. 5^27, the largest power of five below 2^64. */
static const uint64_t POW5[28] = {1ull,
                                  5ull,
                                  25ull,
                                  125ull,
                                  625ull,
                                  3125ull,
                                  15625ull,
                                  78125ull,
                                  390625ull,
                                  1953125ull,
                                  9765625ull,
                                  48828125ull,
                                  244140625ull,
                                  1220703125ull,
                                  6103515625ull,
                                  30517578125ull,
                                  152587890625ull,
                                  762939453125ull,
                                  3814697265625ull,
                                  19073486328125ull,
                                  95367431640625ull,
                                  476837158203125ull,
                                  2384185791015625ull,
                                  11920928955078125ull,
                                  59604644775390625ull,
                                  298023223876953125ull,
                                  1490116119384765625ull,
                                  7450580596923828125ull};

static uint64_t bits_of(double v) {
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* floor(x * log10(2)) for 0 <= x <= 1650. */
static int floor_log10_pow2(int x) {
    return (int)(((uint32_t)x * 78913u) >> 18);
}

/* A scaled value split into its integer part and how its fraction compares
 * with one half (-1 below, 0 exactly half, 1 above) plus whether it is zero. */
typedef struct {
    uint64_t ip;
    bool frac_zero;
    int frac_vs_half;
} scaled;

static scaled split_shift(u128 n, int sh) {
    u128 mask = ((u128)1 << sh) - 1, rem = n & mask, half = (u128)1 << (sh - 1);
    scaled s = {(uint64_t)(n >> sh), rem == 0, rem < half ? -1 : rem > half ? 1 : 0};
    return s;
}

static scaled split_div(u128 n, uint64_t d) {
    u128 q = n / d, rem = n - q * d, twice = rem * 2;
    scaled s = {(uint64_t)q, rem == 0, twice < d ? -1 : twice > d ? 1 : 0};
    return s;
}

/* x / 10^j with a constant divisor per case (a multiplication, not a
 * 40-cycle division). */
static uint64_t div_pow10(uint64_t x, int j) {
    switch (j) {
    case 0:
        return x;
    case 1:
        return x / 10ull;
    case 2:
        return x / 100ull;
    case 3:
        return x / 1000ull;
    case 4:
        return x / 10000ull;
    case 5:
        return x / 100000ull;
    case 6:
        return x / 1000000ull;
    case 7:
        return x / 10000000ull;
    case 8:
        return x / 100000000ull;
    case 9:
        return x / 1000000000ull;
    case 10:
        return x / 10000000000ull;
    case 11:
        return x / 100000000000ull;
    case 12:
        return x / 1000000000000ull;
    case 13:
        return x / 10000000000000ull;
    case 14:
        return x / 100000000000000ull;
    case 15:
        return x / 1000000000000000ull;
    case 16:
        return x / 10000000000000000ull;
    case 17:
        return x / 100000000000000000ull;
    case 18:
        return x / 1000000000000000000ull;
    default:
        return x / 10000000000000000000ull;
    }
}

/* Values with few decimals (prices, measurements, small integers) are the
 * common case and have a shorter route. If r = round(a * 10^k) < 2^40 and
 * r / 10^k == a (both exact doubles, so the correctly rounded division is
 * exactly what strtod makes of the decimal r * 10^-k), then r * 10^-k reads
 * back as a. At this size a's rounding interval is under 2^-12 units of
 * 10^-k wide, so it holds no other multiple of 10^-k, hence no other
 * decimal of as many or fewer digits: r, without trailing zeros, is the
 * shortest form, and the only one. The same bound (errors under 2^-12)
 * makes the rounding of a * 10^k find r whenever it exists. */
static bool shortest_short(double a, uint64_t *digits, int *dexp) {
    static const double P10[5] = {1.0, 10.0, 100.0, 1000.0, 10000.0};
    for (int k = 0; k < 5; k++) {
        double x = a * P10[k];
        if (x >= 1099511627776.0) return false; /* 2^40 */
        uint64_t r = (uint64_t)(x + 0.5);
        if (r && (double)r / P10[k] == a) {
            int e = -k;
            while (r % 10 == 0) { /* only when k == 0 */
                r /= 10;
                e++;
            }
            *digits = r;
            *dexp = e;
            return true;
        }
    }
    return false;
}

/* Shortest digits of a positive normal double with binary exponent in the
 * fast range: v ~ *digits * 10^*dexp. Returns false outside that range. */
static bool shortest_fast(uint64_t bits, uint64_t *digits, int *dexp) {
    int be = (int)((bits >> 52) & 0x7ff);
    uint64_t frac = bits & ((1ull << 52) - 1);
    if (be == 0) return false;
    int e = be - 1075;
    if (e < FAST_E_MIN || e > FAST_E_MAX) return false;
    uint64_t m = frac | (1ull << 52);
    bool edges_in = (m & 1) == 0; /* strtod breaks ties to even */
    /* v, and the interval ends, in units of 2^(e-2); the interval below a
     * power of two is half as wide since the next double down is closer. */
    uint64_t mv = 4 * m, mh = 4 * m + 2, ml = (frac == 0 && be > 1) ? 4 * m - 1 : 4 * m - 2;
    scaled sv, sl, sh;
    int k; /* scale by 10^k */
    if (e <= 1) {
        k = e == 1 ? 0 : floor_log10_pow2(1 - e) + 1;
        int shift = 2 - e - k; /* >= 1 */
        u128 p5 = POW5[k];
        sv = split_shift((u128)mv * p5, shift);
        sl = split_shift((u128)ml * p5, shift);
        sh = split_shift((u128)mh * p5, shift);
    } else {
        int j = floor_log10_pow2(e - 1);
        k = -j;
        int up = e - 2 - j; /* 0..62 */
        uint64_t p5 = POW5[j];
        sv = split_div((u128)mv << up, p5);
        sl = split_div((u128)ml << up, p5);
        sh = split_div((u128)mh << up, p5);
    }
    uint64_t lo = edges_in ? sl.ip + !sl.frac_zero : sl.ip + 1;
    uint64_t hi = edges_in ? sh.ip : sh.ip - sh.frac_zero;
    /* Largest j with a multiple of 10^j in [lo, hi]. Having one for j + s
     * implies having one for j, so strip greedily in steps of 8, 4, 2, 1
     * digits (constant divisors, i.e. multiplications). */
    int j = 0;
#define VX_STRIP(step, pow)                                                                \
    while ((lo + (pow - 1)) / pow <= hi / pow) {                                           \
        lo = (lo + (pow - 1)) / pow;                                                       \
        hi /= pow;                                                                         \
        j += step;                                                                         \
    }
    VX_STRIP(8, 100000000ull)
    VX_STRIP(4, 10000ull)
    VX_STRIP(2, 100ull)
    VX_STRIP(1, 10ull)
#undef VX_STRIP
    uint64_t p = POW10[j], q = div_pow10(sv.ip, j), r = sv.ip - q * p;
    bool round_up;
    if (j == 0) {
        round_up = sv.frac_vs_half > 0 || (sv.frac_vs_half == 0 && (q & 1));
    } else {
        uint64_t half = p / 2;
        if (r != half)
            round_up = r > half;
        else
            round_up = !sv.frac_zero || (q & 1);
    }
    uint64_t d = q + round_up;
    if (d < lo) d = lo;
    if (d > hi) d = hi;
    *digits = d;
    *dexp = j - k;
    return true;
}

/* Eight digits of v < 10^8 at o, as two independent halves (shorter
 * dependency chains than peeling one pair at a time). */
static inline void put8(char *o, uint32_t v) {
    uint32_t a = v / 10000, b = v % 10000;
    put2(o, a / 100);
    put2(o + 2, a % 100);
    put2(o + 4, b / 100);
    put2(o + 6, b % 100);
}

/* Digits are laid out in a DIGITS_BUF-byte buffer ending at DIGITS_END, so
 * that layout() may copy fixed VX_FIXED-byte blocks from any digit onward. */
#define DIGITS_END 24
#define DIGITS_BUF 48
#define VX_FIXED   24

/* Decimal digits of 0 < d < 10^18 ending at buf + DIGITS_END; returns n. */
static int u64_digits(uint64_t d, char *buf) {
    uint64_t hi = d / 100000000;
    put8(buf + 16, (uint32_t)(d - hi * 100000000));
    put8(buf + 8, (uint32_t)(hi % 100000000));
    put2(buf + 6, (uint32_t)(hi / 100000000));
    int n = 1;
    while (n < 18 && d >= POW10[n]) n++;
    return n;
}

/* Lay out the n digits ending at d + n (with DIGITS_BUF - DIGITS_END bytes
 * readable after them, no trailing zeros) with decimal exponent x, i.e. the
 * value d0.d1d2... * 10^x, the way Python's repr does. Writes up to
 * VX_FLOAT_REPR_MAX bytes; returns the length. */
static size_t layout(bool neg, const char *d, int n, int x, char *out) {
    char *o = out;
    *o = '-';
    o += neg;
    if (x >= -4 && x < 16) {
        if (x >= 0) {
            memcpy(o, d, VX_FIXED);
            if (n <= x + 1) { /* integral: pad with zeros, add ".0" */
                memcpy(o + n, "0000000000000000", 16);
                o += x + 1;
                memcpy(o, ".0", 2);
                o += 2;
            } else {
                o += x + 1;
                *o++ = '.';
                memcpy(o, d + x + 1, VX_FIXED);
                o += n - x - 1;
            }
        } else {
            memcpy(o, "0.0000", 6);
            o += 1 - x;
            memcpy(o, d, VX_FIXED);
            o += n;
        }
    } else {
        o[0] = d[0];
        o[1] = '.';
        memcpy(o + 2, d + 1, VX_FIXED);
        o += n > 1 ? n + 1 : 1;
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100) {
            *o++ = (char)('0' + ax / 100);
            ax %= 100;
        }
        put2(o, (uint32_t)ax);
        o += 2;
    }
    return (size_t)(o - out);
}

static size_t repr_zero(bool neg, char *out) {
    if (neg) {
        memcpy(out, "-0.0", 4);
        return 4;
    }
    memcpy(out, "0.0", 3);
    return 3;
}

size_t vx_float_repr_fast(double v, char *out) {
    uint64_t bits = bits_of(v);
    bool neg = bits >> 63;
    if ((bits << 1) == 0) return repr_zero(neg, out);
    uint64_t dig;
    int dexp;
    if (!shortest_short(neg ? -v : v, &dig, &dexp) &&
        !shortest_fast(bits & ~(1ull << 63), &dig, &dexp))
        return 0;
    char d[DIGITS_BUF];
    int n = u64_digits(dig, d);
    return layout(neg, d + DIGITS_END - n, n, dexp + n - 1, out);
}

size_t vx_float_repr(double v, char *out) {
    size_t n = vx_float_repr_fast(v, out);
    return n ? n : vx_float_repr_slow(v, out);
}

/* ---- slow path ------------------------------------------------------- */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void c_locale_init(void) {
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Parse printf's "%.*e" output into digits and exponent. Any non-digit
 * between the first digit and 'e' is taken as the decimal point, so this
 * works even if the "C" locale could not be created. Returns n digits. */
static int parse_e(const char *s, bool *neg, char *d, int *x) {
    int n = 0;
    *neg = *s == '-';
    if (*neg) s++;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9') d[n++] = *s;
    *x = (int)strtol(s + 1, NULL, 10);
    return n;
}

/* Candidate with the last of the n digits increased by one. */
static void next_up(const char *d, int n, int x, bool neg, char *buf, size_t size) {
    char u[24];
    memcpy(u, d, (size_t)n);
    int i = n - 1;
    while (i >= 0 && u[i] == '9') u[i--] = '0';
    if (i < 0) { /* 9.99 -> 10.0 */
        u[0] = '1';
        x++;
    } else {
        u[i]++;
    }
    snprintf(buf, size, "%s%c.%.*se%d", neg ? "-" : "", u[0], n - 1, u + 1, x);
}

size_t vx_float_repr_slow(double v, char *out) {
    uint64_t bits = bits_of(v);
    bool neg = bits >> 63;
    if ((bits << 1) == 0) return repr_zero(neg, out);
    pthread_once(&c_locale_once, c_locale_init);
    locale_t old = c_locale ? uselocale(c_locale) : (locale_t)0;
    /* Only a power of two has a lopsided interval, where the nearest
     * n-digit decimal may miss but the next one up still reads back. */
    bool pow2 = (bits & ((1ull << 52) - 1)) == 0 && ((bits >> 52) & 0x7ff) > 1;
    /* A normal double has 53 bits, so no two 15-digit decimals read back as
     * the same one (DBL_DIG): if one does, it is the only decimal of 15 or
     * fewer digits that does, and stripping its zeros gives the shortest.
     * Subnormals have fewer bits and must try every length. */
    int first = ((bits >> 52) & 0x7ff) ? 14 : 0;
    char buf[48], d[24];
    int n = 0, x = 0;
    for (int prec = first; prec <= 16; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec, v);
        if (strtod(buf, NULL) == v) break;
        if (pow2) {
            char up[48];
            n = parse_e(buf, &neg, d, &x);
            next_up(d, n, x, neg, up, sizeof up);
            if (strtod(up, NULL) == v) {
                memcpy(buf, up, sizeof buf);
                break;
            }
        }
    }
    if (old) uselocale(old);
    n = parse_e(buf, &neg, d, &x);
    while (n > 1 && d[n - 1] == '0') n--;
    char laid[DIGITS_BUF] = {0};
    memcpy(laid + DIGITS_END - n, d, (size_t)n);
    return layout(neg, laid + DIGITS_END - n, n, x, out);
}
