/* ASCII-only JSON strings (PROTOCOL.md §2.1 step 2), written exactly as
 * Python's json.dumps(ensure_ascii=True) writes them: short escapes for
 * " \ \n \r \t \b \f, \u00xx (lowercase hex) for other control bytes and DEL,
 * \uxxxx for every non-ASCII code point and surrogate pairs above U+FFFF.
 * Plain runs, the common case, are copied eight bytes at a time. */
#include <stdint.h>

#include "json_encode_impl.h"

static const char HEX[] = "0123456789abcdef";

/* Non-zero when any of the 8 bytes of w needs escaping: < 0x20, '"', '\',
 * 0x7F or >= 0x80. Each term is the classic "has a byte less than n / equal
 * to n" test, exact about whether such a byte exists. */
static inline uint64_t special8(uint64_t w) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\'), d = w ^ (ones * 0x7f);
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) |
            ((d - ones) & ~d) | w) &
           high;
}

static inline bool plain_byte(unsigned char c) {
    return (unsigned char)(c - 0x20) < 0x5f && c != '"' && c != '\\';
}

static inline char *put_u(char *o, unsigned cp) {
    o[0] = '\\';
    o[1] = 'u';
    o[2] = HEX[(cp >> 12) & 15];
    o[3] = HEX[(cp >> 8) & 15];
    o[4] = HEX[(cp >> 4) & 15];
    o[5] = HEX[cp & 15];
    return o + 6;
}

/* Decode one multi-byte UTF-8 sequence at s[i] (s[i] >= 0x80). Returns its
 * length and sets *cp, or 0 if it is invalid (overlong, surrogate, above
 * U+10FFFF, truncated or a stray continuation byte). */
static size_t utf8_decode(const unsigned char *s, size_t len, size_t i, unsigned *cp) {
    unsigned c = s[i];
    size_t n;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
        c &= 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (len - i < n) return 0;
    for (size_t k = 1; k < n; k++) {
        unsigned cc = s[i + k];
        if ((cc & 0xc0) != 0x80) return 0;
        c = (c << 6) | (cc & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return n;
}

int vx_jenc_string(vx_jenc *e, const char *str, size_t len) {
    /* Worst case: 6 output bytes per input byte (a control byte), plus quotes. */
    if (len > (SIZE_MAX - 2) / 6) return vx_jenc_fail(e, VX_E_NOMEM, "string too long");
    int rc = vx_jenc_room(e, len * 6 + 2);
    if (rc) return rc;
    const unsigned char *s = (const unsigned char *)str;
    char *o = e->p;
    *o++ = '"';
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!special8(w)) {
                memcpy(o, &w, 8);
                o += 8;
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (plain_byte(c)) {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"':
                *o++ = '"';
                break;
            case '\\':
                *o++ = '\\';
                break;
            case '\n':
                *o++ = 'n';
                break;
            case '\r':
                *o++ = 'r';
                break;
            case '\t':
                *o++ = 't';
                break;
            case '\b':
                *o++ = 'b';
                break;
            case '\f':
                *o++ = 'f';
                break;
            default:
                o = put_u(o - 1, c);
                break;
            }
            i++;
            continue;
        }
        unsigned cp;
        size_t n = utf8_decode(s, len, i, &cp);
        if (!n) {
            return vx_jenc_fail(e, VX_E_UTF8, "invalid UTF-8 at byte %zu of a string", i);
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            o = put_u(o, 0xd800 | (cp >> 10));
            o = put_u(o, 0xdc00 | (cp & 0x3ff));
        } else {
            o = put_u(o, cp);
        }
        i += n;
    }
    *o++ = '"';
    e->p = o;
    return 0;
}
