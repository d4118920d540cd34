/* Scalars of the JSON encoder: wrapped ints, bare floats, wrapped datetimes
 * and bytes (PROTOCOL.md §4.1, §4.2, §4.4). Written by hand, not with
 * snprintf, because a 100-row payload holds hundreds of them. */
#include <math.h>

#include "codec/base64.h"
#include "codec/digits.h"
#include "codec/float_repr.h"
#include "codec/json_encode_impl.h"

#define LIT(x)                                                                             \
    { x, sizeof(x) - 1 }

const vx_jenc_lit vx_jenc_lits[2][VX_JL_COUNT] = {
    {
        LIT(", "),
        LIT(": "),
        LIT("{\"_ft\": \"int\", \"_fd\": "),
        LIT("{\"_ft\": \"bytes\", \"_fd\": \""),
        LIT("{\"_ft\": \"datetime\", \"_fd\": \""),
        LIT("{\"_ft\": \"wkb\", \"_fd\": "),
        LIT("{\"_ct\": \"rt\", \"_c\": "),
        LIT("{\"_ct\": \"rp\", \"_c\": \"vortex.Payload.Payload\", \"filt\": "),
        LIT(", \"replyFilt\": "),
        LIT(", \"tuples\": "),
        LIT(", \"result\": "),
        LIT(", \"date\": "),
    },
    {
        LIT(","),
        LIT(":"),
        LIT("{\"_ft\":\"int\",\"_fd\":"),
        LIT("{\"_ft\":\"bytes\",\"_fd\":\""),
        LIT("{\"_ft\":\"datetime\",\"_fd\":\""),
        LIT("{\"_ft\":\"wkb\",\"_fd\":"),
        LIT("{\"_ct\":\"rt\",\"_c\":"),
        LIT("{\"_ct\":\"rp\",\"_c\":\"vortex.Payload.Payload\",\"filt\":"),
        LIT(",\"replyFilt\":"),
        LIT(",\"tuples\":"),
        LIT(",\"result\":"),
        LIT(",\"date\":"),
    },
};

/* Decimal text of i at o (room for 20); returns its length. */
static size_t put_i64(char *o, int64_t i) {
    char tmp[20];
    size_t k = sizeof tmp, n = 0;
    uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;
    while (u >= 100) {
        uint64_t q = u / 100;
        k -= 2;
        put2(tmp + k, (unsigned)(u - q * 100));
        u = q;
    }
    if (u >= 10) {
        k -= 2;
        put2(tmp + k, (unsigned)u);
    } else {
        tmp[--k] = (char)('0' + u);
    }
    if (i < 0) o[n++] = '-';
    memcpy(o + n, tmp + k, sizeof tmp - k);
    return n + sizeof tmp - k;
}

int vx_jenc_int(vx_jenc *e, int64_t i) {
    int rc = vx_jenc_room(e, VX_JENC_SLACK + 24);
    if (rc) return rc;
    const vx_jenc_lit *l = vx_jenc_lit_of(e, VX_JL_INT);
    vx_jenc_put_block(e, l->s, l->n);
    e->p += put_i64(e->p, i);
    *e->p++ = '}';
    return 0;
}

int vx_jenc_float(vx_jenc *e, double d) {
    if (!isfinite(d)) {
        return vx_jenc_fail(e, VX_E_NONFINITE, "cannot encode non-finite float %s",
                            isnan(d) ? "NaN"
                            : d > 0  ? "Infinity"
                                     : "-Infinity");
    }
    int rc = vx_jenc_room(e, VX_FLOAT_REPR_MAX);
    if (rc) return rc;
    e->p += vx_float_repr(d, e->p);
    return 0;
}

/* Proleptic Gregorian date of a day count from 1970-01-01, by the usual
 * era (400-year cycle) decomposition; exact for every int64 day count in
 * the datetime range. */
static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d) {
    z += 719468; /* days from 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);                          /* 0..146096 */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* from March 1 */
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yoe + era * 400) + (*m <= 2);
}

int vx_jenc_datetime(vx_jenc *e, int64_t us) {
    int rc = vx_jenc_room(e, VX_JENC_SLACK + 32);
    if (rc) return rc;
    const vx_jenc_lit *l = vx_jenc_lit_of(e, VX_JL_DATETIME);
    vx_jenc_put_block(e, l->s, l->n);
    const int64_t day_us = 86400000000LL;
    int64_t days = us / day_us, rem = us % day_us;
    if (rem < 0) {
        rem += day_us;
        days--;
    }
    char *o = e->p;
    unsigned slot = (unsigned)days & 1;
    if (e->date_day[slot] != days) {
        int y;
        unsigned mo, d;
        civil_from_days(days, &y, &mo, &d);
        /* The value layer keeps years in 1..9999; clamp anyway so a corrupt
         * value cannot produce more than 4 digits. */
        unsigned uy = y < 0 ? 0 : y > 9999 ? 9999 : (unsigned)y;
        char *t = e->date_text[slot];
        put2(t, uy / 100);
        put2(t + 2, uy % 100);
        t[4] = '-';
        put2(t + 5, mo);
        t[7] = '-';
        put2(t + 8, d);
        t[10] = ' ';
        e->date_day[slot] = days;
    }
    memcpy(o, e->date_text[slot], 11);
    uint32_t secs = (uint32_t)(rem / 1000000), micro = (uint32_t)(rem % 1000000);
    put2(o + 11, secs / 3600);
    o[13] = ':';
    put2(o + 14, secs / 60 % 60);
    o[16] = ':';
    put2(o + 17, secs % 60);
    o[19] = '.';
    put2(o + 20, micro / 10000);
    put2(o + 22, micro / 100 % 100);
    put2(o + 24, micro % 100);
    o[26] = '"';
    o[27] = '}';
    e->p = o + 28;
    return 0;
}

int vx_jenc_bytes(vx_jenc *e, const uint8_t *data, size_t len) {
    size_t n = vx_base64_encoded_len(len);
    if (n > SIZE_MAX - 2 * VX_JENC_SLACK) {
        return vx_jenc_fail(e, VX_E_NOMEM, "bytes value too long to encode");
    }
    int rc = vx_jenc_room(e, n + 2 * VX_JENC_SLACK);
    if (rc) return rc;
    const vx_jenc_lit *l = vx_jenc_lit_of(e, VX_JL_BYTES);
    vx_jenc_put_block(e, l->s, l->n);
    e->p += vx_base64_encode(data, len, e->p);
    *e->p++ = '"';
    *e->p++ = '}';
    return 0;
}
