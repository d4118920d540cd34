/* hello.c: the smallest complete VortexC program, using only the installed
 * public API. It registers a tuple type, puts a tuple in a payload, encodes
 * the payload as a vortex msg, decodes the msg again and prints both.
 *
 *   cc hello.c $(pkg-config --cflags --libs vortexc) -o hello && ./hello
 */
#include <stdio.h>
#include <vortexc.h>

/* Print the error of a failed call and return 1 (the exit status). */
static int fail(const char *what, const vx_error *err) {
    fprintf(stderr, "hello: %s: %s: %s\n", what, vx_error_name(err->code), err->message);
    return 1;
}

int main(void) {
    int status = 1;
    vx_error err = {0};
    vx_registry *reg = vx_registry_new();
    vx_payload *payload = NULL, *decoded = NULL;
    vx_buf msg = {0}, json = {0};
    if (!reg) return 1;

    /* A type "demo.Person" with three fields and their defaults. Defaults
     * are borrowed (the registry copies them), so we release ours after. */
    vx_value *anon = vx_str("anon"), *zero = vx_int(0), *no_tags = vx_list();
    vx_field_def fields[] = {
        {.name = "name", .default_value = anon},
        {.name = "age", .default_value = zero},
        {.name = "tags", .default_value = no_tags},
    };
    const vx_tuple_type *person = NULL;
    int rc = vx_registry_add(reg, "demo.Person", NULL, fields, 3, &person, &err);
    vx_decref(anon);
    vx_decref(zero);
    vx_decref(no_tags);
    if (rc != 0) {
        status = fail("register demo.Person", &err);
        goto out;
    }

    /* A tuple of that type: fields start at their defaults. The _new
     * setters take over the reference they are given. */
    vx_value *ada = vx_tuple_new(person);
    vx_value *tags = vx_list();
    if (!ada || !tags) {
        vx_decref(ada);
        vx_decref(tags);
        goto out;
    }
    vx_list_append_new(tags, vx_str("math"));
    vx_tuple_set_new(ada, "name", vx_str("Ada"));
    vx_tuple_set_new(ada, "age", vx_int(36));
    vx_tuple_set_new(ada, "tags", tags);

    /* A payload routed by filt {"key": "demo.people"}, with a fixed date so
     * the output is the same on every run (the default is "now"). */
    payload = vx_payload_new_key("demo.people");
    int64_t date;
    vx_datetime_from_parts(2024, 3, 5, 10, 11, 12, 1, &date);
    if (!payload) {
        vx_decref(ada);
        goto out;
    }
    vx_payload_set_date_new(payload, vx_datetime(date));
    vx_list_append_new(vx_payload_tuples(payload), ada);

    /* Encode with default options, but with our registry for decoding. */
    vx_codec_opts opts;
    vx_codec_opts_init(&opts);
    opts.registry = reg;
    if (vx_msg_encode(payload, &opts, &msg, &err) != 0) {
        status = fail("encode", &err);
        goto out;
    }
    printf("msg:  %.*s\n", (int)msg.len, msg.data);

    if (vx_msg_decode(msg.data, msg.len, &opts, &decoded, &err) != 0) {
        status = fail("decode", &err);
        goto out;
    }
    if (vx_json_encode_payload(decoded, &opts, &json, &err) != 0) {
        status = fail("json", &err);
        goto out;
    }
    printf("json: %.*s\n", (int)json.len, json.data);

    /* Read a field back from the decoded, typed tuple. */
    vx_value *back = vx_list_get(vx_payload_tuples(decoded), 0);
    printf("%s is %lld\n", vx_str_value(vx_tuple_get(back, "name")),
           (long long)vx_int_value(vx_tuple_get(back, "age")));
    status = 0;

out:
    vx_buf_free(&msg);
    vx_buf_free(&json);
    vx_payload_decref(decoded);
    vx_payload_decref(payload);
    vx_registry_free(reg); /* after every tuple made from its types is gone */
    return status;
}
