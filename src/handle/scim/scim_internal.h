/* scim_internal — helpers shared by the SCIM HTTP handlers (scim_*.c in this folder): the
 * authentication and rate-limit gate, request bodies, list parameters (RFC 7644 §3.4.2),
 * rendering with meta and ETag (RFC 7643 §3.1, RFC 7644 §3.14), preconditions, passwords and
 * audit events. The pure parts (list parameters, projection wishes, ETags, meta, preconditions,
 * changed-attribute lists) are unit-tested in tests/unit/handle/test_scim_handle.c. */
#ifndef IDPD_HANDLE_SCIM_INTERNAL_H
#define IDPD_HANDLE_SCIM_INTERNAL_H

#include "core/err.h"
#include "creds/password.h"
#include "http/request.h"
#include "http/response.h"
#include "scim/filter.h"
#include "scim/plan.h"
#include "scim/schema.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct app;

#define SCIM_LIST_DEFAULT_COUNT 100
#define SCIM_LIST_MAX_COUNT 200    /* = ServiceProviderConfig filter.maxResults */
#define SCIM_LIST_PARAM_MAX_LEN 4096    /* attributes / excludedAttributes / sortBy text */
#define SCIM_WRITE_PASSWORD_MAX_LEN 1024 /* bytes; a longer password is invalidValue */
#define SCIM_GATE_ACTOR_MAX 48          /* "pkey:" + id */
/* PATCH /Groups answers 204 instead of 200 + the group when the group would take more than this
 * (about 6,000 members) and neither attributes nor excludedAttributes was asked for. */
#define SCIM_PATCH_BODY_MAX (1024u * 1024u)

/* ---- scim_gate.c ---- */

/* Authenticates the provisioning key of rq (Authorization: Bearer, oauth/pkey.h) with the
 * required scope, then takes one token from its rate-limit bucket. Errors: IDP_ERR_UNAUTHORIZED
 * (401, one message for every cause), IDP_ERR_FORBIDDEN (403, scope missing),
 * IDP_ERR_RATE_LIMITED (429; sets the Retry-After header in rs). On success actor receives
 * "pkey:<id>" and the key id is recorded for the request log. */
idp_err scim_gate(struct app *a, const http_request *rq, http_response *rs, const char *scope,
                  char actor[SCIM_GATE_ACTOR_MAX], idp_error *err);
/* The request body as a JSON object (strict: jsonx). Content-Type, when given, must be
 * application/scim+json or application/json (RFC 7644 §3.1) else IDP_ERR_HTTP_MEDIA_TYPE (415);
 * empty or malformed -> IDP_ERR_SCIM_INVALID_SYNTAX; larger than max_body -> IDP_ERR_TOO_LARGE.
 * *out owned. */
idp_err scim_gate_body_json(const http_request *rq, size_t max_len, json_t **out, idp_error *err);
bool scim_gate_media_type_ok(const char *content_type);

/* ---- scim_list.c (pure) ---- */

typedef struct scim_list {
    scim_plan *plan; /* owned; the filter resolved for rt; NULL = everything */
    char *sort_by;   /* owned; NULL = creation order */
    bool descending;
    int64_t start_index; /* >= 1 */
    int64_t count;       /* 0..SCIM_LIST_MAX_COUNT */
    char *attributes;    /* owned comma-separated list or NULL */
    char *excluded;      /* owned comma-separated list or NULL */
} scim_list;

/* List parameters from the query string (RFC 7644 §3.4.2): filter (parsed and resolved against
 * rt into a plan, scim/plan.h: IDP_ERR_SCIM_INVALID_FILTER otherwise), sortBy (resolved: else
 * IDP_ERR_SCIM_INVALID_PATH), sortOrder ascending|descending (any case; else invalidValue),
 * startIndex (integer, < 1 -> 1), count (integer, default 100, > 200 -> 200, < 0 -> 0 —
 * RFC 7644 §3.4.2.4 clamps, no error), attributes, excludedAttributes. A value that is not an
 * integer -> IDP_ERR_SCIM_INVALID_VALUE. On error out is cleared. */
idp_err scim_list_from_query(const http_request *rq, const scim_resource_type *rt, scim_list *out,
                             idp_error *err);
/* The same from a SearchRequest body (POST .search, RFC 7644 §3.4.3): members schemas (must
 * list the SearchRequest URN), filter, sortBy, sortOrder, startIndex, count (JSON integers),
 * attributes, excludedAttributes (arrays of strings). Unknown members -> invalidSyntax. */
idp_err scim_list_from_search(const json_t *body, const scim_resource_type *rt, scim_list *out,
                              idp_error *err);
void scim_list_clear(scim_list *l); /* accepts a zeroed list */
/* Parses a filter and resolves it against rt into a plan (scim/plan.h); any failure:
 * IDP_ERR_SCIM_INVALID_FILTER with the parser's or the plan's message, IDP_ERR_SCIM_TOO_MANY
 * over SCIM_FILTER_MAX_LEN or the plan's depth. *out owned. */
idp_err scim_list_filter(const scim_resource_type *rt, const char *text, scim_plan **out,
                         idp_error *err);
/* Whether the top-level attribute name of schema urn (e.g. "members", "groups") is wanted by an
 * attributes / excludedAttributes pair: with attributes, only when listed (alone, with a
 * sub-attribute, or with the URN prefix); otherwise unless excluded as a whole (excluding a
 * sub-attribute still wants the attribute). Case-insensitive. */
bool scim_list_wants(const char *attributes, const char *excluded, const char *urn,
                     const char *name);

/* ---- scim_render.c (pure except scim_render_resource) ---- */

#define SCIM_RENDER_ETAG_MAX 32
#define SCIM_RENDER_TIME_MAX 32
/* W/"<version>" (RFC 7644 §3.14, RFC 9110 §8.8.3). */
void scim_render_etag(int64_t version, char out[SCIM_RENDER_ETAG_MAX]);
/* RFC 3339 UTC with milliseconds: "2024-05-01T10:20:30.123Z". */
void scim_render_time(int64_t ms, char out[SCIM_RENDER_TIME_MAX]);
/* Whether an If-Match / If-None-Match header value (a comma-separated list of entity tags, or
 * "*") names version. "*" matches any existing resource. Weak and strong forms of the same
 * opaque tag both match (SCIM's tags are weak; RFC 7644 §3.14 uses them with If-Match).
 * Malformed lists match nothing. */
bool scim_render_etag_list_match(const char *header, int64_t version);
/* RFC 9110 §13.1.1: If-Match present and not matching -> IDP_ERR_PRECONDITION (412). */
idp_err scim_render_check_if_match(const http_request *rq, int64_t version, idp_error *err);
/* RFC 9110 §13.1.2 for GET: true when If-None-Match matches (the answer is 304). */
bool scim_render_if_none_match(const http_request *rq, int64_t version);
/* base + endpoint + "/" + id, owned (free()). */
char *scim_render_location(const char *base, const char *endpoint, const char *id);
/* Sets "id" and "meta" {resourceType, created, lastModified, location, version} on doc. */
void scim_render_set_meta(json_t *doc, const char *id, const char *resource_type, const char *location,
                   int64_t created_ms, int64_t modified_ms, int64_t version);
/* Projects full (scim_project with attributes / excluded), writes it as the response body
 * (application/scim+json) with status and, when version > 0, an ETag header. */
idp_err scim_render_resource(http_response *rs, int status, const scim_resource_type *rt,
                             const json_t *full, const char *attributes, const char *excluded,
                             int64_t version, idp_error *err);
/* Writes v as the response body (application/scim+json), status 200. */
idp_err scim_render_json(http_response *rs, const json_t *v, idp_error *err);
/* A ListResponse (RFC 7644 §3.4.2) around resources (stolen). */
json_t *scim_render_list_response(json_t *resources, int64_t total, int64_t start_index);

/* A readOnly reference list (User "groups", Group "members", RFC 7643 §4.1.2 / §4.2) from refs:
 * [{"value", "$ref": base + endpoint + "/" + id, "display", "type"}]; NULL when refs is empty. */
json_t *scim_list_refs_json(const char *base, const char *endpoint, const store_ref *refs, size_t n,
                       const char *type);

/* The kind-specific half of the read endpoints (GET by id, GET list, POST .search), which
 * scim_list_read_* run the same way for Users and Groups. */
typedef struct scim_list_reader {
    const scim_resource_type *rt;
    const char *urn;      /* core schema URN, for attributes/excludedAttributes */
    const char *sub_attr; /* the costly readOnly sub-list ("groups", "members") */
    /* The full representation of id (with the sub-list when want_sub) and its version;
     * NOT_FOUND with a SCIM message. */
    idp_err (*get)(struct app *a, const char *id, bool want_sub, json_t **full, int64_t *version,
                   idp_error *err);
    /* Runs q; appends each row's full representation to res; *total. */
    idp_err (*query)(struct app *a, const store_query *q, bool want_sub, json_t *res,
                     int64_t *total, idp_error *err);
} scim_list_reader;
idp_err scim_list_read_get(const scim_list_reader *k, struct app *a, const http_request *rq,
                      http_response *rs, idp_error *err);
idp_err scim_list_read_list(const scim_list_reader *k, struct app *a, const http_request *rq,
                       http_response *rs, idp_error *err);
idp_err scim_list_read_search(const scim_list_reader *k, struct app *a, const http_request *rq,
                         http_response *rs, idp_error *err);

/* ---- scim_write.c ---- */

/* Top-level member names whose values differ between before and after (either may be NULL),
 * sorted, as a JSON array; "password" is listed by name only when password_set. New ref. */
json_t *scim_write_changed(const json_t *before, const json_t *after, bool password_set);
/* Appends an audit event (inside the caller's transaction). detail = {"changed": changed};
 * changed is stolen (may be NULL). */
idp_err scim_write_audit(store *st, const char *actor, const char *action, const char *target_type,
                   const char *target_id, int64_t before_version, int64_t after_version,
                   json_t *changed, idp_error *err);
/* Removes "password" from doc; when it was there, hashes it with Argon2id (oauth/password.h,
 * parameters pp from cfg argon2_*) into *hash (owned, encoded form) and wipes the
 * plaintext. *hash NULL when doc had no password. Not a string or longer than
 * SCIM_WRITE_PASSWORD_MAX_LEN -> IDP_ERR_SCIM_INVALID_VALUE. */
idp_err scim_write_password_take(json_t *doc, const password_params *pp, char **hash, idp_error *err);
/* Overwrites, in a parsed request body, the bytes of every "password" member (any case, at any
 * depth) and of the value of PatchOp operations whose path is "password". */
void scim_write_password_wipe(json_t *obj);
/* SCIM booleans as sent by Entra ID ("True"/"False" strings) or JSON booleans; missing -> dflt. */
bool scim_write_doc_bool(const json_t *doc, const char *name, bool dflt);

#endif
