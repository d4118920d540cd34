/* Payloads (§3): five fields, isEmpty, hello and heartbeat. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "value_impl.h"

void vx_payload_free_fields(vx_payload *p) {
    vx_decref(p->filt);
    vx_decref(p->reply_filt);
    vx_decref(p->tuples);
    vx_decref(p->result);
    vx_decref(p->date);
}

vx_payload *vx_payload_new_blank(void) {
    vx_payload *p = vx_mem_alloc(sizeof *p);
    if (!p) return NULL;
    p->h.type = VX_PAYLOAD;
    p->h.refcount = 1;
    p->filt = vx_dict();
    p->reply_filt = vx_dict();
    p->tuples = vx_list();
    p->result = vx_null();
    p->date = vx_null();
    if (!p->filt || !p->reply_filt || !p->tuples) {
        vx_decref(&p->h);
        return NULL;
    }
    return p;
}

/* The last date handed out, so dates are strictly increasing even when two
 * payloads are made within one clock tick (vortexjs drops a "latest only"
 * payload whose date is not later than the previous one). Process-wide by
 * nature: it orders every payload this process makes. */
static _Atomic int64_t last_date_us;

int64_t vx_payload_next_date_us(void) {
    int64_t now = vx_now_us();
    int64_t last = atomic_load(&last_date_us);
    for (;;) {
        int64_t next = now > last ? now : last + 1;
        if (atomic_compare_exchange_weak(&last_date_us, &last, next)) return next;
    }
}

vx_payload *vx_payload_new(void) {
    vx_payload *p = vx_payload_new_blank();
    if (!p) return NULL;
    p->date = vx_datetime(vx_payload_next_date_us());
    if (!p->date) {
        vx_payload_decref(p);
        return NULL;
    }
    return p;
}

vx_payload *vx_payload_new_key(const char *key) {
    vx_payload *p = vx_payload_new();
    if (p && vx_dict_set_new(p->filt, "key", vx_str(key)) != 0) {
        vx_payload_decref(p);
        return NULL;
    }
    return p;
}

vx_payload *vx_payload_new_hello(const char *uuid, const char *name) {
    vx_payload *p = vx_payload_new();
    if (!p) return NULL;
    if (vx_dict_set_new(p->filt, VX_HELLO_UUID_KEY, vx_str(uuid)) != 0 ||
        vx_dict_set_new(p->filt, VX_HELLO_NAME_KEY, vx_str(name)) != 0) {
        vx_payload_decref(p);
        return NULL;
    }
    return p;
}

vx_payload *vx_payload_new_heartbeat(void) {
    return vx_payload_new();
}

vx_payload *vx_payload_incref(vx_payload *p) {
    vx_incref(p ? &p->h : NULL);
    return p;
}

void vx_payload_decref(vx_payload *p) {
    vx_decref(p ? &p->h : NULL);
}

vx_value *vx_payload_as_value(vx_payload *p) {
    return p ? &p->h : NULL;
}

vx_payload *vx_value_as_payload(const vx_value *v) {
    return v && v->type == VX_PAYLOAD ? (vx_payload *)v : NULL;
}

vx_value *vx_payload_filt(const vx_payload *p) {
    return p ? p->filt : NULL;
}
vx_value *vx_payload_reply_filt(const vx_payload *p) {
    return p ? p->reply_filt : NULL;
}
vx_value *vx_payload_tuples(const vx_payload *p) {
    return p ? p->tuples : NULL;
}
vx_value *vx_payload_result(const vx_payload *p) {
    return p ? p->result : NULL;
}
vx_value *vx_payload_date(const vx_payload *p) {
    return p ? p->date : NULL;
}

static int set_field(vx_payload *p, vx_value **slot, vx_value *v, bool ok) {
    if (!p || !v || !ok) {
        vx_decref(v);
        return p && v ? VX_E_FIELD_TYPE : VX_E_INVAL;
    }
    vx_decref(*slot);
    *slot = v;
    return 0;
}

int vx_payload_set_filt_new(vx_payload *p, vx_value *v) {
    return set_field(p, p ? &p->filt : NULL, v, vx_typeof(v) == VX_DICT);
}
int vx_payload_set_reply_filt_new(vx_payload *p, vx_value *v) {
    return set_field(p, p ? &p->reply_filt : NULL, v, vx_typeof(v) == VX_DICT);
}
int vx_payload_set_tuples_new(vx_payload *p, vx_value *v) {
    return set_field(p, p ? &p->tuples : NULL, v, vx_typeof(v) == VX_LIST);
}
int vx_payload_set_result_new(vx_payload *p, vx_value *v) {
    return set_field(p, p ? &p->result : NULL, v, true);
}
int vx_payload_set_date_new(vx_payload *p, vx_value *v) {
    vx_type t = vx_typeof(v);
    return set_field(p, p ? &p->date : NULL, v, t == VX_DATETIME || t == VX_NULL);
}

bool vx_payload_is_empty(const vx_payload *p) {
    if (!p) return true;
    size_t n = vx_dict_size(p->filt);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *k = vx_dict_key_at(p->filt, i, &len);
        bool hello_key =
            (len == sizeof VX_HELLO_UUID_KEY - 1 &&
             memcmp(k, VX_HELLO_UUID_KEY, len) == 0) ||
            (len == sizeof VX_HELLO_NAME_KEY - 1 && memcmp(k, VX_HELLO_NAME_KEY, len) == 0);
        if (!hello_key) return false;
    }
    return vx_dict_size(p->reply_filt) == 0 && vx_list_size(p->tuples) == 0 &&
           vx_typeof(p->result) == VX_NULL;
}

vx_payload *vx_payload_copy(const vx_payload *p) {
    return p ? vx_value_as_payload(vx_deep_copy(&p->h)) : NULL;
}
