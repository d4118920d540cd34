/* Cells -> column kinds. Databases hand back their own types (SQLite: ISO
 * text for timestamps, 0/1 for booleans, anything in any column; PostgreSQL
 * through libpq: numeric as text...), and tuples want the column's kind. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/float_repr.h"
#include "store_impl.h"

static bool parse_int(const char *s, size_t len, int64_t *out) {
    if (len == 0 || len > 24) return false;
    char buf[32];
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end || end == buf) return false;
    *out = v;
    return true;
}

static bool parse_float(const char *s, size_t len, double *out) {
    if (len == 0 || len > 400 || memchr(s, '\0', len)) return false;
    char *buf = malloc(len + 1);
    if (!buf) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double v = strtod(buf, &end);
    bool ok = end != buf && *end == '\0';
    free(buf);
    if (ok) *out = v;
    return ok;
}

static vx_value *to_datetime(const vx_value *v) {
    switch (vx_typeof(v)) {
    case VX_STR: {
        int64_t us;
        if (vx_datetime_parse(vx_str_value(v), vx_str_len(v), &us, NULL) != 0) return NULL;
        return vx_datetime(us);
    }
    case VX_INT: { /* Unix seconds (SQLite's unixepoch()) */
        int64_t sec = vx_int_value(v);
        if (sec < VX_DATETIME_MIN_US / 1000000 || sec > VX_DATETIME_MAX_US / 1000000)
            return NULL;
        return vx_datetime(sec * 1000000);
    }
    case VX_FLOAT: {
        double sec = vx_float_value(v);
        /* The bounds as doubles (not exact at this magnitude; llround below
         * stays within int64 either way). */
        if (!(sec >= (double)VX_DATETIME_MIN_US / 1e6 &&
              sec <= (double)VX_DATETIME_MAX_US / 1e6))
            return NULL;
        return vx_datetime((int64_t)llround(sec * 1e6));
    }
    default:
        return NULL;
    }
}

static vx_value *to_bool(const vx_value *v) {
    switch (vx_typeof(v)) {
    case VX_INT:
        return vx_bool(vx_int_value(v) != 0);
    case VX_STR: {
        const char *s = vx_str_value(v);
        if (!strcasecmp(s, "t") || !strcasecmp(s, "true") || !strcmp(s, "1"))
            return vx_bool(true);
        if (!strcasecmp(s, "f") || !strcasecmp(s, "false") || !strcmp(s, "0"))
            return vx_bool(false);
        return NULL;
    }
    default:
        return NULL;
    }
}

static vx_value *to_int(const vx_value *v) {
    switch (vx_typeof(v)) {
    case VX_BOOL:
        return vx_int(vx_bool_value(v));
    case VX_FLOAT: {
        double d = vx_float_value(v);
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d))
            return NULL;
        return vx_int((int64_t)d);
    }
    case VX_STR: {
        int64_t i;
        return parse_int(vx_str_value(v), vx_str_len(v), &i) ? vx_int(i) : NULL;
    }
    default:
        return NULL;
    }
}

static vx_value *to_float(const vx_value *v) {
    switch (vx_typeof(v)) {
    case VX_INT:
        return vx_float((double)vx_int_value(v));
    case VX_STR: {
        double d;
        return parse_float(vx_str_value(v), vx_str_len(v), &d) ? vx_float(d) : NULL;
    }
    default:
        return NULL;
    }
}

static vx_value *to_str(const vx_value *v) {
    char buf[64];
    switch (vx_typeof(v)) {
    case VX_BOOL:
        return vx_str(vx_bool_value(v) ? "true" : "false");
    case VX_INT:
        snprintf(buf, sizeof buf, "%" PRId64, vx_int_value(v));
        return vx_str(buf);
    case VX_FLOAT: {
        double d = vx_float_value(v);
        if (!isfinite(d)) return vx_str(isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        char r[VX_FLOAT_REPR_MAX];
        return vx_strn(r, vx_float_repr(d, r));
    }
    case VX_DATETIME: {
        char d[27];
        vx_datetime_format(vx_datetime_value(v), d);
        return vx_str(d);
    }
    case VX_BYTES: /* text stored as a blob: keep it if it is text */
        return vx_strn((const char *)vx_bytes_data(v), vx_bytes_len(v));
    default:
        return NULL;
    }
}

static vx_value *to_bytes(const vx_value *v) {
    if (vx_typeof(v) != VX_STR) return NULL;
    return vx_bytes(vx_str_value(v), vx_str_len(v));
}

int vx_sql_coerce(const vx_value *v, vx_type kind, vx_value **out) {
    if (!v) return VX_E_BAD_VALUE;
    vx_type have = vx_typeof(v);
    if (have == kind || have == VX_NULL) {
        *out = vx_incref((vx_value *)v);
        return 0;
    }
    vx_value *r = NULL;
    switch (kind) {
    case VX_DATETIME:
        r = to_datetime(v);
        break;
    case VX_BOOL:
        r = to_bool(v);
        break;
    case VX_INT:
        r = to_int(v);
        break;
    case VX_FLOAT:
        r = to_float(v);
        break;
    case VX_STR:
        r = to_str(v);
        break;
    case VX_BYTES:
        r = to_bytes(v);
        break;
    default:
        break;
    }
    if (!r) return VX_E_BAD_VALUE;
    *out = r;
    return 0;
}
