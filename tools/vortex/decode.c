/* `vortex decode`: vortex msgs on stdin -> one line of wire JSON each. */
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct decoder {
    const vx_cli_opts *o;
    vx_codec *codec;
    vx_buf json;               /* reused output buffer */
    unsigned long long n;      /* msgs seen, for error lines */
    unsigned long long failed; /* msgs that failed */
    bool fatal;                /* out of memory or output error: stop */
} decoder;

/* Decode one msg and print its JSON, or report why not. */
static void decode_one(decoder *d, const char *msg, size_t len) {
    d->n++;
    vx_error err;
    vx_error_clear(&err);
    vx_payload *p = NULL;
    int rc = vx_codec_decode(d->codec, msg, len, &p, &err);
    if (rc == 0) {
        d->json.len = 0;
        rc = vx_json_encode_payload(p, &d->o->codec, &d->json, &err);
        vx_payload_decref(p);
    }
    if (rc != 0) {
        d->failed++;
        vx_cli_report("msg", d->n, rc, err.message);
        if (rc == VX_E_NOMEM) d->fatal = true;
        return;
    }
    if (vx_buf_append(&d->json, "\n", 1) != 0 ||
        fwrite(d->json.data, 1, d->json.len, stdout) != d->json.len) {
        d->fatal = true;
    }
}

/* Splitter callback: bare-dot heartbeats and whitespace-only items (the
 * newline after the last '.') are not msgs. */
static void on_item(void *data, int status, const char *item, size_t len) {
    decoder *d = data;
    if (d->fatal) return;
    if (status != 0) {
        char msg[VX_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg,
                 "stream item of %zu bytes exceeds max_msg_bytes %zu; skipped", len,
                 d->o->codec.max_msg_bytes);
        d->n++;
        d->failed++;
        vx_cli_report("msg", d->n, status, msg);
        return;
    }
    if (vx_cli_is_blank(item, len)) return;
    decode_one(d, item, len);
}

static int decode_stream(decoder *d) {
    vx_splitter *s = vx_splitter_new(d->o->codec.max_msg_bytes, on_item, d);
    if (!s) return VX_E_NOMEM;
    static char chunk[65536];
    int rc = 0;
    size_t got;
    while (!d->fatal && (got = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        rc = vx_splitter_feed(s, chunk, got);
        if (rc != 0) break;
    }
    if (rc == 0 && !d->fatal) vx_splitter_finish(s, true);
    vx_splitter_free(s);
    if (rc == 0 && ferror(stdin)) rc = VX_E_IO;
    return rc;
}

static int decode_lines(decoder *d) {
    vx_cli_reader *r = malloc(sizeof *r);
    if (!r) return VX_E_NOMEM;
    vx_cli_reader_init(r, stdin);
    vx_buf line = {0};
    /* Keep a little over the limit so that a msg of exactly max_msg_bytes
     * followed by "\r" still reaches the decoder, which checks the limit. */
    size_t max = d->o->codec.max_msg_bytes;
    size_t cap = max < SIZE_MAX - 16 ? max + 16 : max;
    size_t total;
    int rc = 0;
    while (!d->fatal && (rc = vx_cli_read_line(r, &line, cap, &total)) == 1) {
        if (total > cap) {
            char msg[VX_ERROR_MESSAGE_MAX];
            snprintf(msg, sizeof msg, "line of %zu bytes exceeds max_msg_bytes %zu", total,
                     max);
            d->n++;
            d->failed++;
            vx_cli_report("msg", d->n, VX_E_MSG_TOO_BIG, msg);
            continue;
        }
        size_t len = line.len;
        if (len > 0 && line.data[len - 1] == '\r') len--;
        if (vx_cli_is_blank(line.data, len)) continue;
        decode_one(d, line.data, len);
    }
    vx_buf_free(&line);
    free(r);
    return rc < 0 ? rc : 0;
}

int vx_cli_decode(const vx_cli_opts *o) {
    decoder d = {.o = o};
    d.codec = vx_codec_new(&o->codec);
    if (!d.codec) {
        fprintf(stderr, "vortex: cannot create codec: %s\n", vx_strerror(VX_E_NOMEM));
        return VX_CLI_FAILED;
    }
    int rc = o->stream ? decode_stream(&d) : decode_lines(&d);
    vx_codec_free(d.codec);
    vx_buf_free(&d.json);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "vortex: error writing output\n");
        return VX_CLI_FAILED;
    }
    if (rc != 0) {
        fprintf(stderr, "vortex: %s: %s\n", vx_error_name(rc),
                rc == VX_E_IO ? "error reading input" : vx_strerror(rc));
        return VX_CLI_FAILED;
    }
    if (d.fatal) return VX_CLI_FAILED;
    return d.failed ? VX_CLI_FAILED : VX_CLI_OK;
}
