/* One pipe pair as a vx_conn (private; PROTOCOL.md §16, §2.3). Both ends of
 * the pipe transport use it: the parent (pipe_spawn.c: the child's stdin
 * and stdout) and the child (pipe_stdio.c: its stdin and a duplicate of its
 * original stdout).
 *
 * The link sends the node's hello itself as soon as it starts, before the
 * peer's hello is known (§16: neither side waits), and registers with the
 * node (vx_node_conn_open) when the peer's hello arrives: the node then
 * knows the peer's uuid. The hello the node queues on registration, and its
 * heartbeats, are dropped by the link: ours already went first, and pipes
 * need no heartbeats (EOF signals the end).
 *
 * The owner embeds the link, owns its lifetime and decides what an end
 * means (the parent stops the process; the child exits). Memory of the
 * owner may go only after `handles_closed`. */
#ifndef VX_PIPE_LINK_H
#define VX_PIPE_LINK_H

#include <vortexc/pipe.h>

#include "node/conn.h"

typedef struct vxp_link vxp_link;
typedef struct vxp_write vxp_write;

typedef struct vxp_link_cbs {
    /* The peer's hello arrived and the conn is registered with the node. */
    void (*ready)(vxp_link *l);
    /* The stream from the peer is over: EOF (`reason` NULL), or a reason to
     * give it up (not a hello first, read or write error). Called at most
     * once; reading has stopped. */
    void (*ended)(vxp_link *l, const char *reason);
    /* The node closed the conn (vx_conn_ops.close). */
    void (*node_close)(vxp_link *l, vx_close_why why);
    /* Both pipe handles are closed (after vxp_link_close). */
    void (*handles_closed)(vxp_link *l);
} vxp_link_cbs;

struct vxp_link {
    vx_conn conn;
    vx_node *node;
    const vxp_link_cbs *cbs;
    uv_pipe_t rd; /* from the peer */
    uv_pipe_t wr; /* to the peer */
    vx_splitter *split;
    char *rbuf;        /* libuv read buffer, kept across reads */
    vxp_write *writes; /* uv_writes in flight, oldest first */
    vxp_write *writes_tail;
    char *peer_uuid, *peer_name; /* from the peer's hello */
    int open_handles;
    bool started;    /* vxp_link_start succeeded */
    bool read_done;  /* `ended` was called (or reading was stopped) */
    bool wr_closing; /* no more writes: the write handle is (being) closed */
    bool wr_drain;   /* close the write handle once the writes in flight are done */
    bool registered; /* vx_node_conn_open succeeded */
    bool reported;   /* vx_node_conn_closed was called */
    bool closing;    /* vxp_link_close was called */
};

/* Initialise both pipe handles on `loop` (the owner then opens or spawns
 * with them) and the splitter. 0 or VX_E_NOMEM. On failure nothing needs
 * closing. */
int vxp_link_init(vxp_link *l, vx_node *node, uv_loop_t *loop, const vxp_link_cbs *cbs);

/* Write the node's hello and start reading. 0, or an error (err filled);
 * then the owner calls vxp_link_close. */
int vxp_link_start(vxp_link *l, vx_error *err);

/* Stop reading (no more items reach the node). */
void vxp_link_stop_reading(vxp_link *l);

/* Close the write side: once the writes in flight are done (`drain`), or at
 * once (they are dropped). The peer then sees EOF. */
void vxp_link_close_write(vxp_link *l, bool drain);

/* Tell the node the conn has ended (`gone_reason` for the requests still
 * waiting on the peer; NULL: "went away"). The msgs in flight go back as
 * unsent, unless the write side is draining (they will still be written).
 * Once; no-op if the link never registered. The node is not touched
 * again. */
void vxp_link_report(vxp_link *l, const char *gone_reason);

/* Stop reading, report (if not done) and close both handles: the write
 * side once its writes are done (`drain`), or at once, cutting short a
 * drain under way. `handles_closed` follows from a close callback. A second
 * call does nothing. */
void vxp_link_close(vxp_link *l, bool drain);

/* Ignore SIGPIPE if it is at its default (pipe.h explains why). */
void vxp_ignore_sigpipe(void);

#endif
