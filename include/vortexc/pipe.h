/* Subprocess pipe transport (PROTOCOL.md §16): a parent vortex starts a
 * child process and exchanges gen1 msgs with it over the child's stdin
 * (parent to child) and stdout (child to parent), each msg followed by '.'.
 *
 * Both sides send their hello as the first item without waiting for the
 * other's; the first item each receives must be a hello (bare '.'
 * keepalives aside), else the pipe is closed. From then on the peer is an
 * ordinary remote vortex of kind VX_TRANSPORT_PIPE: addressable by uuid and
 * name, a broadcast target, and vx_node_request works both ways. The node's
 * codec limits apply; an item over max_msg_bytes is dropped and counted like
 * on any other transport. When the child exits, the parent forgets it and
 * every request still waiting for its reply fails at once with VX_E_CLOSED
 * ("child process exited with status N").
 *
 * Threads. Everything here runs on the node's loop thread. Start children
 * from a thread that lives as long as the node (normally the loop thread):
 * on Linux the child's death signal (PR_SET_PDEATHSIG) fires when the
 * *thread* that forked it ends, not the process, so a child spawned from a
 * short-lived thread would be killed when that thread exits.
 *
 * Signals. vx_spawn and vx_node_attach_stdio set SIGPIPE to ignored when it
 * is at its default: writing to a pipe whose reader died must fail with an
 * error, not kill the process. libuv resets every signal to its default in
 * the child before exec. */
#ifndef VORTEXC_PIPE_H
#define VORTEXC_PIPE_H

#include <stdint.h>

#include "node.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The environment variable through which vx_spawn tells the child its
 * parent's pid (decimal), so that the child can tell whether the parent
 * died before the death signal was armed (§16 child lifetime, rule 2). */
#define VX_PIPE_PARENT_PID_ENV "VORTEXC_PARENT_PID"

/* ---- parent side --------------------------------------------------------- */

typedef struct vx_child vx_child;

/* The child's hello arrived: it is now a remote vortex (vx_child_uuid). */
typedef void (*vx_child_ready_fn)(void *data, vx_child *child);
/* The child process ended. `exit_status` is its exit code (-1 when a
 * restart could not even be started), `term_signal` the signal that killed
 * it or 0. `will_restart`: the restart policy starts it again after its
 * delay. The remote (if any) was already forgotten, so requests to it have
 * failed. The callback may call vx_child_stop or vx_child_free. */
typedef void (*vx_child_exit_fn)(void *data, vx_child *child, int64_t exit_status,
                                 int term_signal, bool will_restart);

/* Options of vx_spawn; vx_spawn_opts_init() fills in the defaults. Every
 * string is copied by vx_spawn. Times are in seconds. */
typedef struct vx_spawn_opts {
    const char *file;         /* program to run (PATH searched); NULL: argv[0] */
    const char *const *argv;  /* NULL-terminated; argv[0] required */
    const char *const *env;   /* NULL-terminated "NAME=value"; NULL: ours */
    const char *cwd;          /* NULL: ours */
    double exit_grace;        /* 5 (pipe_child_exit_grace): vx_child_stop closes stdin,
                                 waits this long for the exit, then sends SIGKILL */
    double hello_timeout;     /* 30: a child with no hello by then is stopped; 0: wait */
    unsigned max_restarts;    /* 0: a child that exits is not started again; else the
                                 number of restarts over the vx_child's life */
    double restart_delay;     /* 0.5: before the first restart; doubled each time */
    double restart_delay_max; /* 30: cap of the doubling */
    vx_child_ready_fn on_ready;
    vx_child_exit_fn on_exit;
    void *data; /* passed to both callbacks */
} vx_spawn_opts;

void vx_spawn_opts_init(vx_spawn_opts *opts);

/* Start a child process running `opts->argv` with stdin and stdout as pipes
 * to this node and stderr inherited, and send it the node's hello at once.
 * *out is a NEW vx_child (free with vx_child_free). Call from the loop
 * thread (see the thread rule above). VX_E_INVAL for bad options,
 * VX_E_CLOSED while the node shuts down, VX_E_CHILD when the process cannot
 * be started (err says why); callbacks are never called then. */
int vx_spawn(vx_node *node, const vx_spawn_opts *opts, vx_child **out, vx_error *err);

/* Pid of the running child process, or 0 between runs and after the end. */
int vx_child_pid(const vx_child *child);
/* BORROWED uuid from the current run's hello; NULL before it (and after
 * the child exited). Valid until the child exits or is freed. */
const char *vx_child_uuid(const vx_child *child);
/* BORROWED name from the current run's hello; NULL like vx_child_uuid. */
const char *vx_child_name(const vx_child *child);
/* Number of restarts so far. */
unsigned vx_child_restarts(const vx_child *child);
/* Whether a run is in progress (started and not yet exited). */
bool vx_child_running(const vx_child *child);
/* BORROWED one-line text of the latest problem ("first item from the child
 * is not a hello: ..."); "" if none. The same line is logged to stderr. */
const char *vx_child_last_error(const vx_child *child);

/* Stop the child for good (no restart): close its stdin once the msgs
 * already queued are written, wait up to exit_grace, then SIGKILL. on_exit
 * is called when it has exited. Cancels a pending restart (then on_exit is
 * not called again). Idempotent. */
void vx_child_stop(vx_child *child);

/* Stop the child (as vx_child_stop, with no more callbacks) and free it
 * once its process has exited: the loop must keep running for that (at most
 * exit_grace plus a moment). Free children before their node; if the node
 * is freed first, its children are stopped and never restarted, and must
 * still be freed. NULL is a no-op. */
void vx_child_free(vx_child *child);

/* ---- child side ---------------------------------------------------------- */

typedef struct vx_stdio_opts {
    /* The parent's hello arrived; `parent_uuid` is BORROWED (as from
     * vx_stdio_parent_uuid). NULL: nothing. */
    void (*on_ready)(void *data, vx_node *node, const char *parent_uuid);
    /* stdin reached EOF (the parent closed it or died), or the parent broke
     * the protocol. The stream is already detached (the parent forgotten).
     * NULL (the default): exit(0) at once. A callback must itself end the
     * process within 1 s (§16), e.g. by freeing the node and returning from
     * main. */
    void (*on_eof)(void *data, vx_node *node);
    void *data;
    double parent_poll; /* 1: period of the getppid() check where
                           PR_SET_PDEATHSIG does not exist */
} vx_stdio_opts;

void vx_stdio_opts_init(vx_stdio_opts *opts);

/* Make this process the child end of a pipe transport (§16), with `node`'s
 * parent as its one remote vortex. Before returning it: points descriptor 1
 * at stderr (the protocol keeps a private duplicate of the original stdout,
 * so stray printf output goes to stderr and cannot corrupt the stream);
 * arms PR_SET_PDEATHSIG(SIGKILL) and exits at once (status 1) when the
 * parent died before that (VX_PIPE_PARENT_PID_ENV differs from getppid());
 * sends the node's hello. On EOF on stdin it exits (or calls on_eof).
 * One attachment per process (there is one stdin). VX_E_EXISTS when already
 * attached, VX_E_IO when stdin/stdout are not usable pipes. */
int vx_node_attach_stdio(vx_node *node, const vx_stdio_opts *opts, vx_error *err);

/* BORROWED uuid of the parent (from its hello) while `node` is attached and
 * the hello has arrived; NULL otherwise. */
const char *vx_stdio_parent_uuid(const vx_node *node);

/* Undo vx_node_attach_stdio without exiting: stop reading stdin, close the
 * protocol stream and forget the parent. Call before vx_node_free when the
 * process goes on. No-op if `node` is not attached. */
void vx_node_detach_stdio(vx_node *node);

#ifdef __cplusplus
}
#endif
#endif
