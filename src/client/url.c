/* Client URLs: http://host[:port][/path][?query] and ws://... (client.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client/client_impl.h"

static bool is_host_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
}

/* Visible ASCII without '#' and space: what we put on the request line. */
static bool is_target_char(char ch) {
    return ch > 0x20 && ch < 0x7f && ch != '#';
}

static int parse_port(const char *s, size_t len, int *out, vx_error *err) {
    if (len == 0 || len > 5)
        return vx_error_set(err, VX_E_INVAL, "URL port: expected 1-65535");
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return vx_error_set(err, VX_E_INVAL, "URL port: non-digit at offset %zu", i);
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return vx_error_set(err, VX_E_INVAL, "URL port: %d out of range", v);
    *out = v;
    return 0;
}

/* host, [v6] or host:port, up to the first '/', '?' or the end. */
static int parse_authority(const char *s, size_t len, vx_client_url *u, vx_error *err) {
    const char *host = s, *port = NULL;
    size_t host_len;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) return vx_error_set(err, VX_E_INVAL, "URL host: '[' without ']'");
        host = s + 1;
        host_len = (size_t)(close - host);
        size_t rest = len - (size_t)(close + 1 - s);
        if (rest > 0) {
            if (close[1] != ':')
                return vx_error_set(err, VX_E_INVAL, "URL host: junk after ']'");
            port = close + 2;
        }
        for (size_t i = 0; i < host_len; i++) {
            char ch = host[i];
            bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                      (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.';
            if (!ok) return vx_error_set(err, VX_E_INVAL, "URL host: bad IPv6 literal");
        }
    } else {
        const char *colon = memchr(s, ':', len);
        host_len = colon ? (size_t)(colon - s) : len;
        if (colon) port = colon + 1;
        for (size_t i = 0; i < host_len; i++)
            if (!is_host_char(s[i]))
                return vx_error_set(err, VX_E_INVAL,
                                    "URL host: bad character at offset %zu", i);
    }
    if (host_len == 0) return vx_error_set(err, VX_E_INVAL, "URL host: empty");
    if (host_len >= sizeof u->host)
        return vx_error_set(err, VX_E_INVAL, "URL host: too long");
    memcpy(u->host, host, host_len);
    u->host[host_len] = '\0';
    u->port = u->tls ? 443 : 80;
    if (port) return parse_port(port, (size_t)(s + len - port), &u->port, err);
    return 0;
}

int vx_client_url_parse(const char *url, vx_client_url *out, vx_error *err) {
    if (!url || !out) return vx_error_set(err, VX_E_INVAL, "URL: NULL");
    memset(out, 0, sizeof *out);
    const char *sep = strstr(url, "://");
    if (!sep) return vx_error_set(err, VX_E_INVAL, "URL scheme: missing '://'");
    size_t slen = (size_t)(sep - url);
    if (slen == 4 && strncasecmp(url, "http", 4) == 0)
        out->scheme = VX_URL_HTTP;
    else if (slen == 2 && strncasecmp(url, "ws", 2) == 0)
        out->scheme = VX_URL_WS;
    else if (slen == 5 && strncasecmp(url, "https", 5) == 0)
        out->scheme = VX_URL_HTTP, out->tls = true;
    else if (slen == 3 && strncasecmp(url, "wss", 3) == 0)
        out->scheme = VX_URL_WS, out->tls = true;
    else
        return vx_error_set(err, VX_E_INVAL,
                            "URL scheme: '%.*s' is not http, https, ws or wss",
                            (int)(slen > 16 ? 16 : slen), url);

    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    if (memchr(auth, '@', alen))
        return vx_error_set(err, VX_E_INVAL, "URL host: user info is not supported");
    int rc = parse_authority(auth, alen, out, err);
    if (rc) return rc;

    const char *rest = auth + alen;
    size_t plen = strcspn(rest, "?#");
    const char *q = rest[plen] == '?' ? rest + plen + 1 : NULL;
    size_t qlen = q ? strcspn(q, "#") : 0;
    for (size_t i = 0; i < plen; i++)
        if (!is_target_char(rest[i]) || rest[i] == '?')
            return vx_error_set(err, VX_E_INVAL, "URL path: bad character at offset %zu",
                                i);
    for (size_t i = 0; i < qlen; i++)
        if (!is_target_char(q[i]))
            return vx_error_set(err, VX_E_INVAL, "URL query: bad character at offset %zu",
                                i);
    if (plen == 0 || (plen == 1 && rest[0] == '/')) {
        strcpy(out->path, out->scheme == VX_URL_HTTP ? "/vortex" : "/vortexws");
    } else {
        if (plen >= sizeof out->path)
            return vx_error_set(err, VX_E_INVAL, "URL path: too long");
        memcpy(out->path, rest, plen);
        out->path[plen] = '\0';
    }
    if (qlen >= sizeof out->query)
        return vx_error_set(err, VX_E_INVAL, "URL query: too long");
    memcpy(out->query, q ? q : "", qlen);
    out->query[qlen] = '\0';
    return 0;
}

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static int append_encoded(vx_buf *out, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
                     ch == '~';
        char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
        int rc = plain ? vx_buf_append(out, s, 1) : vx_buf_append(out, enc, 3);
        if (rc) return rc;
    }
    return 0;
}

int vx_client_url_target(const vx_client_url *u, const char *uuid, const char *name,
                         vx_buf *out) {
    int rc = vx_buf_append(out, u->path, strlen(u->path));
    if (!rc) rc = vx_buf_append(out, "?vortexUuid=", 12);
    if (!rc) rc = append_encoded(out, uuid);
    if (!rc) rc = vx_buf_append(out, "&vortexName=", 12);
    if (!rc) rc = append_encoded(out, name);
    if (!rc && u->query[0]) {
        rc = vx_buf_append(out, "&", 1);
        if (!rc) rc = vx_buf_append(out, u->query, strlen(u->query));
    }
    return rc;
}
