/* `vortex`: command-line front end of the VortexC codec (docs/cli.md).
 * Option parsing and dispatch only; the work is in decode.c and encode.c. */
#include "cli.h"
#include "net.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char usage_main[] =
    "Usage: vortex <command> [options]\n"
    "\n"
    "Convert between vortex msgs (vortexpy 0.3 wire format) and their JSON.\n"
    "\n"
    "Commands:\n"
    "  decode    read msgs on stdin, print each payload's wire JSON on one line\n"
    "  encode    read payload JSON lines on stdin, print one msg per line\n"
    "  send      connect to a vortex server and send one payload (or a request)\n"
    "  listen    connect to a vortex server and print the payloads received\n"
    "  help      show this help\n"
    "\n"
    "Run 'vortex <command> --help' for the options of a command.\n"
    "Exit status: 0 every item converted; 1 some item failed (reported on stderr\n"
    "as 'vortex: msg N: VX_E_NAME: message'; the others are still printed);\n"
    "2 usage error or unusable --types file.\n";

static const char usage_decode[] =
    "Usage: vortex decode [options] < msgs\n"
    "\n"
    "Read vortex msgs on stdin, one per line (blank lines skipped, a trailing CR\n"
    "stripped), and print the wire JSON of each payload on one line of stdout.\n"
    "A msg that fails is reported on stderr as 'vortex: msg N: VX_E_NAME: message'\n"
    "(N counts msgs from 1) and decoding goes on; the exit status is then 1.\n"
    "\n"
    "Options:\n"
    "  --stream            input is a '.'-delimited stream (HTTP body, pipe) instead\n"
    "                      of lines; bare dots (heartbeats) are skipped\n"
    "  --strict            strict decoding: unregistered tuple types, unknown tuple\n"
    "                      fields and duplicate JSON keys fail\n"
    "  --types FILE        register the tuple types described in FILE (repeatable)\n"
    "  --compact           print JSON with ',' and ':' separators\n"
    "  --max-msg-bytes N   longest msg accepted (default 16M)\n"
    "  --max-json-bytes N  largest inflated JSON accepted (default 64M)\n"
    "  --max-depth N       deepest JSON nesting accepted (default 64)\n"
    "  -h, --help          show this help\n"
    "Sizes take an optional k, M or G suffix (powers of 1024).\n";

static const char usage_encode[] =
    "Usage: vortex encode [options] < json-lines\n"
    "\n"
    "Read payloads as wire JSON, one per line (blank lines skipped), and print one\n"
    "vortex msg per line. A payload that fails is reported on stderr as\n"
    "'vortex: payload N: VX_E_NAME: message' and encoding goes on; the exit\n"
    "status is then 1.\n"
    "\n"
    "Options:\n"
    "  --level N           zlib level 0-9, or 10-12 for libdeflate's slower levels\n"
    "                      (default 6)\n"
    "  --compact           compress JSON written with ',' and ':' separators\n"
    "  --strict            strict decoding of the input JSON (see decode --help)\n"
    "  --types FILE        register the tuple types described in FILE (repeatable)\n"
    "  --max-msg-bytes N   longest msg produced (default 16M)\n"
    "  --max-json-bytes N  longest input line accepted (default 64M)\n"
    "  --max-depth N       deepest JSON nesting accepted (default 64)\n"
    "  -h, --help          show this help\n"
    "Sizes take an optional k, M or G suffix (powers of 1024).\n";

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    fputs("vortex: ", stderr);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'vortex %s--help'.\n", cmd ? cmd : "");
    return VX_CLI_USAGE;
}

/* Parse a non-negative decimal with an optional k/M/G suffix. */
static bool parse_size(const char *s, size_t max, size_t *out) {
    if (*s < '0' || *s > '9') return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0) return false;
    unsigned shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        break;
    }
    if (*end != '\0') return false;
    if (v > (unsigned long long)max >> shift) return false;
    *out = (size_t)(v << shift);
    return true;
}

/* Parse a decimal integer in [lo, hi], nothing else. */
static bool parse_int(const char *s, long lo, long hi, long *out) {
    if ((*s < '0' || *s > '9') && *s != '-') return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

typedef struct parsed {
    vx_cli_opts o;
    const char **types; /* --types files, in order */
    size_t n_types;
    bool help;
} parsed;

/* Parse the options of `cmd` ("decode" or "encode"). VX_CLI_OK or USAGE. */
static int parse_options(const char *cmd, int argc, char **argv, parsed *p) {
    bool is_decode = strcmp(cmd, "decode") == 0;
    char try_cmd[16];
    snprintf(try_cmd, sizeof try_cmd, "%s ", cmd);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            p->help = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0)
            return usage_error(try_cmd, "unexpected argument '%s'", arg);
        /* Split "--name=value"; options with a value may also take the next arg. */
        char name[32];
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (name_len >= sizeof name)
            return usage_error(try_cmd, "unknown option '%s'", arg);
        memcpy(name, arg, name_len);
        name[name_len] = '\0';
        const char *value = eq ? eq + 1 : NULL;

        bool flag = true;
        if (strcmp(name, "--stream") == 0 && is_decode)
            p->o.stream = true;
        else if (strcmp(name, "--strict") == 0)
            p->o.codec.strict_decode = true;
        else if (strcmp(name, "--compact") == 0)
            p->o.codec.compact = true;
        else
            flag = false;
        if (flag) {
            if (value) return usage_error(try_cmd, "option '%s' takes no value", name);
            continue;
        }
        bool takes_value =
            strcmp(name, "--types") == 0 || strcmp(name, "--max-msg-bytes") == 0 ||
            strcmp(name, "--max-json-bytes") == 0 || strcmp(name, "--max-depth") == 0 ||
            (strcmp(name, "--level") == 0 && !is_decode);
        if (!takes_value) return usage_error(try_cmd, "unknown option '%s'", name);
        if (!value) {
            if (i + 1 >= argc)
                return usage_error(try_cmd, "option '%s' needs a value", name);
            value = argv[++i];
        }
        size_t n;
        long l;
        if (strcmp(name, "--types") == 0) {
            p->types[p->n_types++] = value;
        } else if (strcmp(name, "--level") == 0) {
            if (!parse_int(value, 0, 12, &l))
                return usage_error(try_cmd, "--level must be 0-12, not '%s'", value);
            p->o.codec.zlib_level = (int)l;
        } else if (strcmp(name, "--max-depth") == 0) {
            if (!parse_int(value, 1, 100000, &l))
                return usage_error(try_cmd, "--max-depth must be 1-100000, not '%s'",
                                   value);
            p->o.codec.max_depth = (int)l;
        } else {
            if (!parse_size(value, SIZE_MAX, &n) || n == 0)
                return usage_error(
                    try_cmd, "bad size '%s' (a positive number, k/M/G suffix)", value);
            if (strcmp(name, "--max-msg-bytes") == 0)
                p->o.codec.max_msg_bytes = n;
            else
                p->o.codec.max_json_bytes = n;
        }
    }
    return VX_CLI_OK;
}

static int run(const char *cmd, int argc, char **argv) {
    bool is_decode = strcmp(cmd, "decode") == 0;
    parsed p = {0};
    vx_codec_opts_init(&p.o.codec);
    p.types = calloc((size_t)argc + 1, sizeof *p.types);
    if (!p.types) return VX_CLI_FAILED;
    int rc = parse_options(cmd, argc, argv, &p);
    if (rc == VX_CLI_OK && p.help) {
        fputs(is_decode ? usage_decode : usage_encode, stdout);
        free(p.types);
        return VX_CLI_OK;
    }
    vx_registry *reg = NULL;
    if (rc == VX_CLI_OK && p.n_types > 0) {
        reg = vx_registry_new();
        if (!reg) rc = VX_CLI_FAILED;
        for (size_t i = 0; rc == VX_CLI_OK && i < p.n_types; i++) {
            vx_error err;
            vx_error_clear(&err);
            int lrc = vx_cli_load_types(p.types[i], reg, &err);
            if (lrc != 0) {
                fprintf(stderr, "vortex: --types %s: %s\n", vx_error_name(lrc),
                        err.message);
                rc = VX_CLI_USAGE;
            }
        }
        p.o.codec.registry = reg;
    }
    if (rc == VX_CLI_OK) rc = is_decode ? vx_cli_decode(&p.o) : vx_cli_encode(&p.o);
    vx_registry_free(reg);
    free(p.types);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_main, stderr);
        return VX_CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2 && (strcmp(argv[2], "decode") == 0 || strcmp(argv[2], "encode") == 0))
            fputs(strcmp(argv[2], "decode") == 0 ? usage_decode : usage_encode, stdout);
        else
            fputs(usage_main, stdout);
        return VX_CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("vortex (VortexC) %s\n", VORTEXC_VERSION);
        return VX_CLI_OK;
    }
    if (strcmp(cmd, "send") == 0) return vx_cli_send(argc - 2, argv + 2);
    if (strcmp(cmd, "listen") == 0) return vx_cli_listen(argc - 2, argv + 2);
    if (strcmp(cmd, "decode") != 0 && strcmp(cmd, "encode") != 0)
        return usage_error(NULL, "unknown command '%s'", cmd);
    return run(cmd, argc - 2, argv + 2);
}
