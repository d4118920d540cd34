/* Test helpers: reading the reference vector files (see vxtest.h). */
#include "vxtest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VX_TEST_VECTORS
#define VX_TEST_VECTORS "tests/vectors"
#endif

char *vxt_vector_path(const char *file) {
    size_t a = strlen(VX_TEST_VECTORS), b = strlen(file);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, VX_TEST_VECTORS, a);
    p[a] = '/';
    memcpy(p + a + 1, file, b + 1);
    return p;
}

char *vxt_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        if (got == 0) break;
        n += got;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf) return NULL;
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int vxt_load_jsonl(const char *path, vx_value **out, vx_error *err) {
    *out = NULL;
    size_t len;
    char *text = vxt_read_file(path, &len);
    if (!text) return vx_error_set(err, VX_E_IO, "cannot read %s", path);
    vx_value *list = vx_list();
    if (!list) {
        free(text);
        return vx_error_set(err, VX_E_NOMEM, "out of memory");
    }
    int rc = 0, lineno = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        lineno++;
        if (end > pos) {
            vx_value *rec = NULL;
            vx_error perr;
            rc = vx_json_parse_plain(text + pos, end - pos, 64, &rec, &perr);
            if (rc == 0)
                rc = vx_list_append_new(list, rec);
            else
                vx_error_set(err, rc, "%s:%d: %s", path, lineno, perr.message);
        }
        pos = end + 1;
    }
    free(text);
    if (rc != 0) {
        vx_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}

int vxt_load_vectors(const char *file, vx_value **out, vx_error *err) {
    char *path = vxt_vector_path(file);
    if (!path) return vx_error_set(err, VX_E_NOMEM, "out of memory");
    int rc = vxt_load_jsonl(path, out, err);
    free(path);
    return rc;
}

const char *vxt_get_str(const vx_value *rec, const char *key, size_t *len) {
    vx_value *v = vx_dict_get(rec, key);
    if (!v || vx_typeof(v) != VX_STR) return NULL;
    if (len) *len = vx_str_len(v);
    return vx_str_value(v);
}

vx_value *vxt_find_named(const vx_value *list, const char *name) {
    for (size_t i = 0; i < vx_list_size(list); i++) {
        vx_value *rec = vx_list_get(list, i);
        const char *n = vxt_get_str(rec, "name", NULL);
        if (n && strcmp(n, name) == 0) return rec;
    }
    return NULL;
}

void vxt_opts(vx_codec_opts *opts, const vx_registry *reg, int level, bool compact) {
    vx_codec_opts_init(opts);
    opts->registry = reg;
    opts->zlib_level = level;
    opts->compact = compact;
}
