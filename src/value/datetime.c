/* Datetimes: microseconds since the Unix epoch, UTC, years 0001-9999, and
 * the text forms of PROTOCOL.md §4.4. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "value_impl.h"

#define US_PER_SEC 1000000LL
#define US_PER_DAY (86400LL * US_PER_SEC)

static bool is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date: count whole 400-year
 * eras from a March-based year so February's length falls at the end. */
static int64_t days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                  /* [0, 399] */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

int vx_datetime_from_parts(int year, int month, int day, int hour, int minute, int second,
                           int micro, int64_t *us_out) {
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 59 || micro < 0 || micro > 999999)
        return VX_E_BAD_VALUE;
    int64_t days = days_from_civil(year, month, day);
    *us_out = days * US_PER_DAY +
              ((int64_t)hour * 3600 + minute * 60 + second) * US_PER_SEC + micro;
    return 0;
}

void vx_datetime_to_parts(int64_t us, int *year, int *month, int *day, int *hour,
                          int *minute, int *second, int *micro) {
    int64_t days = us / US_PER_DAY, rem = us % US_PER_DAY;
    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    civil_from_days(days, year, month, day);
    int64_t secs = rem / US_PER_SEC;
    *micro = (int)(rem % US_PER_SEC);
    *hour = (int)(secs / 3600);
    *minute = (int)(secs / 60 % 60);
    *second = (int)(secs % 60);
}

static void put_digits(char *out, int value, int n) {
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

void vx_datetime_format(int64_t us, char buf[27]) {
    int y, mo, d, h, mi, s, micro;
    vx_datetime_to_parts(us, &y, &mo, &d, &h, &mi, &s, &micro);
    /* "YYYY-MM-DD HH:MM:SS.ffffff" written by hand: this runs per datetime
     * on the encode hot path, where snprintf would dominate. */
    put_digits(buf, y, 4);
    buf[4] = '-';
    put_digits(buf + 5, mo, 2);
    buf[7] = '-';
    put_digits(buf + 8, d, 2);
    buf[10] = ' ';
    put_digits(buf + 11, h, 2);
    buf[13] = ':';
    put_digits(buf + 14, mi, 2);
    buf[16] = ':';
    put_digits(buf + 17, s, 2);
    buf[19] = '.';
    put_digits(buf + 20, micro, 6);
    buf[26] = '\0';
}

/* Read exactly `n` digits at s[*i]; -1 if not all digits. */
static int read_digits(const char *s, size_t len, size_t *i, int n) {
    if (*i + (size_t)n > len) return -1;
    int v = 0;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    return v;
}

static int bad(vx_error *err, const char *s, size_t len, const char *why) {
    int shown = len > 64 ? 64 : (int)len;
    return vx_error_set(err, VX_E_BAD_VALUE, "bad datetime \"%.*s%s\": %s", shown, s,
                        len > 64 ? "..." : "", why);
}

int vx_datetime_parse(const char *s, size_t len, int64_t *us_out, vx_error *err) {
    size_t i = 0;
    int year = 0, ndig = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9' && ndig < 5) {
        year = year * 10 + (s[i] - '0');
        i++;
        ndig++;
    }
    if (ndig < 1 || ndig > 4) return bad(err, s, len, "year must have 1-4 digits");
    if (i >= len || s[i++] != '-') return bad(err, s, len, "expected '-' after the year");
    int month = read_digits(s, len, &i, 2);
    if (month < 0 || i >= len || s[i++] != '-')
        return bad(err, s, len, "expected a 2-digit month and '-'");
    int day = read_digits(s, len, &i, 2);
    if (day < 0) return bad(err, s, len, "expected a 2-digit day");
    int hour = 0, minute = 0, second = 0, micro = 0, offset_min = 0;
    if (i < len) {
        if (s[i] != ' ' && s[i] != 'T')
            return bad(err, s, len, "expected ' ' or 'T' after the date");
        i++;
        hour = read_digits(s, len, &i, 2);
        if (hour < 0 || i >= len || s[i++] != ':') return bad(err, s, len, "expected HH:");
        minute = read_digits(s, len, &i, 2);
        if (minute < 0 || i >= len || s[i++] != ':')
            return bad(err, s, len, "expected MM:");
        second = read_digits(s, len, &i, 2);
        if (second < 0) return bad(err, s, len, "expected SS");
        if (i < len && s[i] == '.') {
            i++;
            int n = 0;
            while (i < len && s[i] >= '0' && s[i] <= '9') {
                if (++n > 6) return bad(err, s, len, "more than 6 fraction digits");
                micro = micro * 10 + (s[i] - '0');
                i++;
            }
            if (n == 0) return bad(err, s, len, "expected fraction digits after '.'");
            while (n++ < 6) micro *= 10;
        }
        if (i < len) {
            if (s[i] == 'Z') {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int sign = s[i] == '-' ? -1 : 1;
                i++;
                int oh = read_digits(s, len, &i, 2);
                if (oh < 0) return bad(err, s, len, "expected a zone offset ±HH[:]MM");
                if (i < len && s[i] == ':') i++;
                int om = read_digits(s, len, &i, 2);
                if (om < 0 || oh > 23 || om > 59)
                    return bad(err, s, len, "expected a zone offset ±HH[:]MM");
                offset_min = sign * (oh * 60 + om);
            } else {
                return bad(err, s, len, "unexpected character after the time");
            }
        }
        if (i != len) return bad(err, s, len, "unexpected text after the zone");
    }
    int64_t us;
    if (vx_datetime_from_parts(year, month, day, hour, minute, second, micro, &us) != 0)
        return bad(err, s, len, "field out of range");
    us -= (int64_t)offset_min * 60 * US_PER_SEC;
    if (us < VX_DATETIME_MIN_US || us > VX_DATETIME_MAX_US)
        return bad(err, s, len, "outside years 0001-9999 after zone conversion");
    *us_out = us;
    return 0;
}

int64_t vx_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}
