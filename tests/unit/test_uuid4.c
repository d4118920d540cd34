/* Request messageIds (PROTOCOL §13, C-72: "a fresh UUID string"):
 * src/node/uuid4.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "node/uuid4.h"

/* Lowercase 8-4-4-4-12 hex, version nibble 4, variant nibble 8-b. */
static void assert_uuid4_form(const char *s) {
    assert_int_equal(strlen(s), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(s[i], '-');
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            fail_msg("not lowercase hex at %d: %s", i, s);
        }
    }
    assert_int_equal(s[14], '4');
    assert_non_null(strchr("89ab", s[19]));
}

static int cmp_id(const void *a, const void *b) {
    return memcmp(a, b, 37);
}

/* C-72: every id has the uuid4 form, and ids never repeat, across many
 * refills of the pool. */
static void test_c72_message_ids_are_uuid4_and_distinct(void **state) {
    (void)state;
    enum { N = 5000 }; /* ~20 pool refills */
    char(*ids)[37] = malloc(N * sizeof *ids);
    assert_non_null(ids);
    int bits_seen[16] = {0}; /* for each hex digit value, seen in position 0? */
    for (int i = 0; i < N; i++) {
        memset(ids[i], 'X', sizeof ids[i]);
        vxn_uuid4(ids[i]);
        assert_uuid4_form(ids[i]);
        char c = ids[i][0];
        bits_seen[c <= '9' ? c - '0' : c - 'a' + 10] = 1;
    }
    qsort(ids, N, sizeof *ids, cmp_id);
    for (int i = 1; i < N; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0) fail_msg("repeated id %s", ids[i]);
    /* Random, not a counter: the first digit takes every value. */
    for (int d = 0; d < 16; d++) assert_true(bits_seen[d]);
    free(ids);
}

/* A forked child must not hand out the ids its parent is about to. */
static void test_fork_child_gets_other_ids(void **state) {
    (void)state;
    char first[37];
    vxn_uuid4(first); /* the pool now holds bytes the parent will use next */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char mine[3][37];
        for (int i = 0; i < 3; i++) vxn_uuid4(mine[i]);
        ssize_t w = write(fds[1], mine, sizeof mine);
        _exit(w == (ssize_t)sizeof mine ? 0 : 1);
    }
    close(fds[1]);
    char child_ids[3][37];
    size_t got = 0;
    while (got < sizeof child_ids) {
        ssize_t r = read(fds[0], (char *)child_ids + got, sizeof child_ids - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char parent_ids[3][37];
    for (int i = 0; i < 3; i++) vxn_uuid4(parent_ids[i]);
    for (int i = 0; i < 3; i++) {
        assert_uuid4_form(child_ids[i]);
        for (int j = 0; j < 3; j++) assert_string_not_equal(child_ids[i], parent_ids[j]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c72_message_ids_are_uuid4_and_distinct),
        cmocka_unit_test(test_fork_child_gets_other_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
