/* Memory for value blocks: a small per-thread cache of freed blocks per
 * 16-byte size class, in front of malloc/free.
 *
 * Why: decoding a payload makes and later frees thousands of tiny blocks
 * (tuples, floats, datetimes, short strings) in bursts far longer than
 * glibc's per-thread tcache (7 blocks per size), so most of them went
 * through the slower arena paths. A bounded LIFO list per class turns the
 * common alloc/free into a few instructions and keeps the blocks hot.
 *
 * Rules that keep it correct:
 * - A block is always malloc'd at its full class size, so any block in a
 *   class can serve any request of that class. Callers must pass vx_mem_free
 *   the same size they passed vx_mem_alloc (value.c derives it from the
 *   value, which never changes size).
 * - Lists are per thread, so no locking. A block freed on another thread
 *   than it was made on simply joins that thread's list: malloc'd memory
 *   may be freed from any thread, so it is fine to free() it from there.
 * - Bounded: at most VX_MEM_CLASS_BYTES per class per thread; beyond that
 *   free() is called directly.
 * - Thread exit empties the thread's lists (pthread key destructor); at
 *   process exit a library destructor empties the exiting thread's lists,
 *   so leak checkers see nothing cached. After either, that thread (or, after
 *   the library destructor, every thread) bypasses the cache.
 * - Sanitizer builds and -DVX_NO_VALUE_CACHE use plain malloc/free so that
 *   use-after-free of a value is still detected. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "value_impl.h"

#if defined(__SANITIZE_ADDRESS__)
#define VX_NO_VALUE_CACHE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define VX_NO_VALUE_CACHE 1
#endif
#endif

#ifndef VX_NO_VALUE_CACHE

#define VX_MEM_GRAIN       16
#define VX_MEM_CLASSES     (VX_MEM_SMALL_MAX / VX_MEM_GRAIN)
#define VX_MEM_CLASS_BYTES (32 * 1024)

_Static_assert(VX_MEM_SMALL_MAX % VX_MEM_GRAIN == 0, "classes must tile the range");

typedef struct vx_free_block {
    struct vx_free_block *next;
} vx_free_block;

enum { CACHE_NEW, CACHE_ON, CACHE_OFF };

typedef struct {
    vx_free_block *head[VX_MEM_CLASSES];
    uint32_t count[VX_MEM_CLASSES];
    uint8_t state;
} vx_mem_cache;

static _Thread_local vx_mem_cache cache;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static atomic_bool key_ok;
/* Set by the library destructor: from then on nobody caches. */
static atomic_bool shut_down;

static void drain(vx_mem_cache *c) {
    for (size_t i = 0; i < VX_MEM_CLASSES; i++) {
        vx_free_block *b = c->head[i];
        while (b) {
            vx_free_block *next = b->next;
            free(b);
            b = next;
        }
        c->head[i] = NULL;
        c->count[i] = 0;
    }
}

static void thread_exit(void *arg) {
    vx_mem_cache *c = arg;
    /* Values freed by later TLS destructors must go straight to free(). */
    c->state = CACHE_OFF;
    drain(c);
}

static void make_key(void) {
    if (pthread_key_create(&key, thread_exit) == 0)
        atomic_store_explicit(&key_ok, true, memory_order_release);
}

/* First free on this thread: register the exit hook; without it the
 * thread's blocks would leak when it ends, so no hook means no cache. */
static bool cache_start(void) {
    cache.state = CACHE_OFF;
    if (atomic_load_explicit(&shut_down, memory_order_acquire)) return false;
    pthread_once(&key_once, make_key);
    if (!atomic_load_explicit(&key_ok, memory_order_acquire)) return false;
    if (pthread_setspecific(key, &cache) != 0) return false;
    cache.state = CACHE_ON;
    return true;
}

__attribute__((destructor)) static void library_exit(void) {
    atomic_store_explicit(&shut_down, true, memory_order_release);
    thread_exit(&cache);
    /* The key's destructor lives in this library: after a dlclose it must
     * not be called, so the key goes too. Other threads' lists stay
     * reachable from their TLS and are freed by the OS with the process. */
    if (atomic_load_explicit(&key_ok, memory_order_acquire)) pthread_key_delete(key);
}

/* Blocks kept per class: VX_MEM_CLASS_BYTES / class size (a table, as a
 * division here would cost more than the rest of the free path). */
#define CAP(cls) (VX_MEM_CLASS_BYTES / (((cls) + 1) * VX_MEM_GRAIN))
static const uint32_t class_cap[VX_MEM_CLASSES] = {CAP(0), CAP(1), CAP(2), CAP(3),
                                                   CAP(4), CAP(5), CAP(6), CAP(7)};
_Static_assert(VX_MEM_CLASSES == 8, "class_cap lists every class");

void *vx_mem_alloc(size_t size) {
    if (size - 1 < VX_MEM_SMALL_MAX) { /* size 0 wraps and takes malloc */
        size_t cls = (size - 1) / VX_MEM_GRAIN;
        vx_mem_cache *c = &cache;
        vx_free_block *b = c->head[cls];
        if (b) {
            c->head[cls] = b->next;
            c->count[cls]--;
            return b;
        }
        return malloc((cls + 1) * VX_MEM_GRAIN);
    }
    return malloc(size);
}

void vx_mem_free(void *p, size_t size) {
    if (!p) return;
    if (size - 1 < VX_MEM_SMALL_MAX) {
        size_t cls = (size - 1) / VX_MEM_GRAIN;
        vx_mem_cache *c = &cache;
        if (c->state != CACHE_ON && (c->state == CACHE_OFF || !cache_start())) {
            free(p);
            return;
        }
        if (c->count[cls] < class_cap[cls] &&
            !atomic_load_explicit(&shut_down, memory_order_relaxed)) {
            vx_free_block *b = p;
            b->next = c->head[cls];
            c->head[cls] = b;
            c->count[cls]++;
            return;
        }
    }
    free(p);
}

void vx_mem_thread_nocache(void) {
    cache.state = CACHE_OFF;
    drain(&cache);
}

#else /* VX_NO_VALUE_CACHE */

void vx_mem_thread_nocache(void) {}

void *vx_mem_alloc(size_t size) {
    return malloc(size ? size : 1);
}

void vx_mem_free(void *p, size_t size) {
    (void)size;
    free(p);
}

#endif
