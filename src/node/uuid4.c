/* Random uuid strings from a per-thread pool of kernel randomness; see
 * uuid4.h for why. */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/random.h>
#include <uuid/uuid.h>

#include "node/uuid4.h"

static _Thread_local unsigned char pool[VX_UUID4_POOL];
static _Thread_local size_t pool_used = VX_UUID4_POOL; /* empty */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* In the child of a fork only the forking thread lives on: empty its pool,
 * or parent and child would hand out the same ids. */
static void forget_pool_in_child(void) {
    pool_used = VX_UUID4_POOL;
}

static void register_atfork(void) {
    pthread_atfork(NULL, NULL, forget_pool_in_child);
}

static int refill(void) {
    size_t got = 0;
    while (got < sizeof pool) {
        ssize_t n = getrandom(pool + got, sizeof pool - got, GRND_NONBLOCK);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1; /* no getrandom, or entropy not ready at boot */
        got += (size_t)n;
    }
    pool_used = 0;
    return 0;
}

void vxn_uuid4(char out[37]) {
    pthread_once(&atfork_once, register_atfork);
    unsigned char b[16];
    if (pool_used + sizeof b > sizeof pool && refill() < 0) {
        uuid_t u;
        uuid_generate_random(u);
        uuid_unparse_lower(u, out);
        return;
    }
    for (size_t i = 0; i < sizeof b; i++) {
        b[i] = pool[pool_used + i];
        pool[pool_used + i] = 0; /* an id handed out is not kept */
    }
    pool_used += sizeof b;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (size_t i = 0; i < sizeof b; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}
