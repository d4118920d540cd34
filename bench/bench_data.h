/* Benchmark inputs: the test.BenchRow payloads of the vortexpy 0.3.1
 * vectors (tests/vectors/README.md), loaded through the library itself, and
 * a deliberately plain base64 decoder used as a floor (it must not share
 * code with the library, or a slow library decoder would hide in the floor).
 * Header-only because every bench/<name>.c is its own executable. */
#ifndef VX_BENCH_DATA_H
#define VX_BENCH_DATA_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vortexc/codec.h>
#include <vortexc/payload.h>
#include <vortexc/tuple.h>
#include <vortexc/value.h>

#ifndef VX_TEST_VECTORS
#error "VX_TEST_VECTORS (path of tests/vectors) must be defined by the build"
#endif

/* NEW buffer holding the whole file plus a NUL, or NULL (message printed). */
static inline char *bd_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench: cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* NEW dict of the vector line named `name` (parsed with the library's plain
 * JSON parser), or NULL with a message in `err`. */
static inline vx_value *bd_load_vector(const char *file, const char *name, vx_error *err) {
    size_t len;
    char *text = bd_read_file(file, &len);
    if (!text) {
        vx_error_set(err, VX_E_IO, "cannot read %s", file);
        return NULL;
    }
    char needle[256];
    snprintf(needle, sizeof needle, "\"name\": \"%s\"", name);
    vx_value *found = NULL;
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        size_t l = end ? (size_t)(end - line) : strlen(line);
        char save = line[l];
        line[l] = '\0';
        bool hit = strstr(line, needle) != NULL;
        line[l] = save;
        if (hit) {
            if (vx_json_parse_plain(line, l, 64, &found, err) != 0) found = NULL;
            break;
        }
        line += l + (end ? 1 : 0);
    }
    if (!found && err && err->code == 0)
        vx_error_set(err, VX_E_NOT_FOUND, "vector '%s' not in %s", name, file);
    free(text);
    return found;
}

/* Register test.BenchRow exactly as tests/vectors/README.md lists it. */
static inline int bd_register_benchrow(vx_registry *reg, vx_error *err) {
    vx_value *i0 = vx_int(0), *s0 = vx_str(""), *f0 = vx_float(0.0), *no = vx_bool(false);
    vx_field_def f[] = {
        {"id", i0, NULL, false},        {"name", s0, NULL, false},
        {"code", s0, NULL, false},      {"qty", i0, NULL, false},
        {"price", f0, NULL, false},     {"ratio", f0, NULL, false},
        {"created", NULL, NULL, false}, {"updated", NULL, NULL, false},
        {"active", no, NULL, false},    {"deleted", no, NULL, false},
    };
    int rc =
        vx_registry_add(reg, "test.BenchRow", NULL, f, sizeof f / sizeof f[0], NULL, err);
    vx_decref(i0);
    vx_decref(s0);
    vx_decref(f0);
    vx_decref(no);
    return rc;
}

/* NEW payload {"key": key} with the first `n` tuples and the date of `src`:
 * vortexpy's bench payload Payload(filt={'key': 'bench.100'},
 * tuples=makeBenchRows(100)) with the vectors' fixed date. */
static inline vx_payload *bd_payload_prefix(const vx_payload *src, const char *key,
                                            size_t n) {
    vx_payload *p = vx_payload_new_blank();
    vx_value *filt = vx_dict(), *tuples = vx_list();
    if (!p || !filt || !tuples) goto fail;
    if (vx_dict_set_new(filt, "key", vx_str(key)) != 0) goto fail;
    const vx_value *all = vx_payload_tuples(src);
    for (size_t i = 0; i < n && i < vx_list_size(all); i++)
        if (vx_list_append(tuples, vx_list_get(all, i)) != 0) goto fail;
    int rc = vx_payload_set_filt_new(p, filt);
    filt = NULL;
    rc |= vx_payload_set_tuples_new(p, tuples);
    tuples = NULL;
    rc |= vx_payload_set_date_new(p, vx_incref(vx_payload_date(src)));
    if (rc != 0) goto fail;
    return p;
fail:
    vx_decref(filt);
    vx_decref(tuples);
    vx_payload_decref(p);
    return NULL;
}

/* One vector's JSON text and vortexpy's msg of it (both NEW copies). */
typedef struct bd_text {
    char *name;
    char *json;
    size_t json_len;
    char *msg; /* vortexMsg, trailing '.' (if any) removed */
    size_t msg_len;
} bd_text;

static inline void bd_free_texts(bd_text *t, size_t n) {
    for (size_t i = 0; t && i < n; i++) {
        free(t[i].name);
        free(t[i].json);
        free(t[i].msg);
    }
    free(t);
}

static inline char *bd_dup(const char *s, size_t len) {
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

/* NEW array of every vector of `file` whose "json" text is shorter than
 * `max_json` bytes, in file order; *n is its length. NULL with a message in
 * `err` when the file cannot be read or holds no such vector. */
static inline bd_text *bd_load_small_vectors(const char *file, size_t max_json, size_t *n,
                                             vx_error *err) {
    size_t len, cap = 0;
    *n = 0;
    char *text = bd_read_file(file, &len);
    if (!text) {
        vx_error_set(err, VX_E_IO, "cannot read %s", file);
        return NULL;
    }
    bd_text *out = NULL;
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        size_t l = end ? (size_t)(end - line) : strlen(line);
        vx_value *v = NULL;
        if (l > 0 && vx_json_parse_plain(line, l, 64, &v, NULL) == 0) {
            const vx_value *j = vx_dict_get(v, "json"), *m = vx_dict_get(v, "vortexMsg"),
                           *nm = vx_dict_get(v, "name");
            if (vx_typeof(j) == VX_STR && vx_typeof(m) == VX_STR &&
                vx_typeof(nm) == VX_STR && vx_str_len(j) < max_json) {
                if (*n == cap) {
                    cap = cap ? cap * 2 : 64;
                    bd_text *g = realloc(out, cap * sizeof *out);
                    if (!g) {
                        vx_decref(v);
                        break;
                    }
                    out = g;
                }
                size_t ml = vx_str_len(m);
                if (ml && vx_str_value(m)[ml - 1] == '.') ml--;
                bd_text *t = &out[(*n)++];
                t->name = bd_dup(vx_str_value(nm), vx_str_len(nm));
                t->json = bd_dup(vx_str_value(j), vx_str_len(j));
                t->json_len = vx_str_len(j);
                t->msg = bd_dup(vx_str_value(m), ml);
                t->msg_len = ml;
                if (!t->name || !t->json || !t->msg) {
                    vx_decref(v);
                    break;
                }
            }
        }
        vx_decref(v);
        line += l + (end ? 1 : 0);
    }
    free(text);
    if (*n == 0) {
        vx_error_set(err, VX_E_NOT_FOUND, "no vector with JSON under %zu B in %s", max_json,
                     file);
        bd_free_texts(out, 0);
        return NULL;
    }
    return out;
}

/* Plain 4-characters-at-a-time base64 decoder (no whitespace skipping, the
 * vectors have none). Returns the decoded length, or -1 on bad input. */
static inline long bd_b64_decode(const char *in, size_t len, uint8_t *out) {
    static int8_t tab[256];
    static int ready;
    if (!ready) {
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        memset(tab, -1, sizeof tab);
        for (int i = 0; i < 64; i++) tab[(uint8_t)a[i]] = (int8_t)i;
        ready = 1;
    }
    if (len % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int a = tab[(uint8_t)in[i]], b = tab[(uint8_t)in[i + 1]];
        int c = in[i + 2] == '=' ? 0 : tab[(uint8_t)in[i + 2]];
        int d = in[i + 3] == '=' ? 0 : tab[(uint8_t)in[i + 3]];
        if ((a | b | c | d) < 0) return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (uint8_t)(v >> 16);
        if (in[i + 2] != '=') out[o++] = (uint8_t)(v >> 8);
        if (in[i + 3] != '=') out[o++] = (uint8_t)v;
    }
    return (long)o;
}

#endif
