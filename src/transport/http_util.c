/* Pure helpers of the HTTP listener; see http_util.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transport/http_util.h"
#include "value/value_impl.h"

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int vx_http_pct_decode(const char *in, size_t len, char *out, size_t *out_len,
                       bool plus_space, bool strict) {
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval((unsigned char)in[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)in[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                out[o++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
            if (strict) return VX_E_INVAL;
            out[o++] = '%';
        } else if (c == '+' && plus_space) {
            out[o++] = ' ';
        } else {
            out[o++] = (char)c;
        }
    }
    *out_len = o;
    return 0;
}

int vx_http_query_get(const char *q, size_t qlen, const char *name, char **out,
                      size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    size_t nlen = strlen(name);
    size_t i = 0;
    while (i <= qlen) {
        size_t end = i;
        while (end < qlen && q[end] != '&' && q[end] != ';') end++;
        const char *pair = q + i;
        size_t plen = end - i;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;
        if (plen > 0 && klen <= 3 * nlen + 2) {
            /* Decoded key can only match if the raw key is not much longer. */
            char kbuf[3 * 256 + 8];
            size_t kdec = 0;
            if (klen < sizeof kbuf &&
                vx_http_pct_decode(pair, klen, kbuf, &kdec, true, false) == 0 &&
                kdec == nlen && memcmp(kbuf, name, nlen) == 0) {
                const char *v = eq ? eq + 1 : pair + plen;
                size_t vlen = eq ? plen - klen - 1 : 0;
                char *val = malloc(vlen + 1);
                if (!val) return VX_E_NOMEM;
                size_t dlen = 0;
                vx_http_pct_decode(v, vlen, val, &dlen, true, false);
                val[dlen] = '\0';
                *out = val;
                *out_len = dlen;
                return 1;
            }
        }
        if (end >= qlen) break;
        i = end + 1;
    }
    return 0;
}

bool vx_http_param_valid(const char *v, size_t len) {
    if (!v || len == 0 || len > 255) return false;
    if (!vx_utf8_valid(v, len)) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7F) return false;
        /* C1 controls U+0080..U+009F are encoded C2 80..C2 9F. */
        if (c == 0xC2 && i + 1 < len && (unsigned char)v[i + 1] <= 0x9F) return false;
    }
    return true;
}

int vx_http_sanitize_path(const char *path, size_t len, char *out) {
    char *dec = malloc(len + 1);
    if (!dec) return VX_E_NOMEM;
    size_t dlen = 0;
    if (vx_http_pct_decode(path, len, dec, &dlen, false, true) != 0) {
        free(dec);
        return VX_E_INVAL;
    }
    size_t o = 0;
    size_t i = 0;
    int rc = 0;
    while (i < dlen) {
        while (i < dlen && dec[i] == '/') i++;
        size_t s = i;
        while (i < dlen && dec[i] != '/') i++;
        size_t seg = i - s;
        if (seg == 0 || (seg == 1 && dec[s] == '.')) continue;
        if (seg == 2 && dec[s] == '.' && dec[s + 1] == '.') {
            rc = VX_E_INVAL;
            break;
        }
        if (memchr(dec + s, '\0', seg) || memchr(dec + s, '\\', seg)) {
            rc = VX_E_INVAL;
            break;
        }
        if (o > 0) out[o++] = '/';
        memcpy(out + o, dec + s, seg);
        o += seg;
    }
    free(dec);
    out[rc == 0 ? o : 0] = '\0';
    return rc;
}

const char *vx_http_mime_type(const char *filename) {
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"ico", "image/x-icon"},
        {"txt", "text/plain; charset=utf-8"},
        {"wasm", "application/wasm"},
    };
    const char *slash = strrchr(filename, '/');
    const char *base = slash ? slash + 1 : filename;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].type;
        }
    }
    return "application/octet-stream";
}

const char *vx_http_status_text(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

bool vx_http_has_token(const char *value, size_t len, const char *token) {
    size_t tlen = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) i++;
        size_t s = i;
        while (i < len && value[i] != ',') i++;
        size_t e = i;
        while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t')) e--;
        if (e - s == tlen && strncasecmp(value + s, token, tlen) == 0) return true;
    }
    return false;
}

static bool is_b64(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

bool vx_http_ws_key_valid(const char *key, size_t len) {
    if (len != 24 || key[22] != '=' || key[23] != '=') return false;
    for (size_t i = 0; i < 22; i++) {
        if (!is_b64((unsigned char)key[i])) return false;
    }
    /* 16 bytes leave 4 unused bits in the last character: they must be 0. */
    return strchr("AQgw", key[21]) != NULL;
}

int vx_http_text_response(vx_buf *out, int status, const char *extra, const char *body,
                          bool close, bool head_only) {
    size_t blen = strlen(body);
    bool pad = blen > 0 && body[0] == '<';
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-cache\r\n",
                     status, vx_http_status_text(status), blen + (pad ? 1 : 0));
    if (n < 0 || (size_t)n >= sizeof head) return VX_E_INVAL;
    if (vx_buf_append(out, head, (size_t)n) != 0) return VX_E_NOMEM;
    if (extra && vx_buf_append(out, extra, strlen(extra)) != 0) return VX_E_NOMEM;
    if (close && vx_buf_append(out, "Connection: close\r\n", 19) != 0) return VX_E_NOMEM;
    if (vx_buf_append(out, "\r\n", 2) != 0) return VX_E_NOMEM;
    if (head_only) return 0;
    if (pad && vx_buf_append(out, " ", 1) != 0) return VX_E_NOMEM;
    if (vx_buf_append(out, body, blen) != 0) return VX_E_NOMEM;
    return 0;
}
