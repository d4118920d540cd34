/* RFC 6455 frame checks and headers for the WebSocket server (private).
 *
 * wslay does the reassembly, unmasking, PING/PONG and the close echo, but it
 * answers every violation with a bare close code and no reason, and it
 * checks text frames' UTF-8 itself. The guard below reads the client's byte
 * stream just before wslay does, so that the server can (a) answer each
 * violation with the code and reason of PROTOCOL §10.4 and count it, (b)
 * refuse a message over the size limit from its headers alone (1009) before
 * anything is buffered, (c) keep wslay in step with it: a scan never goes
 * past the end of a frame, so when wslay reports a message the guard still
 * describes it, and (d) know when wslay holds no partial frame, so that its
 * context (about 8 KiB) can be freed while the connection is idle. */
#ifndef VX_WS_FRAME_H
#define VX_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    VX_WS_OP_CONT = 0x0,
    VX_WS_OP_TEXT = 0x1,
    VX_WS_OP_BINARY = 0x2,
    VX_WS_OP_CLOSE = 0x8,
    VX_WS_OP_PING = 0x9,
    VX_WS_OP_PONG = 0xA,
};

/* Longest server frame header: 2 + 8 length bytes, never masked. */
#define VX_WS_MAX_HEADER 10

typedef struct vx_ws_guard {
    uint64_t max_msg;   /* largest data message allowed (max_msg_bytes + 1) */
    uint64_t remaining; /* payload bytes of the current frame not yet scanned */
    uint64_t msg_len;   /* payload bytes of the current data message so far */
    uint8_t hdr[14];    /* header of the current frame, as far as scanned */
    uint8_t hdr_len, hdr_need;
    uint8_t opcode; /* of the current frame (as the client sent it) */
    bool fin;
    bool in_payload;
    bool in_msg;        /* a data message was started with FIN clear and is not done */
    bool msg_text;      /* the latest data message started with a text frame */
    uint8_t mask[4];    /* mask key of the current frame */
    uint8_t close[125]; /* the current Close frame's payload, unmasked */
    uint8_t close_len;
    /* Set when a violation was found; the scan stops before the byte that
     * revealed it and never goes further. */
    uint16_t close_code;
    const char *reason;
} vx_ws_guard;

void vx_ws_guard_init(vx_ws_guard *g, uint64_t max_msg);

/* Check bytes[0..len) (the next bytes of the client's stream, about to be
 * handed to wslay) and return how many of them may be handed over: all of
 * them, or fewer when a frame ends inside (the next frame is for the next
 * call) or when a violation is found (then g->close_code is set: 1002 for
 * RFC 6455 violations, 1009 "too big" for an oversized message, 1007 for a
 * Close frame whose reason is not UTF-8). A Close frame is checked at its
 * last byte (1-byte payload, a code RFC 6455 does not allow, a reason that
 * is not UTF-8), and that byte is withheld, so wslay never echoes a bad
 * Close. Text
 * opcodes are rewritten to binary in `bytes` so that wslay skips its own
 * UTF-8 check (the server checks whole messages, closing 1007 with a
 * reason); g->msg_text keeps the original. */
size_t vx_ws_guard_scan(vx_ws_guard *g, uint8_t *bytes, size_t len);

/* No frame or fragmented message is in progress: everything scanned so far
 * formed complete messages. */
bool vx_ws_guard_idle(const vx_ws_guard *g);

/* Write the header of an unmasked FIN frame with `opcode` and a payload of
 * `len` bytes to out; returns its length (2, 4 or 10). */
size_t vx_ws_frame_header(uint8_t out[VX_WS_MAX_HEADER], uint8_t opcode, uint64_t len);

/* A close code a peer may send (RFC 6455 §7.4): 1000-1003, 1007-1011,
 * 3000-4999. */
bool vx_ws_close_code_valid(unsigned code);

/* Header length for a payload of `len` bytes. */
static inline size_t vx_ws_header_len(uint64_t len) {
    return len < 126 ? 2 : len <= 0xFFFF ? 4 : 10;
}

#endif
