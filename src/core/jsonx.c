#include "core/jsonx.h"

#include "core/mem.h"

#include <math.h>
#include <string.h>

/* Depth of [ and { outside strings; jansson's own cap (2048) is far too generous. */
static bool depth_ok(const char *s, size_t n, size_t max_depth)
{
    size_t depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '[' || c == '{') {
            if (++depth > max_depth) return false;
        } else if (c == ']' || c == '}') {
            if (depth) depth--;
        }
    }
    return true;
}

idp_err jsonx_parse(const char *s, size_t n, size_t max_len, size_t max_depth, bool want_object,
                    json_t **out, idp_error *err)
{
    *out = NULL;
    if (max_len && n > max_len) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "JSON document too large");
    if (!depth_ok(s, n, max_depth ? max_depth : JSONX_MAX_DEPTH))
        return IDP_FAIL(err, IDP_ERR_JSON, "JSON nested too deeply");
    json_error_t je;
    json_t *v = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!v) {
        if (json_error_code(&je) == json_error_duplicate_key)
            return IDP_FAIL(err, IDP_ERR_JSON, "duplicate JSON member name");
        return IDP_FAIL(err, IDP_ERR_JSON, "malformed JSON at offset %d", je.position);
    }
    if (want_object && !json_is_object(v)) {
        json_decref(v);
        return IDP_FAIL(err, IDP_ERR_JSON, "JSON value is not an object");
    }
    *out = v;
    return IDP_OK;
}

const char *jsonx_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool jsonx_int(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || d != floor(d) || d < -9.2e18 || d > 9.2e18) return false;
        *out = (int64_t)d;
        return true;
    }
    return false;
}

char *jsonx_dump(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) s = xstrdup("null");
    return s;
}
