/* TLS under the listener and the client (https://, wss://; PROTOCOL §9, §10
 * over TLS): a server vx_node and a client vx_client on one loop, with
 * certificates made at test time with the OpenSSL API (a CA, server and
 * client certificates it signs, an expired one, a self-signed one, and a
 * second CA nobody trusts). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <vortexc/client.h>

#include "helpers/vxtest_loop.h"

/* ---- certificates ------------------------------------------------------------ */

static char dir[64];
static char path_ca[96], path_ca2[96], path_srv[96], path_srv_key[96], path_expired[96],
    path_self[96], path_alice[96], path_mallory[96], path_bundle[96];
static long serial = 1;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* A certificate for `key` valid from now+from_s to now+to_s, signed by the
 * issuer (NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *org, const char *cn, X509 *issuer,
                       EVP_PKEY *issuer_key, long from_s, long to_s, bool ca,
                       const char *san) {
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    if (org)
        X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1,
                                   0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca) add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (san) add_ext(x, issuer, NID_subject_alt_name, san);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

/* PEM file: the certificate (and its issuer, a chain), then the key. */
static void write_pem(const char *path, X509 *cert, X509 *chain, EVP_PKEY *key) {
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_X509(fp, cert), 1);
    if (chain) assert_int_equal(PEM_write_X509(fp, chain), 1);
    if (key) assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(fp);
}

#define DAY (24L * 3600)

static int make_certs(void **state) {
    snprintf(dir, sizeof dir, "/tmp/vx_tls_XXXXXX");
    assert_non_null(mkdtemp(dir));
#define P(var, name) snprintf(var, sizeof var, "%s/%s", dir, name)
    P(path_ca, "ca.pem");
    P(path_ca2, "ca2.pem");
    P(path_srv, "server.pem");
    P(path_srv_key, "server.key");
    P(path_expired, "expired.pem");
    P(path_self, "self.pem");
    P(path_alice, "alice.pem");
    P(path_mallory, "mallory.pem");
    P(path_bundle, "bundle.pem");
#undef P
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *ca2_key = EVP_EC_gen("P-256");
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_true(ca_key && ca2_key && key);
    X509 *ca =
        make_cert(ca_key, "Example", "Test CA", NULL, NULL, -DAY, 30 * DAY, true, NULL);
    X509 *ca2 =
        make_cert(ca2_key, "Other", "Other CA", NULL, NULL, -DAY, 30 * DAY, true, NULL);
    const char *san = "DNS:localhost,IP:127.0.0.1";
    X509 *srv = make_cert(key, NULL, "localhost", ca, ca_key, -DAY, 30 * DAY, false, san);
    X509 *expired =
        make_cert(key, NULL, "localhost", ca, ca_key, -10 * DAY, -DAY, false, san);
    X509 *self = make_cert(key, NULL, "localhost", NULL, NULL, -DAY, 30 * DAY, false, san);
    X509 *alice =
        make_cert(key, "Example", "alice", ca, ca_key, -DAY, 30 * DAY, false, NULL);
    X509 *mallory =
        make_cert(key, "Example", "mallory", ca2, ca2_key, -DAY, 30 * DAY, false, NULL);
    write_pem(path_ca, ca, NULL, NULL);
    write_pem(path_ca2, ca2, NULL, NULL);
    write_pem(path_srv, srv, ca, NULL); /* a chain; the key in its own file */
    FILE *fp = fopen(path_srv_key, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
    fclose(fp);
    write_pem(path_expired, expired, NULL, key);
    write_pem(path_self, self, NULL, key);
    write_pem(path_alice, alice, NULL, key);
    write_pem(path_mallory, mallory, NULL, key);
    /* a certificate with someone else's key */
    EVP_PKEY *other = EVP_EC_gen("P-256");
    write_pem(path_bundle, srv, NULL, other);
    EVP_PKEY_free(other);
    X509 *all[] = {ca, ca2, srv, expired, self, alice, mallory};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) X509_free(all[i]);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(ca2_key);
    EVP_PKEY_free(key);
    return 0;
}

static int remove_certs(void **state) {
    const char *all[] = {path_ca,   path_ca2,   path_srv,     path_srv_key, path_expired,
                         path_self, path_alice, path_mallory, path_bundle};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) unlink(all[i]);
    rmdir(dir);
    return 0;
}

/* ---- fixture ------------------------------------------------------------------ */

typedef struct fx {
    uv_loop_t loop;
    bool (*pred)(struct fx *);
    vx_node *server, *cnode;
    vx_client *client;
    int port;
    int n_done;
    vx_request_status status;
    vx_payload *reply;
    char who[128];    /* peer_identity the "t.who" endpoint saw ("-" = NULL) */
    char joined[128]; /* peer_identity of the remote when it joined */
    int n_who;
} fx;

static bool fx_pred(void *data) {
    fx *f = data;
    return f->pred && f->pred(f);
}

/* Run the loop until pred(f) holds or `secs` pass (pred NULL: just run for
 * `secs`); returns whether it held. */
static bool run_until(fx *f, bool (*pred)(fx *), double secs) {
    f->pred = pred;
    bool met = vxt_run_until(&f->loop, fx_pred, f, secs);
    f->pred = NULL;
    return met;
}

static int ep_echo(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    vx_payload *r = vx_payload_new();
    vx_payload_set_filt_new(r, vx_deep_copy(vx_payload_filt(p)));
    vx_payload_set_tuples_new(r, vx_deep_copy(vx_payload_tuples(p)));
    int rc = ctx->reply(ctx->reply_data, r, err);
    vx_payload_decref(r);
    return rc;
}

static int ep_who(void *data, vx_payload *p, const vx_route_ctx *ctx, vx_error *err) {
    fx *f = data;
    f->n_who++;
    snprintf(f->who, sizeof f->who, "%s", ctx->peer_identity ? ctx->peer_identity : "-");
    return ep_echo(data, p, ctx, err);
}

static void on_remote(void *data, const vx_remote_info *info, bool joined) {
    fx *f = data;
    if (joined)
        snprintf(f->joined, sizeof f->joined, "%s",
                 info->peer_identity ? info->peer_identity : "-");
}

static void add_ep(vx_node *n, const char *key, vx_endpoint_fn fn, void *data) {
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str(key));
    assert_int_equal(vx_router_add(vx_node_router(n), filt, fn, data, NULL, NULL), 0);
    vx_decref(filt);
}

static fx *fx_new(void) {
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    return f;
}

static void fx_free(fx *f) {
    vx_client_free(f->client);
    if (f->cnode) vx_node_free(f->cnode);
    if (f->server) vx_node_free(f->server);
    if (f->reply) vx_payload_decref(f->reply);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle was closed */
    free(f);
}

/* A TLS listener with `cert` (key in the same file unless `key`). */
static void start_server(fx *f, const char *cert, const char *key, const char *ca,
                         bool verify_client) {
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "srv";
    f->server = vx_node_new(&f->loop, &o, NULL);
    assert_non_null(f->server);
    vx_listen_opts lo;
    vx_listen_opts_init(&lo);
    lo.tls_cert_file = cert;
    lo.tls_key_file = key;
    lo.tls_ca_file = ca;
    lo.tls_verify_client = verify_client;
    vx_error err;
    int rc = vx_node_listen(f->server, &lo, &err);
    if (rc) fail_msg("listen: %s", err.message);
    f->port = vx_node_port(f->server);
    add_ep(f->server, "t.echo", ep_echo, f);
    add_ep(f->server, "t.who", ep_who, f);
    vx_node_on_remote(f->server, on_remote, f);
}

static void start_client(fx *f, const char *scheme, const vx_client_opts *co) {
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "cli";
    f->cnode = vx_node_new(&f->loop, &o, NULL);
    assert_non_null(f->cnode);
    char url[128];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d/", scheme, f->port);
    vx_error err;
    f->client = vx_client_new(f->cnode, url, co, &err);
    if (!f->client) fail_msg("client: %s", err.message);
}

static vx_client_opts copts(const char *ca) {
    vx_client_opts co;
    vx_client_opts_init(&co);
    co.tls_ca_file = ca;
    co.backoff_initial = 0.05; /* refused attempts retry quickly */
    co.backoff_max = 0.2;
    return co;
}

static bool is_online(fx *f) {
    return vx_client_online(f->client);
}
static bool has_error(fx *f) {
    return vx_client_last_error(f->client) != NULL;
}
static bool request_done(fx *f) {
    return f->n_done > 0;
}

static void on_response(void *data, vx_request_status st, vx_payload *reply,
                        const vx_error *err) {
    fx *f = data;
    f->n_done++;
    f->status = st;
    if (reply) f->reply = vx_payload_incref(reply);
}

static uint64_t metric(vx_node *n, const char *name) {
    vx_buf b = {0};
    assert_int_equal(vx_node_metrics_text(n, &b), 0);
    assert_int_equal(vx_buf_append(&b, "", 1), 0);
    char key[96];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(b.data, key);
    uint64_t v = p ? strtoull(p + strlen(key), NULL, 10) : UINT64_MAX;
    vx_buf_free(&b);
    return v;
}

/* ---- round trips (C-72 and C-47 as over plain TCP) ------------------------------ */

/* A request with a big tuple list (many TLS records each way) comes back
 * equal, after the server hello (C-47: the client goes online on it). */
static void round_trip(const char *scheme) {
    fx *f = fx_new();
    start_server(f, path_srv, path_srv_key, NULL, false);
    vx_client_opts co = copts(path_ca);
    start_client(f, scheme, &co);
    assert_true(run_until(f, is_online, 15));
    assert_string_equal(vx_client_server_uuid(f->client), vx_node_uuid(f->server));

    vx_payload *p = vx_payload_new_key("t.echo");
    vx_dict_set_new(vx_payload_filt(p), "text", vx_str("h\xc3\xa9llo over TLS"));
    vx_value *tuples = vx_list();
    unsigned char blob[70000];
    uint64_t x = 12345;
    for (size_t i = 0; i < sizeof blob; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        blob[i] = (unsigned char)(x >> 56); /* incompressible: ~93 KiB of msg */
    }
    vx_list_append_new(tuples, vx_bytes(blob, sizeof blob));
    vx_list_append_new(tuples, vx_str("second"));
    vx_payload_set_tuples_new(p, tuples);
    vx_request_opts ro = {.timeout = 5};
    assert_int_equal(vx_node_request(f->cnode, NULL, p, &ro, on_response, f, NULL), 0);
    assert_true(run_until(f, request_done, 15));
    assert_int_equal(f->status, VX_REQUEST_SUCCESS);
    assert_non_null(f->reply);
    assert_true(vx_equal(vx_payload_tuples(f->reply), vx_payload_tuples(p)));
    assert_true(vx_equal(vx_dict_get(vx_payload_filt(f->reply), "text"),
                         vx_dict_get(vx_payload_filt(p), "text")));
    vx_payload_decref(p);
    assert_int_equal(metric(f->server, "vortexc_tls_handshake_errors_total"), 0);
    fx_free(f);
}

static void test_C72_request_round_trip_https(void **s) {
    round_trip("https");
}
static void test_C72_request_round_trip_wss(void **s) {
    round_trip("wss");
}

/* ---- refused server certificates ----------------------------------------------- */

/* The client never goes online, reports `reason` as its last error, keeps
 * retrying, and the server counts the failed handshakes. */
static void refused(const char *scheme, const char *cert, const vx_client_opts *co,
                    const char *reason) {
    fx *f = fx_new();
    start_server(f, cert, cert == path_srv ? path_srv_key : NULL, NULL, false);
    start_client(f, scheme, co);
    assert_true(run_until(f, has_error, 15));
    const char *e = vx_client_last_error(f->client);
    if (!strstr(e, reason)) fail_msg("last error '%s' lacks '%s'", e, reason);
    assert_non_null(strstr(e, "TLS handshake"));
    assert_false(vx_client_online(f->client));
    /* Retried with backoff like any failure: more refused handshakes. */
    run_until(f, NULL, 0.6);
    assert_false(vx_client_online(f->client));
    assert_true(metric(f->server, "vortexc_tls_handshake_errors_total") >= 2);
    fx_free(f);
}

static void test_wrong_ca_refused(void **s) {
    vx_client_opts co = copts(path_ca2);
    refused("https", path_srv, &co,
            /* the server sends its chain, whose root the client does not trust */
            X509_verify_cert_error_string(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN));
}

static void test_wrong_host_name_refused(void **s) {
    vx_client_opts co = copts(path_ca);
    co.tls_server_name = "vortex.example.org";
    refused("wss", path_srv, &co, "hostname mismatch");
}

static void test_expired_certificate_refused(void **s) {
    vx_client_opts co = copts(path_ca);
    refused("https", path_expired, &co, "certificate has expired");
}

static void test_self_signed_certificate_refused(void **s) {
    vx_client_opts co = copts(path_ca);
    refused("wss", path_self, &co,
            X509_verify_cert_error_string(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT));
    const char *r = X509_verify_cert_error_string(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    assert_non_null(strstr(r, "self")); /* "self-signed certificate" */
}

static void test_insecure_accepts_self_signed(void **s) {
    fx *f = fx_new();
    start_server(f, path_self, NULL, NULL, false);
    vx_client_opts co = copts(NULL);
    co.tls_insecure = true;
    start_client(f, "https", &co);
    assert_true(run_until(f, is_online, 15));
    fx_free(f);
}

/* An IP URL is checked against the certificate's IP addresses: the server
 * certificate has 127.0.0.1, so no server name is needed (round_trip), and
 * the name "localhost" from its DNS entries works as an override. */
static void test_server_name_override_accepted(void **s) {
    fx *f = fx_new();
    start_server(f, path_srv, path_srv_key, NULL, false);
    vx_client_opts co = copts(path_ca);
    co.tls_server_name = "localhost";
    start_client(f, "wss", &co);
    assert_true(run_until(f, is_online, 15));
    fx_free(f);
}

/* ---- mutual TLS ------------------------------------------------------------------ */

static bool who_seen(fx *f) {
    return f->n_who > 0;
}

static void mtls_accepted(const char *scheme) {
    fx *f = fx_new();
    start_server(f, path_srv, path_srv_key, path_ca, true);
    vx_client_opts co = copts(path_ca);
    co.tls_cert_file = path_alice;
    start_client(f, scheme, &co);
    assert_true(run_until(f, is_online, 15));
    assert_string_equal(f->joined, "CN=alice,O=Example");
    vx_payload *p = vx_payload_new_key("t.who");
    vx_request_opts ro = {.timeout = 5};
    assert_int_equal(vx_node_request(f->cnode, NULL, p, &ro, on_response, f, NULL), 0);
    vx_payload_decref(p);
    assert_true(run_until(f, request_done, 15));
    assert_int_equal(f->status, VX_REQUEST_SUCCESS);
    assert_true(who_seen(f));
    assert_string_equal(f->who, "CN=alice,O=Example");
    fx_free(f);
}

static void test_mtls_client_cert_accepted_identity_seen_https(void **s) {
    mtls_accepted("https");
}
static void test_mtls_client_cert_accepted_identity_seen_wss(void **s) {
    mtls_accepted("wss");
}

/* Without a certificate, or with one from an unknown CA: never online, no
 * endpoint reached. (With TLS 1.3 the client learns it from the server's
 * alert after its own side of the handshake.) */
static void mtls_refused(const char *scheme, const char *cert) {
    fx *f = fx_new();
    start_server(f, path_srv, path_srv_key, path_ca, true);
    vx_client_opts co = copts(path_ca);
    co.tls_cert_file = cert;
    start_client(f, scheme, &co);
    assert_true(run_until(f, has_error, 15));
    run_until(f, NULL, 0.5);
    assert_false(vx_client_online(f->client));
    assert_non_null(strstr(vx_client_last_error(f->client), "TLS"));
    assert_int_equal(vx_node_remote_count(f->server), 0);
    assert_int_equal(f->n_who, 0);
    assert_true(metric(f->server, "vortexc_tls_handshake_errors_total") >= 1);
    fx_free(f);
}

static void test_mtls_without_client_cert_refused(void **s) {
    mtls_refused("https", NULL);
}
static void test_mtls_unknown_ca_client_cert_refused(void **s) {
    mtls_refused("wss", path_mallory);
}

/* A listener with a CA but no requirement: a client without a certificate
 * is served with no identity. */
static void test_optional_client_cert_absent_gives_null_identity(void **s) {
    fx *f = fx_new();
    start_server(f, path_srv, path_srv_key, path_ca, false);
    vx_client_opts co = copts(path_ca);
    start_client(f, "https", &co);
    assert_true(run_until(f, is_online, 15));
    vx_payload *p = vx_payload_new_key("t.who");
    assert_int_equal(vx_node_request(f->cnode, NULL, p, NULL, on_response, f, NULL), 0);
    vx_payload_decref(p);
    assert_true(run_until(f, request_done, 15));
    assert_string_equal(f->who, "-");
    assert_string_equal(f->joined, "-");
    fx_free(f);
}

/* ---- protocol versions, bad files ---------------------------------------------- */

/* A client that offers TLS 1.1 at most (allowed on its side by security
 * level 0) is refused by the server, which requires 1.2. */
static void test_tls11_only_client_refused(void **s) {
    fx *f = fx_new();
    start_server(f, path_srv, path_srv_key, NULL, false);
    SSL_CTX *cx = SSL_CTX_new(TLS_client_method());
    assert_non_null(cx);
    SSL_CTX_set_security_level(cx, 0);
    SSL_CTX_set_min_proto_version(cx, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(cx, TLS1_1_VERSION);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    SSL *ssl = SSL_new(cx);
    SSL_set_fd(ssl, fd);
    int r = 0;
    for (int i = 0; i < 3000; i++) {
        r = SSL_connect(ssl);
        int e = SSL_get_error(ssl, r);
        if (r == 1 || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)) break;
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    unsigned long e = ERR_peek_last_error();
    char why[256];
    ERR_error_string_n(e, why, sizeof why);
    ERR_clear_error();
    assert_int_not_equal(r, 1);
    run_until(f, NULL, 0.1);
    /* The server saw the attempt and refused it (not a local refusal). */
    if (metric(f->server, "vortexc_tls_handshake_errors_total") != 1)
        fail_msg("server did not count the TLS 1.1 handshake (client: %s)", why);
    SSL_free(ssl);
    SSL_CTX_free(cx);
    close(fd);
    fx_free(f);
}

static void listen_fails(const char *cert, const char *key, const char *ca, bool verify,
                         int code, const char *names) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    vx_node *n = vx_node_new(&loop, NULL, NULL);
    assert_non_null(n);
    vx_listen_opts lo;
    vx_listen_opts_init(&lo);
    lo.tls_cert_file = cert;
    lo.tls_key_file = key;
    lo.tls_ca_file = ca;
    lo.tls_verify_client = verify;
    vx_error err;
    assert_int_equal(vx_node_listen(n, &lo, &err), code);
    if (getenv("VX_TLS_SHOW")) fprintf(stderr, "%s\n", err.message);
    assert_int_equal(err.code, code);
    if (!strstr(err.message, names)) fail_msg("'%s' lacks '%s'", err.message, names);
    assert_int_equal(vx_node_port(n), -1);
    vx_node_free(n);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bad_tls_files_fail_listen(void **s) {
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.pem", dir);
    listen_fails(missing, NULL, NULL, false, VX_E_TLS, missing);
    listen_fails(path_srv, missing, NULL, false, VX_E_TLS, missing);
    /* the certificate file alone has no key */
    listen_fails(path_srv, NULL, NULL, false, VX_E_TLS, path_srv);
    /* a key that is not the certificate's */
    listen_fails(path_bundle, NULL, NULL, false, VX_E_TLS, path_bundle);
    listen_fails(path_srv, path_srv_key, missing, false, VX_E_TLS, missing);
    /* a file that is not PEM at all */
    listen_fails(path_srv, path_srv_key, "/dev/null", false, VX_E_TLS, "/dev/null");
    listen_fails(path_srv, path_srv_key, NULL, true, VX_E_INVAL, "CA");
}

static void test_bad_client_tls_files_fail_new(void **s) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    vx_node *n = vx_node_new(&loop, NULL, NULL);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.pem", dir);
    vx_client_opts co = copts(missing);
    vx_error err;
    assert_null(vx_client_new(n, "wss://127.0.0.1:1/", &co, &err));
    assert_int_equal(err.code, VX_E_TLS);
    assert_non_null(strstr(err.message, missing));
    co = copts(NULL);
    co.tls_cert_file = missing;
    assert_null(vx_client_new(n, "https://127.0.0.1:1/", &co, &err));
    assert_int_equal(err.code, VX_E_TLS);
    assert_non_null(strstr(err.message, missing));
    /* TLS options do not matter to a plain URL */
    vx_client *c = vx_client_new(n, "http://127.0.0.1:1/", &co, &err);
    assert_non_null(c);
    vx_client_free(c);
    vx_node_free(n);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C72_request_round_trip_https),
        cmocka_unit_test(test_C72_request_round_trip_wss),
        cmocka_unit_test(test_wrong_ca_refused),
        cmocka_unit_test(test_wrong_host_name_refused),
        cmocka_unit_test(test_expired_certificate_refused),
        cmocka_unit_test(test_self_signed_certificate_refused),
        cmocka_unit_test(test_insecure_accepts_self_signed),
        cmocka_unit_test(test_server_name_override_accepted),
        cmocka_unit_test(test_mtls_client_cert_accepted_identity_seen_https),
        cmocka_unit_test(test_mtls_client_cert_accepted_identity_seen_wss),
        cmocka_unit_test(test_mtls_without_client_cert_refused),
        cmocka_unit_test(test_mtls_unknown_ca_client_cert_refused),
        cmocka_unit_test(test_optional_client_cert_absent_gives_null_identity),
        cmocka_unit_test(test_tls11_only_client_refused),
        cmocka_unit_test(test_bad_tls_files_fail_listen),
        cmocka_unit_test(test_bad_client_tls_files_fail_new),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
