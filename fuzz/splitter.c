/* Fuzz the '.'-delimited stream splitter (PROTOCOL §2.3).
 *
 * Input: an option byte, a count byte, that many chunk-length bytes, then the
 * stream.
 *   byte 0 bits 0-2  max_msg_bytes: 0, 1, 2, 5, 16, 100, 4096, 1 MiB
 *   byte 0 bit 3     deliver_final at the end of the stream
 *   byte 1 bits 0-3  number n of chunk-length bytes that follow
 *   chunk lengths    used in turn, cycling, to cut the stream into feeds; 0
 *                    feeds an empty chunk (then one byte)
 *
 * Invariants: the callbacks are exactly those of a simple reference model of
 * §2.3 (every complete item in order; empty items delivered as heartbeats;
 * an item over the limit reported once as VX_E_MSG_TOO_BIG with more than
 * max_msg_bytes discarded, never delivered; the final unterminated item
 * delivered or discarded per deliver_final), whatever the chunking; items
 * never contain '.'; pending() is the unterminated item's length after each
 * feed; the splitter works the same when reused after finish. */
#include "fuzz_common.h"

static const size_t limits[8] = {0, 1, 2, 5, 16, 100, 4096, 1u << 20};

typedef struct {
    int status;
    size_t len;
    const char *bytes; /* model only: where the item lies in the stream */
} event;

typedef struct {
    event *ev;
    size_t n, cap;
    size_t max;
} recorder;

static void on_item(void *data, int status, const char *item, size_t len) {
    recorder *r = data;
    FUZZ_CHECK(status == 0 || status == VX_E_MSG_TOO_BIG, "callback status %d", status);
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->ev = realloc(r->ev, r->cap * sizeof *r->ev);
        FUZZ_CHECK(r->ev != NULL, "realloc");
    }
    event *e = &r->ev[r->n++];
    e->status = status;
    e->len = len;
    e->bytes = NULL;
    if (status == VX_E_MSG_TOO_BIG) {
        FUZZ_CHECK(item == NULL, "TOO_BIG with an item pointer");
        FUZZ_CHECK(len > r->max, "TOO_BIG after only %zu bytes, limit %zu", len, r->max);
        return;
    }
    FUZZ_CHECK(len <= r->max, "delivered %zu bytes, limit %zu", len, r->max);
    if (len == 0) return;
    FUZZ_CHECK(item != NULL, "msg of %zu bytes with NULL item", len);
    FUZZ_CHECK(memchr(item, '.', len) == NULL, "item contains '.'");
}

/* The reference: every item of the stream, in order, as §2.3 says. */
static size_t model(const char *s, size_t n, size_t max, bool deliver_final, event **out) {
    size_t cap = 16, k = 0;
    event *ev = malloc(cap * sizeof *ev);
    FUZZ_CHECK(ev != NULL, "malloc");
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        bool end = i == n;
        if (!end && s[i] != '.') continue;
        size_t len = i - start;
        bool emit = !end || len > max || (deliver_final && len > 0);
        if (emit) {
            if (k == cap) {
                cap *= 2;
                ev = realloc(ev, cap * sizeof *ev);
                FUZZ_CHECK(ev != NULL, "realloc");
            }
            ev[k].status = len > max ? VX_E_MSG_TOO_BIG : 0;
            ev[k].len = len;
            ev[k].bytes = s + start;
            k++;
        }
        start = i + 1;
    }
    *out = ev;
    return k;
}

static void compare(const recorder *r, const event *want, size_t n_want, const char *what) {
    FUZZ_CHECK(r->n == n_want, "%s: %zu callbacks, model says %zu", what, r->n, n_want);
    for (size_t i = 0; i < n_want; i++) {
        const event *g = &r->ev[i], *w = &want[i];
        FUZZ_CHECK(g->status == w->status, "%s: item %zu status %d, model %d", what, i,
                   g->status, w->status);
        if (w->status != 0) continue;
        FUZZ_CHECK(g->len == w->len, "%s: item %zu is %zu bytes, model %zu", what, i,
                   g->len, w->len);
    }
}

/* Item bytes are only valid during the callback, so compare them there:
 * this second callback checks each msg against the model as it arrives. */
typedef struct {
    recorder rec;
    const event *want;
    size_t n_want;
} checker;

static void on_item_checked(void *data, int status, const char *item, size_t len) {
    checker *c = data;
    size_t i = c->rec.n;
    on_item(&c->rec, status, item, len);
    FUZZ_CHECK(i < c->n_want, "callback %zu beyond the model's %zu items", i, c->n_want);
    const event *w = &c->want[i];
    FUZZ_CHECK(status == w->status, "item %zu status %d, model %d", i, status, w->status);
    if (status == 0) {
        FUZZ_CHECK(len == w->len, "item %zu is %zu bytes, model %zu", i, len, w->len);
        FUZZ_CHECK(len == 0 || memcmp(item, w->bytes, len) == 0, "item %zu bytes differ",
                   i);
    }
}

static size_t partial_len(const char *s, size_t n) {
    size_t k = 0;
    while (k < n && s[n - 1 - k] != '.') k++;
    return k;
}

static void run_stream(vx_splitter *sp, const char *s, size_t n, const uint8_t *cuts,
                       size_t n_cuts, bool deliver_final, size_t max) {
    size_t off = 0, ci = 0;
    while (off < n) {
        size_t step = n_cuts ? cuts[ci++ % n_cuts] : n;
        if (step == 0) {
            FUZZ_CHECK(vx_splitter_feed(sp, s + off, 0) == 0, "feed of 0 bytes failed");
            step = 1;
        }
        if (step > n - off) step = n - off;
        FUZZ_CHECK(vx_splitter_feed(sp, s + off, step) == 0, "feed failed");
        off += step;
        size_t part = partial_len(s, off);
        if (part <= max)
            FUZZ_CHECK(vx_splitter_pending(sp) == part, "pending %zu, partial item %zu",
                       vx_splitter_pending(sp), part);
    }
    size_t part = partial_len(s, n);
    size_t got = vx_splitter_finish(sp, deliver_final);
    if (part <= max)
        FUZZ_CHECK(got == part, "finish returned %zu, final item %zu", got, part);
    FUZZ_CHECK(vx_splitter_pending(sp) == 0, "pending %zu after finish",
               vx_splitter_pending(sp));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t max = limits[data[0] & 7];
    bool deliver_final = data[0] & 8;
    size_t n_cuts = data[1] & 15;
    if (size < 2 + n_cuts) return 0;
    const uint8_t *cuts = data + 2;
    const char *s = (const char *)data + 2 + n_cuts;
    size_t n = size - 2 - n_cuts;

    event *want = NULL;
    size_t n_want = model(s, n, max, deliver_final, &want);

    checker c = {.rec = {.max = max}, .want = want, .n_want = n_want};
    vx_splitter *sp = vx_splitter_new(max, on_item_checked, &c);
    if (!sp) { /* a limit of 0 may be refused; nothing else may fail */
        FUZZ_CHECK(max == 0, "vx_splitter_new(%zu) failed", max);
        free(want);
        return 0;
    }

    /* One feed of the whole stream, then the chunked feeds, then the whole
     * stream again on the reused splitter: each must match the model. */
    const char *passes[3] = {"one feed", "chunked", "reused"};
    for (int pass = 0; pass < 3; pass++) {
        c.rec.n = 0;
        run_stream(sp, s, n, pass == 1 ? cuts : NULL, pass == 1 ? n_cuts : 0, deliver_final,
                   max);
        compare(&c.rec, want, n_want, passes[pass]);
    }

    vx_splitter_free(sp);
    free(c.rec.ev);
    free(want);
    return 0;
}
