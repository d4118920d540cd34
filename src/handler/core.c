/* What every handler shares (handler_impl.h): the endpoint, per-sender lanes
 * that keep one remote's requests in arrival order, thread-pool jobs, and
 * the free that waits for work inside the pool. */
#include <stdlib.h>
#include <string.h>

#include "handler/handler_impl.h"
#include "value/value_impl.h"

struct vxh_lane {
    char *uuid;
    vxh_lane *hash_next;
    vxh_job *head, *tail; /* waiting */
    vxh_job *running;
    bool pumping; /* inside lane_pump: a job that ends at once does not recurse */
};

static uint64_t hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h ^ (h >> 31);
}

static char *label_of(const vx_value *filt) {
    const vx_value *key = vx_dict_get(filt, "key");
    char buf[64];
    switch (vx_typeof(key)) {
    case VX_STR:
        return strdup(vx_str_value(key));
    case VX_INT:
        snprintf(buf, sizeof buf, "%lld", (long long)vx_int_value(key));
        return strdup(buf);
    default:
        snprintf(buf, sizeof buf, "(%s key)", vx_type_name(vx_typeof(key)));
        return strdup(buf);
    }
}

int vxh_core_init(vxh_core *c, vx_node *node, const vx_value *filt, vx_endpoint_fn fn,
                  void *data, void (*destroy)(vxh_core *), vx_error *err) {
    if (!node || !filt || vx_typeof(filt) != VX_DICT)
        return vx_error_set(err, VX_E_INVAL, "handler: node and a filt dict are required");
    c->node = node;
    c->destroy = destroy;
    c->refs = 1;
    c->filt = vx_deep_copy(filt);
    c->label = c->filt ? label_of(c->filt) : NULL;
    if (!c->filt || !c->label) {
        vx_decref(c->filt);
        free(c->label);
        return vx_error_set(err, VX_E_NOMEM, "handler: out of memory");
    }
    int rc = vx_router_add(vx_node_router(node), c->filt, fn, data, &c->ep, err);
    if (rc < 0) {
        vx_decref(c->filt);
        free(c->label);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    return 0;
}

void vxh_core_unref(vxh_core *c) {
    if (--c->refs) return;
    free(c->lanes);
    vx_decref(c->filt);
    free(c->label);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    c->destroy(c);
}

/* ---- lanes ---------------------------------------------------------------- */

static vxh_lane **lane_slot(vxh_core *c, const char *uuid) {
    vxh_lane **pp = &c->lanes[hash_str(uuid) & (c->n_buckets - 1)];
    while (*pp && strcmp((*pp)->uuid, uuid) != 0) pp = &(*pp)->hash_next;
    return pp;
}

static int lanes_grow(vxh_core *c) {
    size_t n = c->n_buckets ? c->n_buckets * 2 : 16;
    vxh_lane **b = calloc(n, sizeof *b);
    if (!b) return VX_E_NOMEM;
    for (size_t i = 0; i < c->n_buckets; i++) {
        for (vxh_lane *l = c->lanes[i], *next; l; l = next) {
            next = l->hash_next;
            size_t k = hash_str(l->uuid) & (n - 1);
            l->hash_next = b[k];
            b[k] = l;
        }
    }
    free(c->lanes);
    c->lanes = b;
    c->n_buckets = n;
    return 0;
}

static void lane_free(vxh_core *c, vxh_lane *l) {
    vxh_lane **pp = lane_slot(c, l->uuid);
    if (*pp == l) *pp = l->hash_next;
    c->n_lanes--;
    free(l->uuid);
    free(l);
}

/* Start waiting jobs while the lane is idle. A job's start may call user
 * code that frees the handler: the reference keeps the core, and a lane
 * being pumped is left to this function to free. */
static void lane_pump(vxh_core *c, vxh_lane *l) {
    if (l->pumping) return;
    l->pumping = true;
    c->refs++;
    while (!c->closed && !l->running && l->head) {
        vxh_job *j = l->head;
        l->head = j->next;
        if (!l->head) l->tail = NULL;
        j->next = NULL;
        l->running = j;
        j->start(j);
    }
    l->pumping = false;
    if (c->closed) {
        free(l->uuid); /* vxh_core_close unlinked it and left it to us */
        free(l);
    } else if (!l->running && !l->head) {
        lane_free(c, l);
    }
    vxh_core_unref(c);
}

int vxh_job_submit(vxh_core *c, vxh_job *j, const char *sender, const char *sender_name) {
    j->core = c;
    if (!sender) sender = "";
    j->sender = strdup(sender);
    j->sender_name = strdup(sender_name ? sender_name : "");
    if (!j->sender || !j->sender_name) goto nomem;
    if (c->n_lanes >= c->n_buckets && lanes_grow(c) < 0) goto nomem;
    vxh_lane **pp = lane_slot(c, sender);
    vxh_lane *l = *pp;
    if (!l) {
        l = calloc(1, sizeof *l);
        if (!l || !(l->uuid = strdup(sender))) {
            free(l);
            goto nomem;
        }
        *pp = l;
        c->n_lanes++;
    }
    c->refs++;
    j->lane = l;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    lane_pump(c, l);
    return 0;
nomem:
    j->free(j);
    return VX_E_NOMEM;
}

void vxh_job_done(vxh_job *j) {
    vxh_core *c = j->core;
    vxh_lane *l = j->lane;
    j->free(j);
    if (l) {
        l->running = NULL;
        lane_pump(c, l);
    }
    vxh_core_unref(c);
}

/* ---- thread pool ---------------------------------------------------------- */

static void work_cb(uv_work_t *w) {
    vxh_job *j = w->data;
    /* libuv joins its pool threads after our library destructor ran, so a
     * pool thread's value cache would never be freed: do without it. */
    vx_mem_thread_nocache();
    j->run(j);
    vxh_core *c = j->core;
    pthread_mutex_lock(&c->mu);
    j->in_pool = false;
    c->n_in_pool--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void after_work_cb(uv_work_t *w, int status) {
    vxh_job *j = w->data;
    j->after(j, status == UV_ECANCELED);
}

void vxh_job_queue_work(vxh_job *j) {
    vxh_core *c = j->core;
    j->work.data = j;
    pthread_mutex_lock(&c->mu);
    j->in_pool = true;
    c->n_in_pool++;
    pthread_mutex_unlock(&c->mu);
    if (uv_queue_work(vx_node_loop(c->node), &j->work, work_cb, after_work_cb) != 0) {
        pthread_mutex_lock(&c->mu);
        j->in_pool = false;
        c->n_in_pool--;
        pthread_mutex_unlock(&c->mu);
        j->after(j, true);
    }
}

/* ---- free ------------------------------------------------------------------ */

void vxh_core_close(vxh_core *c) {
    c->closed = true;
    vx_router_remove(vx_node_router(c->node), c->ep);
    /* Waiting jobs never start; running ones lose their lane. */
    for (size_t i = 0; i < c->n_buckets; i++) {
        for (vxh_lane *l = c->lanes[i], *next; l; l = next) {
            next = l->hash_next;
            for (vxh_job *j = l->head, *jn; j; j = jn) {
                jn = j->next;
                j->free(j);
                c->refs--; /* never 0 here: the owner's reference is held */
            }
            if (l->running) {
                l->running->lane = NULL;
                /* Not yet picked up by the pool: it never will be. */
                pthread_mutex_lock(&c->mu);
                bool queued = l->running->in_pool;
                pthread_mutex_unlock(&c->mu);
                if (queued && uv_cancel((uv_req_t *)&l->running->work) == 0) {
                    pthread_mutex_lock(&c->mu);
                    l->running->in_pool = false;
                    c->n_in_pool--;
                    pthread_mutex_unlock(&c->mu);
                }
            }
            l->head = l->tail = l->running = NULL;
            if (!l->pumping) {
                free(l->uuid);
                free(l);
            }
        }
        c->lanes[i] = NULL;
    }
    c->n_lanes = 0;
    /* Work already running finishes before the caller may free what it uses
     * (store, tables, hook data). Its after-callback comes later and sends
     * nothing. */
    pthread_mutex_lock(&c->mu);
    while (c->n_in_pool) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    vxh_core_unref(c);
}
