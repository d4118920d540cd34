/* VortexC error codes and the error record filled by fallible calls.
 *
 * Every fallible function returns an int: 0 on success, a negative VX_E_*
 * code on failure. The magnitude of a protocol error equals its number in
 * PROTOCOL.md §6.2 (VX_E_BASE64 == -2), so logs and peers agree on numbers.
 * Codes past 60 are library errors that the protocol does not define. */
#ifndef VORTEXC_ERROR_H
#define VORTEXC_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    VX_OK = 0,
    /* decoding, PROTOCOL §6.2 */
    VX_E_MSG_TOO_BIG = -1,
    VX_E_BASE64 = -2,
    VX_E_ZLIB = -3,
    VX_E_INFLATE_LIMIT = -4,
    VX_E_UTF8 = -5,
    VX_E_JSON = -6,
    VX_E_DEPTH = -7,
    VX_E_NOT_OBJECT = -8,
    VX_E_CT_MISSING = -9,
    VX_E_CT_WRONG = -10,
    VX_E_FIELD_TYPE = -11,
    VX_E_UNKNOWN_CT = -12,
    VX_E_UNKNOWN_FT = -13,
    VX_E_BAD_VALUE = -14,
    VX_E_INT_RANGE = -15,
    VX_E_TUPLE_NO_TYPE = -16,
    VX_E_UNKNOWN_TUPLE = -17,
    VX_E_TUPLE_FIELD = -18,
    VX_E_UNSUPPORTED = -19,
    VX_E_GENERATION = -20,
    /* encoding */
    VX_E_NONFINITE = -30,
    VX_E_RESERVED_KEY = -31,
    VX_E_UNENCODABLE = -32,
    /* node, transports, services */
    VX_E_NO_SUCH_VORTEX = -40,
    VX_E_TIMEOUT = -41,
    VX_E_QUEUE_FULL = -42,
    VX_E_CLOSED = -43,
    VX_E_REMOTE = -44,
    VX_E_NO_KEY = -45,
    VX_E_HANDLER = -46,
    /* library errors outside the protocol */
    VX_E_NOMEM = -60,  /* allocation failed */
    VX_E_INVAL = -61,  /* invalid argument (bad field name, wrong value type...) */
    VX_E_EXISTS = -62, /* a name that must be unique is already taken */
    VX_E_NOT_FOUND = -63,
    VX_E_IO = -64,
    /* SQL store (sql.h) and TLS / child processes */
    VX_E_SQL = -70,        /* the database refused (message is the backend's) */
    VX_E_SQL_SCHEMA = -71, /* a table unusable as tuples (no single primary key...) */
    VX_E_SQL_VALUE = -72,  /* a tuple value that does not fit its column */
    VX_E_TLS = -73,        /* TLS setup or handshake failed (certificate, host name...) */
    VX_E_CHILD = -74,      /* a child process exited or could not be started */
};

#define VX_ERROR_MESSAGE_MAX 256

/* Filled by a failing call when the caller passes one; `message` is a single
 * line of English naming the offending field, key, type or stage. */
typedef struct vx_error {
    int code;
    char message[VX_ERROR_MESSAGE_MAX];
} vx_error;

/* Symbolic name of a code, e.g. "VX_E_BASE64"; "VX_E_UNKNOWN" if unknown.
 * Static storage, never NULL. */
const char *vx_error_name(int code);

/* One-line description of a code ("invalid base64 character, length or
 * padding"). Static storage, never NULL. */
const char *vx_strerror(int code);

/* Fill `err` (if non-NULL) with `code` and a printf-style message, and return
 * `code` so callers can write `return vx_error_set(err, VX_E_INVAL, ...)`. */
int vx_error_set(vx_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset `err` (if non-NULL) to VX_OK with an empty message. */
void vx_error_clear(vx_error *err);

#ifdef __cplusplus
}
#endif
#endif
