/* The parent side of the pipe transport (PROTOCOL.md §16): vx_spawn and
 * the vx_child lifecycle (include/vortexc/pipe.h).
 *
 * A vx_child lives across runs; each run is one process with its own pipe
 * link (pipe_link.h), freed by itself once its handles are closed. A run
 * ends when the process has exited and its stdout has reached EOF (or
 * PIPE_DRAIN_MS after the exit, in case a grandchild holds stdout open), so
 * replies written just before an exit are still routed; only then is the
 * remote forgotten, its requests failed with the exit status, on_exit
 * called and a restart scheduled.
 *
 * One timer per vx_child serves each phase in turn: the hello deadline
 * while a run waits for the hello, the exit grace while a run is being
 * stopped, the drain after an exit, the delay before a restart. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport/pipe_link.h"

extern char **environ;

#define PIPE_DRAIN_MS 200 /* after an exit, wait this long for stdout's EOF */

typedef enum timer_use { T_NONE, T_HELLO, T_GRACE, T_DRAIN, T_RESTART } timer_use;

typedef struct vxp_run vxp_run;

struct vx_child {
    vx_node *node;
    uv_loop_t *loop;
    vx_spawn_opts opts; /* strings point to the copies below */
    char *file, *cwd;
    char **argv, **env;
    uv_timer_t timer;
    timer_use timer_use;
    vxp_run *run; /* the current run, or NULL */
    unsigned restarts;
    bool stopping;  /* vx_child_stop or node shutdown: no restart */
    bool freeing;   /* vx_child_free: no callbacks; free when idle */
    bool node_gone; /* the node was freed: never touch it again */
    char last_error[VX_ERROR_MESSAGE_MAX];
};

struct vxp_run {
    vxp_link link;   /* first: the link callbacks get the run from it */
    vx_child *child; /* NULL once the run is over */
    uv_process_t proc;
    int pid;
    int handles; /* the link (as one) and the process */
    bool stop_begun, exited, eof, over;
    int64_t status;
    int term_signal;
};

static void child_timer_cb(uv_timer_t *t);
static void child_release(vx_child *c);

static void start_timer(vx_child *c, timer_use use, double seconds) {
    c->timer_use = use;
    uint64_t ms = seconds <= 0 ? 0 : (uint64_t)(seconds * 1000.0 + 0.5);
    uv_timer_start(&c->timer, child_timer_cb, ms, 0);
}

/* Keep the line for vx_child_last_error and log it. */
__attribute__((format(printf, 2, 3))) static void set_error(vx_child *c, const char *fmt,
                                                            ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->last_error, sizeof c->last_error, fmt, ap);
    va_end(ap);
    fprintf(stderr, "vortexc: child process %d: %s\n", c->run ? c->run->pid : 0,
            c->last_error);
}

/* ---- ending a run -------------------------------------------------------------- */

static void run_release(vxp_run *r) {
    if (--r->handles == 0) free(r);
}

static void proc_closed_cb(uv_handle_t *h) {
    run_release(h->data);
}

static void link_handles_closed(vxp_link *l) {
    run_release((vxp_run *)l);
}

/* Close stdin (after what is queued), then SIGKILL after exit_grace. */
static void run_stop(vxp_run *r, bool drain) {
    vx_child *c = r->child;
    if (r->stop_begun || r->exited) return;
    r->stop_begun = true;
    vxp_link_close_write(&r->link, drain);
    start_timer(c, T_GRACE, c->opts.exit_grace);
}

static void schedule_restart(vx_child *c);

/* The process has exited and its output is read: forget the remote, tell
 * the application, maybe restart. */
static void run_over(vxp_run *r) {
    vx_child *c = r->child;
    if (r->over) return;
    r->over = true;
    uv_timer_stop(&c->timer);
    c->timer_use = T_NONE;
    char why[VX_ERROR_MESSAGE_MAX];
    if (r->term_signal)
        snprintf(why, sizeof why, "child process killed by signal %d (pid %d)",
                 r->term_signal, r->pid);
    else
        snprintf(why, sizeof why, "child process exited with status %lld (pid %d)",
                 (long long)r->status, r->pid);
    if (!c->node_gone) vxp_link_report(&r->link, why);
    vxp_link_close(&r->link, false); /* the process is gone: nobody reads */
    uv_close((uv_handle_t *)&r->proc, proc_closed_cb);
    c->run = NULL;
    r->child = NULL;

    bool will_restart = !c->stopping && !c->freeing && !c->node_gone &&
                        c->restarts < c->opts.max_restarts &&
                        !vx_node_shutting_down(c->node);
    if (c->opts.on_exit && !c->freeing)
        c->opts.on_exit(c->opts.data, c, r->status, r->term_signal, will_restart);
    if (c->freeing) {
        child_release(c);
        return;
    }
    if (will_restart && !c->stopping && !c->node_gone) schedule_restart(c);
}

static void exit_cb(uv_process_t *p, int64_t status, int term_signal) {
    vxp_run *r = p->data;
    r->exited = true;
    r->status = status;
    r->term_signal = term_signal;
    if (!r->child) return;
    if (r->eof || r->link.read_done)
        run_over(r);
    else
        start_timer(r->child, T_DRAIN, PIPE_DRAIN_MS / 1000.0);
}

/* ---- link callbacks -------------------------------------------------------------- */

static void link_ready(vxp_link *l) {
    vxp_run *r = (vxp_run *)l;
    vx_child *c = r->child;
    if (!c) return;
    if (c->timer_use == T_HELLO) {
        uv_timer_stop(&c->timer);
        c->timer_use = T_NONE;
    }
    if (c->opts.on_ready && !c->freeing) c->opts.on_ready(c->opts.data, c);
}

static void link_ended(vxp_link *l, const char *reason) {
    vxp_run *r = (vxp_run *)l;
    vx_child *c = r->child;
    if (!c) return;
    r->eof = true;
    if (reason) {
        set_error(c, "%s; closing the pipe", reason);
        /* §16: the pipe is closed; the child sees EOF and must exit. */
        run_stop(r, false);
    }
    if (r->exited)
        run_over(r);
    else
        run_stop(r, true); /* the child closed its stdout: it is on its way out */
}

static void link_node_close(vxp_link *l, vx_close_why why) {
    vxp_run *r = (vxp_run *)l;
    vx_child *c = r->child;
    if (why == VX_CLOSE_ABORT) {
        /* vx_node_free: the node must hear of the end now and never again. */
        if (c) {
            c->node_gone = true;
            c->stopping = true;
        }
        vxp_link_report(l, NULL);
    } else if (why == VX_CLOSE_SHUTDOWN) {
        /* Reported when the process has exited, so that vx_node_shutdown
         * completes after the child is gone. */
        if (c) c->stopping = true;
    } else {
        vxp_link_report(l, NULL); /* takeover or slow: forgotten at once */
    }
    if (!c) return;
    vxp_link_stop_reading(l);
    r->eof = true;
    if (r->exited)
        run_over(r);
    else
        run_stop(r, why == VX_CLOSE_SHUTDOWN);
}

static const vxp_link_cbs run_cbs = {link_ready, link_ended, link_node_close,
                                     link_handles_closed};

/* ---- starting a run -------------------------------------------------------------- */

static int start_run(vx_child *c, vx_error *err) {
    vxp_run *r = calloc(1, sizeof *r);
    if (!r) return vx_error_set(err, VX_E_NOMEM, "out of memory starting a child");
    if (vxp_link_init(&r->link, c->node, c->loop, &run_cbs) < 0) {
        free(r);
        return vx_error_set(err, VX_E_NOMEM, "out of memory starting a child");
    }
    r->child = c;
    r->handles = 2;
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE; /* the child reads its stdin */
    stdio[0].data.stream = (uv_stream_t *)&r->link.wr;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&r->link.rd;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    uv_process_options_t po;
    memset(&po, 0, sizeof po);
    po.exit_cb = exit_cb;
    po.file = c->file;
    po.args = c->argv;
    po.env = c->env;
    po.cwd = c->cwd;
    po.stdio_count = 3;
    po.stdio = stdio;
    r->proc.data = r;
    int rc = uv_spawn(c->loop, &r->proc, &po);
    if (rc < 0) {
        vx_error_set(err, VX_E_CHILD, "cannot start '%s': %s", c->file, uv_strerror(rc));
        r->child = NULL;
        r->over = true;
        vxp_link_close(&r->link, false);
        uv_close((uv_handle_t *)&r->proc, proc_closed_cb);
        return err ? err->code : VX_E_CHILD;
    }
    r->pid = r->proc.pid;
    snprintf(r->link.conn.peer, sizeof r->link.conn.peer, "pid %d", r->pid);
    c->run = r;
    rc = vxp_link_start(&r->link, err);
    if (rc < 0) {
        set_error(c, "%s; stopping it", err ? err->message : "cannot start the pipe");
        vxp_link_stop_reading(&r->link);
        r->eof = true;
        run_stop(r, false);
        return 0; /* the run ends through exit_cb like any other */
    }
    if (c->opts.hello_timeout > 0) start_timer(c, T_HELLO, c->opts.hello_timeout);
    return 0;
}

static void schedule_restart(vx_child *c) {
    double d = c->opts.restart_delay;
    for (unsigned i = 0; i < c->restarts && d < c->opts.restart_delay_max; i++) d *= 2;
    if (d > c->opts.restart_delay_max) d = c->opts.restart_delay_max;
    start_timer(c, T_RESTART, d);
}

static void child_timer_cb(uv_timer_t *t) {
    vx_child *c = t->data;
    timer_use use = c->timer_use;
    c->timer_use = T_NONE;
    vxp_run *r = c->run;
    switch (use) {
    case T_HELLO:
        if (r && !r->link.registered) {
            set_error(c, "no hello from the child within %.3g s; stopping it",
                      c->opts.hello_timeout);
            vxp_link_stop_reading(&r->link);
            r->eof = true;
            run_stop(r, false);
        }
        break;
    case T_GRACE:
        if (r && !r->exited) {
            set_error(c, "%s",
                      "child did not exit within exit_grace after its stdin was "
                      "closed; sending SIGKILL");
            uv_process_kill(&r->proc, SIGKILL);
        }
        break;
    case T_DRAIN:
        if (r && r->exited) run_over(r);
        break;
    case T_RESTART:
        if (!c->run && !c->stopping && !c->freeing && !c->node_gone) {
            c->restarts++;
            vx_error e;
            if (start_run(c, &e) < 0) {
                set_error(c, "restart failed: %s", e.message);
                bool again =
                    c->restarts < c->opts.max_restarts && !vx_node_shutting_down(c->node);
                if (c->opts.on_exit) c->opts.on_exit(c->opts.data, c, -1, 0, again);
                if (c->freeing) {
                    child_release(c);
                } else if (again && !c->stopping) {
                    schedule_restart(c);
                }
            }
        }
        break;
    case T_NONE:
        break;
    }
}

/* ---- options and copies ---------------------------------------------------------- */

void vx_spawn_opts_init(vx_spawn_opts *o) {
    memset(o, 0, sizeof *o);
    o->exit_grace = 5;
    o->hello_timeout = 30;
    o->max_restarts = 0;
    o->restart_delay = 0.5;
    o->restart_delay_max = 30;
}

static void free_strv(char **v) {
    if (!v) return;
    for (char **p = v; *p; p++) free(*p);
    free(v);
}

/* NEW copy of a NULL-terminated list plus `extra` (if any) at its end,
 * leaving out entries that start with `skip_prefix`. */
static char **copy_strv(const char *const *v, const char *extra, const char *skip_prefix) {
    size_t n = 0;
    while (v && v[n]) n++;
    char **out = calloc(n + 2, sizeof *out);
    if (!out) return NULL;
    size_t k = 0, plen = skip_prefix ? strlen(skip_prefix) : 0;
    for (size_t i = 0; i < n; i++) {
        if (skip_prefix && strncmp(v[i], skip_prefix, plen) == 0) continue;
        if (!(out[k++] = strdup(v[i]))) goto nomem;
    }
    if (extra && !(out[k++] = strdup(extra))) goto nomem;
    return out;
nomem:
    free_strv(out);
    return NULL;
}

static void child_free_mem(vx_child *c) {
    free(c->file);
    free(c->cwd);
    free_strv(c->argv);
    free_strv(c->env);
    free(c);
}

static void timer_closed_cb(uv_handle_t *h) {
    child_free_mem(h->data);
}

/* Free once no run is left (called when the last run is over). */
static void child_release(vx_child *c) {
    if (c->run) return;
    uv_timer_stop(&c->timer);
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, timer_closed_cb);
}

/* ---- public API -------------------------------------------------------------------- */

int vx_spawn(vx_node *node, const vx_spawn_opts *opts, vx_child **out, vx_error *err) {
    if (out) *out = NULL;
    if (!node || !opts || !out)
        return vx_error_set(err, VX_E_INVAL, "vx_spawn: NULL argument");
    if (!opts->argv || !opts->argv[0])
        return vx_error_set(err, VX_E_INVAL, "vx_spawn: argv must hold at least argv[0]");
    if (!(opts->exit_grace >= 0) || !(opts->restart_delay >= 0) ||
        !(opts->restart_delay_max >= 0) || !(opts->hello_timeout >= 0))
        return vx_error_set(
            err, VX_E_INVAL,
            "vx_spawn: exit_grace, hello_timeout and restart delays must be "
            ">= 0");
    if (vx_node_shutting_down(node))
        return vx_error_set(err, VX_E_CLOSED, "vx_spawn: the vortex is shutting down");
    vxp_ignore_sigpipe();

    vx_child *c = calloc(1, sizeof *c);
    if (!c) return vx_error_set(err, VX_E_NOMEM, "vx_spawn: out of memory");
    c->node = node;
    c->loop = vx_node_loop(node);
    c->opts = *opts;
    char pid_env[64];
    snprintf(pid_env, sizeof pid_env, VX_PIPE_PARENT_PID_ENV "=%ld", (long)getpid());
    c->file = strdup(opts->file ? opts->file : opts->argv[0]);
    c->cwd = opts->cwd ? strdup(opts->cwd) : NULL;
    c->argv = copy_strv(opts->argv, NULL, NULL);
    c->env = copy_strv(opts->env ? opts->env : (const char *const *)environ, pid_env,
                       VX_PIPE_PARENT_PID_ENV "=");
    if (!c->file || (opts->cwd && !c->cwd) || !c->argv || !c->env) {
        child_free_mem(c);
        return vx_error_set(err, VX_E_NOMEM, "vx_spawn: out of memory");
    }
    c->opts.file = c->file;
    c->opts.cwd = c->cwd;
    c->opts.argv = (const char *const *)c->argv;
    c->opts.env = (const char *const *)c->env;
    uv_timer_init(c->loop, &c->timer);
    c->timer.data = c;
    int rc = start_run(c, err);
    if (rc < 0) {
        uv_close((uv_handle_t *)&c->timer, timer_closed_cb);
        return rc;
    }
    *out = c;
    return 0;
}

int vx_child_pid(const vx_child *c) {
    return c && c->run && !c->run->exited ? c->run->pid : 0;
}

const char *vx_child_uuid(const vx_child *c) {
    return c && c->run && c->run->link.registered ? c->run->link.peer_uuid : NULL;
}

const char *vx_child_name(const vx_child *c) {
    return c && c->run && c->run->link.registered ? c->run->link.peer_name : NULL;
}

unsigned vx_child_restarts(const vx_child *c) {
    return c ? c->restarts : 0;
}

bool vx_child_running(const vx_child *c) {
    return c && c->run;
}

const char *vx_child_last_error(const vx_child *c) {
    return c ? c->last_error : "";
}

void vx_child_stop(vx_child *c) {
    if (!c || c->stopping) return;
    c->stopping = true;
    if (c->run) {
        run_stop(c->run, true);
    } else if (c->timer_use == T_RESTART) {
        uv_timer_stop(&c->timer);
        c->timer_use = T_NONE;
    }
}

void vx_child_free(vx_child *c) {
    if (!c || c->freeing) return;
    vx_child_stop(c);
    c->freeing = true;
    if (c->run) {
        /* Nothing from it reaches the node any more: the node may be freed
         * before this run is over. */
        vxp_link_stop_reading(&c->run->link);
        c->run->eof = true;
    }
    child_release(c); /* now, or when the run is over */
}
