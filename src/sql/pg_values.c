/* PostgreSQL text output -> vx_values.
 *
 * Results come back in text format (one code path for every type, and the
 * server's own formatting of numeric, which binary format would make us
 * decode by hand). pg.c fixes the session settings this parser relies on:
 * DateStyle ISO, TimeZone UTC, bytea_output hex (escape is read too, for a
 * pooler that resets settings), client_encoding UTF8. */
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pg_impl.h"
#include "value/value_impl.h"

/* Type OIDs are fixed in PostgreSQL's catalog (pg_type.dat); the server
 * headers that name them are not part of libpq-dev. */
enum {
    PG_BOOL = 16,
    PG_BYTEA = 17,
    PG_INT8 = 20,
    PG_INT2 = 21,
    PG_INT4 = 23,
    PG_OID = 26,
    PG_FLOAT4 = 700,
    PG_FLOAT8 = 701,
    PG_DATE = 1082,
    PG_TIMESTAMP = 1114,
    PG_TIMESTAMPTZ = 1184,
    PG_NUMERIC = 1700,
};

vx_type vx_pg_kind_for_oid(Oid oid) {
    switch (oid) {
    case PG_INT2:
    case PG_INT4:
    case PG_INT8:
    case PG_OID:
        return VX_INT;
    case PG_FLOAT4:
    case PG_FLOAT8:
    case PG_NUMERIC:
        return VX_FLOAT;
    case PG_BOOL:
        return VX_BOOL;
    case PG_BYTEA:
        return VX_BYTES;
    case PG_DATE:
    case PG_TIMESTAMP:
    case PG_TIMESTAMPTZ:
        return VX_DATETIME;
    default:
        return VX_STR;
    }
}

static int bad(vx_error *err, vx_type kind, const char *s, size_t len, const char *why) {
    int shown = len > 64 ? 64 : (int)len;
    return vx_error_set(err, VX_E_BAD_VALUE, "postgresql %s \"%.*s%s\": %s",
                        vx_type_name(kind), shown, s, len > 64 ? "..." : "", why);
}

static int parse_int(const char *s, size_t len, vx_value **out, vx_error *err) {
    char buf[32];
    if (len == 0 || len >= sizeof buf) return bad(err, VX_INT, s, len, "not an integer");
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long i = strtoll(buf, &end, 10);
    if (end != buf + len || errno) return bad(err, VX_INT, s, len, "not a 64-bit integer");
    *out = vx_int(i);
    return 0;
}

/* The process locale could make strtod expect ',' for the decimal point. */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void make_c_locale(void) {
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static int parse_float(const char *s, size_t len, vx_value **out, vx_error *err) {
    /* numeric can print thousands of digits; strtod needs a C string */
    char local[64];
    char *buf = len < sizeof local ? local : malloc(len + 1);
    if (!buf) return vx_error_set(err, VX_E_NOMEM, "out of memory reading a number");
    memcpy(buf, s, len);
    buf[len] = '\0';
    pthread_once(&c_locale_once, make_c_locale);
    char *end;
    double d = c_locale ? strtod_l(buf, &end, c_locale) : strtod(buf, &end);
    int ok = len > 0 && end == buf + len;
    if (buf != local) free(buf);
    if (!ok) return bad(err, VX_FLOAT, s, len, "not a number");
    *out = vx_float(d);
    return 0;
}

static int parse_bool(const char *s, size_t len, vx_value **out, vx_error *err) {
    /* "t"/"f" in results; "true"/"false" in column defaults */
    if ((len == 1 && s[0] == 't') || (len == 4 && memcmp(s, "true", 4) == 0)) {
        *out = vx_bool(true);
    } else if ((len == 1 && s[0] == 'f') || (len == 5 && memcmp(s, "false", 5) == 0)) {
        *out = vx_bool(false);
    } else {
        return bad(err, VX_BOOL, s, len, "not t or f");
    }
    return 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int parse_bytea(const char *s, size_t len, vx_value **out, vx_error *err) {
    uint8_t *buf = malloc(len ? len : 1); /* decoded is never longer */
    if (!buf) return vx_error_set(err, VX_E_NOMEM, "out of memory reading bytea");
    size_t n = 0;
    if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
        for (size_t i = 2; i < len; i += 2) {
            int hi = hex_digit(s[i]), lo = i + 1 < len ? hex_digit(s[i + 1]) : -1;
            if (hi < 0 || lo < 0) {
                free(buf);
                return bad(err, VX_BYTES, s, len, "bad hex digit");
            }
            buf[n++] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        /* escape format: \\ and \ooo octal; every other byte as is */
        for (size_t i = 0; i < len;) {
            if (s[i] != '\\') {
                buf[n++] = (uint8_t)s[i++];
            } else if (i + 1 < len && s[i + 1] == '\\') {
                buf[n++] = '\\';
                i += 2;
            } else if (i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
                       s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' &&
                       s[i + 3] <= '7') {
                buf[n++] = (uint8_t)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 |
                                     (s[i + 3] - '0'));
                i += 4;
            } else {
                free(buf);
                return bad(err, VX_BYTES, s, len, "bad escape");
            }
        }
    }
    *out = vx_bytes(buf, n);
    free(buf);
    return 0;
}

/* Exactly n digits at s[*i]. */
static int digits(const char *s, size_t len, size_t *i, int n, int *v) {
    if (*i + (size_t)n > len) return -1;
    int x = 0;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];
        if (c < '0' || c > '9') return -1;
        x = x * 10 + (c - '0');
    }
    *i += (size_t)n;
    *v = x;
    return 0;
}

/* ISO output: YYYY-MM-DD[ HH:MM:SS[.ffffff][+HH[:MM[:SS]]]][ BC]; the
 * year may have more than four digits, a zone only comes with
 * timestamptz, and with TimeZone UTC it is +00 (other offsets are still
 * honoured). */
static int parse_datetime(const char *s, size_t len, vx_value **out, vx_error *err) {
    if ((len == 8 && memcmp(s, "infinity", 8) == 0) ||
        (len == 9 && memcmp(s, "-infinity", 9) == 0))
        return bad(err, VX_DATETIME, s, len, "infinity has no datetime value");
    if (len >= 3 && memcmp(s + len - 3, " BC", 3) == 0)
        return bad(err, VX_DATETIME, s, len, "outside years 0001-9999");
    size_t i = 0;
    int year = 0, nd = 0, month, day, hour = 0, minute = 0, second = 0, micro = 0, off = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (++nd > 4) return bad(err, VX_DATETIME, s, len, "outside years 0001-9999");
        year = year * 10 + (s[i++] - '0');
    }
    if (nd == 0 || i >= len || s[i++] != '-' || digits(s, len, &i, 2, &month) || i >= len ||
        s[i++] != '-' || digits(s, len, &i, 2, &day))
        return bad(err, VX_DATETIME, s, len, "not an ISO date");
    if (i < len) {
        if (s[i++] != ' ' || digits(s, len, &i, 2, &hour) || i >= len || s[i++] != ':' ||
            digits(s, len, &i, 2, &minute) || i >= len || s[i++] != ':' ||
            digits(s, len, &i, 2, &second))
            return bad(err, VX_DATETIME, s, len, "not an ISO time");
        if (i < len && s[i] == '.') {
            int nf = 0;
            for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                if (++nf > 6)
                    return bad(err, VX_DATETIME, s, len, "more than 6 fraction digits");
                micro = micro * 10 + (s[i] - '0');
            }
            if (nf == 0) return bad(err, VX_DATETIME, s, len, "no fraction digits");
            while (nf++ < 6) micro *= 10;
        }
        if (i < len && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i++] == '-' ? -1 : 1, oh, om = 0, os = 0;
            if (digits(s, len, &i, 2, &oh))
                return bad(err, VX_DATETIME, s, len, "bad zone");
            if (i < len && s[i] == ':' && (i++, digits(s, len, &i, 2, &om)))
                return bad(err, VX_DATETIME, s, len, "bad zone");
            if (i < len && s[i] == ':' && (i++, digits(s, len, &i, 2, &os)))
                return bad(err, VX_DATETIME, s, len, "bad zone");
            off = sign * (oh * 3600 + om * 60 + os);
        }
        if (i != len)
            return bad(err, VX_DATETIME, s, len, "unexpected text after the time");
    }
    int64_t us;
    if (vx_datetime_from_parts(year, month, day, hour, minute, second, micro, &us) != 0)
        return bad(err, VX_DATETIME, s, len, "field out of range");
    us -= (int64_t)off * 1000000;
    if (us < VX_DATETIME_MIN_US || us > VX_DATETIME_MAX_US)
        return bad(err, VX_DATETIME, s, len, "outside years 0001-9999");
    *out = vx_datetime(us);
    return 0;
}

int vx_pg_text_value(vx_type kind, const char *s, size_t len, vx_value **out,
                     vx_error *err) {
    int rc;
    *out = NULL;
    switch (kind) {
    case VX_INT:
        rc = parse_int(s, len, out, err);
        break;
    case VX_FLOAT:
        rc = parse_float(s, len, out, err);
        break;
    case VX_BOOL:
        rc = parse_bool(s, len, out, err);
        break;
    case VX_BYTES:
        rc = parse_bytea(s, len, out, err);
        break;
    case VX_DATETIME:
        rc = parse_datetime(s, len, out, err);
        break;
    default:
        /* a SQL_ASCII database can hand back any bytes */
        if (!vx_utf8_valid(s, len))
            return bad(err, VX_STR, s, 0, "text is not valid UTF-8");
        rc = 0;
        *out = vx_strn(s, len);
        break;
    }
    if (rc == 0 && !*out)
        return vx_error_set(err, VX_E_NOMEM, "out of memory reading a cell");
    return rc;
}
