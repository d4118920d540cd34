/* Small, generic helpers shared by the unit tests (CMake links every
 * .c file in tests/unit/helpers into every test program, so nothing here depends on
 * cmocka or on one test's needs).
 *
 * Ownership follows the library: NEW = caller frees (free() for char*,
 * vx_decref / vx_registry_free for library objects), BORROWED = valid while
 * its container lives. */
#ifndef VXTEST_H
#define VXTEST_H

#include <stddef.h>
#include <stdint.h>

#include <vortexc/codec.h>
#include <vortexc/tuple.h>
#include <vortexc/value.h>

/* ---- files ------------------------------------------------------------- */

/* Path of `file` inside the reference vector directory (VX_TEST_VECTORS, as
 * compiled in by CMake). NEW string; NULL on OOM. */
char *vxt_vector_path(const char *file);

/* Whole file as a NEW malloc'd buffer with a NUL appended (not counted in
 * *len). NULL if it cannot be read. */
char *vxt_read_file(const char *path, size_t *len);

/* Read a .jsonl file: each non-empty line parsed with vx_json_parse_plain
 * (no vortex typing, so "_ct"/"_ft" objects stay dicts). On success *out is a
 * NEW list holding one value per line, in order. Errors: VX_E_IO if the file
 * cannot be read, or the parser's code with the line number in err. */
int vxt_load_jsonl(const char *path, vx_value **out, vx_error *err);

/* As vxt_load_jsonl for a file name inside the vector directory. */
int vxt_load_vectors(const char *file, vx_value **out, vx_error *err);

/* ---- reading parsed records -------------------------------------------- */

/* BORROWED string value of `key` in dict `rec` (its byte length in *len if
 * non-NULL); NULL if absent or not a string. */
const char *vxt_get_str(const vx_value *rec, const char *key, size_t *len);

/* BORROWED element of a list of dicts whose "name" string equals `name`;
 * NULL if there is none. */
vx_value *vxt_find_named(const vx_value *list, const char *name);

/* ---- the tuple types of tests/vectors/README.md ------------------------ */

/* NEW registry holding test.Person, test.Address, test.Team, test.BenchRow
 * and test.CrudItem with the README's fields and defaults. NULL on failure
 * (the reason is printed to stderr). */
vx_registry *vxt_test_registry_new(void);

/* Codec options with defaults plus `reg`, `level` and `compact`. */
void vxt_opts(vx_codec_opts *opts, const vx_registry *reg, int level, bool compact);

/* ---- printing ---------------------------------------------------------- */

/* NEW lowercase hex of data[0..len) ("00ff..."); NULL on OOM. */
char *vxt_hex(const void *data, size_t len);

/* NEW debugging text of any value, close to vortex JSON but never failing
 * (NaN, reserved keys and bytes are shown too), cut at about `max` bytes
 * with "..." (0 = no limit). Strings are escaped like JSON. NULL on OOM. */
char *vxt_repr(const vx_value *v, size_t max);

/* NEW text describing the first difference between `a` and `b` (path plus
 * both sides' repr), or NULL when vx_equal(a, b). For failure messages. */
char *vxt_diff(const vx_value *a, const vx_value *b);

#endif
