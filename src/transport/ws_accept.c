/* Sec-WebSocket-Accept (RFC 6455 §4.2.2), see ws_server.h. */
#include <openssl/evp.h>

#include "codec/base64.h"
#include "transport/ws_server.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void vx_ws_accept_key(const char *key, size_t key_len, char out[29]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* The key is hashed as sent (the HTTP server has checked it); the GUID is
     * appended by a second update so that no length limit or copy is needed. */
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
              EVP_DigestUpdate(ctx, key, key_len) &&
              EVP_DigestUpdate(ctx, WS_GUID, sizeof WS_GUID - 1) &&
              EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        out[0] = '\0'; /* out of memory: an empty accept fails the handshake */
        return;
    }
    size_t n = vx_base64_encode(md, 20, out); /* 28 characters */
    out[n] = '\0';
}
