/* The router (PROTOCOL.md §7.1, §7.3, §7.4).
 *
 * Index: a hash table from the canonical form of an endpoint's "key" value
 * (filt_canon.c) to a bucket, a doubly linked list of that key's endpoints
 * in registration order. Endpoint ids are a global sequence, so "in
 * registration order" within one bucket is simply list order. A second
 * table maps ids to endpoints for vx_router_remove().
 *
 * Request/response (§13) puts every outstanding request's one-shot endpoint
 * on the same "key", told apart only by "PayloadResponse.messageId". So an
 * endpoint whose filt has a messageId (of a type §7.2 compares) goes into a
 * second bucket table keyed by (key, messageId) instead, and dispatch merges
 * the payload's plain-key bucket with its (key, messageId) bucket by id.
 * A reply then meets only its own request, however many are outstanding,
 * and every endpoint still sees it in registration order.
 *
 * Dispatch first snapshots the matching endpoints, taking a reference on
 * each, and only then calls them. So endpoints added by a callback are not
 * in the snapshot, endpoints removed by a callback are marked and skipped,
 * and their memory lives until the snapshot lets go. vx_router_free() must
 * not be called from inside a callback (the snapshot would dangle). */
#include <stdlib.h>
#include <string.h>

#include "router/router_impl.h"

/* The second index key (§13). */
#define MESSAGE_ID_KEY "PayloadResponse.messageId"

typedef struct vx_bucket vx_bucket;

typedef struct vx_endpoint {
    vx_endpoint_id id;
    vx_value *filt; /* our deep copy */
    vx_endpoint_fn fn;
    void *data;
    vx_bucket *bucket; /* NULL: its key equals nothing (e.g. NaN), never indexed */
    struct vx_endpoint *prev, *next;
    uint32_t refs; /* 1 while registered, +1 per dispatch snapshot holding it */
    bool removed;
} vx_endpoint;

/* A chained hash table of buckets. */
typedef struct vx_btable {
    vx_bucket **slots;
    size_t n_slots; /* power of two */
    size_t n_buckets;
} vx_btable;

struct vx_bucket {
    vx_bucket *chain;
    vx_btable *table; /* the one it is in */
    uint64_t hash;
    vx_endpoint *head, *tail;
    size_t key_len;
    /* In the (key, messageId) table: key[0..split) is the canonical "key"
     * value and the rest the messageId's; in the plain table split ==
     * key_len. Canonical forms are prefix-free, so (split, bytes) is
     * unambiguous. */
    size_t split;
    uint8_t key[];
};

struct vx_router {
    vx_btable keys; /* endpoints by "key" */
    vx_btable mids; /* endpoints with a messageId, by (key, messageId) */

    vx_endpoint **ids; /* open addressing on id, linear probing, no tombstones */
    size_t ids_cap;    /* power of two */
    size_t n_endpoints;

    vx_endpoint_id next_id;
    size_t last_compared;
};

/* ---- endpoint lifetime -------------------------------------------------- */

static void ep_release(vx_endpoint *ep) {
    if (--ep->refs == 0) {
        vx_decref(ep->filt);
        free(ep);
    }
}

/* ---- id table ------------------------------------------------------------ */

static size_t id_slot(vx_endpoint_id id, size_t cap) {
    return (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 32) & (cap - 1);
}

static void ids_insert_raw(vx_endpoint **tab, size_t cap, vx_endpoint *ep) {
    size_t i = id_slot(ep->id, cap);
    while (tab[i]) i = (i + 1) & (cap - 1);
    tab[i] = ep;
}

static int ids_grow(vx_router *r) {
    size_t cap = r->ids_cap ? r->ids_cap * 2 : 64;
    vx_endpoint **tab = calloc(cap, sizeof *tab);
    if (!tab) return VX_E_NOMEM;
    for (size_t i = 0; i < r->ids_cap; i++)
        if (r->ids[i]) ids_insert_raw(tab, cap, r->ids[i]);
    free(r->ids);
    r->ids = tab;
    r->ids_cap = cap;
    return 0;
}

static size_t ids_find(const vx_router *r, vx_endpoint_id id) {
    if (!r->ids_cap) return SIZE_MAX;
    size_t i = id_slot(id, r->ids_cap);
    while (r->ids[i]) {
        if (r->ids[i]->id == id) return i;
        i = (i + 1) & (r->ids_cap - 1);
    }
    return SIZE_MAX;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void ids_delete_at(vx_router *r, size_t hole) {
    size_t mask = r->ids_cap - 1, i = hole;
    r->ids[hole] = NULL;
    for (;;) {
        i = (i + 1) & mask;
        vx_endpoint *ep = r->ids[i];
        if (!ep) return;
        size_t home = id_slot(ep->id, r->ids_cap);
        /* Move ep into the hole unless its home lies cyclically in (hole, i]. */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            r->ids[hole] = ep;
            r->ids[i] = NULL;
            hole = i;
        }
    }
}

/* ---- bucket table -------------------------------------------------------- */

static uint64_t bucket_hash(const uint8_t *key, size_t len, size_t split) {
    return vx_canon_hash(key, len) ^ ((uint64_t)(len - split) * 0x9E3779B97F4A7C15ULL);
}

static vx_bucket *bucket_find(const vx_btable *t, const uint8_t *key, size_t len,
                              size_t split, uint64_t hash) {
    if (!t->n_slots) return NULL;
    for (vx_bucket *b = t->slots[hash & (t->n_slots - 1)]; b; b = b->chain)
        if (b->hash == hash && b->key_len == len && b->split == split &&
            memcmp(b->key, key, len) == 0)
            return b;
    return NULL;
}

static int slots_grow(vx_btable *t) {
    size_t n = t->n_slots ? t->n_slots * 2 : 64;
    vx_bucket **s = calloc(n, sizeof *s);
    if (!s) return VX_E_NOMEM;
    for (size_t i = 0; i < t->n_slots; i++) {
        vx_bucket *b = t->slots[i];
        while (b) {
            vx_bucket *next = b->chain;
            b->chain = s[b->hash & (n - 1)];
            s[b->hash & (n - 1)] = b;
            b = next;
        }
    }
    free(t->slots);
    t->slots = s;
    t->n_slots = n;
    return 0;
}

static vx_bucket *bucket_get_or_add(vx_btable *t, const uint8_t *key, size_t len,
                                    size_t split) {
    uint64_t hash = bucket_hash(key, len, split);
    vx_bucket *b = bucket_find(t, key, len, split, hash);
    if (b) return b;
    if (t->n_buckets >= t->n_slots && slots_grow(t) < 0) return NULL;
    b = malloc(sizeof *b + len);
    if (!b) return NULL;
    b->table = t;
    b->hash = hash;
    b->head = b->tail = NULL;
    b->key_len = len;
    b->split = split;
    memcpy(b->key, key, len);
    size_t s = hash & (t->n_slots - 1);
    b->chain = t->slots[s];
    t->slots[s] = b;
    t->n_buckets++;
    return b;
}

static void bucket_drop(vx_bucket *b) {
    vx_btable *t = b->table;
    vx_bucket **pp = &t->slots[b->hash & (t->n_slots - 1)];
    while (*pp != b) pp = &(*pp)->chain;
    *pp = b->chain;
    t->n_buckets--;
    free(b);
}

static void bucket_unlink(vx_endpoint *ep) {
    vx_bucket *b = ep->bucket;
    if (!b) return;
    if (ep->prev)
        ep->prev->next = ep->next;
    else
        b->head = ep->next;
    if (ep->next)
        ep->next->prev = ep->prev;
    else
        b->tail = ep->prev;
    ep->prev = ep->next = NULL;
    ep->bucket = NULL;
    if (!b->head) bucket_drop(b);
}

static void btable_free(vx_btable *t) {
    for (size_t i = 0; i < t->n_slots; i++) {
        vx_bucket *b = t->slots[i];
        while (b) {
            vx_bucket *next = b->chain;
            free(b);
            b = next;
        }
    }
    free(t->slots);
}

/* Whether a filt value takes part in §7.2 at all (dicts, tuples and
 * payloads in an endpoint filt are ignored). */
static bool compared_type(const vx_value *v) {
    vx_type t = vx_typeof(v);
    return t != VX_DICT && t != VX_TUPLE && t != VX_PAYLOAD;
}

/* ---- public API ------------------------------------------------------------ */

vx_router *vx_router_new(void) {
    return calloc(1, sizeof(vx_router));
}

void vx_router_free(vx_router *r) {
    if (!r) return;
    for (size_t i = 0; i < r->ids_cap; i++)
        if (r->ids[i]) ep_release(r->ids[i]);
    btable_free(&r->keys);
    btable_free(&r->mids);
    free(r->ids);
    free(r);
}

size_t vx_router_count(const vx_router *r) {
    return r ? r->n_endpoints : 0;
}

size_t vx_router_last_compared(const vx_router *r) {
    return r ? r->last_compared : 0;
}

static int check_filt(const vx_value *filt, vx_error *err) {
    if (!filt || vx_typeof(filt) != VX_DICT)
        return vx_error_set(err, VX_E_NO_KEY, "endpoint filt is %s, not a dict",
                            filt ? vx_type_name(vx_typeof(filt)) : "NULL");
    const vx_value *key = vx_dict_get(filt, "key");
    if (!key) return vx_error_set(err, VX_E_NO_KEY, "endpoint filt has no \"key\"");
    vx_type t = vx_typeof(key);
    if (t == VX_DICT || t == VX_TUPLE || t == VX_PAYLOAD)
        return vx_error_set(err, VX_E_NO_KEY,
                            "endpoint filt \"key\" is a %s; it must not be a dict, "
                            "tuple or payload",
                            vx_type_name(t));
    return 0;
}

int vx_router_add(vx_router *r, const vx_value *filt, vx_endpoint_fn fn, void *data,
                  vx_endpoint_id *id_out, vx_error *err) {
    if (!r || !fn)
        return vx_error_set(err, VX_E_INVAL, "router add: NULL router or callback");
    int rc = check_filt(filt, err);
    if (rc < 0) return rc;
    if ((r->n_endpoints + 1) * 2 > r->ids_cap && ids_grow(r) < 0) goto nomem;

    vx_endpoint *ep = calloc(1, sizeof *ep);
    if (!ep) goto nomem;
    ep->filt = vx_deep_copy(filt);
    if (!ep->filt) {
        free(ep);
        goto nomem;
    }
    /* Index by the canonical "key", followed by the canonical messageId
     * when the filt has one that §7.2 compares. */
    vx_canon c;
    vx_canon_init(&c);
    vx_canon_value(&c, vx_dict_get(ep->filt, "key"));
    size_t split = c.len;
    const vx_value *mid = vx_dict_get(ep->filt, MESSAGE_ID_KEY);
    bool by_mid = mid && compared_type(mid);
    if (by_mid) vx_canon_value(&c, mid);
    if (c.nomem) {
        vx_canon_release(&c);
        vx_decref(ep->filt);
        free(ep);
        goto nomem;
    }
    if (!c.poison) {
        /* A poisoned key or messageId (NaN, or a list holding one) matches
         * nothing, so the endpoint stays registered but out of the index. */
        ep->bucket = bucket_get_or_add(by_mid ? &r->mids : &r->keys, c.p, c.len, split);
        if (!ep->bucket) {
            vx_canon_release(&c);
            vx_decref(ep->filt);
            free(ep);
            goto nomem;
        }
        ep->prev = ep->bucket->tail;
        if (ep->bucket->tail)
            ep->bucket->tail->next = ep;
        else
            ep->bucket->head = ep;
        ep->bucket->tail = ep;
    }
    vx_canon_release(&c);

    ep->id = ++r->next_id;
    ep->fn = fn;
    ep->data = data;
    ep->refs = 1;
    ids_insert_raw(r->ids, r->ids_cap, ep);
    r->n_endpoints++;
    if (id_out) *id_out = ep->id;
    return 0;
nomem:
    return vx_error_set(err, VX_E_NOMEM, "router add: out of memory");
}

int vx_router_remove(vx_router *r, vx_endpoint_id id) {
    if (!r) return VX_E_INVAL;
    size_t at = ids_find(r, id);
    if (at == SIZE_MAX) return VX_E_NOT_FOUND;
    vx_endpoint *ep = r->ids[at];
    ids_delete_at(r, at);
    bucket_unlink(ep);
    ep->removed = true;
    r->n_endpoints--;
    ep_release(ep);
    return 0;
}

vx_payload *vx_payload_new_error_reply(const vx_payload *p, const char *message) {
    if (!p) return NULL;
    if (!message || !*message) message = vx_strerror(VX_E_HANDLER);
    vx_value *msg = vx_str(message);
    if (!msg) {
        /* Not UTF-8: keep the ASCII, mark the rest, rather than lose the reply. */
        size_t n = strlen(message);
        char *clean = malloc(n + 1);
        if (!clean) return NULL;
        for (size_t i = 0; i <= n; i++)
            clean[i] = (unsigned char)message[i] < 0x80 ? message[i] : '?';
        msg = vx_str(clean);
        free(clean);
        if (!msg) return NULL;
    }
    vx_payload *reply = vx_payload_new();
    vx_value *filt = vx_deep_copy(vx_payload_filt(p));
    if (!reply || !filt) {
        vx_decref(msg);
        vx_decref(filt);
        vx_payload_decref(reply);
        return NULL;
    }
    /* vx_payload_new already gives replyFilt {} and tuples []. */
    if (vx_payload_set_filt_new(reply, filt) < 0 ||
        vx_payload_set_result_new(reply, msg) < 0) {
        vx_payload_decref(reply);
        return NULL;
    }
    return reply;
}

/* §7.4: one reply per failing callback, never in answer to a payload that
 * itself carried a result (two peers must not loop on errors). */
static void send_error_reply(vx_payload *p, const vx_route_ctx *ctx, int rc,
                             const vx_error *err) {
    if (!ctx->reply || !vx_is_null(vx_payload_result(p))) return;
    const char *message = err->message[0] ? err->message : vx_strerror(rc);
    vx_payload *reply = vx_payload_new_error_reply(p, message);
    if (!reply) return; /* out of memory: the reply is lost, delivery goes on */
    vx_error rerr;
    vx_error_clear(&rerr);
    (void)ctx->reply(ctx->reply_data, reply, &rerr);
    vx_payload_decref(reply);
}

#define SNAPSHOT_INLINE 16

int vx_router_dispatch(vx_router *r, vx_payload *p, const vx_route_ctx *ctx) {
    static const vx_route_ctx no_ctx = {0};
    if (!r || !p) return VX_E_INVAL;
    r->last_compared = 0;
    if (!ctx) ctx = &no_ctx;
    if (vx_payload_is_empty(p)) return 0;
    const vx_value *pfilt = vx_payload_filt(p);
    const vx_value *key = vx_dict_get(pfilt, "key");
    if (!key || (r->keys.n_buckets == 0 && r->mids.n_buckets == 0)) return 0;
    if (!compared_type(key)) return 0; /* no endpoint has one */

    /* The plain-key bucket, and the (key, messageId) bucket if the payload
     * has a messageId: an endpoint with another messageId (or one the
     * payload lacks) cannot match, so only that bucket can hold matches. */
    vx_canon c;
    vx_canon_init(&c);
    vx_canon_value(&c, key);
    size_t split = c.len;
    vx_bucket *b = NULL, *bm = NULL;
    if (!c.nomem && !c.poison) {
        b = bucket_find(&r->keys, c.p, c.len, split, bucket_hash(c.p, c.len, split));
        const vx_value *mid = vx_dict_get(pfilt, MESSAGE_ID_KEY);
        if (mid && compared_type(mid) && r->mids.n_buckets) {
            vx_canon_value(&c, mid);
            if (!c.nomem && !c.poison)
                bm = bucket_find(&r->mids, c.p, c.len, split,
                                 bucket_hash(c.p, c.len, split));
        }
    }
    bool nomem = c.nomem;
    vx_canon_release(&c);
    if (nomem) return VX_E_NOMEM;
    if (!b && !bm) return 0;

    /* Snapshot the matches before calling anyone: callbacks may add, remove
     * or dispatch, which changes the buckets (or frees them). Both lists are
     * in id order, so merging them by id keeps registration order. */
    vx_endpoint *inline_snap[SNAPSHOT_INLINE], **snap = inline_snap;
    size_t n = 0, cap = SNAPSHOT_INLINE, compared = 0;
    vx_endpoint *e1 = b ? b->head : NULL, *e2 = bm ? bm->head : NULL;
    while (e1 || e2) {
        vx_endpoint *ep;
        if (e1 && (!e2 || e1->id < e2->id)) {
            ep = e1;
            e1 = e1->next;
        } else {
            ep = e2;
            e2 = e2->next;
        }
        compared++;
        if (!vx_filt_matches(ep->filt, pfilt)) continue;
        if (n == cap) {
            size_t ncap = cap * 2;
            vx_endpoint **ns = malloc(ncap * sizeof *ns);
            if (!ns) {
                for (size_t i = 0; i < n; i++) ep_release(snap[i]);
                if (snap != inline_snap) free(snap);
                r->last_compared = compared;
                return VX_E_NOMEM;
            }
            memcpy(ns, snap, n * sizeof *ns);
            if (snap != inline_snap) free(snap);
            snap = ns;
            cap = ncap;
        }
        ep->refs++;
        snap[n++] = ep;
    }
    r->last_compared = compared;

    int called = 0;
    for (size_t i = 0; i < n; i++) {
        vx_endpoint *ep = snap[i];
        if (!ep->removed) {
            vx_error err;
            vx_error_clear(&err);
            int rc = ep->fn(ep->data, p, ctx, &err);
            called++;
            if (rc != 0) send_error_reply(p, ctx, rc, &err);
        }
        ep_release(ep);
    }
    if (snap != inline_snap) free(snap);
    return called;
}
