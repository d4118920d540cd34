/* Error names, messages and the vx_error filler. */
#include <stdarg.h>
#include <stdio.h>

#include <vortexc/error.h>

typedef struct {
    int code;
    const char *name;
    const char *text;
} error_info;

static const error_info errors[] = {
    {VX_OK, "VX_OK", "success"},
    {VX_E_MSG_TOO_BIG, "VX_E_MSG_TOO_BIG", "encoded msg over max_msg_bytes"},
    {VX_E_BASE64, "VX_E_BASE64", "invalid base64 character, length or padding"},
    {VX_E_ZLIB, "VX_E_ZLIB", "bad or truncated zlib stream"},
    {VX_E_INFLATE_LIMIT, "VX_E_INFLATE_LIMIT", "inflated size over max_json_bytes"},
    {VX_E_UTF8, "VX_E_UTF8", "invalid UTF-8"},
    {VX_E_JSON, "VX_E_JSON", "JSON syntax error"},
    {VX_E_DEPTH, "VX_E_DEPTH", "nesting over max_depth"},
    {VX_E_NOT_OBJECT, "VX_E_NOT_OBJECT", "top-level JSON value is not an object"},
    {VX_E_CT_MISSING, "VX_E_CT_MISSING", "top-level object has no _ct"},
    {VX_E_CT_WRONG, "VX_E_CT_WRONG", "top-level _ct is not \"rp\""},
    {VX_E_FIELD_TYPE, "VX_E_FIELD_TYPE", "payload field has the wrong type"},
    {VX_E_UNKNOWN_CT, "VX_E_UNKNOWN_CT", "unknown _ct"},
    {VX_E_UNKNOWN_FT, "VX_E_UNKNOWN_FT", "unknown _ft"},
    {VX_E_BAD_VALUE, "VX_E_BAD_VALUE", "_fd missing or malformed for its _ft"},
    {VX_E_INT_RANGE, "VX_E_INT_RANGE", "wrapped int outside int64"},
    {VX_E_TUPLE_NO_TYPE, "VX_E_TUPLE_NO_TYPE", "tuple without a string _c"},
    {VX_E_UNKNOWN_TUPLE, "VX_E_UNKNOWN_TUPLE", "unregistered tuple type"},
    {VX_E_TUPLE_FIELD, "VX_E_TUPLE_FIELD", "unknown field on a registered tuple type"},
    {VX_E_UNSUPPORTED, "VX_E_UNSUPPORTED", "unsupported value (_ct gen or _ft geom)"},
    {VX_E_GENERATION, "VX_E_GENERATION", "msg of a generation not enabled here"},
    {VX_E_NONFINITE, "VX_E_NONFINITE", "NaN or infinity cannot be encoded"},
    {VX_E_RESERVED_KEY, "VX_E_RESERVED_KEY", "dict key _ct or _ft cannot be encoded"},
    {VX_E_UNENCODABLE, "VX_E_UNENCODABLE", "value of no supported type"},
    {VX_E_NO_SUCH_VORTEX, "VX_E_NO_SUCH_VORTEX", "no such remote vortex"},
    {VX_E_TIMEOUT, "VX_E_TIMEOUT", "timed out"},
    {VX_E_QUEUE_FULL, "VX_E_QUEUE_FULL", "queue full"},
    {VX_E_CLOSED, "VX_E_CLOSED", "connection or vortex closed"},
    {VX_E_REMOTE, "VX_E_REMOTE", "the peer replied with an error"},
    {VX_E_NO_KEY, "VX_E_NO_KEY", "endpoint filt lacks a usable \"key\""},
    {VX_E_HANDLER, "VX_E_HANDLER", "endpoint callback failed"},
    {VX_E_NOMEM, "VX_E_NOMEM", "out of memory"},
    {VX_E_INVAL, "VX_E_INVAL", "invalid argument"},
    {VX_E_EXISTS, "VX_E_EXISTS", "name already registered"},
    {VX_E_NOT_FOUND, "VX_E_NOT_FOUND", "not found"},
    {VX_E_IO, "VX_E_IO", "I/O error"},
    {VX_E_SQL, "VX_E_SQL", "database error"},
    {VX_E_SQL_SCHEMA, "VX_E_SQL_SCHEMA", "table cannot be used as tuples"},
    {VX_E_SQL_VALUE, "VX_E_SQL_VALUE", "value does not fit its column"},
    {VX_E_TLS, "VX_E_TLS", "TLS error"},
    {VX_E_CHILD, "VX_E_CHILD", "child process error"},
};

static const error_info *find(int code) {
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == code) return &errors[i];
    return NULL;
}

const char *vx_error_name(int code) {
    const error_info *e = find(code);
    return e ? e->name : "VX_E_UNKNOWN";
}

const char *vx_strerror(int code) {
    const error_info *e = find(code);
    return e ? e->text : "unknown error";
}

int vx_error_set(vx_error *err, int code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void vx_error_clear(vx_error *err) {
    if (err) {
        err->code = VX_OK;
        err->message[0] = '\0';
    }
}
