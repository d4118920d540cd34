/* Tuple types described in JSON (the `--types FILE` of the vortex CLI and
 * vortexd), registered into a vx_registry:
 *
 *   {"types": [{"name": "test.Person", "short_name": "P",
 *               "fields": {"name": "anon", "age": {"_ft": "int", "_fd": 0}}}]}
 *
 * The file is read with the wire typing rules (vx_json_decode_value, PROTOCOL
 * §4.3), so a default can be any value a msg can carry ({"_ft": "datetime",
 * ...} included) and means exactly what it would mean on the wire. The
 * structural objects hold no "_ct"/"_ft" key, so they decode as plain dicts.
 * Fields are registered in file order. Unknown keys are errors, so that a
 * typo ("feilds") does not silently register a type without fields. */
#include <stdio.h>

#include <vortexc/codec.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Config files are small; refuse anything absurd rather than read it. */
#define TYPES_FILE_MAX (64u * 1024 * 1024)

/* vx_typeof() of a value that may be absent (NULL counts as null). */
static vx_type type_of(const vx_value *v) {
    return v ? vx_typeof(v) : VX_NULL;
}

static int read_file(const char *path, vx_buf *out, vx_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return vx_error_set(err, VX_E_IO, "%s: %s", path, strerror(errno));
    char chunk[16384];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (out->len + got > TYPES_FILE_MAX) {
            rc = vx_error_set(err, VX_E_INVAL, "%s: larger than %u bytes", path,
                              TYPES_FILE_MAX);
            break;
        }
        if (vx_buf_append(out, chunk, got) != 0) {
            rc = vx_error_set(err, VX_E_NOMEM, "%s: out of memory", path);
            break;
        }
    }
    if (rc == 0 && ferror(f)) rc = vx_error_set(err, VX_E_IO, "%s: read error", path);
    fclose(f);
    return rc;
}

/* Check that `obj` has only the keys in `allowed` (NULL-terminated). */
static int only_keys(const vx_value *obj, const char *const *allowed, const char *path,
                     const char *where, vx_error *err) {
    size_t klen;
    for (size_t i = 0; i < vx_dict_size(obj); i++) {
        const char *key = vx_dict_key_at(obj, i, &klen);
        bool ok = false;
        for (const char *const *a = allowed; *a; a++) ok = ok || strcmp(key, *a) == 0;
        if (!ok)
            return vx_error_set(err, VX_E_INVAL, "%s: %s: unknown key \"%s\"", path, where,
                                key);
    }
    return 0;
}

static int add_type(const char *path, size_t index, const vx_value *t, vx_registry *reg,
                    vx_error *err) {
    static const char *const keys[] = {"name", "short_name", "fields", NULL};
    char where[64];
    snprintf(where, sizeof where, "types[%zu]", index);
    if (type_of(t) != VX_DICT)
        return vx_error_set(err, VX_E_INVAL, "%s: %s: expected an object, got %s", path,
                            where, vx_type_name(type_of(t)));
    int rc = only_keys(t, keys, path, where, err);
    if (rc != 0) return rc;
    const vx_value *name = vx_dict_get(t, "name");
    if (type_of(name) != VX_STR || vx_str_len(name) == 0)
        return vx_error_set(err, VX_E_INVAL, "%s: %s: \"name\" must be a non-empty string",
                            path, where);
    const vx_value *shortv = vx_dict_get(t, "short_name");
    if (shortv && type_of(shortv) != VX_STR && type_of(shortv) != VX_NULL)
        return vx_error_set(err, VX_E_INVAL, "%s: type %s: \"short_name\" must be a string",
                            path, vx_str_value(name));
    const vx_value *fields = vx_dict_get(t, "fields");
    if (fields && type_of(fields) != VX_DICT)
        return vx_error_set(err, VX_E_INVAL, "%s: type %s: \"fields\" must be an object",
                            path, vx_str_value(name));

    size_t n = fields ? vx_dict_size(fields) : 0;
    vx_field_def *defs = calloc(n ? n : 1, sizeof *defs);
    if (!defs) return vx_error_set(err, VX_E_NOMEM, "%s: out of memory", path);
    size_t klen;
    for (size_t i = 0; i < n; i++) {
        defs[i].name = vx_dict_key_at(fields, i, &klen);
        if (strlen(defs[i].name) != klen) {
            free(defs);
            return vx_error_set(err, VX_E_INVAL,
                                "%s: type %s: a field name contains U+0000", path,
                                vx_str_value(name));
        }
        vx_value *def = vx_dict_value_at(fields, i);
        defs[i].default_value = type_of(def) == VX_NULL ? NULL : def;
    }
    vx_error rerr;
    vx_error_clear(&rerr);
    rc = vx_registry_add(reg, vx_str_value(name),
                         type_of(shortv) == VX_STR ? vx_str_value(shortv) : NULL, defs, n,
                         NULL, &rerr);
    free(defs);
    if (rc != 0) return vx_error_set(err, rc, "%s: %s", path, rerr.message);
    return 0;
}

int vx_registry_load_json(vx_registry *reg, const char *json, size_t len, const char *path,
                          vx_error *err) {
    int rc;
    if (!path) path = "types";
    vx_codec_opts opts;
    vx_codec_opts_init(&opts);
    vx_value *root = NULL;
    vx_error jerr;
    vx_error_clear(&jerr);
    rc = vx_json_decode_value(json ? json : "", len, &opts, &root, &jerr);
    if (rc != 0) return vx_error_set(err, rc, "%s: %s", path, jerr.message);

    static const char *const top_keys[] = {"types", NULL};
    const vx_value *types = NULL;
    if (type_of(root) != VX_DICT) {
        rc = vx_error_set(err, VX_E_INVAL, "%s: top level must be an object with \"types\"",
                          path);
    } else if ((rc = only_keys(root, top_keys, path, "top level", err)) == 0) {
        types = vx_dict_get(root, "types");
        if (type_of(types) != VX_LIST)
            rc = vx_error_set(err, VX_E_INVAL, "%s: \"types\" must be a list", path);
    }
    for (size_t i = 0; rc == 0 && i < vx_list_size(types); i++)
        rc = add_type(path, i, vx_list_get(types, i), reg, err);
    vx_decref(root);
    return rc;
}

int vx_registry_load_file(vx_registry *reg, const char *path, vx_error *err) {
    vx_buf text = {0};
    int rc = read_file(path, &text, err);
    if (rc == 0) rc = vx_registry_load_json(reg, text.data, text.len, path, err);
    vx_buf_free(&text);
    return rc;
}
