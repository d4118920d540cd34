/* Write the seed corpora of the fuzz targets from tests/vectors, using the
 * library's own plain JSON parser to read the .jsonl files (CI has neither
 * python nor jq). Built and run by scripts/run-fuzz.sh.
 *
 *   make_seeds VECTORS_DIR OUT_DIR
 *
 * creates OUT_DIR/{msg_decode,json_decode,json_plain,splitter}/ and fills
 * them; each seed starts with the option byte(s) its target expects (see the
 * comment at the top of fuzz/<target>.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vortexc/codec.h>
#include <vortexc/value.h>

/* Seeds larger than this slow every mutation down for little coverage. */
#define MAX_SEED 40000

static const char *out_dir;
static int n_written;

static void die(const char *what, const char *detail) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, detail);
    exit(1);
}

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path, strerror(errno));
}

/* Write prefix[0..plen) + body[0..blen) as OUT_DIR/target/name. */
static void seed(const char *target, const char *name, const void *prefix, size_t plen,
                 const char *body, size_t blen) {
    if (plen + blen > MAX_SEED) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f) die(path, strerror(errno));
    if ((plen && fwrite(prefix, 1, plen, f) != plen) ||
        (blen && fwrite(body, 1, blen, f) != blen) || fclose(f) != 0)
        die(path, "write failed");
    n_written++;
}

static const char *str_field(vx_value *obj, const char *key, size_t *len) {
    vx_value *v = vx_dict_get(obj, key);
    if (vx_typeof(v) != VX_STR) return NULL;
    *len = vx_str_len(v);
    return vx_str_value(v);
}

/* The splitter's stream: the first few msgs of the main vectors. */
static vx_buf stream;
static int stream_msgs;

static void read_vectors(const char *dir, const char *file, const char *tag) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (!f) die(path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (n == 0) continue;
        vx_value *obj = NULL;
        vx_error err;
        if (vx_json_parse_plain(line, (size_t)n, 64, &obj, &err) != 0) {
            fprintf(stderr, "make_seeds: %s:%d: %s\n", path, lineno, err.message);
            exit(1);
        }
        size_t name_len = 0, msg_len = 0, json_len = 0;
        const char *name = str_field(obj, "name", &name_len);
        const char *msg = str_field(obj, "vortexMsg", &msg_len);
        const char *json = str_field(obj, "json", &json_len);
        char sname[256];
        snprintf(sname, sizeof sname, "%s_%.*s", tag,
                 (int)(name_len > 200 ? 200 : name_len), name ? name : "noname");
        for (char *p = sname; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
                *p = '_';
        char alt[300];

        seed("json_plain", sname, NULL, 0, line, (size_t)n);
        if (msg) {
            seed("msg_decode", sname, "\x00", 1, msg, msg_len);
            snprintf(alt, sizeof alt, "%s_strict", sname);
            seed("msg_decode", alt, "\x01", 1, msg, msg_len);
            if (strcmp(tag, "ok") == 0 && stream_msgs < 6 && msg_len < 2000) {
                if (vx_buf_append(&stream, msg, msg_len) != 0 ||
                    vx_buf_append(&stream, ".", 1) != 0)
                    die("stream", "out of memory");
                stream_msgs++;
            }
        }
        if (json) {
            seed("json_decode", sname, "\x00", 1, json, json_len);
            snprintf(alt, sizeof alt, "%s_value", sname);
            seed("json_decode", alt, "\x02", 1, json, json_len);
            snprintf(alt, sizeof alt, "%s_strict_compact", sname);
            seed("json_decode", alt, "\x11", 1, json, json_len);
            snprintf(alt, sizeof alt, "%s_json", sname);
            seed("json_plain", alt, NULL, 0, json, json_len);
        }
        vx_decref(obj);
    }
    free(line);
    fclose(f);
}

/* Typed values the vectors lack, one per value-mode seed. */
static const char *const values[] = {
    "{\"_ft\": \"int\", \"_fd\": 9223372036854775807}",
    "{\"_ft\": \"int\", \"_fd\": \"-42\"}",
    "{\"_ft\": \"float\", \"_fd\": \"2.0\"}",
    "{\"_ft\": \"bool\", \"_fd\": \"1\"}",
    "{\"_ft\": \"bytes\", \"_fd\": \"AAECAwQ=\"}",
    "{\"_ft\": \"wkb\", \"_fd\": \"AQEAAAAAAAAAAADwPwAAAAAAAABA\"}",
    "{\"_ft\": \"datetime\", \"_fd\": \"2024-03-05T10:11:12.5+10:00\"}",
    "{\"_ft\": \"datetime\", \"_fd\": \"1-01-01\"}",
    "{\"_ft\": \"list\", \"_fd\": [1, 2.5, \"x\", null]}",
    "{\"_ft\": \"dict\", \"_fd\": {\"a\": [true]}}",
    "{\"_ct\": \"rt\", \"_c\": \"test.Person\", \"age\": 41, \"name\": \"Ada\"}",
    "{\"_ct\": \"rt\", \"_c\": \"demo.Unknown\", \"z\": 1, \"a\": {\"b\": []}}",
    "{\"_ct\": \"rp\", \"filt\": {\"key\": \"k\"}, \"date\": null}",
    "[\"\\ud83d\\ude00\", \"\\u0000\", 1e400, -0.0, 123456789012345678901]",
};

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: make_seeds VECTORS_DIR OUT_DIR\n");
        return 2;
    }
    out_dir = argv[2];
    make_dir(out_dir);
    const char *targets[] = {"msg_decode", "json_decode", "json_plain", "splitter"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", out_dir, targets[i]);
        make_dir(path);
    }

    read_vectors(argv[1], "vortexpy-0.3.1.jsonl", "ok");
    read_vectors(argv[1], "vortexpy-0.3.1-decode-errors.jsonl", "err");
    read_vectors(argv[1], "vortexpy-0.3.1-decode-lenient.jsonl", "lenient");
    read_vectors(argv[1], "vortexpy-0.3.1-encode-errors.jsonl", "encerr");

    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "value_%zu", i);
        seed("json_decode", name, "\x02", 1, values[i], strlen(values[i]));
        seed("json_plain", name, NULL, 0, values[i], strlen(values[i]));
    }

    /* Splitter: header = limit/deliver_final byte, cut count, cut lengths. */
    static const unsigned char h_big[] = {0x07, 3, 1, 7, 200};
    static const unsigned char h_small[] = {0x0e, 2, 3, 0};
    static const unsigned char h_tiny[] = {0x03, 1, 2};
    seed("splitter", "msgs_1mib", h_big, sizeof h_big, stream.data, stream.len);
    seed("splitter", "msgs_4096_final", h_small, sizeof h_small, stream.data,
         stream.len ? stream.len - 1 : 0);
    seed("splitter", "msgs_5", h_tiny, sizeof h_tiny, stream.data, stream.len);
    seed("splitter", "heartbeats", h_tiny, sizeof h_tiny, "..ab..abcdef.a.abcde", 20);
    vx_buf_free(&stream);

    printf("make_seeds: wrote %d seeds under %s\n", n_written, out_dir);
    return 0;
}
