/* --types FILE: see vx_registry_load_file (src/codec/registry_json.c) for
 * the format; the loader lives in the library so vortexd reads the same
 * files. */
#include "cli.h"

int vx_cli_load_types(const char *path, vx_registry *reg, vx_error *err) {
    return vx_registry_load_file(reg, path, err);
}
