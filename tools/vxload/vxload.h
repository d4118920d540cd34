/* vxload: many vortex clients in one process on one libuv loop, for the load
 * test (tests/load) and the fault tests (tests/wire/test_faults.py). See
 * tools/vxload/README.md.
 *
 * The listen and broadcast modes use their own lean client framing (lean.c):
 * a client is a uv_tcp_t plus a few counters, reads go through one shared
 * buffer, and identical msgs (a broadcast sends the same bytes to everyone)
 * are decoded once (msgcache.c). The send mode uses the library's vx_client,
 * since what it tests is that client's queue across server restarts. */
#ifndef VXLOAD_H
#define VXLOAD_H

#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include <vortexc.h>

/* ---- command line -------------------------------------------------------- */

typedef struct vxl_args {
    const char *mode; /* "listen", "broadcast", "send" */
    const char *url;  /* http://host:port (listen/broadcast), or a vx_client URL */
    const char *name; /* vortexName of the clients */
    int n_ws, n_http; /* listen: clients of each transport */
    int64_t expect;   /* listen: payloads each client must get */
    int64_t count;    /* broadcast / send: payloads to ask for / send */
    int64_t every;    /* broadcast: items per server turn */
    int64_t interval; /* broadcast / send: ms between turns / sends */
    int64_t size;     /* broadcast: pad bytes per item */
    double timeout;   /* seconds for the whole run after READY */
    double connect_timeout;
    int rcvbuf; /* SO_RCVBUF of each client socket; 0 = kernel default */
    int batch;  /* connects in flight at once */
    const char *ws_path, *http_path;
    const char *key; /* send: filt key of the numbered msgs */
} vxl_args;

int vxl_parse_args(int argc, char **argv, vxl_args *a);

/* ---- decode cache ---------------------------------------------------------- */

typedef enum vxl_kind {
    VXL_MSG_BAD, /* failed to decode */
    VXL_MSG_HELLO,
    VXL_MSG_HEARTBEAT,
    VXL_MSG_ITEM, /* filt "seq" (int) and "t" (float seconds, or NaN) */
    VXL_MSG_DONE, /* vortexd.stream.done: seq = sent, aux = failed */
    VXL_MSG_OTHER,
} vxl_kind;

typedef struct vxl_msg {
    vxl_kind kind;
    int64_t seq;
    int64_t aux;
    double t;
} vxl_msg;

/* Classify one msg, decoding it only if these exact bytes were not seen
 * recently. Returns VXL_MSG_BAD (with `err` filled) on decode failure. */
vxl_kind vxl_classify(const char *msg, size_t len, vxl_msg *out, vx_error *err);
void vxl_cache_free(void);

/* ---- lean clients (lean.c) -------------------------------------------------- */

typedef struct vxl vxl;

typedef enum { VXL_WS, VXL_HTTP } vxl_transport;

typedef struct vxl_client {
    uv_tcp_t tcp;
    vxl *L;
    http_parser *hp; /* HTTP only, while a response is being read */
    char *part;      /* bytes not yet consumed (partial frame, head or item) */
    uint32_t part_len, part_cap;
    uint32_t idx;
    uint32_t received, dups, order, unexpected;
    int64_t highest; /* largest seq received, -1 before the first */
    uint64_t *bits;  /* seqs received, `expect` bits */
    uint8_t transport, state;
    bool hello, complete, closed_handle;
    uint16_t close_code; /* WS close frame received, 0 = none */
} vxl_client;

struct vxl {
    uv_loop_t *loop;
    const vxl_args *args;
    struct sockaddr_storage addr;
    char host[64];
    vxl_client *clients;
    int n_clients;
    int next_connect, connecting;
    int hellos, failed, complete, disconnects, closed;
    bool ready_printed, finished;
    uint64_t reposts; /* HTTP responses that ended and were re-POSTed */
    uint64_t bad_msgs, ws_errors;
    /* broadcast mode */
    bool broadcast;
    bool done_seen;
    void (*hello_fn)(vxl_client *c); /* called once per client's first hello */
    int64_t done_sent, done_failed;
    /* latency samples (ms) */
    float *lat;
    size_t n_lat, cap_lat;
    uv_timer_t timer;
    double t_start, t_ready, t_end;
    char uuid_prefix[24];
    int exit_code;
};

/* Start connecting every client; the loop then does the rest. */
int vxl_start(vxl *L);
/* Send one masked WebSocket frame. 0 or a libuv error. */
int vxl_ws_send(vxl_client *c, int opcode, const char *data, size_t len);
/* Close every client and the timer (the loop must run on to free them). */
void vxl_stop(vxl *L);
double vxl_now(void); /* CLOCK_REALTIME seconds */
double vxl_mono(void);

/* ---- modes ----------------------------------------------------------------- */

int vxl_run_listen(const vxl_args *a);
int vxl_run_broadcast(const vxl_args *a);
int vxl_run_send(const vxl_args *a);

#endif
