#include "http/response.h"

#include "core/log.h"
#include "core/jsonw.h"

#include <stdio.h>
#include <string.h>

void response_init(http_response *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->status = 200;
    buf_init(&rs->body, RESPONSE_MAX_BODY);
}

void response_clear(http_response *rs)
{
    if (!rs) return;
    buf_free(&rs->body);
    snap_unref(rs->hold);
    rs->hold = NULL;
    rs->ext_body = NULL;
    rs->ext_len = 0;
}

void response_header_set(http_response *rs, const char *name, const char *value)
{
    for (size_t i = 0; i < rs->nheaders; i++) {
        if (strcmp(rs->headers[i].name, name) == 0) {
            snprintf(rs->headers[i].value, sizeof rs->headers[i].value, "%s", value);
            return;
        }
    }
    if (rs->nheaders == RESPONSE_MAX_HEADERS) return;
    response_header *h = &rs->headers[rs->nheaders++];
    h->name = name;
    snprintf(h->value, sizeof h->value, "%s", value);
}

void response_header_add(http_response *rs, const char *name, const char *value)
{
    if (rs->nheaders == RESPONSE_MAX_HEADERS) return;
    response_header *h = &rs->headers[rs->nheaders++];
    h->name = name;
    snprintf(h->value, sizeof h->value, "%s", value);
}

const char *response_body(const http_response *rs, size_t *len)
{
    if (rs->ext_body) {
        *len = rs->ext_len;
        return rs->ext_body;
    }
    *len = rs->body.len;
    return rs->body.data ? rs->body.data : "";
}

void response_set_client(http_response *rs, const char *id, size_t len)
{
    if (len >= sizeof rs->client_id) len = sizeof rs->client_id - 1;
    memcpy(rs->client_id, id, len);
    rs->client_id[len] = '\0';
}

/* Transport-level failures have no OAuth meaning: their `error` is the code's own name. */
static bool transport_code(idp_err c)
{
    return c == IDP_ERR_NOT_FOUND || c == IDP_ERR_HTTP_METHOD || c == IDP_ERR_TOO_LARGE ||
           c == IDP_ERR_HTTP_MEDIA_TYPE;
}

void response_error(http_response *rs, const idp_error *e)
{
    idp_err code = e->code == IDP_OK ? IDP_ERR_INTERNAL : e->code;
    rs->status = idp_err_http_status(code);
    rs->content_type = "application/json";
    rs->no_store = true;
    snap_unref(rs->hold);
    rs->hold = NULL;
    rs->ext_body = NULL;
    buf_reset(&rs->body);
    const char *error = transport_code(code) ? idp_err_name(code) : idp_err_oauth(code);
    const char *desc = e->msg;
    if (rs->status >= 500) {
        log_msg(LOG_ERROR, "%s (%s:%d): %s", idp_err_name(code), e->func ? e->func : "?", e->line,
                e->msg);
        desc = "internal server error";
    }
    buf_puts(&rs->body, "{");
    jsonw_member_str(&rs->body, 1, "error", error);
    if (desc[0]) jsonw_member_str(&rs->body, 0, "error_description", desc);
    buf_puts(&rs->body, "}");
    if (rs->status == 401 && rs->www_auth_basic)
        response_header_set(rs, "WWW-Authenticate", "Basic realm=\"idpd\"");
}

void response_bearer_challenge(http_response *rs, const char *realm, const idp_error *e)
{
    char h[sizeof rs->headers[0].value];
    const char *error = e ? idp_err_bearer(e->code) : NULL;
    int n = snprintf(h, sizeof h, "Bearer realm=\"%s\"", realm);
    if (error && n > 0 && (size_t)n < sizeof h) {
        char desc[sizeof e->msg];
        size_t i = 0;
        for (; e->msg[i] && i < sizeof desc - 1; i++) {
            unsigned char c = (unsigned char)e->msg[i];
            desc[i] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
        }
        desc[i] = '\0';
        snprintf(h + n, sizeof h - (size_t)n, ", error=\"%s\", error_description=\"%s\"", error,
                 desc);
    }
    response_header_set(rs, "WWW-Authenticate", h);
}

void response_bearer_error(http_response *rs, const char *realm, const idp_error *e)
{
    response_bearer_challenge(rs, realm, e);
    response_error(rs, e);
}

bool response_is_scim_path(const char *path)
{
    static const char base[] = "/scim/v2";
    return strncmp(path, base, sizeof base - 1) == 0 &&
           (path[sizeof base - 1] == '\0' || path[sizeof base - 1] == '/');
}

static void header_drop(http_response *rs, const char *name)
{
    for (size_t i = 0; i < rs->nheaders; i++) {
        if (strcmp(rs->headers[i].name, name) != 0) continue;
        rs->headers[i] = rs->headers[--rs->nheaders];
        return;
    }
}

void response_scim_error(http_response *rs, const idp_error *e)
{
    idp_err code = e->code == IDP_OK ? IDP_ERR_INTERNAL : e->code;
    rs->status = idp_err_http_status(code);
    snap_unref(rs->hold);
    rs->hold = NULL;
    rs->ext_body = NULL;
    buf_reset(&rs->body);
    header_drop(rs, "Location");
    rs->no_store = true;
    if (rs->status == 304) { /* RFC 9110 §15.4.5: no content, the ETag is kept */
        rs->content_type = NULL;
        return;
    }
    header_drop(rs, "ETag");
    rs->content_type = RESPONSE_SCIM_CONTENT_TYPE;
    const char *detail = e->msg[0] ? e->msg : idp_err_name(code);
    if (rs->status >= 500) {
        log_msg(LOG_ERROR, "%s (%s:%d): %s", idp_err_name(code), e->func ? e->func : "?", e->line,
                e->msg);
        detail = "internal server error";
    } else if (rs->status == 401) {
        detail = "authentication required";
        response_bearer_challenge(rs, "idpd-scim", NULL);
    }
    const char *type = idp_err_scim_type(code);
    char status[8];
    snprintf(status, sizeof status, "%d", rs->status);
    buf_puts(&rs->body, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:Error\"]");
    if (type) jsonw_member_str(&rs->body, 0, "scimType", type);
    jsonw_member_str(&rs->body, 0, "detail", detail);
    jsonw_member_str(&rs->body, 0, "status", status);
    buf_puts(&rs->body, "}");
}

void response_error_code(http_response *rs, idp_err code, const char *msg)
{
    idp_error e = {.code = code, .func = __func__, .line = __LINE__};
    snprintf(e.msg, sizeof e.msg, "%s", msg ? msg : "");
    response_error(rs, &e);
}
