/* Pipe transport tests (PROTOCOL.md §16, C-83): a real parent node spawns
 * tests/pipe/pipe_child (VX_PIPE_CHILD, compiled in by CMake) and talks to
 * it over its stdin/stdout. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <vortexc.h>
#include <vortexc/node.h>
#include <vortexc/pipe.h>

#ifndef VX_PIPE_CHILD
#error "VX_PIPE_CHILD (path of tests/pipe/pipe_child) must be defined by the build"
#endif

/* ---- the parent: one loop and node per test --------------------------------- */

typedef struct events {
    int ready, exits;
    int64_t status;
    int term_signal;
    bool will_restart;
    uint64_t exit_ms;
    char uuids[4][64]; /* vx_child_uuid at each on_ready */
    bool free_on_exit;
} events;

static uv_loop_t g_loop;
static vx_node *g_node;
static uv_timer_t g_tick;
static int g_bcast_n = -1;
static int g_joined_pipe; /* on_remote: remotes of kind PIPE that joined */
static char g_joined_name[64];

static uint64_t now_ms(void) {
    return uv_hrtime() / 1000000u;
}

static void tick_cb(uv_timer_t *t) {}

/* Run the loop until *flag becomes non-zero or `ms` pass; true if it did. */
static bool run_until(const int *flag, uint64_t ms) {
    uint64_t end = now_ms() + ms;
    while (!*flag && now_ms() < end) uv_run(&g_loop, UV_RUN_ONCE);
    return *flag != 0;
}

static void run_for(uint64_t ms) {
    int never = 0;
    run_until(&never, ms);
}

static int on_parent_svc(void *data, vx_payload *req, const vx_route_ctx *ctx,
                         vx_error *err) {
    vx_payload *p = vx_payload_new();
    vx_payload_set_filt_new(p, vx_deep_copy(vx_payload_filt(req)));
    vx_value *out = vx_list();
    vx_value *in = vx_payload_tuples(req);
    for (size_t i = 0; i < vx_list_size(in); i++)
        vx_list_append_new(out, vx_int(vx_int_value(vx_list_get(in, i)) * 10));
    vx_payload_set_tuples_new(p, out);
    int rc = ctx->reply(ctx->reply_data, p, err);
    vx_payload_decref(p);
    return rc;
}

static int on_bcast_seen(void *data, vx_payload *p, const vx_route_ctx *ctx,
                         vx_error *err) {
    g_bcast_n = (int)vx_int_value(vx_dict_get(vx_payload_filt(p), "n"));
    return 0;
}

static void on_remote(void *data, const vx_remote_info *r, bool joined) {
    if (joined && r->transport == VX_TRANSPORT_PIPE) {
        g_joined_pipe++;
        snprintf(g_joined_name, sizeof g_joined_name, "%s", r->name);
    }
}

static void add_endpoint(const char *key, vx_endpoint_fn fn) {
    vx_value *filt = vx_dict();
    vx_dict_set_new(filt, "key", vx_str(key));
    assert_int_equal(vx_router_add(vx_node_router(g_node), filt, fn, NULL, NULL, NULL), 0);
    vx_decref(filt);
}

static void setup_parent(size_t max_msg_bytes) {
    assert_int_equal(uv_loop_init(&g_loop), 0);
    vx_node_opts o;
    vx_node_opts_init(&o);
    o.name = "pipe-parent";
    if (max_msg_bytes) o.codec.max_msg_bytes = max_msg_bytes;
    g_node = vx_node_new(&g_loop, &o, NULL);
    assert_non_null(g_node);
    vx_node_on_remote(g_node, on_remote, NULL);
    add_endpoint("parent.svc", on_parent_svc);
    add_endpoint("pipe.bcast_seen", on_bcast_seen);
    /* Wakes UV_RUN_ONCE up regularly so run_until sees its deadline. */
    uv_timer_init(&g_loop, &g_tick);
    uv_timer_start(&g_tick, tick_cb, 10, 10);
    g_bcast_n = -1;
    g_joined_pipe = 0;
    g_joined_name[0] = '\0';
}

static void teardown_parent(void) {
    uv_close((uv_handle_t *)&g_tick, NULL);
    vx_node_free(g_node);
    assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&g_loop), 0);
}

/* ---- children ---------------------------------------------------------------- */

static void ev_ready(void *data, vx_child *c) {
    events *e = data;
    const char *u = vx_child_uuid(c);
    assert_non_null(u);
    if (e->ready < 4) snprintf(e->uuids[e->ready], sizeof e->uuids[0], "%s", u);
    e->ready++;
}

static void ev_exit(void *data, vx_child *c, int64_t status, int sig, bool will_restart) {
    events *e = data;
    e->exits++;
    e->status = status;
    e->term_signal = sig;
    e->will_restart = will_restart;
    e->exit_ms = now_ms();
    assert_null(vx_child_uuid(c)); /* already forgotten */
    if (e->free_on_exit) vx_child_free(c);
}

static vx_child *spawn(const char *mode, events *e, void (*tweak)(vx_spawn_opts *)) {
    const char *argv[] = {VX_PIPE_CHILD, mode, NULL};
    vx_spawn_opts o;
    vx_spawn_opts_init(&o);
    o.argv = argv;
    o.on_ready = ev_ready;
    o.on_exit = ev_exit;
    o.data = e;
    if (tweak) tweak(&o);
    vx_child *c = NULL;
    vx_error err;
    int rc = vx_spawn(g_node, &o, &c, &err);
    if (rc) fail_msg("vx_spawn: %s", err.message);
    assert_non_null(c);
    assert_true(vx_child_pid(c) > 0);
    return c;
}

static vx_child *spawn_ready(const char *mode, events *e) {
    vx_child *c = spawn(mode, e, NULL);
    assert_true(run_until(&e->ready, 5000));
    return c;
}

/* Stop the child, wait for its exit, free it. */
static void finish_child(vx_child *c, events *e) {
    vx_child_stop(c);
    uint64_t end = now_ms() + 7000;
    while (vx_child_running(c) && now_ms() < end) uv_run(&g_loop, UV_RUN_ONCE);
    assert_false(vx_child_running(c));
    vx_child_free(c);
}

/* ---- requests ------------------------------------------------------------------- */

typedef struct resp {
    int calls;
    vx_request_status status;
    int code;
    char message[VX_ERROR_MESSAGE_MAX];
    vx_value *tuples; /* NEW, from the reply */
    uint64_t at_ms;
} resp;

static void resp_fn(void *data, vx_request_status status, vx_payload *reply,
                    const vx_error *err) {
    resp *r = data;
    r->calls++;
    r->status = status;
    r->code = err ? err->code : 0;
    snprintf(r->message, sizeof r->message, "%s", err ? err->message : "");
    if (reply) r->tuples = vx_incref(vx_payload_tuples(reply));
    r->at_ms = now_ms();
}

static void request(const char *uuid, const char *key, vx_value *tuples, double timeout,
                    resp *r) {
    vx_payload *p = vx_payload_new_key(key);
    if (tuples) vx_payload_set_tuples_new(p, tuples);
    vx_request_opts ro = {.timeout = timeout};
    vx_error err;
    int rc = vx_node_request(g_node, uuid, p, &ro, resp_fn, r, &err);
    if (rc) fail_msg("vx_node_request: %s", err.message);
    vx_payload_decref(p);
}

static vx_value *ints(int a, int b, int c) {
    vx_value *l = vx_list();
    vx_list_append_new(l, vx_int(a));
    vx_list_append_new(l, vx_int(b));
    vx_list_append_new(l, vx_int(c));
    return l;
}

static void expect_ints(const resp *r, int a, int b, int c) {
    assert_int_equal(r->calls, 1);
    if (r->status != VX_REQUEST_SUCCESS) fail_msg("request failed: %s", r->message);
    assert_non_null(r->tuples);
    assert_int_equal(vx_list_size(r->tuples), 3);
    assert_int_equal(vx_int_value(vx_list_get(r->tuples, 0)), a);
    assert_int_equal(vx_int_value(vx_list_get(r->tuples, 1)), b);
    assert_int_equal(vx_int_value(vx_list_get(r->tuples, 2)), c);
}

static void resp_clear(resp *r) {
    if (r->tuples) vx_decref(r->tuples);
    memset(r, 0, sizeof *r);
}

/* The node's decode error count for `code`, from the metrics text. */
static long decode_errors(const char *code) {
    vx_buf b = {0};
    assert_int_equal(vx_node_metrics_text(g_node, &b), 0);
    vx_buf_append(&b, "", 1);
    char pat[96];
    snprintf(pat, sizeof pat, "vortexc_decode_errors_total{code=\"%s\"} ", code);
    const char *at = strstr(b.data, pat);
    long n = at ? strtol(at + strlen(pat), NULL, 10) : -1;
    vx_buf_free(&b);
    return n;
}

/* ---- raw process helpers (no vortexc on the test's side) ----------------------- */

typedef struct raw_child {
    pid_t pid;
    int to_child, from_child;
} raw_child;

static raw_child raw_spawn_env(const char *mode, const char *parent_pid) {
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        if (parent_pid) setenv(VX_PIPE_PARENT_PID_ENV, parent_pid, 1);
        execl(VX_PIPE_CHILD, VX_PIPE_CHILD, mode, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    return (raw_child){pid, in[1], out[0]};
}

static raw_child raw_spawn(const char *mode) {
    return raw_spawn_env(mode, NULL);
}

/* Read up to the first '.'; NEW string without it. */
static char *read_item(int fd) {
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    char ch;
    while (read(fd, &ch, 1) == 1 && ch != '.') {
        if (n + 1 == cap) s = realloc(s, cap *= 2);
        s[n++] = ch;
    }
    s[n] = '\0';
    return s;
}

static int wait_exit(pid_t pid, uint64_t ms, int *status) {
    uint64_t end = now_ms() + ms;
    while (now_ms() < end) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 0;
        usleep(2000);
    }
    return -1;
}

/* ---- tests ------------------------------------------------------------------------- */

/* C-83: the child sends its hello first without waiting for the parent's
 * (here no parent hello ever comes), and the parent's first bytes to a
 * child are its hello, sent before the child said anything. */
static void test_C83_both_sides_send_hello_first(void **state) {
    /* The child alone, nothing written to its stdin. */
    raw_child rc = raw_spawn("echo");
    char *item = read_item(rc.from_child);
    vx_payload *p = NULL;
    assert_int_equal(vx_msg_decode(item, strlen(item), NULL, &p, NULL), 0);
    assert_true(vx_payload_is_empty(p));
    vx_value *name = vx_dict_get(vx_payload_filt(p), VX_HELLO_NAME_KEY);
    assert_string_equal(vx_str_value(name), "pipe-child");
    assert_non_null(vx_dict_get(vx_payload_filt(p), VX_HELLO_UUID_KEY));
    vx_payload_decref(p);
    free(item);
    /* EOF on its stdin: it exits at once, status 0. */
    uint64_t t0 = now_ms();
    close(rc.to_child);
    int status = -1;
    assert_int_equal(wait_exit(rc.pid, 2000, &status), 0);
    assert_true(now_ms() - t0 < 1000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(rc.from_child);

    /* The parent: a child that never speaks still gets the hello first. */
    setup_parent(0);
    events e = {0};
    char path[] = "/tmp/vx-pipe-hello-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *argv[] = {"/bin/sh", "-c", "cat > \"$0\"", path, NULL};
    vx_spawn_opts o;
    vx_spawn_opts_init(&o);
    o.argv = argv;
    o.on_exit = ev_exit;
    o.data = &e;
    vx_child *c = NULL;
    assert_int_equal(vx_spawn(g_node, &o, &c, NULL), 0);
    char buf[400] = {0};
    uint64_t end = now_ms() + 3000;
    size_t got = 0;
    while (now_ms() < end && !memchr(buf, '.', got)) {
        run_for(20);
        FILE *f = fopen(path, "r");
        got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
    }
    char *dot = memchr(buf, '.', got);
    assert_non_null(dot);
    assert_int_equal(vx_msg_decode(buf, (size_t)(dot - buf), NULL, &p, NULL), 0);
    assert_string_equal(vx_str_value(vx_dict_get(vx_payload_filt(p), VX_HELLO_UUID_KEY)),
                        vx_node_uuid(g_node));
    vx_payload_decref(p);
    assert_int_equal(e.ready, 0);
    assert_null(vx_child_uuid(c));
    finish_child(c, &e);
    unlink(path);
    teardown_parent();
}

/* C-83 with §13/§15: requests both ways, addressing by uuid and name, and
 * the child is a PIPE remote vortex named by its hello. */
static void test_C83_request_response_both_ways(void **state) {
    setup_parent(0);
    events e = {0};
    vx_child *c = spawn_ready("echo", &e);
    const char *uuid = vx_child_uuid(c);
    assert_non_null(uuid);
    assert_string_equal(vx_child_name(c), "pipe-child");
    assert_int_equal(vx_node_remote_count(g_node), 1);
    assert_int_equal(g_joined_pipe, 1);
    assert_string_equal(g_joined_name, "pipe-child");

    resp r = {0};
    request(uuid, "pipe.echo", ints(1, 2, 3), 5, &r);
    assert_true(run_until(&r.calls, 5000));
    expect_ints(&r, 1, 2, 3);
    resp_clear(&r);

    /* NULL target: the only remote. */
    request(NULL, "pipe.echo", ints(4, 5, 6), 5, &r);
    assert_true(run_until(&r.calls, 5000));
    expect_ints(&r, 4, 5, 6);
    resp_clear(&r);

    /* The child asks the parent (its own vx_node_request) before answering. */
    request(uuid, "pipe.ask_parent", ints(1, 2, 3), 5, &r);
    assert_true(run_until(&r.calls, 5000));
    expect_ints(&r, 10, 20, 30);
    resp_clear(&r);

    /* By name. */
    vx_payload *p = vx_payload_new_key("pipe.bcast");
    vx_dict_set_new(vx_payload_filt(p), "n", vx_int(3));
    assert_int_equal(vx_node_send_name(g_node, "pipe-child", p, NULL), 0);
    vx_payload_decref(p);
    uint64_t end = now_ms() + 5000;
    while (g_bcast_n != 3 && now_ms() < end) uv_run(&g_loop, UV_RUN_ONCE);
    assert_int_equal(g_bcast_n, 3);

    finish_child(c, &e);
    assert_int_equal(vx_node_remote_count(g_node), 0);
    teardown_parent();
}

/* C-83 with C-82: a broadcast reaches the child. */
static void test_C83_broadcast_reaches_child(void **state) {
    setup_parent(0);
    events e = {0};
    vx_child *c = spawn_ready("echo", &e);
    vx_payload *p = vx_payload_new_key("pipe.bcast");
    vx_dict_set_new(vx_payload_filt(p), "n", vx_int(7));
    assert_int_equal(vx_node_broadcast(g_node, p, NULL), 0);
    vx_payload_decref(p);
    uint64_t end = now_ms() + 5000;
    while (g_bcast_n != 7 && now_ms() < end) uv_run(&g_loop, UV_RUN_ONCE);
    assert_int_equal(g_bcast_n, 7);
    finish_child(c, &e);
    teardown_parent();
}

/* C-83: vx_child_stop closes stdin; the child exits (status 0, no signal,
 * so not the grace SIGKILL) within 1 s, and the remote is forgotten. */
static void test_C83_child_exits_within_1s_of_eof(void **state) {
    setup_parent(0);
    events e = {0};
    vx_child *c = spawn_ready("echo", &e);
    int pid = vx_child_pid(c);
    uint64_t t0 = now_ms();
    vx_child_stop(c);
    assert_true(run_until(&e.exits, 3000));
    assert_true(e.exit_ms - t0 < 1000);
    assert_int_equal(e.status, 0);
    assert_int_equal(e.term_signal, 0);
    assert_false(e.will_restart);
    assert_int_equal(vx_child_pid(c), 0);
    assert_int_equal(vx_node_remote_count(g_node), 0);
    assert_int_equal(kill(pid, 0), -1); /* reaped by libuv */
    vx_child_free(c);
    teardown_parent();
}

/* C-83: SIGKILL of the parent (a middle process between the test and the
 * child): the child is gone within 1 s. The test is a subreaper, so the
 * orphan is re-parented to it and its end can be seen with waitpid. */
static void test_C83_child_dies_when_parent_killed(void **state) {
#ifndef __linux__
    skip(); /* needs PR_SET_CHILD_SUBREAPER to see the orphan's end */
#else
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    char path[] = "/tmp/vx-pipe-middle-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pid_t middle = fork();
    assert_true(middle >= 0);
    if (middle == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        execl(VX_PIPE_CHILD, VX_PIPE_CHILD, "middle", path, (char *)NULL);
        _exit(127);
    }
    long child = 0;
    uint64_t end = now_ms() + 5000;
    while (child <= 0 && now_ms() < end) {
        usleep(5000);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%ld", &child) != 1) child = 0;
            fclose(f);
        }
    }
    unlink(path);
    assert_true(child > 0);
    assert_int_equal(kill((pid_t)child, 0), 0);
    assert_int_equal(kill(middle, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(middle, &status, 0), middle);
    uint64_t t0 = now_ms();
    assert_int_equal(wait_exit((pid_t)child, 3000, &status), 0);
    assert_true(now_ms() - t0 < 1000);
    assert_true(WIFSIGNALED(status) || WIFEXITED(status));
    prctl(PR_SET_CHILD_SUBREAPER, 0);
#endif
}

/* §16 rule 2: a child whose starting parent (VX_PIPE_PARENT_PID_ENV) is no
 * longer its parent when it attaches exits at once, status 1, before any
 * hello; one whose parent matches does not. */
static void test_C83_child_exits_if_parent_died_before_attach(void **state) {
    raw_child rc = raw_spawn_env("echo", "1");
    char *item = read_item(rc.from_child);
    assert_string_equal(item, ""); /* EOF, nothing written */
    free(item);
    int status = -1;
    assert_int_equal(wait_exit(rc.pid, 2000, &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    close(rc.to_child);
    close(rc.from_child);

    char me[32];
    snprintf(me, sizeof me, "%ld", (long)getpid());
    rc = raw_spawn_env("echo", me);
    item = read_item(rc.from_child);
    assert_true(strlen(item) > 0); /* its hello */
    free(item);
    close(rc.to_child);
    assert_int_equal(wait_exit(rc.pid, 2000, &status), 0);
    assert_int_equal(WEXITSTATUS(status), 0);
    close(rc.from_child);
}

/* An on_eof callback replaces the exit: it runs (the child frees its node
 * and returns from main with status 5), still within 1 s of EOF. */
static void test_C83_on_eof_callback(void **state) {
    setup_parent(0);
    events e = {0};
    vx_child *c = spawn_ready("oneof", &e);
    uint64_t t0 = now_ms();
    vx_child_stop(c);
    assert_true(run_until(&e.exits, 3000));
    assert_true(e.exit_ms - t0 < 1000);
    assert_int_equal(e.status, 5);
    vx_child_free(c);
    teardown_parent();
}

/* A child that crashes: on_exit tells the signal, and a request waiting on
 * it fails at once with VX_E_CLOSED saying why (not after its timeout). */
static void test_C83_crash_fails_pending_requests_at_once(void **state) {
    setup_parent(0);
    events e = {0};
    vx_child *c = spawn_ready("echo", &e);
    resp r = {0};
    uint64_t t0 = now_ms();
    request(vx_child_uuid(c), "pipe.crash", NULL, 30, &r);
    assert_true(run_until(&r.calls, 5000));
    assert_true(r.at_ms - t0 < 3000);
    assert_int_equal(r.status, VX_REQUEST_FAILED);
    assert_int_equal(r.code, VX_E_CLOSED);
    assert_non_null(strstr(r.message, "killed by signal 6"));
    assert_true(run_until(&e.exits, 1000));
    assert_int_equal(e.term_signal, SIGABRT);
    assert_false(e.will_restart);
    assert_int_equal(vx_node_remote_count(g_node), 0);
    resp_clear(&r);
    vx_child_free(c);

    /* An exit status is named the same way. */
    events e2 = {0};
    c = spawn_ready("echo", &e2);
    vx_payload *p = vx_payload_new_key("pipe.exit");
    vx_dict_set_new(vx_payload_filt(p), "code", vx_int(3));
    vx_request_opts ro = {.timeout = 30};
    assert_int_equal(vx_node_request(g_node, vx_child_uuid(c), p, &ro, resp_fn, &r, NULL),
                     0);
    vx_payload_decref(p);
    assert_true(run_until(&r.calls, 5000));
    assert_int_equal(r.code, VX_E_CLOSED);
    assert_non_null(strstr(r.message, "exited with status 3"));
    assert_true(run_until(&e2.exits, 1000));
    assert_int_equal(e2.status, 3);
    resp_clear(&r);
    vx_child_free(c);
    teardown_parent();
}

/* A child that printf()s to stdout (before and after attaching, and while
 * serving) does not corrupt the protocol: requests still succeed, nothing
 * fails to decode, and its text shows up on stderr. */
static void test_C83_printf_goes_to_stderr(void **state) {
    char path[] = "/tmp/vx-pipe-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2); /* the child inherits it as its stderr */
    close(fd);

    setup_parent(0);
    events e = {0};
    vx_child *c = spawn_ready("printf", &e);
    for (int i = 0; i < 3; i++) {
        resp r = {0};
        request(vx_child_uuid(c), "pipe.echo", ints(i, i + 1, i + 2), 5, &r);
        assert_true(run_until(&r.calls, 5000));
        expect_ints(&r, i, i + 1, i + 2);
        resp_clear(&r);
    }
    finish_child(c, &e);
    assert_int_equal(decode_errors("VX_E_BASE64"), 0);
    assert_int_equal(decode_errors("VX_E_ZLIB"), 0);
    teardown_parent();

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    size_t n = 0;
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[8192];
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    assert_non_null(strstr(buf, "stray printf output: before attach"));
    assert_non_null(strstr(buf, "stray printf output: echo"));
}

static void restart_fast(vx_spawn_opts *o) {
    o->max_restarts = 1;
    o->restart_delay = 0.05;
}

/* The restart policy starts a crashed child again; the new run says hello
 * again (a new uuid) and serves; after max_restarts it stays down. */
static void test_C83_restart_after_crash(void **state) {
    setup_parent(0);
    events e = {0};
    vx_child *c = spawn("echo", &e, restart_fast);
    assert_true(run_until(&e.ready, 5000));
    resp r = {0};
    request(vx_child_uuid(c), "pipe.crash", NULL, 30, &r);
    assert_true(run_until(&e.exits, 5000));
    assert_true(e.will_restart);
    assert_int_equal(r.code, VX_E_CLOSED);
    resp_clear(&r);
    uint64_t end = now_ms() + 5000;
    while (e.ready < 2 && now_ms() < end) uv_run(&g_loop, UV_RUN_ONCE);
    assert_int_equal(e.ready, 2);
    assert_int_equal(vx_child_restarts(c), 1);
    assert_string_not_equal(e.uuids[0], e.uuids[1]);
    assert_string_equal(vx_child_uuid(c), e.uuids[1]);
    request(vx_child_uuid(c), "pipe.echo", ints(7, 8, 9), 5, &r);
    assert_true(run_until(&r.calls, 5000));
    expect_ints(&r, 7, 8, 9);
    resp_clear(&r);

    request(vx_child_uuid(c), "pipe.crash", NULL, 30, &r);
    end = now_ms() + 5000;
    while (e.exits < 2 && now_ms() < end) uv_run(&g_loop, UV_RUN_ONCE);
    assert_int_equal(e.exits, 2);
    assert_false(e.will_restart);
    run_for(300);
    assert_int_equal(e.ready, 2);
    assert_false(vx_child_running(c));
    resp_clear(&r);
    vx_child_free(c);
    teardown_parent();
}

/* Garbage before the hello: the parent closes the pipe with a logged
 * reason, never registers the child, and carries on. */
static void test_C83_garbage_before_hello_closes_pipe(void **state) {
    setup_parent(0);
    events e = {0};
    vx_child *c = spawn("garbage", &e, NULL);
    assert_true(run_until(&e.exits, 5000));
    assert_int_equal(e.ready, 0);
    assert_int_equal(e.status, 0); /* it saw EOF and exited by itself */
    assert_non_null(strstr(vx_child_last_error(c), "not a hello"));
    assert_int_equal(vx_node_remote_count(g_node), 0);
    assert_int_equal(g_joined_pipe, 0);
    vx_child_free(c);

    /* The parent still works. */
    events e2 = {0};
    c = spawn_ready("echo", &e2);
    resp r = {0};
    request(vx_child_uuid(c), "pipe.echo", ints(1, 1, 1), 5, &r);
    assert_true(run_until(&r.calls, 5000));
    expect_ints(&r, 1, 1, 1);
    resp_clear(&r);
    finish_child(c, &e2);
    teardown_parent();
}

static void hello_fast(vx_spawn_opts *o) {
    o->hello_timeout = 0.2;
}

/* A child that never says hello is stopped after hello_timeout. */
static void test_C83_no_hello_is_stopped(void **state) {
    setup_parent(0);
    events e = {0};
    vx_child *c = spawn("nohello", &e, hello_fast);
    assert_true(run_until(&e.exits, 3000));
    assert_int_equal(e.ready, 0);
    assert_non_null(strstr(vx_child_last_error(c), "no hello"));
    vx_child_free(c);
    teardown_parent();
}

/* §2.3/§6.1: an item from the child over max_msg_bytes is dropped and
 * counted; the stream goes on. */
static void test_C83_item_over_limit_counted(void **state) {
    setup_parent(600);
    events e = {0};
    vx_child *c = spawn_ready("echo", &e);
    resp r = {0};
    vx_payload *p = vx_payload_new_key("pipe.big");
    vx_dict_set_new(vx_payload_filt(p), "size", vx_int(2000));
    vx_request_opts ro = {.timeout = 0.5};
    vx_error err;
    int rc = vx_node_request(g_node, vx_child_uuid(c), p, &ro, resp_fn, &r, &err);
    vx_payload_decref(p);
    assert_int_equal(rc, 0);
    assert_true(run_until(&r.calls, 3000));
    assert_int_equal(r.status, VX_REQUEST_TIMED_OUT);
    assert_int_equal(decode_errors("VX_E_MSG_TOO_BIG"), 1);
    resp_clear(&r);
    request(vx_child_uuid(c), "pipe.echo", ints(1, 2, 3), 5, &r);
    assert_true(run_until(&r.calls, 5000));
    expect_ints(&r, 1, 2, 3);
    resp_clear(&r);
    finish_child(c, &e);
    teardown_parent();
}

#ifdef VX_PIPE_WORKER
/* examples/pipe_worker.c: its ModelHandler squares the request's tuples, and
 * a non-integer gets an error reply. */
static void test_example_pipe_worker(void **state) {
    setup_parent(0);
    events e = {0};
    const char *argv[] = {VX_PIPE_WORKER, NULL};
    vx_spawn_opts o;
    vx_spawn_opts_init(&o);
    o.argv = argv;
    o.on_ready = ev_ready;
    o.on_exit = ev_exit;
    o.data = &e;
    vx_child *c = NULL;
    assert_int_equal(vx_spawn(g_node, &o, &c, NULL), 0);
    assert_true(run_until(&e.ready, 5000));
    assert_string_equal(vx_child_name(c), "square-worker");
    resp r = {0};
    request(vx_child_uuid(c), "worker.square", ints(1, 2, 3), 5, &r);
    assert_true(run_until(&r.calls, 5000));
    expect_ints(&r, 1, 4, 9);
    resp_clear(&r);
    vx_value *bad = vx_list();
    vx_list_append_new(bad, vx_str("x"));
    request(vx_child_uuid(c), "worker.square", bad, 5, &r);
    assert_true(run_until(&r.calls, 5000));
    assert_int_equal(r.code, VX_E_REMOTE);
    assert_non_null(strstr(r.message, "not an integer"));
    resp_clear(&r);
    finish_child(c, &e);
    assert_int_equal(e.status, 0);
    teardown_parent();
}
#endif

/* Node shutdown stops the child and completes once it has exited; freeing
 * the node before the child is safe too. */
static int g_shutdown_done;
static void shutdown_done(void *data) {
    g_shutdown_done = 1;
}

static void test_C83_node_shutdown_and_free_stop_children(void **state) {
    setup_parent(0);
    events e = {0};
    vx_child *c = spawn_ready("echo", &e);
    g_shutdown_done = 0;
    vx_node_shutdown(g_node, shutdown_done, NULL);
    assert_true(run_until(&g_shutdown_done, 7000));
    assert_int_equal(e.exits, 1);
    assert_false(e.will_restart);
    vx_child_free(c);
    teardown_parent();

    setup_parent(0);
    events e2 = {.free_on_exit = true};
    c = spawn_ready("echo", &e2);
    (void)c;
    teardown_parent(); /* node freed first; the child is freed from on_exit */
    assert_int_equal(e2.exits, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_C83_both_sides_send_hello_first),
        cmocka_unit_test(test_C83_request_response_both_ways),
        cmocka_unit_test(test_C83_broadcast_reaches_child),
        cmocka_unit_test(test_C83_child_exits_within_1s_of_eof),
        cmocka_unit_test(test_C83_child_dies_when_parent_killed),
        cmocka_unit_test(test_C83_child_exits_if_parent_died_before_attach),
        cmocka_unit_test(test_C83_on_eof_callback),
        cmocka_unit_test(test_C83_crash_fails_pending_requests_at_once),
        cmocka_unit_test(test_C83_printf_goes_to_stderr),
        cmocka_unit_test(test_C83_restart_after_crash),
        cmocka_unit_test(test_C83_garbage_before_hello_closes_pipe),
        cmocka_unit_test(test_C83_no_hello_is_stopped),
        cmocka_unit_test(test_C83_item_over_limit_counted),
        cmocka_unit_test(test_C83_node_shutdown_and_free_stop_children),
#ifdef VX_PIPE_WORKER
        cmocka_unit_test(test_example_pipe_worker),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
