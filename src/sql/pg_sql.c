/* '?' placeholders -> $n, and vx_values -> text-format parameters.
 *
 * The store writes '?' for both backends; PostgreSQL numbers its
 * parameters. The rewrite has to follow PostgreSQL's lexer far enough to
 * know where literals, quoted identifiers and comments end, because a '?'
 * there is data, not a placeholder (a value like 'who?' inside a statement,
 * or a comment, must reach the server unchanged). The session runs with
 * standard_conforming_strings on (pg.c), so only E'...' strings treat a
 * backslash as an escape. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/float_repr.h"
#include "pg_impl.h"

/* Characters that continue an identifier; a quote right after one of them
 * does not start an E'...' string, and a '$' after one is part of a name. */
static int ident_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$' || c >= 0x80;
}

/* Index just past the quoted run that starts at s[i] == q. `backslash`:
 * a backslash escapes the next byte (E'...'). A doubled quote is one quote.
 * Unterminated: the end of the text (the server reports the error). */
static size_t skip_quoted(const char *s, size_t i, char q, int backslash) {
    i++;
    while (s[i]) {
        if (backslash && s[i] == '\\' && s[i + 1]) {
            i += 2;
        } else if (s[i] == q) {
            if (s[i + 1] != q) return i + 1;
            i += 2;
        } else {
            i++;
        }
    }
    return i;
}

/* PostgreSQL block comments nest. */
static size_t skip_block_comment(const char *s, size_t i) {
    size_t depth = 0;
    while (s[i]) {
        if (s[i] == '/' && s[i + 1] == '*') {
            depth++;
            i += 2;
        } else if (s[i] == '*' && s[i + 1] == '/') {
            i += 2;
            if (--depth == 0) return i;
        } else {
            i++;
        }
    }
    return i;
}

/* A dollar quote $tag$...$tag$ starting at s[i] == '$': the index past its
 * closing delimiter, or 0 if s[i] does not open one ($1, a lone '$'). */
static size_t skip_dollar_quote(const char *s, size_t i) {
    size_t t = i + 1;
    if (s[t] >= '0' && s[t] <= '9') return 0;
    while (s[t] && s[t] != '$' && ident_char((unsigned char)s[t])) t++;
    if (s[t] != '$') return 0;
    size_t tag_len = t + 1 - i; /* "$tag$" */
    for (const char *p = s + t + 1; *p; p++) {
        if (*p == '$' && strncmp(p, s + i, tag_len) == 0) return (size_t)(p - s) + tag_len;
    }
    return strlen(s); /* unterminated: the server reports it */
}

int vx_pg_translate(const char *sql, char **out, size_t *n_out, vx_error *err) {
    size_t len = strlen(sql), marks = 0;
    for (size_t i = 0; i < len; i++) marks += sql[i] == '?';
    /* each '?' grows to at most "$65535"-ish; 20 covers any size_t */
    char *buf = malloc(len + marks * 20 + 1);
    if (!buf) return vx_error_set(err, VX_E_NOMEM, "out of memory translating a statement");
    size_t i = 0, o = 0, n = 0;
    while (i < len) {
        size_t start = i, next = i + 1;
        char c = sql[i];
        unsigned char prev = i > 0 ? (unsigned char)sql[i - 1] : ' ';
        if (c == '\'') {
            int e = i > 0 && (prev == 'E' || prev == 'e') &&
                    (i < 2 || !ident_char((unsigned char)sql[i - 2]));
            next = skip_quoted(sql, i, '\'', e);
        } else if (c == '"') {
            next = skip_quoted(sql, i, '"', 0);
        } else if (c == '-' && sql[i + 1] == '-') {
            next = i + 2;
            while (next < len && sql[next] != '\n') next++;
        } else if (c == '/' && sql[i + 1] == '*') {
            next = skip_block_comment(sql, i);
        } else if (c == '$' && !ident_char(prev)) {
            size_t end = skip_dollar_quote(sql, i);
            if (end) next = end;
        } else if (c == '?') {
            o += (size_t)sprintf(buf + o, "$%zu", ++n);
            i++;
            continue;
        }
        memcpy(buf + o, sql + start, next - start);
        o += next - start;
        i = next;
    }
    buf[o] = '\0';
    *out = buf;
    *n_out = n;
    return 0;
}

static char *dup_text(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

/* bytea's hex input form: \x followed by two hex digits a byte. */
static char *bytea_hex(const uint8_t *data, size_t len) {
    static const char hex[] = "0123456789abcdef";
    char *p = malloc(2 * len + 3);
    if (!p) return NULL;
    p[0] = '\\';
    p[1] = 'x';
    for (size_t k = 0; k < len; k++) {
        p[2 + 2 * k] = hex[data[k] >> 4];
        p[3 + 2 * k] = hex[data[k] & 15];
    }
    p[2 * len + 2] = '\0';
    return p;
}

static char *float_text(double d) {
    /* float8's input spellings for the values repr cannot write */
    if (d != d) return dup_text("NaN");
    if (d > 1.7976931348623157e308) return dup_text("Infinity");
    if (d < -1.7976931348623157e308) return dup_text("-Infinity");
    char tmp[VX_FLOAT_REPR_MAX];
    size_t n = vx_float_repr(d, tmp);
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, tmp, n);
    p[n] = '\0';
    return p;
}

int vx_pg_param_text(const vx_value *v, size_t index, char **out, vx_error *err) {
    char tmp[32];
    char *p = NULL;
    *out = NULL;
    switch (vx_typeof(v)) {
    case VX_NULL:
        return 0;
    case VX_BOOL:
        p = dup_text(vx_bool_value(v) ? "true" : "false");
        break;
    case VX_INT:
        snprintf(tmp, sizeof tmp, "%" PRId64, vx_int_value(v));
        p = dup_text(tmp);
        break;
    case VX_FLOAT:
        p = float_text(vx_float_value(v));
        break;
    case VX_STR:
        if (strlen(vx_str_value(v)) != vx_str_len(v))
            return vx_error_set(
                err, VX_E_SQL_VALUE,
                "parameter %zu: a string holding U+0000 cannot be stored in "
                "postgresql text",
                index);
        p = dup_text(vx_str_value(v));
        break;
    case VX_BYTES:
        p = bytea_hex(vx_bytes_data(v), vx_bytes_len(v));
        break;
    case VX_DATETIME: {
        char dt[27];
        vx_datetime_format(vx_datetime_value(v), dt);
        p = dup_text(dt);
        break;
    }
    default:
        return vx_error_set(
            err, VX_E_SQL_VALUE,
            "parameter %zu is a %s; postgresql parameters must be null, bool, "
            "int, float, str, bytes or datetime",
            index, vx_type_name(vx_typeof(v)));
    }
    if (!p)
        return vx_error_set(err, VX_E_NOMEM, "out of memory converting parameter %zu",
                            index);
    *out = p;
    return 0;
}
