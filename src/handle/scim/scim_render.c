/* scim_render — SCIM responses: meta and ETags (RFC 7643 §3.1, RFC 7644 §3.14), preconditions
 * (RFC 9110 §13.1.1, §13.1.2), ListResponse (RFC 7644 §3.4.2), projection and the body. */
#include "handle/scim/scim_internal.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "scim/patch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void scim_render_etag(int64_t version, char out[SCIM_RENDER_ETAG_MAX])
{
    snprintf(out, SCIM_RENDER_ETAG_MAX, "W/\"%" PRId64 "\"", version);
}

void scim_render_time(int64_t ms, char out[SCIM_RENDER_TIME_MAX])
{
    char base[21];
    int64_t s = ms / 1000, r = ms % 1000;
    if (r < 0) {
        r += 1000;
        s--;
    }
    time_format_rfc3339(s, base);
    snprintf(out, SCIM_RENDER_TIME_MAX, "%.19s.%03dZ", base, (int)r);
}

/* One entity tag at *p (RFC 9110 §8.8.3: [W/] DQUOTE *etagc DQUOTE); advances *p. */
static bool next_tag(const char **p, const char **tag, size_t *n)
{
    const char *s = *p;
    if (s[0] == 'W' && s[1] == '/') s += 2;
    if (*s != '"') return false;
    const char *e = strchr(s + 1, '"');
    if (!e) return false;
    *tag = s + 1;
    *n = (size_t)(e - s - 1);
    *p = e + 1;
    return true;
}

bool scim_render_etag_list_match(const char *h, int64_t version)
{
    if (!h) return false;
    char want[24];
    int wl = snprintf(want, sizeof want, "%" PRId64, version);
    const char *p = h;
    while (*p == ' ' || *p == '\t')
        p++;
    if (p[0] == '*') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        return *p == '\0';
    }
    bool found = false;
    while (*p) {
        const char *tag;
        size_t n;
        if (!next_tag(&p, &tag, &n)) return false; /* malformed: matches nothing */
        if (n == (size_t)wl && memcmp(tag, want, n) == 0) found = true;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == ',') {
            p++;
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
        } else if (*p) {
            return false;
        }
    }
    return found;
}

idp_err scim_render_check_if_match(const http_request *rq, int64_t version, idp_error *err)
{
    const char *h = request_header(rq, "If-Match");
    if (h && !scim_render_etag_list_match(h, version))
        return IDP_FAIL(err, IDP_ERR_PRECONDITION, "If-Match does not match the current version");
    return IDP_OK;
}

bool scim_render_if_none_match(const http_request *rq, int64_t version)
{
    return scim_render_etag_list_match(request_header(rq, "If-None-Match"), version);
}

char *scim_render_location(const char *base, const char *endpoint, const char *id)
{
    size_t bl = strlen(base), el = strlen(endpoint), il = strlen(id);
    char *s = xmalloc(bl + el + il + 2);
    memcpy(s, base, bl);
    memcpy(s + bl, endpoint, el);
    s[bl + el] = '/';
    memcpy(s + bl + el + 1, id, il + 1);
    return s;
}

void scim_render_set_meta(json_t *doc, const char *id, const char *resource_type, const char *location,
                   int64_t created_ms, int64_t modified_ms, int64_t version)
{
    char created[SCIM_RENDER_TIME_MAX], modified[SCIM_RENDER_TIME_MAX], etag[SCIM_RENDER_ETAG_MAX];
    scim_render_time(created_ms, created);
    scim_render_time(modified_ms, modified);
    scim_render_etag(version, etag);
    json_object_set_new(doc, "id", json_string(id));
    json_object_set_new(doc, "meta",
                        json_pack("{s:s, s:s, s:s, s:s, s:s}", "resourceType", resource_type,
                                  "created", created, "lastModified", modified, "location",
                                  location, "version", etag));
}

static idp_err put_body(http_response *rs, const json_t *v, idp_error *err)
{
    char *s = jsonx_dump(v);
    if (!s) return IDP_FAIL(err, IDP_ERR_INTERNAL, "cannot serialize the response");
    buf_reset(&rs->body);
    int r = buf_puts(&rs->body, s);
    free(s);
    if (r != 0)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "response too large; use attributes or paging");
    rs->content_type = RESPONSE_SCIM_CONTENT_TYPE;
    rs->no_store = true; /* personal data: no shared cache may keep it */
    return IDP_OK;
}

idp_err scim_render_json(http_response *rs, const json_t *v, idp_error *err)
{
    rs->status = 200;
    return put_body(rs, v, err);
}

idp_err scim_render_resource(http_response *rs, int status, const scim_resource_type *rt,
                             const json_t *full, const char *attributes, const char *excluded,
                             int64_t version, idp_error *err)
{
    json_t *out = NULL;
    idp_err rc = scim_project(rt, full, attributes, excluded, &out, err);
    if (rc != IDP_OK) return rc;
    rc = put_body(rs, out, err);
    json_decref(out);
    if (rc != IDP_OK) return rc;
    rs->status = status;
    if (version > 0) {
        char etag[SCIM_RENDER_ETAG_MAX];
        scim_render_etag(version, etag);
        response_header_set(rs, "ETag", etag);
    }
    return IDP_OK;
}

json_t *scim_render_list_response(json_t *resources, int64_t total, int64_t start_index)
{
    return json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_URN_LIST, "totalResults",
                     (json_int_t)total, "startIndex", (json_int_t)start_index, "itemsPerPage",
                     (json_int_t)json_array_size(resources), "Resources", resources);
}
