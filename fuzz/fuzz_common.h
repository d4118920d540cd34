/* Helpers shared by the libFuzzer targets in fuzz/<name>.c: the test tuple
 * registry of tests/vectors/README.md, invariant checks that abort with a
 * message, and value walkers that tell which encoder refusals are
 * legitimate. Header-only so CMake's fuzz/<name>.c glob makes no target of it. */
#ifndef VX_FUZZ_COMMON_H
#define VX_FUZZ_COMMON_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vortexc/codec.h>
#include <vortexc/error.h>
#include <vortexc/payload.h>
#include <vortexc/tuple.h>
#include <vortexc/value.h>

/* An invariant violation: print why and abort so libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FUZZ INVARIANT FAILED at %s:%d: %s\n  ", __FILE__, __LINE__,  \
                    #cond);                                                                \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* Codes a decoder may return for bad input: the protocol's decode errors
 * (§6.2, 1-20) and running out of memory. */
static inline int fuzz_is_decode_error(int rc) {
    return (rc <= VX_E_MSG_TOO_BIG && rc >= VX_E_GENERATION) || rc == VX_E_NOMEM;
}

/* A failing call must fill the error record it was given with the code it
 * returned and a non-empty one-line message. */
static inline void fuzz_check_error(int rc, const vx_error *err, const char *what) {
    FUZZ_CHECK(fuzz_is_decode_error(rc), "%s returned %d (%s), not a decode error", what,
               rc, vx_error_name(rc));
    FUZZ_CHECK(err->code == rc, "%s returned %d but err.code is %d", what, rc, err->code);
    size_t n = strnlen(err->message, sizeof err->message);
    FUZZ_CHECK(n < sizeof err->message, "%s: error message not NUL-terminated", what);
    FUZZ_CHECK(n > 0, "%s: empty error message for %s", what, vx_error_name(rc));
    FUZZ_CHECK(strpbrk(err->message, "\r\n") == NULL, "%s: multi-line message: %s", what,
               err->message);
}

/* The tuple types the vectors use (tests/vectors/README.md). Built once and
 * kept for the life of the process since decoded tuples point into it. */
static inline const vx_registry *fuzz_registry(void) {
    static vx_registry *reg;
    if (reg) return reg;
    reg = vx_registry_new();
    FUZZ_CHECK(reg != NULL, "vx_registry_new");

    vx_value *anon = vx_str("anon"), *zero = vx_int(0), *fzero = vx_float(0.0);
    vx_value *t = vx_bool(true), *f = vx_bool(false), *empty = vx_str(""),
             *list = vx_list();
    vx_field_def person[] = {
        {"name", anon, NULL, false},  {"age", zero, NULL, false},
        {"email", NULL, NULL, false}, {"score", fzero, NULL, false},
        {"active", t, NULL, false},   {"tags", list, NULL, false},
        {"born", NULL, NULL, false},
    };
    vx_field_def bench[] = {
        {"id", zero, NULL, false},      {"name", empty, NULL, false},
        {"code", empty, NULL, false},   {"qty", zero, NULL, false},
        {"price", fzero, NULL, false},  {"ratio", fzero, NULL, false},
        {"created", NULL, NULL, false}, {"updated", NULL, NULL, false},
        {"active", f, NULL, false},     {"deleted", f, NULL, false},
    };
    vx_error err;
    int rc = vx_registry_add(reg, "test.Person", NULL, person,
                             sizeof person / sizeof person[0], NULL, &err);
    FUZZ_CHECK(rc == 0, "register test.Person: %s", err.message);
    rc = vx_registry_add(reg, "test.BenchRow", NULL, bench, sizeof bench / sizeof bench[0],
                         NULL, &err);
    FUZZ_CHECK(rc == 0, "register test.BenchRow: %s", err.message);
    vx_decref(anon), vx_decref(zero), vx_decref(fzero), vx_decref(t), vx_decref(f);
    vx_decref(empty), vx_decref(list);
    return reg;
}

/* What a decoded value holds that an encoder may rightly refuse. */
typedef struct {
    bool nan;          /* no JSON text can mean NaN: always a decoder bug */
    bool inf;          /* e.g. 1e400: a decoder may accept it, the encoder refuses */
    bool reserved_key; /* a dict key "_ct"/"_ft" (VX_E_RESERVED_KEY) */
    bool bad_type;     /* a value of no known type */
} fuzz_walk;

static inline void fuzz_walk_value(const vx_value *v, fuzz_walk *w, int depth) {
    FUZZ_CHECK(v != NULL, "NULL value inside a decoded value");
    FUZZ_CHECK(depth < 10000, "decoded value nested absurdly deep");
    switch (vx_typeof(v)) {
    case VX_FLOAT: {
        double d = vx_float_value(v);
        if (isnan(d))
            w->nan = true;
        else if (isinf(d))
            w->inf = true;
        break;
    }
    case VX_LIST:
        for (size_t i = 0; i < vx_list_size(v); i++)
            fuzz_walk_value(vx_list_get(v, i), w, depth + 1);
        break;
    case VX_DICT:
        for (size_t i = 0; i < vx_dict_size(v); i++) {
            size_t klen = 0;
            const char *k = vx_dict_key_at(v, i, &klen);
            FUZZ_CHECK(k != NULL, "dict key %zu is NULL", i);
            if (klen == 3 && (memcmp(k, "_ct", 3) == 0 || memcmp(k, "_ft", 3) == 0))
                w->reserved_key = true;
            fuzz_walk_value(vx_dict_value_at(v, i), w, depth + 1);
        }
        break;
    case VX_TUPLE:
        FUZZ_CHECK(vx_tuple_name(v) != NULL, "tuple without a name");
        for (size_t i = 0; i < vx_tuple_field_count(v); i++) {
            const char *name = vx_tuple_field_name_at(v, i);
            /* Registered fields are non-empty; an untyped tuple keeps every
             * non-underscore key it received, "" included (PROTOCOL §5.3). */
            bool typed = vx_tuple_type_of(v) != NULL;
            FUZZ_CHECK(name != NULL && name[0] != '_' && (!typed || name[0] != '\0'),
                       "tuple %s field %zu has a bad name", vx_tuple_name(v), i);
            fuzz_walk_value(vx_tuple_get_at(v, i), w, depth + 1);
        }
        break;
    case VX_PAYLOAD: {
        vx_payload *p = vx_value_as_payload(v);
        FUZZ_CHECK(vx_typeof(vx_payload_filt(p)) == VX_DICT, "payload filt not a dict");
        FUZZ_CHECK(vx_typeof(vx_payload_reply_filt(p)) == VX_DICT,
                   "payload replyFilt not a dict");
        FUZZ_CHECK(vx_typeof(vx_payload_tuples(p)) == VX_LIST, "payload tuples not a list");
        vx_type dt = vx_typeof(vx_payload_date(p));
        FUZZ_CHECK(dt == VX_DATETIME || dt == VX_NULL, "payload date is a %s",
                   vx_type_name(dt));
        fuzz_walk_value(vx_payload_filt(p), w, depth + 1);
        fuzz_walk_value(vx_payload_reply_filt(p), w, depth + 1);
        fuzz_walk_value(vx_payload_tuples(p), w, depth + 1);
        fuzz_walk_value(vx_payload_result(p), w, depth + 1);
        break;
    }
    case VX_DATETIME: {
        int64_t us = vx_datetime_value(v);
        FUZZ_CHECK(us >= VX_DATETIME_MIN_US && us <= VX_DATETIME_MAX_US,
                   "datetime %lld outside years 1-9999", (long long)us);
        break;
    }
    case VX_NULL:
    case VX_BOOL:
    case VX_INT:
    case VX_STR:
    case VX_BYTES:
    case VX_WKB:
        break;
    default:
        w->bad_type = true;
    }
}

/* An encoder refusal is legitimate only for NaN/infinity and reserved keys
 * actually present in the value. */
static inline void fuzz_check_encode_refusal(int rc, const vx_error *err,
                                             const fuzz_walk *w, const char *what) {
    if (rc == VX_E_NONFINITE && (w->inf || w->nan)) return;
    if (rc == VX_E_RESERVED_KEY && w->reserved_key) return;
    if (rc == VX_E_NOMEM) return;
    FUZZ_CHECK(0, "%s of a decoded value failed: %s (%d): %s", what, vx_error_name(rc), rc,
               err->message);
}

/* Wire JSON and msgs are ASCII-only (§2.1). */
static inline void fuzz_check_ascii(const char *s, size_t len, const char *what) {
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK((unsigned char)s[i] < 0x80 && s[i] != '\0',
                   "%s has byte 0x%02x at offset %zu", what, (unsigned char)s[i], i);
}

#endif
