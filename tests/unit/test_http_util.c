/* Pure helpers of the HTTP listener (PROTOCOL §9.1, §9.2, §10.1): query
 * parameters, percent-decoding, the vortexUuid/vortexName rule, static path
 * sanitising, MIME types, header tokens, WebSocket keys and error bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "transport/http_util.h"

static char *get(const char *q, const char *name, size_t *len) {
    char *v = NULL;
    size_t n = 0;
    int r = vx_http_query_get(q, strlen(q), name, &v, &n);
    assert_true(r >= 0);
    if (r == 0) assert_null(v);
    if (len) *len = n;
    return v;
}

static void test_pct_decode_plus_and_escapes(void **state) {
    char out[64];
    size_t n = 0;
    const char *in = "a%20b+c%2Bd%e2%82%AC";
    assert_int_equal(vx_http_pct_decode(in, strlen(in), out, &n, true, true), 0);
    assert_int_equal(n, strlen("a b c+d\xe2\x82\xac"));
    assert_memory_equal(out, "a b c+d\xe2\x82\xac", n);
    /* '+' is literal in paths */
    assert_int_equal(vx_http_pct_decode("a+b", 3, out, &n, false, true), 0);
    assert_memory_equal(out, "a+b", 3);
}

static void test_pct_decode_bad_escape_strict_or_literal(void **state) {
    char out[16];
    size_t n = 0;
    assert_int_equal(vx_http_pct_decode("a%zz", 4, out, &n, false, true), VX_E_INVAL);
    assert_int_equal(vx_http_pct_decode("a%4", 3, out, &n, false, true), VX_E_INVAL);
    assert_int_equal(vx_http_pct_decode("a%", 2, out, &n, false, true), VX_E_INVAL);
    /* lenient, as Python's unquote: kept as is */
    assert_int_equal(vx_http_pct_decode("a%zz%4", 6, out, &n, true, false), 0);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "a%zz%4", 6);
    assert_int_equal(vx_http_pct_decode("%00", 3, out, &n, false, true), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], 0);
}

static void test_C50_extra_params_ignored_and_first_wins(void **state) {
    const char *q = "__randArg__=0.123&vortexUuid=u-1&vortexName=browser&vortexUuid=u-2";
    char *u = get(q, "vortexUuid", NULL);
    char *n = get(q, "vortexName", NULL);
    assert_string_equal(u, "u-1");
    assert_string_equal(n, "browser");
    free(u);
    free(n);
    assert_null(get(q, "vortex", NULL));
    assert_null(get(q, "uuid", NULL));
}

static void test_query_values_percent_decoded(void **state) {
    size_t len = 0;
    char *v = get("vortexName=my%20app+x&vortex%55uid=%C3%A9", "vortexName", &len);
    assert_string_equal(v, "my app x");
    free(v);
    v = get("vortexName=my%20app+x&vortex%55uid=%C3%A9", "vortexUuid", &len);
    assert_string_equal(v, "\xc3\xa9");
    assert_int_equal(len, 2);
    free(v);
}

static void test_query_empty_and_valueless(void **state) {
    size_t len = 7;
    char *v = get("vortexUuid=&x=1", "vortexUuid", &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    free(v);
    v = get("x=1&vortexUuid", "vortexUuid", &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    free(v);
    assert_null(get("", "vortexUuid", NULL));
    assert_null(get("&&&", "vortexUuid", NULL));
    /* a NUL decoded from %00 stays in the value and its length */
    v = get("vortexUuid=a%00b", "vortexUuid", &len);
    assert_int_equal(len, 3);
    free(v);
}

static void test_C48_param_rule(void **state) {
    assert_true(vx_http_param_valid("3f2c-uuid", 9));
    assert_true(vx_http_param_valid("caf\xc3\xa9", 5));
    assert_false(vx_http_param_valid("", 0));
    assert_false(vx_http_param_valid(NULL, 0));
    char big[256];
    memset(big, 'a', sizeof big);
    assert_true(vx_http_param_valid(big, 255));
    assert_false(vx_http_param_valid(big, 256));
    assert_false(vx_http_param_valid("a\nb", 3));
    assert_false(vx_http_param_valid("a\0b", 3));
    assert_false(vx_http_param_valid("a\x7f", 2));
    assert_false(vx_http_param_valid("a\xc2\x85", 3)); /* C1 NEL */
    assert_true(vx_http_param_valid("a\xc2\xa0", 3));  /* NBSP is not a control */
    assert_false(vx_http_param_valid("\xff", 1));
    assert_false(vx_http_param_valid("\xc3", 1));
    assert_false(vx_http_param_valid("\xed\xa0\x80", 3)); /* surrogate */
}

static void sanitize_ok(const char *path, const char *want) {
    char out[256];
    assert_int_equal(vx_http_sanitize_path(path, strlen(path), out), 0);
    assert_string_equal(out, want);
}

static void sanitize_bad(const char *path) {
    char out[256];
    assert_int_equal(vx_http_sanitize_path(path, strlen(path), out), VX_E_INVAL);
}

static void test_sanitize_path_normal(void **state) {
    sanitize_ok("/", "");
    sanitize_ok("/index.html", "index.html");
    sanitize_ok("//a/./b//c.js", "a/b/c.js");
    sanitize_ok("/my%20file.txt", "my file.txt");
    sanitize_ok("/a..b/c...d", "a..b/c...d");
}

static void test_sanitize_path_rejects_traversal(void **state) {
    sanitize_bad("/../etc/passwd");
    sanitize_bad("/a/../../b");
    sanitize_bad("/a/..");
    sanitize_bad("/%2e%2e/etc/passwd");
    sanitize_bad("/%2E%2E%2fetc");
    sanitize_bad("/a%5c..%5cb");
    sanitize_bad("/a\\b");
    sanitize_bad("/a%00.html");
    sanitize_bad("/a%zz");
}

static void test_mime_types(void **state) {
    assert_string_equal(vx_http_mime_type("/x/index.html"), "text/html; charset=utf-8");
    assert_string_equal(vx_http_mime_type("a.js"), "text/javascript; charset=utf-8");
    assert_string_equal(vx_http_mime_type("a.mjs"), "text/javascript; charset=utf-8");
    assert_string_equal(vx_http_mime_type("a.CSS"), "text/css; charset=utf-8");
    assert_string_equal(vx_http_mime_type("a.json"), "application/json");
    assert_string_equal(vx_http_mime_type("a.js.map"), "application/json");
    assert_string_equal(vx_http_mime_type("a.svg"), "image/svg+xml");
    assert_string_equal(vx_http_mime_type("a.png"), "image/png");
    assert_string_equal(vx_http_mime_type("a.jpg"), "image/jpeg");
    assert_string_equal(vx_http_mime_type("favicon.ico"), "image/x-icon");
    assert_string_equal(vx_http_mime_type("r.txt"), "text/plain; charset=utf-8");
    assert_string_equal(vx_http_mime_type("m.wasm"), "application/wasm");
    assert_string_equal(vx_http_mime_type("x.bin"), "application/octet-stream");
    assert_string_equal(vx_http_mime_type("/a.d/README"), "application/octet-stream");
    assert_string_equal(vx_http_mime_type(".html"), "application/octet-stream");
}

static void test_header_tokens(void **state) {
    const char *v = "keep-alive, Upgrade";
    assert_true(vx_http_has_token(v, strlen(v), "upgrade"));
    assert_true(vx_http_has_token(v, strlen(v), "keep-alive"));
    assert_false(vx_http_has_token(v, strlen(v), "close"));
    assert_false(vx_http_has_token("upgraded", 8, "upgrade"));
    assert_false(vx_http_has_token(NULL, 0, "upgrade"));
    assert_true(vx_http_has_token(" websocket\t", 11, "WebSocket"));
}

static void test_ws_key_rule(void **state) {
    const char *k = "dGhlIHNhbXBsZSBub25jZQ==";
    assert_true(vx_http_ws_key_valid(k, strlen(k)));
    assert_false(vx_http_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=", 23));
    assert_false(vx_http_ws_key_valid("dGhlIHNhbXBsZSBub25jZR==", 24)); /* stray bits */
    assert_false(vx_http_ws_key_valid("dGhlIHNhbXBsZSBub25j!Q==", 24));
    assert_false(vx_http_ws_key_valid("", 0));
}

static void test_C49_error_response_plain_text(void **state) {
    vx_buf b = {0};
    assert_int_equal(
        vx_http_text_response(&b, 405, "Allow: POST\r\n",
                              "This is a vortex endpoint; only POST is supported.", false,
                              false),
        0);
    assert_int_equal(vx_buf_append(&b, "", 1), 0);
    const char *s = b.data;
    assert_true(strncmp(s, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
    assert_non_null(strstr(s, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    assert_non_null(strstr(s, "\r\nAllow: POST\r\n"));
    assert_non_null(strstr(s, "\r\nContent-Length: 50\r\n"));
    assert_null(strstr(s, "Connection: close"));
    const char *body = strstr(s, "\r\n\r\n") + 4;
    assert_string_equal(body, "This is a vortex endpoint; only POST is supported.");
    vx_buf_free(&b);
}

static void test_error_body_never_starts_with_lt(void **state) {
    vx_buf b = {0};
    assert_int_equal(vx_http_text_response(&b, 400, NULL, "<html>", true, false), 0);
    assert_int_equal(vx_buf_append(&b, "", 1), 0);
    assert_non_null(strstr(b.data, "Connection: close\r\n"));
    assert_non_null(strstr(b.data, "Content-Length: 7\r\n"));
    assert_string_equal(strstr(b.data, "\r\n\r\n") + 4, " <html>");
    vx_buf_free(&b);
    /* HEAD: same headers, no body */
    assert_int_equal(vx_http_text_response(&b, 404, NULL, "Not found", false, true), 0);
    assert_int_equal(vx_buf_append(&b, "", 1), 0);
    assert_non_null(strstr(b.data, "Content-Length: 9\r\n"));
    assert_string_equal(strstr(b.data, "\r\n\r\n") + 4, "");
    vx_buf_free(&b);
}

static void test_status_texts(void **state) {
    assert_string_equal(vx_http_status_text(413), "Content Too Large");
    assert_string_equal(vx_http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(vx_http_status_text(426), "Upgrade Required");
    assert_string_equal(vx_http_status_text(503), "Service Unavailable");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pct_decode_plus_and_escapes),
        cmocka_unit_test(test_pct_decode_bad_escape_strict_or_literal),
        cmocka_unit_test(test_C50_extra_params_ignored_and_first_wins),
        cmocka_unit_test(test_query_values_percent_decoded),
        cmocka_unit_test(test_query_empty_and_valueless),
        cmocka_unit_test(test_C48_param_rule),
        cmocka_unit_test(test_sanitize_path_normal),
        cmocka_unit_test(test_sanitize_path_rejects_traversal),
        cmocka_unit_test(test_mime_types),
        cmocka_unit_test(test_header_tokens),
        cmocka_unit_test(test_ws_key_rule),
        cmocka_unit_test(test_C49_error_response_plain_text),
        cmocka_unit_test(test_error_body_never_starts_with_lt),
        cmocka_unit_test(test_status_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
