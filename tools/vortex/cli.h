/* Private declarations of the `vortex` command-line tool (tools/vortex).
 * Only the public library API is used; nothing here is installed. */
#ifndef VX_CLI_H
#define VX_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <vortexc.h>

/* Exit statuses, documented in docs/cli.md. */
enum {
    VX_CLI_OK = 0,     /* every msg / payload was converted */
    VX_CLI_FAILED = 1, /* at least one item failed (others were still processed) */
    VX_CLI_USAGE = 2,  /* bad command line or unusable --types file; nothing processed */
};

/* Everything a subcommand needs, filled by the option parser in main.c. */
typedef struct vx_cli_opts {
    bool stream;         /* decode: '.'-delimited stream instead of lines */
    vx_codec_opts codec; /* limits, level, compact, strict, registry */
} vx_cli_opts;

/* Subcommands: read stdin, write stdout, report per-item errors on stderr.
 * Return a VX_CLI_* exit status. */
int vx_cli_decode(const vx_cli_opts *o);
int vx_cli_encode(const vx_cli_opts *o);

/* Register the tuple types described in the JSON file `path` (format in
 * docs/cli.md) into `reg`. 0 or a negative VX_E_* code with `err` naming the
 * file, type and field. */
int vx_cli_load_types(const char *path, vx_registry *reg, vx_error *err);

/* Print `vortex: <what> N: VX_E_NAME: message` on stderr. */
void vx_cli_report(const char *what, unsigned long long n, int code, const char *message);

/* ---- bounded line reader ------------------------------------------------ */

/* Reads '\n'-terminated lines of any length but stores at most `cap` bytes
 * of each, so one giant line cannot exhaust memory: the rest of an
 * over-long line is consumed and only counted. */
typedef struct vx_cli_reader {
    FILE *in;
    char buf[65536];
    size_t pos, end;
    bool eof;
} vx_cli_reader;

void vx_cli_reader_init(vx_cli_reader *r, FILE *in);

/* Read the next line into `line` (replacing its contents; the '\n' is not
 * stored). Returns 1 for a line, 0 at end of input, VX_E_IO on a read error
 * or VX_E_NOMEM. *total is the full length of the line; when it exceeds
 * `cap`, `line` holds only the first `cap` bytes. */
int vx_cli_read_line(vx_cli_reader *r, vx_buf *line, size_t cap, size_t *total);

/* True if s[0..len) is empty or only SP, HT, CR, LF. */
bool vx_cli_is_blank(const char *s, size_t len);

#endif
