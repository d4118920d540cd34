/* Standard base64 (RFC 4648 §4). Decoding is on the hot path of every msg,
 * so the common case (a run of complete quads of alphabet characters) is
 * handled four characters at a time with pre-shifted tables; whitespace,
 * padding and errors drop to a per-character slow path that returns to the
 * fast loop after each completed quad. */
#include "codec/base64.h"

#include <stdbool.h>

static const char enc_alpha[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Any table entry with this bit set marks a character outside the alphabet
 * (including '=' and whitespace); OR-ing four lookups detects it once. */
#define BAD 0x80000000u

/* Pre-shifted 6-bit values: d0 for the first character of a quad, d3 for
 * the last. Built at compile time so there is no init race. */
#define V(c)                                                                               \
    ((c) >= 'A' && (c) <= 'Z'   ? (uint32_t)((c) - 'A')                                    \
     : (c) >= 'a' && (c) <= 'z' ? (uint32_t)((c) - 'a' + 26)                               \
     : (c) >= '0' && (c) <= '9' ? (uint32_t)((c) - '0' + 52)                               \
     : (c) == '+'               ? 62u                                                      \
     : (c) == '/'               ? 63u                                                      \
                                : BAD)
#define S(c, sh)     (V(c) == BAD ? BAD : V(c) << (sh))
#define ROW4(b, sh)  S((b), sh), S((b) + 1, sh), S((b) + 2, sh), S((b) + 3, sh)
#define ROW16(b, sh) ROW4((b), sh), ROW4((b) + 4, sh), ROW4((b) + 8, sh), ROW4((b) + 12, sh)
#define TABLE(sh)                                                                          \
    {                                                                                      \
        ROW16(0, sh), ROW16(16, sh), ROW16(32, sh), ROW16(48, sh), ROW16(64, sh),          \
            ROW16(80, sh), ROW16(96, sh), ROW16(112, sh), ROW16(128, sh), ROW16(144, sh),  \
            ROW16(160, sh), ROW16(176, sh), ROW16(192, sh), ROW16(208, sh),                \
            ROW16(224, sh), ROW16(240, sh)                                                 \
    }

static const uint32_t d0[256] = TABLE(18);
static const uint32_t d1[256] = TABLE(12);
static const uint32_t d2[256] = TABLE(6);
static const uint32_t d3[256] = TABLE(0);

size_t vx_base64_encoded_len(size_t len) {
    return (len + 2) / 3 * 4;
}

size_t vx_base64_encode(const uint8_t *in, size_t len, char *out) {
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = enc_alpha[x >> 18];
        o[1] = enc_alpha[(x >> 12) & 63];
        o[2] = enc_alpha[(x >> 6) & 63];
        o[3] = enc_alpha[x & 63];
        o += 4;
    }
    if (len - i == 1) {
        uint32_t x = (uint32_t)in[i] << 16;
        o[0] = enc_alpha[x >> 18];
        o[1] = enc_alpha[(x >> 12) & 63];
        o[2] = '=';
        o[3] = '=';
        o += 4;
    } else if (len - i == 2) {
        uint32_t x = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        o[0] = enc_alpha[x >> 18];
        o[1] = enc_alpha[(x >> 12) & 63];
        o[2] = enc_alpha[(x >> 6) & 63];
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - out);
}

size_t vx_base64_decoded_max(size_t len) {
    return len / 4 * 3 + (len % 4 ? 3 : 0);
}

static bool is_ws(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int vx_base64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len, int skip_ws,
                     size_t *bad_at) {
    const unsigned char *s = (const unsigned char *)in;
    uint8_t *o = out;
    size_t i = 0;

    for (;;) {
        /* Fast path: whole quads, no whitespace, no padding. */
        while (i + 4 <= len) {
            uint32_t x = d0[s[i]] | d1[s[i + 1]] | d2[s[i + 2]] | d3[s[i + 3]];
            if (x & BAD) break;
            o[0] = (uint8_t)(x >> 16);
            o[1] = (uint8_t)(x >> 8);
            o[2] = (uint8_t)x;
            o += 3;
            i += 4;
        }
        if (i == len) break;

        /* Slow path: collect one quad character by character. */
        uint32_t q = 0;
        int n = 0;
        while (i < len && n < 4) {
            unsigned char c = s[i];
            uint32_t v = d3[c];
            if (v != BAD) {
                q = q << 6 | v;
                n++;
                i++;
            } else if (is_ws(c)) {
                if (!skip_ws) goto bad_here;
                i++;
            } else if (c == '=') {
                /* Padding: only at quad positions 2 or 3, then (for
                 * position 2) exactly one more '=', then only whitespace. */
                if (n < 2) goto bad_here;
                size_t pad_at = i;
                int pads = 1;
                i++;
                for (; i < len; i++) {
                    if (s[i] == '=' && n + pads < 4) {
                        pads++;
                    } else if (is_ws(s[i]) && skip_ws) {
                        continue;
                    } else {
                        /* Data, a third '=' or (strict) whitespace after
                         * the padding: the '=' was not at the end. */
                        *bad_at = s[i] == '=' || is_ws(s[i]) ? i : pad_at;
                        return -1;
                    }
                }
                if (n + pads != 4) {
                    *bad_at = len;
                    return -1;
                }
                if (n == 2) {
                    q <<= 12;
                    *o++ = (uint8_t)(q >> 16);
                } else {
                    q <<= 6;
                    *o++ = (uint8_t)(q >> 16);
                    *o++ = (uint8_t)(q >> 8);
                }
                *out_len = (size_t)(o - out);
                return 0;
            } else {
                goto bad_here;
            }
        }
        if (n == 4) {
            o[0] = (uint8_t)(q >> 16);
            o[1] = (uint8_t)(q >> 8);
            o[2] = (uint8_t)q;
            o += 3;
            continue;
        }
        if (n == 0) break; /* only trailing whitespace */
        /* Input ended inside a quad: the data length is not a multiple of 4. */
        *bad_at = len;
        return -1;
    }
    *out_len = (size_t)(o - out);
    return 0;

bad_here:
    *bad_at = i;
    return -1;
}
