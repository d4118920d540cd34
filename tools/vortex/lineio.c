/* Line input for the CLI: lines of any length, bounded memory per line. */
#include "cli.h"

#include <string.h>

void vx_cli_reader_init(vx_cli_reader *r, FILE *in) {
    r->in = in;
    r->pos = r->end = 0;
    r->eof = false;
}

/* Refill the buffer; false at end of input. A read error is remembered in
 * ferror(r->in) and also ends the input. */
static bool fill(vx_cli_reader *r) {
    if (r->eof) return false;
    r->pos = 0;
    r->end = fread(r->buf, 1, sizeof r->buf, r->in);
    if (r->end == 0) {
        r->eof = true;
        return false;
    }
    return true;
}

int vx_cli_read_line(vx_cli_reader *r, vx_buf *line, size_t cap, size_t *total) {
    line->len = 0;
    *total = 0;
    bool any = false;
    for (;;) {
        if (r->pos == r->end && !fill(r)) break;
        any = true;
        const char *start = r->buf + r->pos;
        size_t avail = r->end - r->pos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        /* Store only what still fits under the cap; count the rest. */
        size_t room = *total < cap ? cap - *total : 0;
        size_t keep = take < room ? take : room;
        if (keep && vx_buf_append(line, start, keep) != 0) return VX_E_NOMEM;
        *total += take;
        r->pos += take;
        if (nl) {
            r->pos++; /* the '\n' */
            return 1;
        }
    }
    if (ferror(r->in)) return VX_E_IO;
    return any ? 1 : 0;
}

bool vx_cli_is_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
    }
    return true;
}

void vx_cli_report(const char *what, unsigned long long n, int code, const char *message) {
    fprintf(stderr, "vortex: %s %llu: %s: %s\n", what, n, vx_error_name(code),
            message && *message ? message : vx_strerror(code));
}
