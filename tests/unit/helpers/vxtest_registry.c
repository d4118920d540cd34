/* Test helpers: the tuple types the reference vectors use
 * (tests/vectors/README.md, "Tuple types used by the vectors"). */
#include "vxtest.h"

#include <stdio.h>

#define NF(a) (sizeof(a) / sizeof((a)[0]))

/* Register one type, then drop the default values this file created. */
static int add_type(vx_registry *reg, const char *name, vx_field_def *f, size_t n) {
    vx_error err;
    int rc = vx_registry_add(reg, name, NULL, f, n, NULL, &err);
    if (rc != 0) fprintf(stderr, "vxt_test_registry_new: %s: %s\n", name, err.message);
    for (size_t i = 0; i < n; i++) vx_decref(f[i].default_value);
    return rc;
}

vx_registry *vxt_test_registry_new(void) {
    vx_registry *reg = vx_registry_new();
    if (!reg) return NULL;
    int rc = 0;

    vx_field_def person[] = {
        {"name", vx_str("anon"), NULL, false},
        {"age", vx_int(0), NULL, false},
        {"email", NULL, NULL, false},
        {"score", vx_float(0.0), NULL, false},
        {"active", vx_bool(true), NULL, false},
        {"tags", vx_list(), NULL, false},
        {"born", NULL, NULL, false},
    };
    rc |= add_type(reg, "test.Person", person, NF(person));

    vx_field_def address[] = {
        {"street", vx_str(""), NULL, false},
        {"city", vx_str(""), NULL, false},
        {"postcode", NULL, NULL, false},
    };
    rc |= add_type(reg, "test.Address", address, NF(address));

    vx_field_def team[] = {
        {"name", vx_str("team"), NULL, false}, {"leader", NULL, NULL, false},
        {"members", vx_list(), NULL, false},   {"address", NULL, NULL, false},
        {"meta", vx_dict(), NULL, false},
    };
    rc |= add_type(reg, "test.Team", team, NF(team));

    vx_field_def bench[] = {
        {"id", vx_int(0), NULL, false},          {"name", vx_str(""), NULL, false},
        {"code", vx_str(""), NULL, false},       {"qty", vx_int(0), NULL, false},
        {"price", vx_float(0.0), NULL, false},   {"ratio", vx_float(0.0), NULL, false},
        {"created", NULL, NULL, false},          {"updated", NULL, NULL, false},
        {"active", vx_bool(false), NULL, false}, {"deleted", vx_bool(false), NULL, false},
    };
    rc |= add_type(reg, "test.BenchRow", bench, NF(bench));

    /* SQL table crud_item: a column without a default is null. */
    vx_field_def crud[] = {
        {"id", NULL, NULL, false},
        {"name", vx_str("unnamed"), NULL, false},
        {"qty", vx_int(0), NULL, false},
        {"price", NULL, NULL, false},
        {"active", vx_bool(true), NULL, false},
        {"created", NULL, NULL, false},
    };
    rc |= add_type(reg, "test.CrudItem", crud, NF(crud));

    if (rc != 0) {
        vx_registry_free(reg);
        return NULL;
    }
    return reg;
}
