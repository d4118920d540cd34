/* `vortex encode`: wire JSON payloads on stdin -> one vortex msg per line. */
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>

/* Returns 0, or a VX_E_* code with `err` filled. */
static int encode_one(vx_codec *codec, const vx_codec_opts *opts, const char *json,
                      size_t len, vx_buf *out, vx_error *err) {
    vx_payload *p = NULL;
    int rc = vx_json_decode_payload(json, len, opts, &p, err);
    if (rc != 0) return rc;
    out->len = 0;
    rc = vx_codec_encode(codec, p, out, err);
    vx_payload_decref(p);
    return rc;
}

int vx_cli_encode(const vx_cli_opts *o) {
    vx_codec *codec = vx_codec_new(&o->codec);
    vx_cli_reader *r = malloc(sizeof *r);
    if (!codec || !r) {
        vx_codec_free(codec);
        free(r);
        fprintf(stderr, "vortex: %s\n", vx_strerror(VX_E_NOMEM));
        return VX_CLI_FAILED;
    }
    vx_cli_reader_init(r, stdin);
    vx_buf line = {0}, msg = {0};
    /* The JSON of one payload is bounded like the inflated JSON a decoder
     * with the same limits would accept (max_json_bytes). */
    size_t max = o->codec.max_json_bytes;
    size_t cap = max < SIZE_MAX - 16 ? max + 16 : max;
    unsigned long long n = 0, failed = 0;
    bool fatal = false;
    size_t total;
    int rc = 0;
    while (!fatal && (rc = vx_cli_read_line(r, &line, cap, &total)) == 1) {
        size_t len = line.len;
        if (total <= cap && len > 0 && line.data[len - 1] == '\r') len--;
        if (total <= cap && vx_cli_is_blank(line.data, len)) continue;
        n++;
        vx_error err;
        vx_error_clear(&err);
        int erc;
        if (len > max || total > cap) {
            erc = vx_error_set(&err, VX_E_INFLATE_LIMIT,
                               "payload JSON of %zu bytes exceeds max_json_bytes %zu",
                               total, max);
        } else {
            erc = encode_one(codec, &o->codec, line.data, len, &msg, &err);
        }
        if (erc != 0) {
            failed++;
            vx_cli_report("payload", n, erc, err.message);
            if (erc == VX_E_NOMEM) fatal = true;
            continue;
        }
        if (vx_buf_append(&msg, "\n", 1) != 0 ||
            fwrite(msg.data, 1, msg.len, stdout) != msg.len) {
            fatal = true;
        }
    }
    vx_buf_free(&line);
    vx_buf_free(&msg);
    vx_codec_free(codec);
    free(r);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "vortex: error writing output\n");
        return VX_CLI_FAILED;
    }
    if (rc < 0) {
        fprintf(stderr, "vortex: %s: %s\n", vx_error_name(rc),
                rc == VX_E_IO ? "error reading input" : vx_strerror(rc));
        return VX_CLI_FAILED;
    }
    return failed || fatal ? VX_CLI_FAILED : VX_CLI_OK;
}
