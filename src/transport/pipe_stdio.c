/* The child side of the pipe transport (PROTOCOL.md §16):
 * vx_node_attach_stdio (include/vortexc/pipe.h).
 *
 * There is one stdin per process, so there is one attachment, kept in a
 * static: the one process-wide state in the library, forced by the
 * resource it stands for. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "transport/pipe_link.h"

typedef struct vxp_stdio {
    vxp_link link; /* first */
    vx_stdio_opts opts;
    uv_timer_t poll; /* getppid() poll where there is no death signal */
    bool poll_on;
    pid_t parent;
    int handles; /* the link (as one) and the poll timer */
    bool ended;
} vxp_stdio;

static vxp_stdio *g_stdio;
static bool g_attached_once;

void vx_stdio_opts_init(vx_stdio_opts *o) {
    memset(o, 0, sizeof *o);
    o->parent_poll = 1;
}

/* ---- the end ---------------------------------------------------------------------- */

static void release(vxp_stdio *s) {
    if (--s->handles == 0) free(s);
}

static void poll_closed_cb(uv_handle_t *h) {
    release(h->data);
}

static void link_handles_closed(vxp_link *l) {
    release((vxp_stdio *)l);
}

/* `drain`: what is queued for the parent is still written first. */
static void detach(vxp_stdio *s, bool drain) {
    if (g_stdio == s) g_stdio = NULL;
    if (s->poll_on) {
        s->poll_on = false;
        uv_close((uv_handle_t *)&s->poll, poll_closed_cb);
    }
    vxp_link_close(&s->link, drain);
}

/* The parent is gone or broke the protocol: exit, or let the application
 * do it (on_eof). */
static void parent_gone(vxp_stdio *s, const char *reason) {
    if (s->ended) return;
    s->ended = true;
    if (reason) fprintf(stderr, "vortexc: pipe to the parent vortex: %s\n", reason);
    vx_node *node = s->link.node;
    void (*on_eof)(void *, vx_node *) = s->opts.on_eof;
    void *data = s->opts.data;
    detach(s, false);
    if (!on_eof) exit(0);
    on_eof(data, node);
}

/* ---- link callbacks ------------------------------------------------------------------ */

static void link_ready(vxp_link *l) {
    vxp_stdio *s = (vxp_stdio *)l;
    if (s->opts.on_ready) s->opts.on_ready(s->opts.data, l->node, l->peer_uuid);
}

static void link_ended(vxp_link *l, const char *reason) {
    parent_gone((vxp_stdio *)l, reason);
}

/* The node ends the conn (its shutdown or free): close the pipes, after
 * writing what is queued on a shutdown; the parent then sees EOF and stops
 * us. */
static void link_node_close(vxp_link *l, vx_close_why why) {
    vxp_stdio *s = (vxp_stdio *)l;
    bool drain = why == VX_CLOSE_SHUTDOWN;
    vxp_link_close_write(l, drain);
    vxp_link_report(l, NULL);
    s->ended = true;
    detach(s, drain);
}

static const vxp_link_cbs stdio_cbs = {link_ready, link_ended, link_node_close,
                                       link_handles_closed};

#ifndef __linux__
static void poll_cb(uv_timer_t *t) {
    vxp_stdio *s = t->data;
    if (getppid() != s->parent) parent_gone(s, "the parent process died");
}
#endif

/* ---- attaching ------------------------------------------------------------------------
 */

/* §16 rule 2: arm the death signal, then make sure the parent did not die
 * before it was armed (we would have been re-parented already). */
static void guard_parent(pid_t *parent) {
    *parent = getppid();
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    const char *env = getenv(VX_PIPE_PARENT_PID_ENV);
    if (env && *env) {
        char *end;
        long want = strtol(env, &end, 10);
        if (*end == '\0' && want > 0 && (long)getppid() != want) {
            fprintf(stderr,
                    "vortexc: the parent vortex (pid %ld) died before this child "
                    "attached; exiting\n",
                    want);
            _exit(1);
        }
        if (*end == '\0' && want > 0) *parent = (pid_t)want;
    }
}

int vx_node_attach_stdio(vx_node *node, const vx_stdio_opts *opts, vx_error *err) {
    if (!node) return vx_error_set(err, VX_E_INVAL, "vx_node_attach_stdio: node is NULL");
    if (g_attached_once)
        return vx_error_set(err, VX_E_EXISTS,
                            "vx_node_attach_stdio: this process has already attached its "
                            "stdio");
    if (vx_node_shutting_down(node))
        return vx_error_set(err, VX_E_CLOSED, "vx_node_attach_stdio: shutting down");
    vx_stdio_opts defaults;
    if (!opts) {
        vx_stdio_opts_init(&defaults);
        opts = &defaults;
    }
    /* libuv polls these descriptors: a file or terminal would make it abort. */
    for (int fd = 0; fd < 2; fd++)
        if (uv_guess_handle(fd) != UV_NAMED_PIPE)
            return vx_error_set(err, VX_E_IO,
                                "vx_node_attach_stdio: %s is not a pipe or socket (start "
                                "this program with vx_spawn)",
                                fd ? "stdout" : "stdin");
    vxp_stdio *s = calloc(1, sizeof *s);
    if (!s) return vx_error_set(err, VX_E_NOMEM, "vx_node_attach_stdio: out of memory");
    s->opts = *opts;
    guard_parent(&s->parent);
    vxp_ignore_sigpipe();

    uv_loop_t *loop = vx_node_loop(node);
    if (vxp_link_init(&s->link, node, loop, &stdio_cbs) < 0) {
        free(s);
        return vx_error_set(err, VX_E_NOMEM, "vx_node_attach_stdio: out of memory");
    }
    s->handles = 1;
    snprintf(s->link.conn.peer, sizeof s->link.conn.peer, "parent pid %ld",
             (long)s->parent);
    /* Stdout is reserved (§16): the protocol gets a private duplicate, and
     * descriptor 1 (printf, puts, stray library output) goes to stderr. */
    int proto = fcntl(1, F_DUPFD_CLOEXEC, 3);
    int rc = proto < 0 ? uv_translate_sys_error(errno) : 0;
    const char *which = "stdout";
    bool proto_owned = false;
    if (rc == 0 && (rc = uv_pipe_open(&s->link.wr, proto)) == 0) {
        proto_owned = true; /* closed with the handle from now on */
        which = "stdin";
        rc = uv_pipe_open(&s->link.rd, 0);
    }
    if (rc == 0 && dup2(2, 1) < 0) {
        rc = uv_translate_sys_error(errno);
        which = "descriptor 1";
    }
    if (rc < 0) {
        if (proto >= 0 && !proto_owned) close(proto);
        vxp_link_close(&s->link, false); /* frees s from its close callbacks */
        return vx_error_set(err, VX_E_IO, "vx_node_attach_stdio: cannot use %s: %s", which,
                            uv_strerror(rc));
    }
    g_attached_once = true;
    g_stdio = s;
    rc = vxp_link_start(&s->link, err);
    if (rc < 0) {
        detach(s, false);
        return rc;
    }
#ifndef __linux__
    uv_timer_init(loop, &s->poll);
    s->poll.data = s;
    s->poll_on = true;
    s->handles++;
    uint64_t ms = (uint64_t)(s->opts.parent_poll * 1000.0 + 0.5);
    uv_timer_start(&s->poll, poll_cb, ms ? ms : 1, ms ? ms : 1);
#endif
    return 0;
}

const char *vx_stdio_parent_uuid(const vx_node *node) {
    vxp_stdio *s = g_stdio;
    if (!s || s->link.node != node || !s->link.registered || s->link.reported) return NULL;
    return s->link.peer_uuid;
}

void vx_node_detach_stdio(vx_node *node) {
    vxp_stdio *s = g_stdio;
    if (!s || s->link.node != node) return;
    s->ended = true;
    detach(s, true);
}
