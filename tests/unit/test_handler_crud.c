/* CrudHandler (PROTOCOL.md §14.2) on a real node and a real database:
 * C-77..C-80, every row of the decision table, several tuple types in one
 * payload, all-or-nothing updates, hostile input, per-sender order, a slow
 * hook beside another remote's request, free with work in flight, and
 * SendAllHandler. Every test runs on SQLite and, with VX_TEST_PG_URL, on
 * PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "crud_fixture.h"
#include "handler/handler_impl.h"

/* ---- C-79: CREATE and RETRIEVE ------------------------------------------------ */

static void test_C79_create_and_retrieve(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);

    /* Neither id nor tuples: one unsaved tuple at its defaults. */
    vx_payload *r = cx_call(c, a, cx_req("crud.person", NULL));
    assert_true(vx_is_null(vx_payload_result(r)));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 1);
    assert_string_equal(vx_tuple_name(vx_list_get(vx_payload_tuples(r), 0)), "hx.Person");
    assert_true(vx_is_null(cx_field(r, 0, "id")));
    assert_string_equal(vx_str_value(cx_field(r, 0, "name")), "");
    assert_int_equal(cx_count(c, c->person), 0);
    vx_payload_decref(r);

    /* An id: [row] or []. A null id counts as absent (CREATE). */
    int64_t id = cx_insert(c, "Ada", 36);
    vx_payload *q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "id", vx_int(id));
    r = cx_call(c, a, q);
    assert_true(vx_is_null(vx_payload_result(r)));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 1);
    assert_string_equal(vx_str_value(cx_field(r, 0, "name")), "Ada");
    assert_int_equal(vx_int_value(cx_field(r, 0, "age")), 36);
    assert_int_equal(vx_int_value(vx_dict_get(vx_payload_filt(r), "id")), id);
    vx_payload_decref(r);

    q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "id", vx_int(id + 1000));
    r = cx_call(c, a, q);
    assert_true(vx_is_null(vx_payload_result(r)));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 0);
    vx_payload_decref(r);

    /* A JavaScript number 7.0 is the id 7. */
    q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "id", vx_float((double)id));
    r = cx_call(c, a, q);
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 1);
    vx_payload_decref(r);

    q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "id", vx_null());
    r = cx_call(c, a, q);
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 1);
    assert_true(vx_is_null(cx_field(r, 0, "id")));
    vx_payload_decref(r);
    vx_crud_handler_free(h);

    /* retrieve_all: CREATE answers with every row. */
    cx_insert(c, "Bob", 40);
    vx_crud_opts o;
    vx_crud_opts_init(&o);
    o.retrieve_all = true;
    h = cx_handler(c, "crud.all", &o);
    r = cx_call(c, a, cx_req("crud.all", NULL));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 2);
    assert_string_equal(vx_str_value(cx_field(r, 1, "name")), "Bob");
    vx_payload_decref(r);
    vx_crud_handler_free(h);
    cx_free(c);
}

/* ---- C-78: UPDATE ------------------------------------------------------------------ */

static void test_C78_update_inserts_and_merges(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    int64_t old = cx_insert(c, "Old", 1);

    vx_value *empty_id = cx_person(-1, "Empty", 3);
    assert_int_equal(vx_tuple_set_new(empty_id, "id", vx_str("")), 0);
    vx_payload *q =
        cx_req("crud.person", cx_person(-1, "New", 2), cx_person(old, "Merged", 5),
               empty_id, cx_person(old + 50, "WithId", 7), NULL);
    hx_set(vx_payload_filt(q), "PayloadResponse.messageId", vx_str("m-78"));
    vx_payload *r = cx_call(c, a, q);
    assert_true(hx_result_true(r));
    assert_string_equal(
        vx_str_value(vx_dict_get(vx_payload_filt(r), "PayloadResponse.messageId")), "m-78");
    /* Stored tuples, in request order, ids assigned. */
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 4);
    assert_string_equal(vx_str_value(cx_field(r, 0, "name")), "New");
    assert_int_equal(vx_typeof(cx_field(r, 0, "id")), VX_INT);
    assert_int_equal(vx_int_value(cx_field(r, 1, "id")), old);
    assert_string_equal(vx_str_value(cx_field(r, 1, "name")), "Merged");
    assert_int_equal(vx_typeof(cx_field(r, 2, "id")), VX_INT);
    assert_int_equal(vx_int_value(cx_field(r, 3, "id")), old + 50);
    vx_payload_decref(r);

    vx_value *rows = cx_rows(c, c->person);
    assert_int_equal(vx_list_size(rows), 4);
    assert_string_equal(vx_str_value(vx_tuple_get(vx_list_get(rows, 0), "name")), "Merged");
    assert_int_equal(vx_int_value(vx_tuple_get(vx_list_get(rows, 0), "age")), 5);
    vx_decref(rows);
    vx_crud_handler_free(h);
    cx_free(c);
}

static void test_C78_one_failure_stores_nothing(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    int64_t old = cx_insert(c, "Keep", 1);
    vx_value *bad = cx_person(-1, "Bad", 0);
    assert_int_equal(vx_tuple_set_new(bad, "age", vx_str("old")), 0);
    vx_payload *r = cx_call(c, a,
                            cx_req("crud.person", cx_person(-1, "Fine", 2),
                                   cx_person(old, "Changed", 9), bad, NULL));
    char want[128];
    snprintf(want, sizeof want, "column '%s.age' expects int, got str", c->person_name);
    assert_string_equal(hx_result_str(r), want);
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 0);
    vx_payload_decref(r);
    vx_value *rows = cx_rows(c, c->person);
    assert_int_equal(vx_list_size(rows), 1);
    assert_string_equal(vx_str_value(vx_tuple_get(vx_list_get(rows, 0), "name")), "Keep");
    vx_decref(rows);
    hx_run_for(c->e, 20);
    assert_int_equal(hx_count(c->e, a), 1); /* exactly one reply */
    vx_crud_handler_free(h);
    cx_free(c);
}

/* ---- C-77: DELETE ------------------------------------------------------------------- */

static void test_C77_delete_every_tuple(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    int64_t i1 = cx_insert(c, "A", 1), i2 = cx_insert(c, "B", 2), i3 = cx_insert(c, "C", 3);
    vx_payload *q = cx_req("crud.person", cx_person(i1, "A", 1), cx_person(i3, "C", 3),
                           cx_person(i3 + 100, "Missing", 0), NULL);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    vx_payload *r = cx_call(c, a, q);
    assert_true(hx_result_true(r));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 0);
    vx_payload_decref(r);
    vx_value *rows = cx_rows(c, c->person);
    assert_int_equal(vx_list_size(rows), 1);
    assert_int_equal(vx_int_value(vx_tuple_get(vx_list_get(rows, 0), "id")), i2);
    vx_decref(rows);

    /* No tuples: the filt id. */
    q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    hx_set(vx_payload_filt(q), "id", vx_int(i2));
    r = cx_call(c, a, q);
    assert_true(hx_result_true(r));
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 0);
    vx_crud_handler_free(h);
    cx_free(c);
}

/* ---- every row of the decision table, with precedence ------------------------------ */

static void decision_table_rows(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    int64_t i1 = cx_insert(c, "A", 1), i2 = cx_insert(c, "B", 2);

    /* Row 1 beats row 2 and 3: delete true with tuples and an id deletes the
     * tuples (not the filt id). */
    vx_payload *q = cx_req("crud.person", cx_person(i1, "A", 1), NULL);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    hx_set(vx_payload_filt(q), "id", vx_int(i2));
    vx_payload *r = cx_call(c, a, q);
    assert_true(hx_result_true(r));
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 1);

    /* Row 2 beats row 3: tuples with an id update. */
    q = cx_req("crud.person", cx_person(i2, "B2", 22), NULL);
    hx_set(vx_payload_filt(q), "id", vx_int(i2));
    r = cx_call(c, a, q);
    assert_true(hx_result_true(r));
    assert_string_equal(vx_str_value(cx_field(r, 0, "name")), "B2");
    vx_payload_decref(r);

    /* delete false, or 1 (§7.2: not a bool), is no delete: an id retrieves. */
    vx_value *not_true[] = {vx_bool(false), vx_int(1), vx_str("true")};
    for (size_t i = 0; i < 3; i++) {
        q = cx_req("crud.person", NULL);
        hx_set(vx_payload_filt(q), "delete", not_true[i]);
        hx_set(vx_payload_filt(q), "id", vx_int(i2));
        r = cx_call(c, a, q);
        assert_true(vx_is_null(vx_payload_result(r)));
        assert_int_equal(vx_list_size(vx_payload_tuples(r)), 1);
        vx_payload_decref(r);
    }
    /* delete: 1 with tuples is an UPDATE, not a delete. */
    q = cx_req("crud.person", cx_person(i2, "B3", 3), NULL);
    hx_set(vx_payload_filt(q), "delete", vx_int(1));
    r = cx_call(c, a, q);
    assert_true(hx_result_true(r));
    assert_string_equal(vx_str_value(cx_field(r, 0, "name")), "B3");
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 1);

    /* Row 4: nothing -> CREATE (not stored). */
    r = cx_call(c, a, cx_req("crud.person", NULL));
    assert_true(vx_is_null(vx_payload_result(r)));
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 1);
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 1);
    vx_crud_handler_free(h);
    cx_free(c);
}

/* ---- C-80: hook order --------------------------------------------------------------- */

typedef struct hook_log {
    pthread_mutex_t mu;
    char text[2048];
    pthread_t loop_thread;
    int on_loop;
    const char *fail_in; /* hook name that fails */
    int sleep_ms;        /* in beforeUpdate */
} hook_log;

static int log_hook(hook_log *l, const char *name, vx_value *tuple, vx_error *err) {
    pthread_mutex_lock(&l->mu);
    if (pthread_equal(pthread_self(), l->loop_thread)) l->on_loop++;
    const vx_value *n = vx_tuple_get(tuple, "name");
    size_t len = strlen(l->text);
    snprintf(l->text + len, sizeof l->text - len, "%s%s(%s)", len ? " " : "", name,
             vx_typeof(n) == VX_STR ? vx_str_value(n) : "?");
    bool fail = l->fail_in && strcmp(l->fail_in, name) == 0;
    pthread_mutex_unlock(&l->mu);
    if (fail)
        return vx_error_set(err, VX_E_HANDLER, "%s refused %s", name, vx_str_value(n));
    return 0;
}

#define HOOK(fn, name)                                                                     \
    static int fn(void *data, vx_sql_session *ss, vx_value *tuple, vx_error *err) {        \
        (void)ss;                                                                          \
        return log_hook(data, name, tuple, err);                                           \
    }
HOOK(h_after_create, "afterCreate")
HOOK(h_after_retrieve, "afterRetrieve")
HOOK(h_middle_update, "middleUpdate")
HOOK(h_after_update, "afterUpdate")
HOOK(h_after_update_commit, "afterUpdateCommit")
HOOK(h_before_delete, "beforeDelete")

static int h_before_update(void *data, vx_sql_session *ss, vx_value *tuple, vx_error *err) {
    (void)ss;
    hook_log *l = data;
    if (l->sleep_ms) usleep(l->sleep_ms * 1000);
    return log_hook(data, "beforeUpdate", tuple, err);
}

/* uiData: what is sent, not what is stored. */
static int h_ui_data(void *data, vx_sql_session *ss, vx_value *tuple, vx_error *err) {
    (void)ss;
    int rc = log_hook(data, "uiData", tuple, err);
    if (rc == 0) rc = vx_tuple_set_new(tuple, "score", vx_float(99.5));
    return rc;
}

static const vx_crud_hooks all_hooks = {
    .after_create = h_after_create,
    .after_retrieve = h_after_retrieve,
    .before_update = h_before_update,
    .middle_update = h_middle_update,
    .after_update = h_after_update,
    .after_update_commit = h_after_update_commit,
    .before_delete = h_before_delete,
    .ui_data = h_ui_data,
};

static void log_init(hook_log *l) {
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->loop_thread = pthread_self();
}

static void log_expect(hook_log *l, const char *want) {
    pthread_mutex_lock(&l->mu);
    if (strcmp(l->text, want) != 0)
        fail_msg("hooks ran as\n  %s\nnot\n  %s", l->text, want);
    l->text[0] = 0;
    pthread_mutex_unlock(&l->mu);
}

static void test_C80_hook_order(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    hook_log l;
    log_init(&l);
    vx_error err;
    CX_OK(vx_crud_handler_set_hooks(h, "hx.Person", &all_hooks, &l, &err), err);
    int64_t old = cx_insert(c, "Old", 1);

    vx_payload *r = cx_call(c, a, cx_req("crud.person", NULL));
    log_expect(&l, "afterCreate() uiData()");
    vx_payload_decref(r);

    vx_payload *q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "id", vx_int(old));
    r = cx_call(c, a, q);
    log_expect(&l, "afterRetrieve(Old) uiData(Old)");
    assert_true(vx_float_value(cx_field(r, 0, "score")) == 99.5);
    vx_payload_decref(r);

    r = cx_call(
        c, a,
        cx_req("crud.person", cx_person(-1, "New", 2), cx_person(old, "Upd", 3), NULL));
    log_expect(&l,
               "beforeUpdate(New) beforeUpdate(Upd) middleUpdate(New) middleUpdate(Upd) "
               "afterUpdate(New) afterUpdate(Upd) afterUpdateCommit(New) "
               "afterUpdateCommit(Upd) uiData(New) uiData(Upd)");
    assert_true(hx_result_true(r));
    assert_true(vx_float_value(cx_field(r, 1, "score")) == 99.5); /* sent... */
    vx_payload_decref(r);
    vx_value *rows = cx_rows(c, c->person);
    assert_true(
        vx_is_null(vx_tuple_get(vx_list_get(rows, 0), "score"))); /* ...not stored */
    vx_decref(rows);

    q = cx_req("crud.person", cx_person(old, "Upd", 3), NULL);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    r = cx_call(c, a, q);
    log_expect(&l, "beforeDelete(Upd)");
    vx_payload_decref(r);
    assert_int_equal(l.on_loop, 0); /* hooks run on the thread pool */

    /* A hook failing before commit rolls back; one error reply. */
    l.fail_in = "afterUpdate";
    r = cx_call(c, a, cx_req("crud.person", cx_person(-1, "Nope", 2), NULL));
    assert_string_equal(hx_result_str(r), "afterUpdate refused Nope");
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 0);
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 1); /* only "New" */
    log_expect(&l, "beforeUpdate(Nope) middleUpdate(Nope) afterUpdate(Nope)");

    /* After commit: the error reply, but the data stays. */
    l.fail_in = "afterUpdateCommit";
    r = cx_call(c, a, cx_req("crud.person", cx_person(-1, "Kept", 2), NULL));
    assert_string_equal(hx_result_str(r), "afterUpdateCommit refused Kept");
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 2);
    log_expect(&l, "beforeUpdate(Kept) middleUpdate(Kept) afterUpdate(Kept) "
                   "afterUpdateCommit(Kept)");

    /* A failing beforeDelete keeps the row. */
    l.fail_in = "beforeDelete";
    q = cx_req("crud.person", cx_person(old + 1, "x", 0), NULL);
    vx_value *rows2 = cx_rows(c, c->person);
    vx_list_set_new(vx_payload_tuples(q), 0, vx_incref(vx_list_get(rows2, 0)));
    vx_decref(rows2);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    r = cx_call(c, a, q);
    assert_string_equal(hx_result_str(r), "beforeDelete refused New");
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 2);
    hx_run_for(c->e, 20);
    vx_crud_handler_free(h);
    pthread_mutex_destroy(&l.mu);
    cx_free(c);
}

/* ---- several tuple types in one payload --------------------------------------------- */

static void extra_tables_one_transaction(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *plain = cx_handler(c, "crud.person", NULL);
    const vx_sql_table *extra[] = {c->pet};
    vx_crud_opts o;
    vx_crud_opts_init(&o);
    o.extra_tables = extra;
    o.n_extra_tables = 1;
    vx_crud_handler *h = cx_handler(c, "crud.family", &o);

    vx_payload *r = cx_call(
        c, a,
        cx_req("crud.family", cx_person(-1, "Owner", 30), cx_pet(-1, 1, "Rex"), NULL));
    assert_true(hx_result_true(r));
    assert_string_equal(vx_tuple_name(vx_list_get(vx_payload_tuples(r), 0)), "hx.Person");
    assert_string_equal(vx_tuple_name(vx_list_get(vx_payload_tuples(r), 1)), "hx.Pet");
    assert_string_equal(vx_str_value(cx_field(r, 1, "name")), "Rex");
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 1);
    assert_int_equal(cx_count(c, c->pet), 1);

    /* A bad pet rolls the person back too. */
    vx_value *bad = cx_pet(-1, 1, "Bad");
    assert_int_equal(vx_tuple_set_new(bad, "owner", vx_str("nobody")), 0);
    r = cx_call(c, a, cx_req("crud.family", cx_person(-1, "Two", 1), bad, NULL));
    char want[128];
    snprintf(want, sizeof want, "column '%s.owner' expects int, got str", c->pet_name);
    assert_string_equal(hx_result_str(r), want);
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 1);
    assert_int_equal(cx_count(c, c->pet), 1);

    /* Delete across both tables in one transaction. */
    vx_value *people = cx_rows(c, c->person), *pets = cx_rows(c, c->pet);
    vx_payload *q = cx_req("crud.family", vx_incref(vx_list_get(people, 0)),
                           vx_incref(vx_list_get(pets, 0)), NULL);
    vx_decref(people);
    vx_decref(pets);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    r = cx_call(c, a, q);
    assert_true(hx_result_true(r));
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 0);
    assert_int_equal(cx_count(c, c->pet), 0);

    /* A handler without extra_tables refuses the pet. */
    r = cx_call(c, a, cx_req("crud.person", cx_pet(-1, 1, "Rex"), NULL));
    assert_string_equal(hx_result_str(r),
                        "tuple type 'hx.Pet' is not handled by 'crud.person'");
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->pet), 0);
    vx_crud_handler_free(h);
    vx_crud_handler_free(plain);
    cx_free(c);
}

/* ---- hostile input --------------------------------------------------------------------
 */

static void expect_error(cx *c, hx_conn *a, vx_payload *q, const char *want_part) {
    vx_payload *r = cx_call(c, a, q);
    if (!strstr(hx_result_str(r), want_part))
        fail_msg("result '%s' lacks '%s'", hx_result_str(r), want_part);
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 0);
    vx_payload_decref(r);
}

static void hostile_input(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    int64_t id = cx_insert(c, "Stable", 5);
    vx_value *before = cx_rows(c, c->person);

    vx_value *t = cx_person(-1, "X", 1);
    assert_int_equal(vx_tuple_set_new(t, "bogus", vx_int(1)), 0);
    expect_error(c, a, cx_req("crud.person", t, NULL), "no column 'bogus'");

    t = cx_person(id, "X", 1);
    assert_int_equal(vx_tuple_set_new(t, "age", vx_list()), 0);
    expect_error(c, a, cx_req("crud.person", t, NULL), "expects int, got list");

    t = cx_person(id, "X", 1);
    assert_int_equal(vx_tuple_set_new(t, "id", vx_str("abc")), 0);
    expect_error(c, a, cx_req("crud.person", t, NULL), "expects int, got str");

    expect_error(c, a, cx_req("crud.person", vx_tuple_new_untyped("x.Other"), NULL),
                 "tuple type 'x.Other' is not handled by 'crud.person'");
    expect_error(c, a, cx_req("crud.person", vx_dict(), NULL),
                 "tuples[0] is a dict, not a tuple");

    vx_payload *q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "id", vx_str("abc"));
    expect_error(c, a, q, "filt 'id' for column");
    q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "id", vx_dict());
    expect_error(c, a, q, "expects int, got dict");

    /* Deletes without an id. */
    q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    expect_error(c, a, q, "delete needs tuples or a filt 'id'");
    q = cx_req("crud.person", cx_person(-1, "NoId", 1), NULL);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    expect_error(c, a, q, "has no 'id' to delete");
    q = cx_req("crud.person", NULL);
    hx_set(vx_payload_filt(q), "delete", vx_bool(true));
    hx_set(vx_payload_filt(q), "id", vx_float(1.5));
    expect_error(c, a, q, "expects int, got float");

    vx_value *after = cx_rows(c, c->person);
    assert_true(vx_equal(before, after));
    vx_decref(after);
    vx_decref(before);

    /* SQL metacharacters and a 1 MB string are stored verbatim. */
    const char *meta = "Robert'); DROP TABLE students;-- \" ` \\ %_ ?";
    size_t big_len = 1u << 20;
    char *big = malloc(big_len + 1);
    for (size_t i = 0; i < big_len; i++) big[i] = (char)('a' + i % 26);
    big[big_len] = 0;
    vx_payload *r = cx_call(
        c, a, cx_req("crud.person", cx_person(-1, meta, 1), cx_person(-1, big, 2), NULL));
    assert_true(hx_result_true(r));
    vx_payload_decref(r);
    vx_value *rows = cx_rows(c, c->person);
    assert_int_equal(vx_list_size(rows), 3);
    assert_string_equal(vx_str_value(vx_tuple_get(vx_list_get(rows, 1), "name")), meta);
    assert_int_equal(vx_str_len(vx_tuple_get(vx_list_get(rows, 2), "name")), big_len);
    assert_memory_equal(vx_str_value(vx_tuple_get(vx_list_get(rows, 2), "name")), big,
                        big_len);
    vx_decref(rows);
    free(big);
    hx_run_for(c->e, 20);
    assert_int_equal(hx_count(c->e, a), 11); /* one reply per request */
    vx_crud_handler_free(h);
    cx_free(c);
}

/* Tuples arriving typed (the node's codec knows hx.Person) work the same. */
static void typed_tuples(void **state) {
    (void)state;
    cx *c = cx_new(true);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    vx_payload *r = cx_call(c, a, cx_req("crud.person", cx_person(-1, "Typed", 4), NULL));
    assert_true(hx_result_true(r));
    vx_payload_decref(r);
    vx_value *t = cx_person(-1, "Bad", 1);
    assert_int_equal(vx_tuple_set_new(t, "age", vx_str("x")), 0);
    r = cx_call(c, a, cx_req("crud.person", t, NULL));
    assert_non_null(strstr(hx_result_str(r), "expects int, got str"));
    vx_payload_decref(r);
    assert_int_equal(cx_count(c, c->person), 1);
    vx_crud_handler_free(h);
    cx_free(c);
}

/* ---- order, concurrency, lifetime ------------------------------------------------------
 */

static void same_sender_in_order(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    int64_t id = cx_insert(c, "v0", 0);
    /* Fed back to back: each RETRIEVE sees the UPDATE fed before it. */
    for (int i = 1; i <= 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        cx_feed(c, a, cx_req("crud.person", cx_person(id, name, i), NULL));
        vx_payload *q = cx_req("crud.person", NULL);
        hx_set(vx_payload_filt(q), "id", vx_int(id));
        hx_feed(c->e, a, q);
        vx_payload_decref(q);
    }
    hx_wait(c->e, a, 10, 8000);
    for (size_t i = 0; i < 10; i++) {
        vx_payload *r = hx_get(c->e, a, i);
        char name[16];
        snprintf(name, sizeof name, "v%zu", i / 2 + 1);
        assert_string_equal(vx_str_value(cx_field(r, 0, "name")), name);
        assert_true(i % 2 ? vx_is_null(vx_payload_result(r)) : hx_result_true(r));
        vx_payload_decref(r);
    }
    vx_crud_handler_free(h);
    cx_free(c);
}

static void two_remotes_same_row(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a"), *b = hx_open(c->e, "uuid-b");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    int64_t id = cx_insert(c, "start", 0);
    for (int i = 0; i < 5; i++) {
        cx_feed(c, a, cx_req("crud.person", cx_person(id, "from-a", 100 + i), NULL));
        cx_feed(c, b, cx_req("crud.person", cx_person(id, "from-b", 200 + i), NULL));
    }
    hx_wait(c->e, a, 5, 8000);
    hx_wait(c->e, b, 5, 8000);
    vx_value *rows = cx_rows(c, c->person);
    vx_value *final = vx_list_get(rows, 0);
    /* Each reply is what its writer stored; the final row is one of the last two. */
    vx_payload *la = hx_get(c->e, a, 4), *lb = hx_get(c->e, b, 4);
    for (size_t i = 0; i < 5; i++) {
        vx_payload *ra = hx_get(c->e, a, i), *rb = hx_get(c->e, b, i);
        assert_true(hx_result_true(ra) && hx_result_true(rb));
        assert_int_equal(vx_int_value(cx_field(ra, 0, "age")), 100 + (int64_t)i);
        assert_int_equal(vx_int_value(cx_field(rb, 0, "age")), 200 + (int64_t)i);
        vx_payload_decref(ra);
        vx_payload_decref(rb);
    }
    int64_t age = vx_int_value(vx_tuple_get(final, "age"));
    assert_true(age == 104 || age == 204);
    const char *name = vx_str_value(vx_tuple_get(final, "name"));
    assert_string_equal(name, age == 104 ? "from-a" : "from-b");
    vx_payload_decref(la);
    vx_payload_decref(lb);
    vx_decref(rows);
    vx_crud_handler_free(h);
    cx_free(c);
}

static void slow_hook_does_not_block_others(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a"), *b = hx_open(c->e, "uuid-b");
    vx_crud_handler *slow = cx_handler(c, "crud.slow", NULL);
    vx_crud_handler *fast = cx_handler(c, "crud.fast", NULL);
    int64_t id = cx_insert(c, "row", 1);
    hook_log l;
    log_init(&l);
    l.sleep_ms = 300;
    vx_error err;
    CX_OK(vx_crud_handler_set_hooks(slow, "hx.Person", &all_hooks, &l, &err), err);
    cx_feed(c, a, cx_req("crud.slow", cx_person(id, "slow", 2), NULL));
    uint64_t t0 = uv_now(&c->e->loop);
    vx_payload *q = cx_req("crud.fast", NULL);
    hx_set(vx_payload_filt(q), "id", vx_int(id));
    vx_payload *r = cx_call(c, b, q);
    uv_update_time(&c->e->loop);
    uint64_t took = uv_now(&c->e->loop) - t0;
    assert_int_equal(hx_count(c->e, a), 0); /* the slow one is still running */
    assert_true(took < 250);
    assert_string_equal(vx_str_value(cx_field(r, 0, "name")), "row");
    vx_payload_decref(r);
    hx_wait(c->e, a, 1, 5000);
    vx_crud_handler_free(slow);
    vx_crud_handler_free(fast);
    pthread_mutex_destroy(&l.mu);
    cx_free(c);
}

static void free_with_work_in_flight(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a"), *b = hx_open(c->e, "uuid-b");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    hook_log l;
    log_init(&l);
    l.sleep_ms = 150;
    vx_error err;
    CX_OK(vx_crud_handler_set_hooks(h, "hx.Person", &all_hooks, &l, &err), err);
    cx_feed(c, a, cx_req("crud.person", cx_person(-1, "inflight", 1), NULL));
    cx_feed(c, a, cx_req("crud.person", cx_person(-1, "queued", 1), NULL));
    cx_feed(c, b, cx_req("crud.person", cx_person(-1, "other", 1), NULL));
    usleep(30 * 1000);
    vx_crud_handler_free(h); /* waits for the running hooks: `l` may go after */
    pthread_mutex_lock(&l.mu);
    char text[2048];
    snprintf(text, sizeof text, "%s", l.text);
    pthread_mutex_unlock(&l.mu);
    assert_null(strstr(text, "queued"));
    hx_run_for(c->e, 50);
    assert_int_equal(hx_count(c->e, a), 0);
    assert_int_equal(hx_count(c->e, b), 0);
    assert_string_equal(l.text, text); /* nothing ran after the free */
    pthread_mutex_destroy(&l.mu);
    cx_free(c);
}

static void sender_gone_before_reply(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a"), *b = hx_open(c->e, "uuid-b");
    vx_crud_handler *h = cx_handler(c, "crud.person", NULL);
    hook_log l;
    log_init(&l);
    l.sleep_ms = 50;
    vx_error err;
    CX_OK(vx_crud_handler_set_hooks(h, "hx.Person", &all_hooks, &l, &err), err);
    cx_feed(c, a, cx_req("crud.person", cx_person(-1, "orphan", 1), NULL));
    hx_disconnect(a);
    vx_payload *r = cx_call(c, b, cx_req("crud.person", cx_person(-1, "b", 1), NULL));
    assert_true(hx_result_true(r));
    vx_payload_decref(r);
    hx_run_for(c->e, 100);
    assert_int_equal(h->core.replies_dropped, 1);
    assert_int_equal(cx_count(c, c->person), 2); /* the work itself was done */
    vx_crud_handler_free(h);
    pthread_mutex_destroy(&l.mu);
    cx_free(c);
}

/* ---- SendAllHandler --------------------------------------------------------------------
 */

static void send_all_handler(void **state) {
    (void)state;
    cx *c = cx_new(false);
    hx_conn *a = hx_open(c->e, "uuid-a");
    cx_insert(c, "one", 1);
    cx_insert(c, "two", 2);
    vx_value *filt = hx_filt("all.people");
    vx_error err;
    vx_model_handler *h =
        vx_send_all_handler_new(c->e->node, filt, c->store, c->person, &err);
    assert_non_null(h);
    vx_decref(filt);
    vx_payload *q = hx_req("all.people");
    hx_set(vx_payload_filt(q), "extra", vx_int(1));
    vx_payload *r = cx_call(c, a, q);
    assert_true(vx_is_null(vx_payload_result(r)));
    assert_int_equal(vx_int_value(vx_dict_get(vx_payload_filt(r), "extra")), 1);
    assert_int_equal(vx_list_size(vx_payload_tuples(r)), 2);
    assert_string_equal(vx_str_value(cx_field(r, 1, "name")), "two");
    vx_payload_decref(r);
    vx_model_handler_free(h);
    cx_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C79_create_and_retrieve),
        cmocka_unit_test(test_C78_update_inserts_and_merges),
        cmocka_unit_test(test_C78_one_failure_stores_nothing),
        cmocka_unit_test(test_C77_delete_every_tuple),
        cmocka_unit_test(decision_table_rows),
        cmocka_unit_test(test_C80_hook_order),
        cmocka_unit_test(extra_tables_one_transaction),
        cmocka_unit_test(hostile_input),
        cmocka_unit_test(typed_tuples),
        cmocka_unit_test(same_sender_in_order),
        cmocka_unit_test(two_remotes_same_row),
        cmocka_unit_test(slow_hook_does_not_block_others),
        cmocka_unit_test(free_with_work_in_flight),
        cmocka_unit_test(sender_gone_before_reply),
        cmocka_unit_test(send_all_handler),
    };
    return cx_run_both(tests, sizeof tests / sizeof tests[0], "handler_crud");
}
