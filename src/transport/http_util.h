/* Pure helpers of the HTTP listener (private): percent-decoding, query
 * parameters, the vortexUuid/vortexName rule, static path sanitising, MIME
 * types, header tokens and plain-text error responses. No I/O; unit-tested
 * by tests/unit/test_http_util.c. */
#ifndef VX_HTTP_UTIL_H
#define VX_HTTP_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <vortexc/codec.h>

/* Percent-decode `len` bytes of `in` into `out` (room for `len` bytes; the
 * result is never longer) and store its length in *out_len. `plus_space`:
 * '+' means ' ' (query strings, as Python's parse_qs). `strict`: a '%' not
 * followed by two hex digits fails with VX_E_INVAL; otherwise it is kept
 * literally (as Python's unquote). NUL bytes are decoded like any other;
 * callers that cannot hold them check for them. */
int vx_http_pct_decode(const char *in, size_t len, char *out, size_t *out_len,
                       bool plus_space, bool strict);

/* Find the first parameter `name` in the query string `q` (without '?').
 * Names and values are percent-decoded ('+' = space, lenient). Returns 1 and
 * a NEW malloc'd NUL-terminated value in *out (its length in *out_len; it may
 * hold NUL bytes), 0 if absent (*out NULL), or VX_E_NOMEM. "a" and "a=" are
 * both present with an empty value. */
int vx_http_query_get(const char *q, size_t qlen, const char *name, char **out,
                      size_t *out_len);

/* The §9.1 rule for vortexUuid and vortexName: 1-255 bytes of valid UTF-8
 * with no control character (C0, DEL or C1). */
bool vx_http_param_valid(const char *v, size_t len);

/* Turn the path of a request URL (from '/', without query) into a relative
 * file path under a static root, written NUL-terminated to `out` (room for
 * `len` + 1 bytes). Percent-decodes strictly, then rejects NUL, backslash,
 * and any ".." segment (VX_E_INVAL); drops empty and "." segments; "" is the
 * root itself. Symlinks are the caller's business (realpath + prefix). */
int vx_http_sanitize_path(const char *path, size_t len, char *out);

/* Content-Type for a file name by its extension (case-insensitive);
 * "application/octet-stream" when unknown. Static storage. */
const char *vx_http_mime_type(const char *filename);

/* Reason phrase of a status code ("Not Found"). Static storage. */
const char *vx_http_status_text(int status);

/* Whether a comma-separated header value (Connection, Upgrade) contains
 * `token`, compared case-insensitively and ignoring spaces and tabs. */
bool vx_http_has_token(const char *value, size_t len, const char *token);

/* Whether `key` is a valid Sec-WebSocket-Key: base64 of 16 bytes (22
 * alphabet characters then "=="), surrounding whitespace already trimmed. */
bool vx_http_ws_key_valid(const char *key, size_t len);

/* Append a complete plain-text response (§9.2): status line, Content-Type:
 * text/plain; charset=utf-8, Content-Length, `extra` header lines (each
 * ending "\r\n", or NULL), "Connection: close" when `close`, and `body`
 * unless `head_only` (Content-Length still counts it). A body starting with
 * '<' is prefixed with a space so no client takes it for a login page
 * (vortexjs reloads the page on such a body). 0 or VX_E_NOMEM. */
int vx_http_text_response(vx_buf *out, int status, const char *extra, const char *body,
                          bool close, bool head_only);

#endif
