/* Observation (docs/handlers.md): subscribe / unsubscribe replies, pushes
 * after UPDATE and DELETE commits to every subscriber and no one else,
 * id-scoped subscriptions, the shared hub, and subscriptions ending when a
 * remote is forgotten or the handler is freed. SQLite, then PostgreSQL when
 * VX_TEST_PG_URL is set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "crud_fixture.h"
#include "handler/handler_impl.h"

static vx_payload *subscribe_req(const char *key, int64_t id) {
    vx_payload *q = hx_req(key);
    hx_set(vx_payload_filt(q), "subscribe", vx_bool(true));
    if (id >= 0) hx_set(vx_payload_filt(q), "id", vx_int(id));
    return q;
}

/* Assert p is a push of `key` (delete or not) carrying `n` tuples. */
static void expect_push(const vx_payload *p, const char *key, bool deleted, size_t n) {
    vx_value *want = hx_filt(key);
    hx_set(want, "subscribe", vx_bool(true));
    if (deleted) hx_set(want, "delete", vx_bool(true));
    if (!vx_equal(vx_payload_filt(p), want)) fail_msg("push filt differs");
    vx_decref(want);
    assert_true(vx_is_null(vx_payload_result(p)));
    assert_int_equal(vx_list_size(vx_payload_tuples(p)), n);
}

static void subscribe_reply_and_pushes(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a"), *b = hx_open(c->e, "uuid-b"),
            *w = hx_open(c->e, "uuid-writer");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    int64_t i1 = cx_insert(c, "one", 1);
    cx_insert(c, "two", 2);

    /* The reply is a RETRIEVE of every row; its filt keeps subscribe and
     * the messageId. */
    vx_payload *q = subscribe_req("crud.person", -1);
    hx_set(vx_payload_filt(q), "PayloadResponse.messageId", vx_str("sub-1"));
    vx_payload *r = cx_call(c, a, q);
    assert_true(vx_is_null(vx_payload_result(r)));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 2);
    assert_true(vx_bool_value(vx_dict_get(vx_payload_filt(r), "subscribe")));
    assert_string_equal(
        vx_str_value(vx_dict_get(vx_payload_filt(r), "PayloadResponse.messageId")),
        "sub-1");
    vx_payload_decref(r);
    assert_int_equal(vx_crud_handler_subscriber_count(h), 1);

    /* b only reads: it is no subscriber. */
    q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "id", vx_int(i1));
    vx_payload_decref(cx_call(c, b, q));

    /* A write by another remote: a gets the stored rows, b nothing. */
    r = cx_call(
        c, w,
        cx_req("crud.person", cx_person(i1, "uno", 11), cx_person(-1, "three", 3), NULL));
    assert_true(hx_result_true(r));
    hx_wait(c->e, a, 2, 5000);
    vx_payload *p = hx_get(c->e, a, 1);
    expect_push(p, "crud.person", false, 2);
    assert_true(vx_equal(vx_payload_tuples(p), vx_payload_tuples(r)));
    assert_null(vx_dict_get(vx_payload_filt(p), "PayloadResponse.messageId"));
    vx_payload_decref(p);
    vx_payload_decref(r);

    /* Delete: the rows as they were, with delete: true. */
    q = cx_req("crud.person", cx_person(i1, "ignored", 0), NULL);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    vx_payload_decref(cx_call(c, w, q));
    hx_wait(c->e, a, 3, 5000);
    p = hx_get(c->e, a, 2);
    expect_push(p, "crud.person", true, 1);
    assert_string_equal(vx_str_value(cx_field(p, 0, "name")), "uno");
    assert_int_equal(vx_int_value(cx_field(p, 0, "id")), i1);
    vx_payload_decref(p);

    /* A failed write pushes nothing. */
    vx_value *bad = cx_person(-1, "bad", 0);
    assert_int_equal(vx_tuple_set_new(bad, "age", vx_str("x")), 0);
    vx_payload_decref(cx_call(c, w, cx_req("crud.person", bad, NULL)));
    hx_run_for(c->e, 30);
    assert_int_equal(hx_count(c->e, a), 3);
    assert_int_equal(hx_count(c->e, b), 1);
    assert_int_equal(hx_count(c->e, w), 3);
    vx_crud_handler_free(h);
    cx_free(c);
}

/* uiData applies to pushes too; the subscribed writer gets reply, then push. */
static int ui_upper(void *data, vx_sql_session *ss, vx_value *tuple, vx_error *err) {
    (void)data, (void)ss, (void)err;
    return vx_tuple_set_new(tuple, "score", vx_float(1.25));
}

static void writer_subscribed_gets_reply_then_push(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *w = hx_open(c->e, "uuid-writer");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    vx_crud_hooks hooks = {.ui_data = ui_upper};
    vx_error err;
    CX_OK(vx_crud_handler_set_hooks(h, "hx.Person", &hooks, NULL, &err), err);
    vx_payload_decref(cx_call(c, w, subscribe_req("crud.person", -1)));
    vx_payload *q = cx_req("crud.person", cx_person(-1, "me", 1), NULL);
    hx_set(vx_payload_filt(q), "PayloadResponse.messageId", vx_str("w-1"));
    hx_feed(c->e, w, q);
    vx_payload_decref(q);
    hx_wait(c->e, w, 3, 5000);
    vx_payload *reply = hx_get(c->e, w, 1), *push = hx_get(c->e, w, 2);
    assert_true(hx_result_true(reply));
    assert_string_equal(
        vx_str_value(vx_dict_get(vx_payload_filt(reply), "PayloadResponse.messageId")),
        "w-1");
    expect_push(push, "crud.person", false, 1);
    assert_true(vx_float_value(cx_field(push, 0, "score")) == 1.25);
    assert_true(vx_equal(vx_payload_tuples(push), vx_payload_tuples(reply)));
    vx_payload_decref(reply);
    vx_payload_decref(push);
    vx_crud_handler_free(h);
    cx_free(c);
}

static void id_scoped_subscriptions(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a"), *b = hx_open(c->e, "uuid-b"),
            *w = hx_open(c->e, "uuid-writer");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    int64_t i1 = cx_insert(c, "one", 1), i2 = cx_insert(c, "two", 2);

    vx_payload *r = cx_call(c, a, subscribe_req("crud.person", i1));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 1);
    assert_int_equal(vx_int_value(cx_field(r, 0, "id")), i1);
    vx_payload_decref(r);
    r = cx_call(c, b, subscribe_req("crud.person", i2 + 100)); /* no such row yet */
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 0);
    vx_payload_decref(r);

    /* A change of row 2 only: nobody hears. */
    vx_payload_decref(cx_call(c, w, cx_req("crud.person", cx_person(i2, "deux", 2), NULL)));
    hx_run_for(c->e, 30);
    assert_int_equal(hx_count(c->e, a), 1);
    assert_int_equal(hx_count(c->e, b), 1);
    /* Rows 1 and 2: a gets row 1 alone. */
    vx_payload_decref(cx_call(
        c, w,
        cx_req("crud.person", cx_person(i2, "dos", 2), cx_person(i1, "uno", 1), NULL)));
    hx_wait(c->e, a, 2, 5000);
    vx_payload *p = hx_get(c->e, a, 1);
    expect_push(p, "crud.person", false, 1);
    assert_int_equal(vx_int_value(cx_field(p, 0, "id")), i1);
    assert_string_equal(vx_str_value(cx_field(p, 0, "name")), "uno");
    vx_payload_decref(p);
    /* Creating the row b watches (merge with that id). */
    vx_payload_decref(
        cx_call(c, w, cx_req("crud.person", cx_person(i2 + 100, "later", 1), NULL)));
    hx_wait(c->e, b, 2, 5000);
    p = hx_get(c->e, b, 1);
    expect_push(p, "crud.person", false, 1);
    assert_string_equal(vx_str_value(cx_field(p, 0, "name")), "later");
    vx_payload_decref(p);

    /* A subscribe with a bogus id: one error reply, and no subscription. */
    hx_conn *z = hx_open(c->e, "uuid-z");
    vx_payload *bad = subscribe_req("crud.person", -1);
    hx_set(vx_payload_filt(bad), "id", vx_str("abc"));
    r = cx_call(c, z, bad);
    assert_non_null(strstr(hx_result_str(r), "expects int, got str"));
    vx_payload_decref(r);
    assert_int_equal(vx_crud_handler_subscriber_count(h), 2);

    /* Re-subscribing replaces: a now watches everything. */
    r = cx_call(c, a, subscribe_req("crud.person", -1));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 3);
    vx_payload_decref(r);
    assert_int_equal(vx_crud_handler_subscriber_count(h), 2);
    vx_payload_decref(cx_call(c, w, cx_req("crud.person", cx_person(i2, "zwei", 2), NULL)));
    hx_wait(c->e, a, 4, 5000);
    p = hx_get(c->e, a, 3);
    expect_push(p, "crud.person", false, 1);
    assert_string_equal(vx_str_value(cx_field(p, 0, "name")), "zwei");
    vx_payload_decref(p);
    hx_run_for(c->e, 30);
    assert_int_equal(hx_count(c->e, b), 2);
    vx_crud_handler_free(h);
    cx_free(c);
}

static void unsubscribe_and_disconnect(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a"), *b = hx_open(c->e, "uuid-b"),
            *w = hx_open(c->e, "uuid-writer");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    vx_payload_decref(cx_call(c, a, subscribe_req("crud.person", -1)));
    vx_payload_decref(cx_call(c, b, subscribe_req("crud.person", -1)));
    assert_int_equal(vx_crud_handler_subscriber_count(h), 2);

    vx_payload *q = hx_req("crud.person");
    hx_set(vx_payload_filt(q), "unsubscribe", vx_bool(true));
    vx_payload *r = cx_call(c, a, q);
    assert_true(hx_result_true(r));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 0);
    assert_true(vx_bool_value(vx_dict_get(vx_payload_filt(r), "unsubscribe")));
    vx_payload_decref(r);
    assert_int_equal(vx_crud_handler_subscriber_count(h), 1);

    hx_disconnect(b); /* forgotten: its subscription ends */
    assert_int_equal(vx_crud_handler_subscriber_count(h), 0);
    vx_payload_decref(cx_call(c, w, cx_req("crud.person", cx_person(-1, "x", 1), NULL)));
    hx_run_for(c->e, 30);
    assert_int_equal(hx_count(c->e, a), 2);
    assert_int_equal(hx_count(c->e, b), 1);
    /* A subscriber that leaves while its subscribe is still being answered. */
    hx_conn *d = hx_open(c->e, "uuid-d");
    hx_feed(c->e, d, (q = subscribe_req("crud.person", -1)));
    vx_payload_decref(q);
    hx_disconnect(d);
    hx_run_for(c->e, 50);
    assert_int_equal(vx_crud_handler_subscriber_count(h), 0);
    /* ...or leaves before its subscribe starts (queued behind a request). */
    hx_conn *e2 = hx_open(c->e, "uuid-e");
    cx_feed(c, e2, cx_req("crud.person", cx_person(-1, "first", 1), NULL));
    hx_feed(c->e, e2, (q = subscribe_req("crud.person", -1)));
    vx_payload_decref(q);
    hx_disconnect(e2);
    hx_run_for(c->e, 100);
    assert_int_equal(vx_crud_handler_subscriber_count(h), 0);
    vx_payload_decref(cx_call(c, w, cx_req("crud.person", cx_person(-1, "y", 1), NULL)));
    hx_run_for(c->e, 30);
    assert_int_equal(hx_count(c->e, d), 0);
    vx_crud_handler_free(h);
    cx_free(c);
}

static void hub_shares_changes_by_table(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a"), *b = hx_open(c->e, "uuid-b"),
            *p_sub = hx_open(c->e, "uuid-pets"), *o = hx_open(c->e, "uuid-other"),
            *w = hx_open(c->e, "uuid-writer");
    vx_observe_hub *hub = vx_observe_hub_new(c->e->node);
    assert_non_null(hub);
    vx_crud_opts opts;
    vx_crud_opts_init(&opts);
    opts.hub = hub;
    vx_crud_handler *h1 = cx_handler(c, "crud.person", &opts);
    vx_crud_handler *h2 = cx_handler(c, "crud.person.admin", &opts);
    vx_value *filt = hx_filt("crud.pet");
    vx_error err;
    vx_crud_handler *hp =
        vx_crud_handler_new(c->e->node, filt, c->store, c->pet, &opts, &err);
    assert_non_null(hp);
    vx_decref(filt);
    vx_crud_handler *lonely = cx_handler(c, "crud.person.private", NULL); /* own hub */

    vx_payload_decref(cx_call(c, a, subscribe_req("crud.person", -1)));
    vx_payload_decref(cx_call(c, b, subscribe_req("crud.person.admin", -1)));
    vx_payload_decref(cx_call(c, p_sub, subscribe_req("crud.pet", -1)));
    vx_payload_decref(cx_call(c, o, subscribe_req("crud.person.private", -1)));

    /* Written through h1: h2's subscribers hear it with h2's filt. */
    vx_payload_decref(
        cx_call(c, w, cx_req("crud.person", cx_person(-1, "shared", 1), NULL)));
    hx_wait(c->e, a, 2, 5000);
    hx_wait(c->e, b, 2, 5000);
    vx_payload *p = hx_get(c->e, a, 1);
    expect_push(p, "crud.person", false, 1);
    vx_payload_decref(p);
    p = hx_get(c->e, b, 1);
    expect_push(p, "crud.person.admin", false, 1);
    assert_string_equal(vx_str_value(cx_field(p, 0, "name")), "shared");
    vx_payload_decref(p);
    hx_run_for(c->e, 30);
    assert_int_equal(hx_count(c->e, p_sub), 1); /* other table */
    assert_int_equal(hx_count(c->e, o), 1);     /* other hub */

    /* A payload of two types through one handler: each table's rows go to
     * its own subscribers. */
    const vx_sql_table *extra[] = {c->pet};
    vx_crud_opts o2 = opts;
    o2.extra_tables = extra;
    o2.n_extra_tables = 1;
    vx_crud_handler *fam = cx_handler(c, "crud.family", &o2);
    vx_payload_decref(cx_call(
        c, w, cx_req("crud.family", cx_person(-1, "P", 1), cx_pet(-1, 1, "Rex"), NULL)));
    hx_wait(c->e, a, 3, 5000);
    hx_wait(c->e, p_sub, 2, 5000);
    p = hx_get(c->e, a, 2);
    expect_push(p, "crud.person", false, 1);
    assert_string_equal(vx_tuple_name(vx_list_get(vx_payload_tuples(p), 0)), "hx.Person");
    vx_payload_decref(p);
    p = hx_get(c->e, p_sub, 1);
    expect_push(p, "crud.pet", false, 1);
    assert_string_equal(vx_str_value(cx_field(p, 0, "name")), "Rex");
    vx_payload_decref(p);

    /* A freed handler's subscribers hear nothing more. */
    vx_crud_handler_free(h2);
    vx_payload_decref(
        cx_call(c, w, cx_req("crud.person", cx_person(-1, "after", 1), NULL)));
    hx_wait(c->e, a, 4, 5000);
    hx_run_for(c->e, 30);
    assert_int_equal(hx_count(c->e, b), 3);
    vx_crud_handler_free(fam);
    vx_crud_handler_free(h1);
    vx_crud_handler_free(hp);
    vx_crud_handler_free(lonely);
    vx_observe_hub_free(hub);
    cx_free(c);
}

static void not_observable(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a"), *w = hx_open(c->e, "uuid-writer");
    vx_crud_opts o;
    vx_crud_opts_init(&o);
    o.observable = false;
    vx_crud_handler *h = cx_handler(c, "crud.person", &o);
    /* subscribe is an ordinary filt key here: no id, no tuples -> CREATE. */
    vx_payload *r = cx_call(c, a, subscribe_req("crud.person", -1));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 1);
    assert_true(vx_is_null(cx_field(r, 0, "id")));
    vx_payload_decref(r);
    assert_int_equal(vx_crud_handler_subscriber_count(h), 0);
    vx_payload_decref(cx_call(c, w, cx_req("crud.person", cx_person(-1, "x", 1), NULL)));
    hx_run_for(c->e, 30);
    assert_int_equal(hx_count(c->e, a), 1);
    vx_crud_handler_free(h);
    cx_free(c);
}

/* Many subscribers: one encoding shared by all of them. */
static void push_encoded_once(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *subs[8];
    char uuid[32];
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    for (size_t i = 0; i < 8; i++) {
        snprintf(uuid, sizeof uuid, "uuid-sub-%zu", i);
        subs[i] = hx_open(c->e, uuid);
        vx_payload_decref(cx_call(c, subs[i], subscribe_req("crud.person", -1)));
    }
    hx_conn *w = hx_open(c->e, "uuid-writer");
    vx_payload_decref(cx_call(c, w, cx_req("crud.person", cx_person(-1, "x", 1), NULL)));
    for (size_t i = 0; i < 8; i++) hx_wait(c->e, subs[i], 2, 5000);
    for (size_t i = 1; i < 8; i++)
        assert_ptr_equal(subs[i]->q[subs[i]->n - 1], subs[0]->q[subs[0]->n - 1]);
    vx_crud_handler_free(h);
    cx_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(subscribe_reply_and_pushes),
        cmocka_unit_test(writer_subscribed_gets_reply_then_push),
        cmocka_unit_test(id_scoped_subscriptions),
        cmocka_unit_test(unsubscribe_and_disconnect),
        cmocka_unit_test(hub_shares_changes_by_table),
        cmocka_unit_test(not_observable),
        cmocka_unit_test(push_encoded_once),
    };
    return cx_run_both(tests, sizeof tests / sizeof tests[0], "observe");
}
