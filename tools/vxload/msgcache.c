/* Classify received msgs, decoding each distinct msg once.
 *
 * A broadcast hands the same encoded bytes to every client, so 1,000 clients
 * would decode one msg 1,000 times. The cache maps the exact bytes (hash plus
 * full comparison, so a collision can never mislabel a msg) to what was
 * decoded from them; identical bytes always decode identically, so this
 * changes nothing but the CPU spent. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vxload.h"

/* Direct-mapped. Clients of one process may lag one another by hundreds of
 * msgs when the machine is busy; with too few slots the msgs in flight evict
 * each other, every lookup becomes a full decode, and the readers fall
 * further behind (seen as 5-14 s "stalls" in wire test C65 under ASan). */
#define CACHE_SLOTS 16384

typedef struct slot {
    uint64_t hash;
    size_t len;
    char *bytes; /* NULL = empty */
    vxl_msg msg;
} slot;

static slot cache[CACHE_SLOTS];
static vx_codec *codec;

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    for (; i < n; i++) h = (h ^ (uint8_t)p[i]) * 0x100000001B3ull;
    h ^= h >> 29;
    return h;
}

static bool filt_int(const vx_value *filt, const char *key, int64_t *out) {
    vx_value *v = vx_dict_get(filt, key);
    if (!v || vx_typeof(v) != VX_INT) return false;
    *out = vx_int_value(v);
    return true;
}

static void classify_payload(const vx_payload *p, vxl_msg *m) {
    const vx_value *filt = vx_payload_filt(p);
    m->seq = m->aux = 0;
    m->t = NAN;
    vx_value *key = vx_dict_get(filt, "key");
    const char *k = key && vx_typeof(key) == VX_STR ? vx_str_value(key) : "";
    if (vx_dict_get(filt, "__vortexUuid__")) {
        m->kind = VXL_MSG_HELLO;
    } else if (!strcmp(k, "vortexd.stream.done")) {
        m->kind = VXL_MSG_DONE;
        filt_int(filt, "sent", &m->seq);
        filt_int(filt, "failed", &m->aux);
    } else if (filt_int(filt, "seq", &m->seq) && strcmp(k, "vortexd.stream") != 0) {
        m->kind = VXL_MSG_ITEM;
        vx_value *t = vx_dict_get(filt, "t");
        if (t && vx_typeof(t) == VX_FLOAT)
            m->t = vx_float_value(t);
        else if (t && vx_typeof(t) == VX_INT)
            m->t = (double)vx_int_value(t);
    } else if (vx_payload_is_empty(p)) {
        m->kind = VXL_MSG_HEARTBEAT;
    } else {
        m->kind = VXL_MSG_OTHER;
    }
}

vxl_kind vxl_classify(const char *msg, size_t len, vxl_msg *out, vx_error *err) {
    uint64_t h = hash_bytes(msg, len);
    slot *s = &cache[h & (CACHE_SLOTS - 1)];
    if (s->bytes && s->hash == h && s->len == len && !memcmp(s->bytes, msg, len)) {
        *out = s->msg;
        return out->kind;
    }
    if (!codec) {
        vx_codec_opts o;
        vx_codec_opts_init(&o);
        codec = vx_codec_new(&o);
        if (!codec) {
            vx_error_set(err, VX_E_NOMEM, "out of memory");
            out->kind = VXL_MSG_BAD;
            return VXL_MSG_BAD;
        }
    }
    vx_payload *p = NULL;
    if (vx_codec_decode(codec, msg, len, &p, err)) {
        out->kind = VXL_MSG_BAD;
        return VXL_MSG_BAD;
    }
    classify_payload(p, out);
    vx_payload_decref(p);
    char *copy = malloc(len ? len : 1);
    if (copy) { /* no room to cache is not an error */
        memcpy(copy, msg, len);
        free(s->bytes);
        s->bytes = copy;
        s->hash = h;
        s->len = len;
        s->msg = *out;
    }
    return out->kind;
}

void vxl_cache_free(void) {
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        free(cache[i].bytes);
        cache[i].bytes = NULL;
    }
    vx_codec_free(codec);
    codec = NULL;
}
