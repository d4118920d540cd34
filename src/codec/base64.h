/* Standard base64 (RFC 4648 §4, '=' padding), private to the library. */
#ifndef VX_BASE64_H
#define VX_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Exact encoded length of `len` bytes. */
size_t vx_base64_encoded_len(size_t len);
/* Write the encoding of in[0..len) to `out` (vx_base64_encoded_len bytes, no
 * NUL). Returns the bytes written. */
size_t vx_base64_encode(const uint8_t *in, size_t len, char *out);

/* Upper bound of the decoded length of `len` characters. */
size_t vx_base64_decoded_max(size_t len);
/* Decode in[0..len) into `out` (room for vx_base64_decoded_max(len)).
 * `skip_ws`: ignore SP, HT, CR, LF (msgs, §2.2); otherwise any of them is an
 * error (bytes values, §4.1). Fails on any other non-alphabet character, a
 * data length that is not a multiple of 4, or '=' outside the last two
 * positions. Returns 0 and sets *out_len, or -1 with the byte offset of the
 * problem in *bad_at. Non-zero padding bits are ignored. */
int vx_base64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len, int skip_ws,
                     size_t *bad_at);

#endif
