/* TLS over libuv streams with OpenSSL memory BIOs (see tls.h).
 *
 * Two memory BIOs per connection: `rbio` holds ciphertext read from the
 * socket until OpenSSL consumes it, `wbio` collects what OpenSSL produces
 * (handshake records, alerts, encrypted data), which is moved at once into a
 * uv_write of our own. Writes never wait inside OpenSSL: a memory BIO always
 * takes everything, so SSL_write completes or fails, and libuv's write queue
 * is the only place ciphertext waits (the slow-consumer rule of §12 keeps
 * working on uv_stream_get_write_queue_size). */
#include "transport/tls.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_RECORD 16384 /* plaintext per record: writes are cut to this */

struct vx_tls_ctx {
    SSL_CTX *ssl;
    unsigned refs;
    bool client;
    bool insecure;
    SSL_SESSION *session; /* client: the latest session, offered for resumption */
};

struct vx_tls {
    vx_tls_ctx *ctx;
    SSL *ssl;
    BIO *rbio, *wbio;
    uv_stream_t *stream;
    int write_error; /* a ciphertext write failed: the stream is broken */
    bool failed;
    bool shut; /* close_notify sent */
    bool identity_done;
    char *identity;
    char error[200];
};

/* One uv_write of ciphertext; `outer` is the caller's request, if any. */
typedef struct tls_write {
    uv_write_t req;
    vx_tls *t;
    uv_write_t *outer;
    uv_write_cb cb;
    char data[];
} tls_write;

/* ---- contexts ------------------------------------------------------------- */

/* OpenSSL's reason for the failure on this thread, then a clean queue. The
 * oldest error is the cause ("No such file or directory", "no start line");
 * later ones only say which layer passed it on ("system lib", "PEM lib"). */
static const char *ssl_reason(char *buf, size_t len) {
    unsigned long e = ERR_peek_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (e && ERR_GET_LIB(e) == ERR_LIB_SYS)
        snprintf(buf, len, "%s", strerror(ERR_GET_REASON(e)));
    else if (r)
        snprintf(buf, len, "%s", r);
    else if (e)
        snprintf(buf, len, "OpenSSL error %lx", e);
    else
        snprintf(buf, len, "unknown error");
    ERR_clear_error();
    return buf;
}

static int ctx_fail(vx_tls_ctx *c, vx_error *err, const char *what, const char *file) {
    char why[160];
    /* A readable file without the expected PEM block fails in the decoder
     * with words ("unsupported", "no start line") that do not say so. */
    unsigned long e = ERR_peek_error();
    int lib = ERR_GET_LIB(e);
    const char *hint = "";
    if (e && (lib == ERR_LIB_PEM || lib == ERR_LIB_OSSL_DECODER))
        hint = strcmp(what, "key file") == 0 ? "no usable PEM private key in it: "
                                             : "no usable PEM certificate in it: ";
    ssl_reason(why, sizeof why);
    vx_tls_ctx_unref(c);
    return vx_error_set(err, VX_E_TLS, "TLS %s '%s': %s%s", what, file, hint, why);
}

static vx_tls_ctx *ctx_new(const SSL_METHOD *m, bool client) {
    vx_tls_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->ssl = SSL_CTX_new(m);
    if (!c->ssl) {
        free(c);
        return NULL;
    }
    c->refs = 1;
    c->client = client;
    SSL_CTX_set_min_proto_version(c->ssl, TLS1_2_VERSION);
    /* Renegotiation would let a peer make us write while we only read. */
    SSL_CTX_set_options(c->ssl, SSL_OP_NO_RENEGOTIATION);
    /* Idle connections keep no record buffers (many idle WebSockets). */
    SSL_CTX_set_mode(c->ssl, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_app_data(c->ssl, c);
    return c;
}

/* Certificate (chain) and key; the key defaults to the certificate file. */
static int load_pair(vx_tls_ctx *c, const vx_tls_conf *conf, vx_error *err) {
    const char *key = conf->key_file ? conf->key_file : conf->cert_file;
    if (SSL_CTX_use_certificate_chain_file(c->ssl, conf->cert_file) != 1)
        return ctx_fail(c, err, "certificate file", conf->cert_file);
    if (SSL_CTX_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1)
        return ctx_fail(c, err, "key file", key);
    if (SSL_CTX_check_private_key(c->ssl) != 1)
        return ctx_fail(c, err, "key file (does not match the certificate)", key);
    return 0;
}

void vx_tls_ctx_unref(vx_tls_ctx *c) {
    if (!c || --c->refs > 0) return;
    if (c->session) SSL_SESSION_free(c->session);
    SSL_CTX_free(c->ssl);
    free(c);
}

int vx_tls_ctx_server(const vx_tls_conf *conf, vx_tls_ctx **out, vx_error *err) {
    *out = NULL;
    if (!conf->cert_file)
        return vx_error_set(err, VX_E_INVAL, "TLS: a key file needs a certificate file");
    if (conf->verify_peer && !conf->ca_file)
        return vx_error_set(err, VX_E_INVAL,
                            "TLS: verifying client certificates needs a CA file");
    ERR_clear_error();
    vx_tls_ctx *c = ctx_new(TLS_server_method(), false);
    if (!c) return vx_error_set(err, VX_E_NOMEM, "out of memory creating a TLS context");
    int rc = load_pair(c, conf, err);
    if (rc) return rc;
    if (conf->ca_file) {
        if (SSL_CTX_load_verify_locations(c->ssl, conf->ca_file, NULL) != 1)
            return ctx_fail(c, err, "CA file", conf->ca_file);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(conf->ca_file);
        if (!names) return ctx_fail(c, err, "CA file", conf->ca_file);
        SSL_CTX_set_client_CA_list(c->ssl, names);
        int mode = SSL_VERIFY_PEER;
        if (conf->verify_peer) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(c->ssl, mode, NULL);
        /* Resumed sessions keep the verified identity; OpenSSL requires a
         * context id for them once peers are verified. */
        static const unsigned char sid[] = "vortexc";
        SSL_CTX_set_session_id_context(c->ssl, sid, sizeof sid - 1);
    }
    *out = c;
    return 0;
}

/* Client: keep the latest session so the next connection (every long-poll
 * POST is one) resumes instead of doing a full handshake. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
    vx_tls_ctx *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (c->session) SSL_SESSION_free(c->session);
    c->session = sess;
    return 1; /* we keep the reference */
}

int vx_tls_ctx_client(const vx_tls_conf *conf, vx_tls_ctx **out, vx_error *err) {
    *out = NULL;
    if (conf->key_file && !conf->cert_file)
        return vx_error_set(err, VX_E_INVAL, "TLS: a key file needs a certificate file");
    ERR_clear_error();
    vx_tls_ctx *c = ctx_new(TLS_client_method(), true);
    if (!c) return vx_error_set(err, VX_E_NOMEM, "out of memory creating a TLS context");
    c->insecure = conf->insecure;
    if (conf->cert_file) {
        int rc = load_pair(c, conf, err);
        if (rc) return rc;
    }
    if (conf->ca_file) {
        if (SSL_CTX_load_verify_locations(c->ssl, conf->ca_file, NULL) != 1)
            return ctx_fail(c, err, "CA file", conf->ca_file);
    } else if (SSL_CTX_set_default_verify_paths(c->ssl) != 1) {
        return ctx_fail(c, err, "system CA store", "default");
    }
    SSL_CTX_set_verify(c->ssl, conf->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_CLIENT |
                                               SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c->ssl, on_new_session);
    *out = c;
    return 0;
}

/* ---- connections ----------------------------------------------------------- */

static vx_tls *tls_new(vx_tls_ctx *ctx, uv_stream_t *stream) {
    vx_tls *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ssl = SSL_new(ctx->ssl);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return NULL;
    }
    /* An empty read BIO means "more to come", not end of stream: the socket
     * tells us about its end. */
    BIO_set_mem_eof_return(t->rbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both now */
    t->ctx = ctx;
    ctx->refs++;
    t->stream = stream;
    return t;
}

vx_tls *vx_tls_new_server(vx_tls_ctx *ctx, uv_stream_t *stream) {
    vx_tls *t = tls_new(ctx, stream);
    if (t) SSL_set_accept_state(t->ssl);
    return t;
}

vx_tls *vx_tls_new_client(vx_tls_ctx *ctx, uv_stream_t *stream, const char *host) {
    vx_tls *t = tls_new(ctx, stream);
    if (!t) return NULL;
    SSL_set_connect_state(t->ssl);
    unsigned char addr[16];
    bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    int ok = 1;
    if (!ip) ok = SSL_set_tlsext_host_name(t->ssl, host); /* SNI is for names only */
    if (ok && !ctx->insecure) {
        if (ip)
            ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host);
        else
            ok = SSL_set1_host(t->ssl, host);
    }
    if (ok && ctx->session) ok = SSL_set_session(t->ssl, ctx->session);
    if (!ok) {
        ERR_clear_error();
        vx_tls_free(t);
        return NULL;
    }
    return t;
}

void vx_tls_free(vx_tls *t) {
    if (!t) return;
    SSL_free(t->ssl);
    vx_tls_ctx_unref(t->ctx);
    free(t->identity);
    free(t);
}

bool vx_tls_ready(const vx_tls *t) {
    return !t->failed && SSL_is_init_finished(t->ssl);
}

const char *vx_tls_error(const vx_tls *t) {
    return t->error[0] ? t->error : "no TLS error";
}

static void set_failed(vx_tls *t, int ssl_err) {
    if (t->failed) return;
    t->failed = true;
    long v = SSL_get_verify_result(t->ssl);
    unsigned long e = ERR_peek_last_error();
    bool verify = e && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED;
    if (verify && v != X509_V_OK) {
        snprintf(t->error, sizeof t->error, "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else if (e) {
        ssl_reason(t->error, sizeof t->error);
    } else if (ssl_err == SSL_ERROR_SYSCALL) {
        snprintf(t->error, sizeof t->error, "unexpected end of the TLS stream");
    } else {
        snprintf(t->error, sizeof t->error, "TLS error %d", ssl_err);
    }
}

/* ---- ciphertext out ----------------------------------------------------------- */

static void on_written(uv_write_t *req, int status) {
    tls_write *w = (tls_write *)req;
    if (status < 0 && !w->t->write_error) w->t->write_error = status;
    if (w->cb) w->cb(w->outer, status);
    free(w);
}

/* Hand everything OpenSSL produced to one uv_write (with the caller's
 * callback, if any). */
static int flush(vx_tls *t, uv_write_t *outer, uv_write_cb cb) {
    size_t n = BIO_ctrl_pending(t->wbio);
    if (n == 0 && !cb) return 0;
    tls_write *w = malloc(sizeof *w + n);
    if (!w) return UV_ENOMEM;
    w->t = t;
    w->outer = outer;
    w->cb = cb;
    if (n && BIO_read(t->wbio, w->data, (int)n) != (int)n) {
        free(w);
        return UV_EIO;
    }
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    int rc = uv_write(&w->req, t->stream, &b, 1, on_written);
    if (rc < 0) {
        free(w);
        if (!t->write_error) t->write_error = rc;
    }
    return rc;
}

/* ---- input --------------------------------------------------------------- */

int vx_tls_feed(vx_tls *t, const char *in, size_t len) {
    if (t->failed) return VX_E_TLS;
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        int n = BIO_write(t->rbio, in, chunk);
        if (n <= 0) {
            t->failed = true;
            snprintf(t->error, sizeof t->error, "out of memory buffering TLS input");
            return VX_E_TLS;
        }
        in += n;
        len -= (size_t)n;
    }
    if (!SSL_is_init_finished(t->ssl)) {
        ERR_clear_error();
        int r = SSL_do_handshake(t->ssl);
        if (r <= 0) {
            int e = SSL_get_error(t->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                set_failed(t, e);
                flush(t, NULL, NULL); /* the alert telling the peer why */
                return VX_E_TLS;
            }
        }
    }
    flush(t, NULL, NULL);
    return 0;
}

int vx_tls_start(vx_tls *t) {
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r <= 0) {
        int e = SSL_get_error(t->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            set_failed(t, e);
            return VX_E_TLS;
        }
    }
    return flush(t, NULL, NULL);
}

ssize_t vx_tls_read(vx_tls *t, char *out, size_t cap) {
    if (t->failed) return VX_E_TLS;
    if (!SSL_is_init_finished(t->ssl) || cap == 0) return 0;
    ERR_clear_error();
    int r = SSL_read(t->ssl, out, cap > INT_MAX ? INT_MAX : (int)cap);
    /* Post-handshake messages (key updates) may need an answer. */
    if (BIO_ctrl_pending(t->wbio)) flush(t, NULL, NULL);
    if (r > 0) return r;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
    if (e == SSL_ERROR_ZERO_RETURN) return UV_EOF;
    set_failed(t, e);
    flush(t, NULL, NULL);
    return VX_E_TLS;
}

const char *vx_tls_peer_identity(vx_tls *t) {
    if (t->identity_done || !vx_tls_ready(t)) return t->identity;
    t->identity_done = true;
    X509 *cert = SSL_get0_peer_certificate(t->ssl);
    if (!cert || SSL_get_verify_result(t->ssl) != X509_V_OK) return NULL;
    if (t->ctx->client && t->ctx->insecure) return NULL; /* not verified */
    BIO *b = BIO_new(BIO_s_mem());
    if (!b) return NULL;
    if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        t->identity = n >= 0 ? strndup(p, (size_t)n) : NULL;
    }
    BIO_free(b);
    ERR_clear_error();
    return t->identity;
}

/* ---- output ---------------------------------------------------------------- */

static int ssl_write_all(vx_tls *t, const char *p, size_t len) {
    while (len > 0) {
        int chunk = len > INT_MAX ? INT_MAX : (int)len;
        int n = SSL_write(t->ssl, p, chunk);
        if (n <= 0) {
            set_failed(t, SSL_get_error(t->ssl, n));
            return UV_EPIPE;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Encrypt the buffers into the write BIO. Small buffers (a chunk size line,
 * a '.') are gathered so that they share records instead of each paying a
 * record header and tag. */
static int encrypt(vx_tls *t, const uv_buf_t bufs[], unsigned nbufs, size_t *total) {
    if (t->failed) return UV_EPIPE;
    if (t->write_error) return t->write_error;
    if (!SSL_is_init_finished(t->ssl)) return UV_ENOTCONN;
    char rec[TLS_RECORD];
    size_t fill = 0;
    *total = 0;
    ERR_clear_error();
    for (unsigned i = 0; i < nbufs; i++) {
        const char *p = bufs[i].base;
        size_t len = bufs[i].len;
        *total += len;
        while (len > 0) {
            if (fill == 0 && len >= TLS_RECORD) {
                size_t whole = len - len % TLS_RECORD;
                int rc = ssl_write_all(t, p, whole);
                if (rc) return rc;
                p += whole;
                len -= whole;
                continue;
            }
            size_t take = TLS_RECORD - fill < len ? TLS_RECORD - fill : len;
            memcpy(rec + fill, p, take);
            fill += take;
            p += take;
            len -= take;
            if (fill == TLS_RECORD) {
                int rc = ssl_write_all(t, rec, fill);
                if (rc) return rc;
                fill = 0;
            }
        }
    }
    return fill ? ssl_write_all(t, rec, fill) : 0;
}

int vx_tls_write(vx_tls *t, uv_write_t *req, const uv_buf_t bufs[], unsigned nbufs,
                 uv_write_cb cb) {
    size_t total;
    int rc = encrypt(t, bufs, nbufs, &total);
    if (rc) return rc;
    return flush(t, req, cb);
}

int vx_tls_try_write(vx_tls *t, const uv_buf_t bufs[], unsigned nbufs) {
    size_t total;
    int rc = encrypt(t, bufs, nbufs, &total);
    if (rc == UV_ENOTCONN) return UV_EAGAIN;
    if (rc == 0) rc = flush(t, NULL, NULL);
    if (rc) return rc;
    return total > INT_MAX ? INT_MAX : (int)total;
}

int vx_tls_shutdown(vx_tls *t, uv_shutdown_t *req, uv_shutdown_cb cb) {
    if (!t->failed && !t->shut && SSL_is_init_finished(t->ssl)) {
        t->shut = true;
        ERR_clear_error();
        SSL_shutdown(t->ssl); /* queues close_notify; the peer's is not awaited */
        ERR_clear_error();
        flush(t, NULL, NULL);
    }
    return uv_shutdown(req, t->stream, cb);
}
