/* Placeholder so the library links while the postgresql backend is written. */
#include "backend.h"

static int unsupported(const char *target, const vx_store_opts *opts, void **conn, vx_error *err) {
    (void)target, (void)opts, (void)conn;
    return vx_error_set(err, VX_E_UNSUPPORTED, "the postgresql backend is not built yet");
}

const vx_sql_backend_ops vx_pg_backend = {.name = "postgresql", .connect = unsupported};
