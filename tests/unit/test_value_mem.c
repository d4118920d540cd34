/* Value memory: cached small ints, the empty-string singleton, typed tuples
 * with inline field slots, and the per-thread block cache (src/value/mem.c).
 * Run under valgrind too: the cross-thread test must leave nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <vortexc.h>

/* C-17/C-19 decode ints through vx_int: every value must come back exact,
 * whether it is one of the shared cached ints or a fresh allocation. */
static void test_C17_ints_exact_inside_and_outside_the_cache(void **state) {
    for (int64_t i = -300; i <= 1100; i++) {
        vx_value *v = vx_int(i);
        assert_non_null(v);
        assert_int_equal(vx_typeof(v), VX_INT);
        assert_true(vx_int_value(v) == i);
        /* Extra references on a shared int are harmless and never free it. */
        vx_decref(vx_incref(v));
        vx_decref(v);
        v = vx_int(i); /* again, after the release */
        assert_true(vx_int_value(v) == i);
        vx_decref(v);
    }
    int64_t edges[] = {INT64_MIN, INT64_MIN + 1, -257, 1024, INT64_MAX};
    for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++) {
        vx_value *v = vx_int(edges[k]);
        assert_true(vx_int_value(v) == edges[k]);
        vx_decref(v);
    }
}

static void test_empty_string_is_a_valid_empty_c_string(void **state) {
    vx_value *a = vx_str(""), *b = vx_strn("x", 0);
    assert_int_equal(vx_typeof(a), VX_STR);
    assert_int_equal(vx_str_len(a), 0);
    assert_string_equal(vx_str_value(a), "");
    assert_true(vx_equal(a, b));
    vx_value *c = vx_deep_copy(a);
    assert_string_equal(vx_str_value(c), "");
    vx_decref(a);
    vx_decref(b);
    vx_decref(c);
    assert_string_equal(vx_str_value(vx_str("")), ""); /* still intact */
}

/* Blocks handed back by the cache must not carry old contents into values
 * of another size or type: fill, free, refill with shifted sizes, check. */
static void test_reused_value_blocks_hold_new_contents(void **state) {
    enum { N = 3000 };
    static vx_value *v[N];
    char buf[200];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            size_t len = (size_t)(i + round * 7) % 150;
            memset(buf, 'a' + (i + round) % 26, len);
            switch (i % 4) {
            case 0:
                v[i] = vx_strn(buf, len);
                break;
            case 1:
                v[i] = vx_float(i + round * 0.5);
                break;
            case 2:
                v[i] = vx_datetime((int64_t)i * 1000 + round);
                break;
            default:
                v[i] = vx_bytes(buf, len);
                break;
            }
            assert_non_null(v[i]);
        }
        for (int i = 0; i < N; i++) {
            size_t len = (size_t)(i + round * 7) % 150;
            memset(buf, 'a' + (i + round) % 26, len);
            switch (i % 4) {
            case 0:
                assert_int_equal(vx_str_len(v[i]), len);
                assert_memory_equal(vx_str_value(v[i]), buf, len);
                assert_int_equal(vx_str_value(v[i])[len], '\0');
                break;
            case 1:
                assert_true(vx_float_value(v[i]) == i + round * 0.5);
                break;
            case 2:
                assert_true(vx_datetime_value(v[i]) == (int64_t)i * 1000 + round);
                break;
            default:
                assert_int_equal(vx_bytes_len(v[i]), len);
                if (len) assert_memory_equal(vx_bytes_data(v[i]), buf, len);
                break;
            }
        }
        for (int i = 0; i < N; i++) vx_decref(v[i]);
    }
}

/* Typed tuples keep their field slots in the tuple's own block; check a
 * type with no fields and one too big for the small-block cache. */
static void test_typed_tuple_slots_for_0_and_40_fields(void **state) {
    vx_registry *reg = vx_registry_new();
    const vx_tuple_type *t0 = NULL, *t40 = NULL;
    assert_int_equal(vx_registry_add(reg, "t.Zero", NULL, NULL, 0, &t0, NULL), 0);
    vx_field_def f[40];
    char names[40][8];
    vx_value *def = vx_str("dflt");
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "f%02d", i);
        f[i] = (vx_field_def){names[i], i % 2 ? def : NULL, NULL, false};
    }
    assert_int_equal(vx_registry_add(reg, "t.Forty", NULL, f, 40, &t40, NULL), 0);
    vx_decref(def);

    vx_value *z = vx_tuple_new(t0);
    assert_int_equal(vx_tuple_field_count(z), 0);
    assert_null(vx_tuple_get_at(z, 0));
    vx_decref(z);

    vx_value *t = vx_tuple_new(t40);
    for (int i = 0; i < 40; i++) {
        vx_value *d = vx_tuple_get_at(t, (size_t)i);
        if (i % 2)
            assert_string_equal(vx_str_value(d), "dflt");
        else
            assert_true(vx_is_null(d));
    }
    for (int i = 0; i < 40; i += 3)
        assert_int_equal(vx_tuple_set_at_new(t, (size_t)i, vx_int(10000 + i)), 0);
    vx_value *copy = vx_deep_copy(t);
    assert_true(vx_equal(t, copy));
    assert_true(vx_int_value(vx_tuple_get(copy, "f39")) == 10039);
    vx_decref(t);
    vx_decref(copy);
    vx_registry_free(reg);
}

/* Values may be freed on another thread than the one that made them: the
 * freeing thread's cache takes the blocks and reuses them safely. */
typedef struct {
    vx_value **v;
    size_t n;
    int64_t sum;
} xthread_job;

static void *free_then_make(void *arg) {
    xthread_job *j = arg;
    for (size_t i = 0; i < j->n; i++) vx_decref(j->v[i]);
    for (size_t i = 0; i < j->n; i++) {
        vx_value *f = vx_float((double)i), *s = vx_strn("thread-made", 1 + i % 11);
        j->sum += (int64_t)vx_float_value(f) + (int64_t)vx_str_len(s);
        vx_decref(f);
        vx_decref(s);
    }
    return NULL;
}

static void test_values_freed_on_another_thread(void **state) {
    enum { N = 2000 };
    static vx_value *v[N];
    for (int i = 0; i < N; i++)
        v[i] = i % 3 == 0   ? vx_float(i * 0.25)
               : i % 3 == 1 ? vx_datetime((int64_t)i)
                            : vx_strn("made on the main thread", 1 + (size_t)i % 23);
    xthread_job job = {v, N, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, free_then_make, &job), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    int64_t want = 0;
    for (int64_t i = 0; i < N; i++) want += i + 1 + i % 11;
    assert_true(job.sum == want);
    /* The main thread goes on allocating normally afterwards. */
    vx_value *after = vx_strn("after", 5);
    assert_string_equal(vx_str_value(after), "after");
    vx_decref(after);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C17_ints_exact_inside_and_outside_the_cache),
        cmocka_unit_test(test_empty_string_is_a_valid_empty_c_string),
        cmocka_unit_test(test_reused_value_blocks_hold_new_contents),
        cmocka_unit_test(test_typed_tuple_slots_for_0_and_40_fields),
        cmocka_unit_test(test_values_freed_on_another_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
