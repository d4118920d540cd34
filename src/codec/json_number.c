/* JSON number literals: scanning, exact wrapped ints (§4.2) and correctly
 * rounded, locale-independent doubles.
 *
 * Doubles take one of three routes. Most wire floats have few digits and a
 * small exponent, where a single IEEE operation is exact enough to be
 * correctly rounded (Clinger's fast path). Up to 19 digits with |exp| <= 27
 * (e.g. Python's 17-digit repr of 1/7) one x87 extended operation is
 * correctly rounded to 64 bits, and rounding that to 53 bits is still right
 * unless the extended result sits exactly on a double half-way point, which
 * we detect. Everything else goes to strtod_l() in a "C" locale, so a
 * process locale with ',' as the decimal point cannot change results. */
#include <float.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json_decode_impl.h"

static inline bool is_digit(char c) {
    return (unsigned char)(c - '0') < 10;
}

/* Exponents beyond this are saturated: the value is 0 or overflows anyway,
 * and the clamp keeps the arithmetic below from overflowing. */
#define EXP_CLAMP 1000000000LL

/* Two passes: find the digit runs first, then read the significant digits
 * from them. Cheaper than deciding per digit what it counts for, and the
 * wire's floats are long (Python writes 17 significant digits). */
size_t vx_numlit_scan(const char *p, const char *end, vx_numlit *n, const char **bad) {
    const char *s = p;
    n->neg = false;
    n->has_frac = n->has_exp = false;
    if (p < end && *p == '-') {
        n->neg = true;
        p++;
    }
    const char *ip = p; /* integer digits [ip, ie) */
    const char *ie = p = vx_jskip_digits(p, end);
    if (ie == ip) goto fail;
    if (*ip == '0' && ie - ip > 1) { /* leading zero */
        p = ip + 1;
        goto fail;
    }
    const char *fp = p, *fe = p; /* fraction digits [fp, fe) */
    if (p < end && *p == '.') {
        n->has_frac = true;
        fp = p + 1;
        fe = p = vx_jskip_digits(fp, end);
        if (fe == fp) goto fail;
    }
    int64_t nfrac = fe - fp;
    int64_t e = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        n->has_exp = true;
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p >= end || !is_digit(*p)) goto fail;
        while (p < end && is_digit(*p)) {
            if (e < EXP_CLAMP) e = e * 10 + (*p - '0');
            p++;
        }
        if (eneg) e = -e;
    }
    /* Significant digits: the integer part unless it is "0", then the
     * fraction, whose leading zeros (0.00x) only shift the exponent when no
     * integer digit came first. */
    if (*ip == '0') ip = ie;
    if (ip == ie)
        while (fp < fe && *fp == '0') fp++;
    int64_t ndig = (ie - ip) + (fe - fp);
    int64_t k1 = ie - ip < 19 ? ie - ip : 19, k2 = fe - fp < 19 - k1 ? fe - fp : 19 - k1;
    uint64_t mant = vx_jdigits_value(vx_jdigits_value(0, ip, (size_t)k1), fp, (size_t)k2);
    const char *q = fe;
    while (q > fp && q[-1] == '0') q--;
    int64_t ntrail = fe - q;
    if (q == fp) { /* the whole fraction was zeros: count on into the integer */
        q = ie;
        while (q > ip && q[-1] == '0') q--;
        ntrail += ie - q;
    }
    n->s = s;
    n->len = (size_t)(p - s);
    n->mant = mant;
    n->ndig = ndig;
    n->ntrail = ntrail;
    n->exp10 = e - nfrac;
    return n->len;
fail:
    if (bad) *bad = p;
    return 0;
}

static const double pow10_d[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ---- slow path: strtod_l in a lazily created "C" locale ------------------ */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void make_c_locale(void) {
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static int slow_double(const vx_numlit *n, double *out) {
    char local[80];
    char *buf = local;
    if (n->len >= sizeof local) {
        buf = malloc(n->len + 1);
        if (!buf) return VX_E_NOMEM;
    }
    memcpy(buf, n->s, n->len);
    buf[n->len] = '\0';
    pthread_once(&c_locale_once, make_c_locale);
    /* JSON numbers use '.', which every locale's strtod accepts in "C"; if
     * the "C" locale could not be created the process locale is the only
     * choice left. */
    *out = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (buf != local) free(buf);
    return 0;
}

#if LDBL_MANT_DIG == 64 && (defined(__x86_64__) || defined(__i386__))
#define HAVE_X87 1
static const long double pow10_ld[] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L}; /* all exact */

/* w * 10^q rounded once to 64 bits, then to 53. Returns false when that
 * second rounding could differ from rounding the exact value: the low 11
 * bits are the half-way pattern (0x400) or next to it, or all zero (an
 * emulator such as valgrind computing in double precision leaves them so). */
static bool x87_double(uint64_t w, int64_t q, double *out) {
    long double r = (long double)w;
    r = q < 0 ? r / pow10_ld[-q] : r * pow10_ld[q];
    uint64_t bits;
    memcpy(&bits, &r, sizeof bits); /* the explicit 64-bit significand */
    unsigned low = (unsigned)(bits & 0x7FF);
    if (low == 0 || low == 0x3FF || low == 0x400 || low == 0x401) return false;
    *out = (double)r;
    return true;
}
#endif

int vx_numlit_to_double(const vx_numlit *n, double *out) {
    double d;
    if (n->ndig == 0) {
        d = 0.0;
    } else if (n->ndig <= 19 && n->mant <= (1ULL << 53) && n->exp10 >= -22 &&
               n->exp10 <= 22) {
        d = (double)n->mant;
        d = n->exp10 < 0 ? d / pow10_d[-n->exp10] : d * pow10_d[n->exp10];
    } else {
#ifdef HAVE_X87
        if (n->ndig <= 19 && n->exp10 >= -27 && n->exp10 <= 27 &&
            x87_double(n->mant, n->exp10, &d))
            goto done;
#endif
        int rc = slow_double(n, out);
        if (rc) return rc;
        if (*out - *out != 0) return VX_E_JSON; /* overflowed to an infinity */
        return 0;
    }
#ifdef HAVE_X87
done:
#endif
    *out = n->neg ? -d : d;
    return 0;
}

int vx_numlit_to_int_exact(const vx_numlit *n, int64_t *out) {
    if (n->ndig == 0) {
        *out = 0;
        return 0;
    }
    int64_t k = n->ndig - n->ntrail;  /* digits once trailing zeros go */
    int64_t e = n->exp10 + n->ntrail; /* value = D(k digits) * 10^e */
    if (e < 0) return VX_E_BAD_VALUE; /* a non-zero fraction */
    if (k + e > 19) return VX_E_INT_RANGE;
    int64_t held = n->ndig < 19 ? n->ndig : 19;
    uint64_t v = n->mant;
    for (int64_t i = held; i > k; i--) v /= 10;
    for (int64_t i = 0; i < e; i++) v *= 10; /* <= 19 digits: no overflow */
    uint64_t limit = n->neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (v > limit) return VX_E_INT_RANGE;
    *out = n->neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int vx_numlit_value(const vx_numlit *n, vx_value **out) {
    if (!n->has_frac && !n->has_exp && n->ndig <= 19) {
        uint64_t limit = n->neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (n->mant <= limit) {
            *out = vx_int(n->neg ? (int64_t)(0 - n->mant) : (int64_t)n->mant);
            return *out ? 0 : VX_E_NOMEM;
        }
    }
    double d;
    int rc = vx_numlit_to_double(n, &d);
    if (rc) return rc;
    *out = vx_float(d);
    return *out ? 0 : VX_E_NOMEM;
}
