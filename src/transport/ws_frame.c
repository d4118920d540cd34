/* RFC 6455 frame checks and headers for the WebSocket server (ws_frame.h). */
#include "transport/ws_frame.h"

#include <string.h>

#include "value/value_impl.h" /* vx_utf8_valid */

void vx_ws_guard_init(vx_ws_guard *g, uint64_t max_msg) {
    memset(g, 0, sizeof *g);
    g->max_msg = max_msg;
}

bool vx_ws_guard_idle(const vx_ws_guard *g) {
    return !g->in_payload && g->hdr_len == 0 && !g->in_msg && !g->close_code;
}

static bool fail(vx_ws_guard *g, uint16_t code, const char *reason) {
    g->close_code = code;
    g->reason = reason;
    return false;
}

static bool is_control(uint8_t op) {
    return op >= 0x8;
}

/* What the first byte says: flags and opcode. */
static bool check_byte0(vx_ws_guard *g, uint8_t b) {
    uint8_t op = b & 0x0F;
    bool fin = (b & 0x80) != 0;
    if (b & 0x70) return fail(g, 1002, "reserved bits set");
    if (op != VX_WS_OP_CONT && op != VX_WS_OP_TEXT && op != VX_WS_OP_BINARY &&
        op != VX_WS_OP_CLOSE && op != VX_WS_OP_PING && op != VX_WS_OP_PONG)
        return fail(g, 1002, "reserved opcode");
    if (is_control(op) && !fin) return fail(g, 1002, "fragmented control frame");
    if (op == VX_WS_OP_CONT && !g->in_msg)
        return fail(g, 1002, "continuation without start");
    if ((op == VX_WS_OP_TEXT || op == VX_WS_OP_BINARY) && g->in_msg)
        return fail(g, 1002, "new message inside a fragmented one");
    g->opcode = op;
    g->fin = fin;
    return true;
}

/* What the second byte says: mask bit and length form. */
static bool check_byte1(vx_ws_guard *g, uint8_t b) {
    uint8_t len7 = b & 0x7F;
    if (!(b & 0x80)) return fail(g, 1002, "unmasked client frame");
    if (is_control(g->opcode) && len7 > 125) return fail(g, 1002, "control frame too big");
    g->hdr_need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
    return true;
}

static uint64_t header_length(const vx_ws_guard *g) {
    uint8_t len7 = g->hdr[1] & 0x7F;
    uint64_t n = len7;
    if (len7 == 126) {
        n = (uint64_t)g->hdr[2] << 8 | g->hdr[3];
    } else if (len7 == 127) {
        n = 0;
        for (int i = 0; i < 8; i++) n = n << 8 | g->hdr[2 + i];
    }
    return n;
}

/* The extended length is in, the mask key not yet. wslay checks the length
 * at this very point and, on a bad one, drops the connection with no close
 * frame (WSLAY_ERR_PROTO), so the guard must stop before this last length
 * byte reaches it. */
static bool check_length(vx_ws_guard *g) {
    uint8_t len7 = g->hdr[1] & 0x7F;
    uint64_t n = header_length(g);
    if (len7 == 126 && n < 126) return fail(g, 1002, "length not minimally encoded");
    if (len7 == 127 && n >> 63) return fail(g, 1002, "frame length over 2^63");
    if (len7 == 127 && n <= 0xFFFF) return fail(g, 1002, "length not minimally encoded");
    return true;
}

/* The whole header is in: the message size limit. */
static bool check_header(vx_ws_guard *g, uint64_t *plen) {
    uint64_t n = header_length(g);
    if (!is_control(g->opcode)) {
        uint64_t before = g->opcode == VX_WS_OP_CONT ? g->msg_len : 0;
        if (n > g->max_msg || before > g->max_msg - n) return fail(g, 1009, "too big");
        g->msg_len = before + n;
        if (g->opcode != VX_WS_OP_CONT) g->msg_text = g->opcode == VX_WS_OP_TEXT;
        g->in_msg = !g->fin;
    }
    *plen = n;
    return true;
}

bool vx_ws_close_code_valid(unsigned code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* The whole Close payload is in g->close: what is wrong with it, if anything. */
static bool check_close_payload(vx_ws_guard *g) {
    if (g->close_len == 1) return fail(g, 1002, "close frame with a 1-byte payload");
    if (g->close_len >= 2) {
        unsigned code = (unsigned)g->close[0] << 8 | g->close[1];
        if (!vx_ws_close_code_valid(code)) return fail(g, 1002, "invalid close code");
        if (!vx_utf8_valid((const char *)g->close + 2, g->close_len - 2u))
            return fail(g, 1007, "invalid utf-8 in close reason");
    }
    return true;
}

size_t vx_ws_guard_scan(vx_ws_guard *g, uint8_t *bytes, size_t len) {
    size_t i = 0;
    if (g->close_code) return 0;
    while (i < len) {
        if (g->in_payload) {
            uint64_t left = len - i;
            uint64_t take = g->remaining < left ? g->remaining : left;
            if (g->opcode == VX_WS_OP_CLOSE) { /* <= 125 bytes (check_byte1) */
                for (uint64_t k = 0; k < take; k++, g->close_len++)
                    g->close[g->close_len] = bytes[i + k] ^ g->mask[g->close_len & 3];
                if (take == g->remaining && !check_close_payload(g))
                    return i + (size_t)take - 1; /* withhold the last byte */
            }
            i += (size_t)take;
            g->remaining -= take;
            if (g->remaining == 0) {
                g->in_payload = false;
                return i; /* frame end: the next frame is for the next call */
            }
            continue;
        }
        uint8_t b = bytes[i];
        if (g->hdr_len == 0) {
            if (!check_byte0(g, b)) return i;
            if ((b & 0x0F) == VX_WS_OP_TEXT)
                bytes[i] = (uint8_t)((b & 0xF0) | VX_WS_OP_BINARY);
        } else if (g->hdr_len == 1) {
            if (!check_byte1(g, b)) return i;
        }
        g->hdr[g->hdr_len++] = b;
        if (g->hdr_len > 2 && g->hdr_len == g->hdr_need - 4 && !check_length(g)) return i;
        if (g->hdr_len < 2 || g->hdr_len < g->hdr_need) {
            i++;
            continue;
        }
        uint64_t plen;
        if (!check_header(g, &plen)) return i;
        memcpy(g->mask, g->hdr + g->hdr_need - 4, 4);
        g->close_len = 0;
        i++;
        g->hdr_len = 0;
        g->hdr_need = 0;
        if (plen == 0) return i;
        g->in_payload = true;
        g->remaining = plen;
    }
    return i;
}

size_t vx_ws_frame_header(uint8_t out[VX_WS_MAX_HEADER], uint8_t opcode, uint64_t len) {
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}
