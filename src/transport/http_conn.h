/* The HTTP listener's connection state, shared by its files (private):
 *   http_server.c   listener, accept, reading, timers, plain responses, close
 *   http_request.c  http_parser callbacks, routing, the WebSocket handshake
 *   http_stream.c   the long-poll response: the vx_conn send/close ops
 *   http_static.c   static files (asynchronous uv_fs, streamed)
 *
 * One vx_http_conn per accepted TCP connection. Its memory lives until every
 * libuv handle and request it owns has called back (`refs`), so callbacks
 * never see freed memory; the server lives until its listener and every
 * connection are gone. */
#ifndef VX_HTTP_CONN_H
#define VX_HTTP_CONN_H

#include <http_parser.h>
#include <uv.h>

#include "node/conn.h"
#include "transport/tls.h"

#define VX_HTTP_LINGER_MS 2000 /* after our FIN, wait this long for the peer's */
/* A response ended by the node (takeover, shutdown) whose queued items a
 * stalled client does not take within this time is closed (§12: within 5 s). */
#define VX_HTTP_END_TIMEOUT_MS 5000
#define VX_HTTP_READ_BUF       65536
#define VX_HTTP_FILE_CHUNK     65536
/* Stop reading pipelined requests while this many response bytes wait. */
#define VX_HTTP_PIPELINE_MAX (256u * 1024)

struct vx_server {
    vx_node *node;
    uv_loop_t *loop;
    uv_tcp_t listener;
    int port;
    char *http_path;
    char *ws_path;
    char *static_root; /* realpath of static_dir, or NULL */
    char **origins;
    size_t n_origins;
    bool closing;               /* vx_server_close called */
    bool listener_open;         /* listener handle not yet closed back */
    struct vx_http_conn *conns; /* every live connection (doubly linked) */
    size_t n_conns;
    char *rbuf; /* one read buffer for all connections: reads are processed at once */
    uint64_t head_timeout_ms; /* node opts http_head_timeout, copied at start */
    uint64_t idle_timeout_ms; /* node opts http_idle_timeout */
    bool rbuf_busy;
    vx_tls_ctx *tls; /* set: every connection speaks TLS (https + wss) */
    /* TLS handshake failures are logged at most a few per second. */
    uint64_t tls_log_window_ms;
    unsigned tls_log_lines, tls_log_suppressed;
};

typedef enum vx_http_route {
    VX_ROUTE_NONE,
    VX_ROUTE_STREAM, /* valid POST on http_path: a long-poll response */
    VX_ROUTE_WS,     /* ws_path: checked and upgraded at message end */
    VX_ROUTE_HEALTH,
    VX_ROUTE_METRICS,
    VX_ROUTE_STATIC,
    VX_ROUTE_ERROR, /* answer `err_status`/`err_body` at message end */
} vx_http_route;

/* One item written on a long-poll response, kept until its write completes. */
typedef struct vx_http_item {
    uv_write_t req;
    struct vx_http_conn *c;
    vx_msgbuf *m;
    struct vx_http_item *next;
    size_t bytes; /* counted against out_queue_max: msg + '.' */
    bool issued;  /* handed to uv_write */
    bool done;    /* written completely */
    bool hello;   /* the first msg of the response (never handed back) */
    char sizeline[24];
} vx_http_item;

typedef struct vx_http_conn {
    vx_conn conn; /* for the node; valid while `opened` */
    vx_server *srv;
    struct vx_http_conn *prev, *next;
    uv_tcp_t *tcp; /* heap: handed to the WebSocket module on upgrade */
    uv_timer_t timer;
    int refs; /* tcp + timer + outstanding fs request */
    bool tcp_open, timer_open;
    bool closing;     /* uv_close(tcp) called */
    bool shut;        /* our side finished (FIN sent or being sent) */
    bool parked;      /* reading stopped until a response finishes */
    bool close_after; /* close once the current response is written */
    bool in_request;  /* a request has begun and is not yet being answered */
    bool detached;    /* the server closed: never touch the node again */

    /* request being parsed */
    http_parser parser;
    bool in_head;
    size_t head_bytes;
    size_t body_bytes;
    vx_buf url;
    vx_buf hfield, hvalue; /* header being accumulated */
    bool hvalue_seen;
    vx_buf h_upgrade, h_connection, h_ws_key, h_ws_version, h_origin, h_expect;
    bool has_origin;
    vx_http_route route;
    int err_status; /* set by callbacks that fail the parse (413, 431) */
    const char *err_body;
    char err_text[96];
    const char *err_extra; /* extra header lines of the error answer */
    char *uuid, *name;     /* query parameters of STREAM / WS */
    vx_buf pending_in;     /* unparsed bytes held while parked */
    size_t resp_writes;    /* plain response writes in flight */
    /* The packaged http_parser is not strict: it takes any two bytes after
     * chunk data as the CRLF. We check them (request smuggling, §9.2). */
    uint64_t chunk_left;
    int crlf_pending;    /* CRLF bytes after chunk data still to be seen */
    const char *cur_end; /* end of the buffer being parsed */

    /* long-poll response */
    bool streaming; /* the request is a long-poll POST */
    bool opened;    /* vx_node_conn_open succeeded: conn_closed owed */
    bool reported;  /* vx_node_conn_closed called */
    bool in_open;   /* inside vx_node_conn_open (hello + pending) */
    bool head_sent; /* 200 head written */
    bool body_done; /* request body fully received */
    bool ending;    /* close(TAKEOVER/SHUTDOWN): no more sends */
    bool chunked;   /* HTTP/1.1: chunked; HTTP/1.0: raw items, end = close */
    bool sent_any;
    size_t queued; /* bytes accepted and not yet written */
    vx_http_item *items, *items_tail;
    vx_splitter *split;

    /* static file */
    uv_fs_t fs;
    bool fs_busy;
    uv_file fd;
    bool head_only;
    bool tried_index;
    bool file_ok;    /* the file was sent completely */
    char *file_rel;  /* path under the root being served */
    char *file_real; /* realpath of it */
    uint64_t file_size, file_off;
    char *fbuf;
    uv_write_t fwrite;

    vx_tls *tls; /* NULL: plain TCP; handed to the WebSocket module on upgrade */
} vx_http_conn;

/* http_server.c */
/* Serve a connected stream `tcp` (heap, initialised on the server's loop,
 * not reading; owned from now on) as if the listener had accepted it. The
 * listener's own path, and the seam the fuzz targets feed a socketpair
 * through (fuzz/http_request.c). */
void vx_http_server_adopt(vx_server *s, uv_tcp_t *tcp);
void vx_http_conn_ref(vx_http_conn *c);
void vx_http_conn_unref(vx_http_conn *c);
/* Close the TCP connection now (unwritten data is lost). */
void vx_http_hard_close(vx_http_conn *c);
/* Finish our side after the queued writes (FIN), then close. */
void vx_http_end(vx_http_conn *c);
/* Queue a complete plain response (copied); counts errors; `close` ends the
 * connection after it. */
void vx_http_respond(vx_http_conn *c, const char *data, size_t len, int status, bool close);
/* A plain-text error answer (§9.2). */
void vx_http_error(vx_http_conn *c, int status, const char *extra, const char *body,
                   bool close);
/* The current response is complete: resume reading the next request. */
void vx_http_response_done(vx_http_conn *c);
void vx_http_arm_timer(vx_http_conn *c, uint64_t ms);
void vx_http_stop_timer(vx_http_conn *c);
void vx_http_count(vx_http_conn *c, vx_counter which, uint64_t n);

/* http_request.c */
extern const http_parser_settings vx_http_settings;
void vx_http_request_reset(vx_http_conn *c);
void vx_http_request_free(vx_http_conn *c);
/* The parser paused at the end of a non-stream request: answer it. Returns
 * true when parsing may continue at once with the rest of the input. */
bool vx_http_dispatch(vx_http_conn *c, const char *rest, size_t rest_len);
/* Check the start of new input against a CRLF owed after chunk data; false
 * (with a 400 prepared) if it is not there. */
bool vx_http_chunk_crlf_ok(vx_http_conn *c, const char *data, size_t len);

/* http_stream.c */
int vx_http_stream_begin(vx_http_conn *c);
void vx_http_stream_body(vx_http_conn *c, const char *at, size_t len);
void vx_http_stream_body_end(vx_http_conn *c);
/* The response is over: hand the unsent msgs to the node (once). */
void vx_http_stream_report(vx_http_conn *c);
/* From the TCP close callback: release whatever items remain. */
void vx_http_stream_free_items(vx_http_conn *c);

/* http_static.c */
void vx_http_static_start(vx_http_conn *c, const char *rel, bool head_only);

#endif
