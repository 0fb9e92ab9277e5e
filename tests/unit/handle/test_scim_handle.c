/* Unit tests for the pure parts of the SCIM HTTP layer (src/handle/scim/scim_*.c, src/http): list and
 * search parameters, projection wishes, ETags and meta, preconditions, the SCIM error renderer,
 * changed-attribute lists, password hashing, parameter routes, media types. */
#include "testutil.h"

#include "core/jsonx.h"
#include "http/response.h"
#include "server/router.h"
#include "handle/scim/scim_internal.h"

#include <argon2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- a request with a fixed set of headers and query parameters ---- */

typedef struct kv {
    http_lookup_kind kind;
    const char *name, *value;
} kv;

static const char *lookup(void *ctx, http_lookup_kind kind, const char *name)
{
    for (const kv *p = ctx; p->name; p++)
        if (p->kind == kind &&
            (kind == HTTP_LOOKUP_HEADER ? strcasecmp(p->name, name) : strcmp(p->name, name)) == 0)
            return p->value;
    return NULL;
}

static http_request req(kv *pairs)
{
    http_request rq = {
        .method = "GET", .path = "/scim/v2/Users", .lookup = lookup, .lookup_ctx = pairs};
    return rq;
}

#define Q(n, v)                                                                                    \
    {                                                                                              \
        HTTP_LOOKUP_QUERY, n, v                                                                    \
    }
#define H(n, v)                                                                                    \
    {                                                                                              \
        HTTP_LOOKUP_HEADER, n, v                                                                   \
    }
#define END                                                                                        \
    {                                                                                              \
        HTTP_LOOKUP_QUERY, NULL, NULL                                                              \
    }

static idp_err list_q(kv *pairs, scim_list *l)
{
    http_request rq = req(pairs);
    idp_error e = {0};
    idp_err rc = scim_list_from_query(&rq, &scim_rt_user, l, &e);
    if (rc != IDP_OK) assert_int_equal(e.code, rc);
    return rc;
}

static void list_defaults_and_clamps(void **state)
{
    scim_list l;
    kv none[] = {END};
    assert_int_equal(list_q(none, &l), IDP_OK);
    assert_int_equal(l.start_index, 1);
    assert_int_equal(l.count, SCIM_LIST_DEFAULT_COUNT);
    assert_null(l.plan);
    assert_null(l.sort_by);
    assert_false(l.descending);
    scim_list_clear(&l);

    kv clamp[] = {Q("startIndex", "0"), Q("count", "500"), END};
    assert_int_equal(list_q(clamp, &l), IDP_OK);
    assert_int_equal(l.start_index, 1);
    assert_int_equal(l.count, SCIM_LIST_MAX_COUNT);
    scim_list_clear(&l);

    kv neg[] = {Q("startIndex", "-7"), Q("count", "-5"), END};
    assert_int_equal(list_q(neg, &l), IDP_OK);
    assert_int_equal(l.start_index, 1);
    assert_int_equal(l.count, 0);
    scim_list_clear(&l);

    kv huge[] = {Q("startIndex", "99999999999999999999999"), Q("count", "7"), END};
    assert_int_equal(list_q(huge, &l), IDP_OK);
    assert_true(l.start_index > 1000000);
    assert_int_equal(l.count, 7);
    scim_list_clear(&l);

    kv ok[] = {Q("startIndex", "11"),
               Q("count", "20"),
               Q("sortBy", "name.familyName"),
               Q("sortOrder", "DESCENDING"),
               Q("attributes", "userName,emails"),
               Q("excludedAttributes", "groups"),
               END};
    assert_int_equal(list_q(ok, &l), IDP_OK);
    assert_int_equal(l.start_index, 11);
    assert_int_equal(l.count, 20);
    assert_string_equal(l.sort_by, "name.familyName");
    assert_true(l.descending);
    assert_string_equal(l.attributes, "userName,emails");
    assert_string_equal(l.excluded, "groups");
    scim_list_clear(&l);
}

static void list_rejections(void **state)
{
    scim_list l;
    kv bad_count[] = {Q("count", "ten"), END};
    assert_int_equal(list_q(bad_count, &l), IDP_ERR_SCIM_INVALID_VALUE);
    assert_null(l.plan);
    kv bad_start[] = {Q("startIndex", "1x"), END};
    assert_int_equal(list_q(bad_start, &l), IDP_ERR_SCIM_INVALID_VALUE);
    kv empty_start[] = {Q("startIndex", ""), END};
    assert_int_equal(list_q(empty_start, &l), IDP_ERR_SCIM_INVALID_VALUE);
    kv bad_order[] = {Q("sortOrder", "up"), END};
    assert_int_equal(list_q(bad_order, &l), IDP_ERR_SCIM_INVALID_VALUE);
    kv bad_sort[] = {Q("sortBy", "nosuchattr"), END};
    assert_int_equal(list_q(bad_sort, &l), IDP_ERR_SCIM_INVALID_PATH);
    kv bad_sort2[] = {Q("sortBy", "emails[type eq \"work\"]"), END};
    assert_int_equal(list_q(bad_sort2, &l), IDP_ERR_SCIM_INVALID_PATH);
    kv long_attrs[] = {Q("attributes", NULL), END};
    char *big = malloc(SCIM_LIST_PARAM_MAX_LEN + 2);
    memset(big, 'a', SCIM_LIST_PARAM_MAX_LEN + 1);
    big[SCIM_LIST_PARAM_MAX_LEN + 1] = '\0';
    long_attrs[0].value = big;
    assert_int_equal(list_q(long_attrs, &l), IDP_ERR_SCIM_INVALID_VALUE);
    free(big);
}

static void list_filters(void **state)
{
    scim_list l;
    kv eq[] = {Q("filter", "userName eq \"bjensen\""), END};
    assert_int_equal(list_q(eq, &l), IDP_OK);
    assert_non_null(l.plan);
    assert_int_equal(l.plan->root->kind, SCIM_PLAN_CMP);
    assert_int_equal(l.plan->root->attr.loc, SCIM_LOC_USER_NAME);
    assert_int_equal(l.plan->root->op, SF_EQ);
    assert_string_equal(l.plan->root->value.s, "bjensen");
    scim_list_clear(&l);

    kv vp[] = {
        Q("filter", "emails[type eq \"work\" and value co \"@example.com\"] or active eq true"),
        END};
    assert_int_equal(list_q(vp, &l), IDP_OK);
    assert_int_equal(l.plan->root->kind, SCIM_PLAN_OR);
    assert_int_equal(l.plan->root->left->kind, SCIM_PLAN_ANY);
    scim_list_clear(&l);

    kv ent[] = {
        Q("filter", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr"),
        END};
    assert_int_equal(list_q(ent, &l), IDP_OK);
    scim_list_clear(&l);

    kv syntax[] = {Q("filter", "userName eq"), END};
    assert_int_equal(list_q(syntax, &l), IDP_ERR_SCIM_INVALID_FILTER);
    kv unknown[] = {Q("filter", "shoeSize gt 3"), END};
    assert_int_equal(list_q(unknown, &l), IDP_ERR_SCIM_INVALID_FILTER);
    kv unknown_sub[] = {Q("filter", "emails[colour eq \"red\"]"), END};
    assert_int_equal(list_q(unknown_sub, &l), IDP_ERR_SCIM_INVALID_FILTER);

    char *big = malloc(SCIM_FILTER_MAX_LEN + 2);
    memset(big, ' ', SCIM_FILTER_MAX_LEN + 1);
    big[SCIM_FILTER_MAX_LEN + 1] = '\0';
    kv toolong[] = {Q("filter", big), END};
    assert_int_equal(list_q(toolong, &l), IDP_ERR_SCIM_TOO_MANY);
    free(big);

    scim_plan *f = NULL;
    idp_error e = {0};
    assert_int_equal(scim_list_filter(&scim_rt_group, "displayName sw \"Eng\"", &f, &e), IDP_OK);
    scim_plan_free(f);
    assert_int_equal(scim_list_filter(&scim_rt_group, "userName eq \"x\"", &f, &e),
                     IDP_ERR_SCIM_INVALID_FILTER);
    assert_null(f);
}

static idp_err search(const char *text, scim_list *l)
{
    json_t *body = NULL;
    idp_error e = {0};
    assert_int_equal(jsonx_parse(text, strlen(text), 0, 0, true, &body, &e), IDP_OK);
    idp_err rc = scim_list_from_search(body, &scim_rt_user, l, &e);
    json_decref(body);
    return rc;
}

static void search_bodies(void **state)
{
    scim_list l;
    assert_int_equal(
        search("{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],"
               "\"filter\":\"userName sw \\\"a\\\"\",\"startIndex\":3,\"count\":1000,"
               "\"sortBy\":\"userName\",\"sortOrder\":\"descending\","
               "\"attributes\":[\"userName\",\"active\"],\"excludedAttributes\":[]}",
               &l),
        IDP_OK);
    assert_non_null(l.plan);
    assert_int_equal(l.start_index, 3);
    assert_int_equal(l.count, SCIM_LIST_MAX_COUNT);
    assert_true(l.descending);
    assert_string_equal(l.attributes, "userName,active");
    assert_null(l.excluded);
    scim_list_clear(&l);

    assert_int_equal(search("{\"filter\":\"userName pr\"}", &l), IDP_ERR_SCIM_INVALID_SYNTAX);
    assert_int_equal(
        search("{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],"
               "\"bogus\":1}",
               &l),
        IDP_ERR_SCIM_INVALID_SYNTAX);
    assert_int_equal(
        search("{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],"
               "\"count\":\"10\"}",
               &l),
        IDP_ERR_SCIM_INVALID_VALUE);
    assert_int_equal(
        search("{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],"
               "\"attributes\":[1]}",
               &l),
        IDP_ERR_SCIM_INVALID_SYNTAX);
    assert_int_equal(
        search("{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],"
               "\"filter\":\"nope eq 1\"}",
               &l),
        IDP_ERR_SCIM_INVALID_FILTER);
}

static void wants(void **state)
{
    const char *g = SCIM_URN_GROUP;
    assert_true(scim_list_wants(NULL, NULL, g, "members"));
    assert_false(scim_list_wants(NULL, "members", g, "members"));
    assert_false(scim_list_wants(NULL, " displayName , MEMBERS ", g, "members"));
    assert_false(
        scim_list_wants(NULL, "urn:ietf:params:scim:schemas:core:2.0:Group:members", g, "members"));
    assert_true(scim_list_wants(NULL, "members.display", g, "members")); /* only a sub-attribute */
    assert_true(scim_list_wants(NULL, "membersX", g, "members"));
    assert_false(scim_list_wants("displayName", NULL, g, "members"));
    assert_true(scim_list_wants("displayName,members.value", NULL, g, "members"));
    assert_true(
        scim_list_wants("urn:ietf:params:scim:schemas:core:2.0:Group:Members", NULL, g, "members"));
    assert_false(scim_list_wants("urn:other:members", NULL, g, "members"));
}

static void etags_and_meta(void **state)
{
    char tag[SCIM_RENDER_ETAG_MAX], t[SCIM_RENDER_TIME_MAX];
    scim_render_etag(42, tag);
    assert_string_equal(tag, "W/\"42\"");
    scim_render_time(1714558830123, t);
    assert_string_equal(t, "2024-05-01T10:20:30.123Z");
    scim_render_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000Z");

    char *loc = scim_render_location("https://idp.example/scim/v2", "/Users", "abc");
    assert_string_equal(loc, "https://idp.example/scim/v2/Users/abc");
    json_t *doc = json_pack("{s:s}", "userName", "x");
    scim_render_set_meta(doc, "abc", "User", loc, 1000, 2005, 3);
    free(loc);
    assert_string_equal(jsonx_str(doc, "id"), "abc");
    json_t *meta = json_object_get(doc, "meta");
    assert_string_equal(jsonx_str(meta, "resourceType"), "User");
    assert_string_equal(jsonx_str(meta, "created"), "1970-01-01T00:00:01.000Z");
    assert_string_equal(jsonx_str(meta, "lastModified"), "1970-01-01T00:00:02.005Z");
    assert_string_equal(jsonx_str(meta, "location"), "https://idp.example/scim/v2/Users/abc");
    assert_string_equal(jsonx_str(meta, "version"), "W/\"3\"");
    json_decref(doc);

    json_t *lr = scim_render_list_response(json_pack("[{},{}]"), 17, 5);
    assert_string_equal(json_string_value(json_array_get(json_object_get(lr, "schemas"), 0)),
                        SCIM_URN_LIST);
    int64_t v;
    assert_true(jsonx_int(lr, "totalResults", &v) && v == 17);
    assert_true(jsonx_int(lr, "startIndex", &v) && v == 5);
    assert_true(jsonx_int(lr, "itemsPerPage", &v) && v == 2);
    assert_int_equal(json_array_size(json_object_get(lr, "Resources")), 2);
    json_decref(lr);
}

static void preconditions(void **state)
{
    assert_true(scim_render_etag_list_match("*", 9));
    assert_true(scim_render_etag_list_match(" * ", 9));
    assert_true(scim_render_etag_list_match("W/\"9\"", 9));
    assert_true(scim_render_etag_list_match("\"9\"", 9)); /* strong form of the same tag */
    assert_true(scim_render_etag_list_match("W/\"1\", W/\"9\"", 9));
    assert_true(scim_render_etag_list_match("W/\"1\",W/\"9\"", 9));
    assert_false(scim_render_etag_list_match("W/\"8\"", 9));
    assert_false(scim_render_etag_list_match("W/\"90\"", 9));
    assert_false(scim_render_etag_list_match("9", 9));            /* unquoted: malformed */
    assert_false(scim_render_etag_list_match("W/\"9", 9));        /* unterminated */
    assert_false(scim_render_etag_list_match("W/\"9\" junk", 9)); /* trailing garbage */
    assert_false(scim_render_etag_list_match("*, W/\"9\"", 9));   /* "*" only alone */
    assert_false(scim_render_etag_list_match("", 9));
    assert_false(scim_render_etag_list_match(NULL, 9));

    idp_error e = {0};
    kv none[] = {END};
    http_request rq = req(none);
    assert_int_equal(scim_render_check_if_match(&rq, 3, &e), IDP_OK); /* no header: unconditional */
    assert_false(scim_render_if_none_match(&rq, 3));
    kv hit[] = {H("if-match", "W/\"3\""), H("If-None-Match", "W/\"3\""), END};
    rq = req(hit);
    assert_int_equal(scim_render_check_if_match(&rq, 3, &e), IDP_OK);
    assert_true(scim_render_if_none_match(&rq, 3));
    assert_int_equal(scim_render_check_if_match(&rq, 4, &e), IDP_ERR_PRECONDITION);
    assert_int_equal(e.code, IDP_ERR_PRECONDITION);
    assert_false(scim_render_if_none_match(&rq, 4));
}

static json_t *scim_err(idp_err code, const char *msg, http_response *rs)
{
    idp_error e = {0};
    IDP_FAIL(&e, code, "%s", msg);
    response_scim_error(rs, &e);
    size_t n;
    const char *body = response_body(rs, &n);
    json_t *j = NULL;
    assert_int_equal(jsonx_parse(body, n, 0, 0, true, &j, &e), IDP_OK);
    assert_string_equal(rs->content_type, "application/scim+json; charset=utf-8");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "schemas"), 0)),
                        SCIM_URN_ERROR);
    return j;
}

static const char *hdr(const http_response *rs, const char *name)
{
    for (size_t i = 0; i < rs->nheaders; i++)
        if (strcmp(rs->headers[i].name, name) == 0) return rs->headers[i].value;
    return NULL;
}

static void error_bodies(void **state)
{
    static const struct {
        idp_err code;
        int status;
        const char *type; /* NULL: no scimType member */
    } cases[] = {
        {IDP_ERR_NOT_FOUND, 404, NULL},
        {IDP_ERR_CONFLICT, 409, "uniqueness"},
        {IDP_ERR_PRECONDITION, 412, NULL},
        {IDP_ERR_FORBIDDEN, 403, NULL},
        {IDP_ERR_SCIM_INVALID_FILTER, 400, "invalidFilter"},
        {IDP_ERR_SCIM_INVALID_PATH, 400, "invalidPath"},
        {IDP_ERR_SCIM_INVALID_VALUE, 400, "invalidValue"},
        {IDP_ERR_SCIM_INVALID_SYNTAX, 400, "invalidSyntax"},
        {IDP_ERR_SCIM_MUTABILITY, 400, "mutability"},
        {IDP_ERR_SCIM_TOO_MANY, 400, "tooMany"},
        {IDP_ERR_HTTP_MEDIA_TYPE, 415, NULL},
    };
    http_response rs;
    char status[8];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        response_init(&rs);
        json_t *j = scim_err(cases[i].code, "some detail", &rs);
        assert_int_equal(rs.status, cases[i].status);
        snprintf(status, sizeof status, "%d", cases[i].status);
        assert_string_equal(jsonx_str(j, "status"), status); /* a string (RFC 7644 §3.12) */
        assert_string_equal(jsonx_str(j, "detail"), "some detail");
        if (cases[i].type)
            assert_string_equal(jsonx_str(j, "scimType"), cases[i].type);
        else
            assert_null(json_object_get(j, "scimType"));
        assert_null(hdr(&rs, "WWW-Authenticate"));
        json_decref(j);
        response_clear(&rs);
    }

    /* 401: one detail whatever the cause, and the Bearer challenge (RFC 6750 §3) */
    response_init(&rs);
    json_t *j = scim_err(IDP_ERR_UNAUTHORIZED, "revoked key abc", &rs);
    assert_int_equal(rs.status, 401);
    assert_string_equal(jsonx_str(j, "detail"), "authentication required");
    assert_string_equal(hdr(&rs, "WWW-Authenticate"), "Bearer realm=\"idpd-scim\"");
    json_decref(j);
    response_clear(&rs);

    /* 5xx: generic detail; the real one is for the log */
    response_init(&rs);
    j = scim_err(IDP_ERR_STORE, "sqlite: disk I/O error on users", &rs);
    assert_int_equal(rs.status, 500);
    assert_string_equal(jsonx_str(j, "detail"), "internal server error");
    json_decref(j);
    response_clear(&rs);

    /* 429 keeps Retry-After; an error drops ETag and Location set before it */
    response_init(&rs);
    response_header_set(&rs, "Retry-After", "2");
    response_header_set(&rs, "ETag", "W/\"1\"");
    response_header_set(&rs, "Location", "http://x/scim/v2/Users/1");
    j = scim_err(IDP_ERR_RATE_LIMITED, "slow down", &rs);
    assert_int_equal(rs.status, 429);
    assert_string_equal(hdr(&rs, "Retry-After"), "2");
    assert_null(hdr(&rs, "ETag"));
    assert_null(hdr(&rs, "Location"));
    json_decref(j);
    response_clear(&rs);

    /* 304: no body, the ETag stays */
    response_init(&rs);
    response_header_set(&rs, "ETag", "W/\"5\"");
    idp_error e = {0};
    IDP_FAIL(&e, IDP_ERR_NOT_MODIFIED, "not modified");
    response_scim_error(&rs, &e);
    size_t n = 1;
    response_body(&rs, &n);
    assert_int_equal(rs.status, 304);
    assert_int_equal(n, 0);
    assert_null(rs.content_type);
    assert_string_equal(hdr(&rs, "ETag"), "W/\"5\"");
    response_clear(&rs);
}

static void changed_lists(void **state)
{
    json_t *before = json_pack("{s:s, s:b, s:{s:s}, s:s}", "userName", "a", "active", 1, "name",
                               "givenName", "A", "title", "x");
    json_t *after = json_pack("{s:s, s:b, s:{s:s}, s:s}", "userName", "a", "active", 0, "name",
                              "givenName", "B", "nickName", "n");
    json_t *c = scim_write_changed(before, after, true);
    char *s = jsonx_dump(c);
    assert_string_equal(s, "[\"active\",\"name\",\"nickName\",\"password\",\"title\"]");
    free(s);
    json_decref(c);
    c = scim_write_changed(NULL, before, false);
    s = jsonx_dump(c);
    assert_string_equal(s, "[\"active\",\"name\",\"title\",\"userName\"]");
    free(s);
    json_decref(c);
    json_object_set_new(after, "password", json_string("secret"));
    c = scim_write_changed(before, after, false); /* never a password by value, nor by diff */
    s = jsonx_dump(c);
    assert_null(strstr(s, "password"));
    free(s);
    json_decref(c);
    json_decref(before);
    json_decref(after);
}

static void passwords(void **state)
{
    idp_error e = {0};
    char *hash = NULL;
    const password_params dflt = {.t = 2, .m_kib = 19456, .p = 1}, *pp = &dflt;
    json_t *doc = json_pack("{s:s, s:s}", "userName", "a", "password", "correct horse");
    assert_int_equal(scim_write_password_take(doc, pp, &hash, &e), IDP_OK);
    assert_null(json_object_get(doc, "password"));
    assert_non_null(hash);
    assert_true(strncmp(hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    assert_int_equal(argon2id_verify(hash, "correct horse", 13), ARGON2_OK);
    assert_int_not_equal(argon2id_verify(hash, "wrong", 5), ARGON2_OK);
    /* creds/password: verify, and rehash detection when the parameters change */
    assert_true(password_verify(hash, "correct horse", 13));
    assert_false(password_verify(hash, "correct horsE", 13));
    assert_false(password_verify("$argon2i$v=19$m=8,t=1,p=1$xx$yy", "x", 1)); /* not Argon2id */
    assert_false(password_verify(NULL, "x", 1));
    assert_false(password_needs_rehash(hash, &dflt));
    password_params more = {.t = 3, .m_kib = 19456, .p = 1};
    assert_true(password_needs_rehash(hash, &more));
    assert_true(password_needs_rehash(NULL, &dflt));
    char *h3 = NULL;
    assert_int_equal(password_hash(&more, "pw", 2, &h3, &e), IDP_OK);
    assert_true(strncmp(h3, "$argon2id$v=19$m=19456,t=3,p=1$", 31) == 0);
    assert_false(password_needs_rehash(h3, &more));
    free(h3);
    password_params bad = {.t = 0, .m_kib = 1, .p = 0};
    assert_int_equal(password_hash(&bad, "pw", 2, &h3, &e), IDP_ERR_CRYPTO);
    free(hash);
    hash = NULL;
    assert_int_equal(scim_write_password_take(doc, pp, &hash, &e), IDP_OK); /* none: nothing to do */
    assert_null(hash);
    json_object_set_new(doc, "password", json_integer(5));
    assert_int_equal(scim_write_password_take(doc, pp, &hash, &e), IDP_ERR_SCIM_INVALID_VALUE);
    assert_null(json_object_get(doc, "password"));
    json_object_set_new(doc, "password", json_string(""));
    assert_int_equal(scim_write_password_take(doc, pp, &hash, &e), IDP_ERR_SCIM_INVALID_VALUE);
    char *big = malloc(SCIM_WRITE_PASSWORD_MAX_LEN + 2);
    memset(big, 'p', SCIM_WRITE_PASSWORD_MAX_LEN + 1);
    big[SCIM_WRITE_PASSWORD_MAX_LEN + 1] = '\0';
    json_object_set_new(doc, "password", json_string(big));
    free(big);
    assert_int_equal(scim_write_password_take(doc, pp, &hash, &e), IDP_ERR_SCIM_INVALID_VALUE);
    assert_null(hash);
    assert_null(strstr(e.msg, "ppp"));
    json_decref(doc);

    json_t *body = json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:{s:s}}]}", "PassWord", "p1",
                             "Operations", "op", "replace", "path", "password", "value", "p2", "op",
                             "replace", "value", "password", "p3");
    scim_write_password_wipe(body);
    char *s = jsonx_dump(body);
    assert_null(strstr(s, "p1"));
    assert_null(strstr(s, "p2"));
    assert_null(strstr(s, "p3"));
    free(s);
    json_decref(body);

    json_t *b = json_pack("{s:s, s:s, s:b, s:s}", "a", "True", "b", "false", "c", 1, "d", "yes");
    assert_true(scim_write_doc_bool(b, "a", false));
    assert_false(scim_write_doc_bool(b, "b", true));
    assert_true(scim_write_doc_bool(b, "c", false));
    assert_false(scim_write_doc_bool(b, "d", false)); /* not a boolean: the default */
    assert_true(scim_write_doc_bool(b, "missing", true));
    json_decref(b);
}

static void routes_and_media(void **state)
{
    const route *r = NULL;
    char allow[64], param[64];
    idp_error e = {0};
    assert_int_equal(router_match(router_routes, router_nroutes, "GET", "/scim/v2/Users/abc-1", &r,
                                  allow, sizeof allow, &e),
                     IDP_OK);
    assert_string_equal(r->path, "/scim/v2/Users/{id}");
    assert_true(router_param(r, "/scim/v2/Users/abc-1", param, sizeof param));
    assert_string_equal(param, "abc-1");
    assert_false(router_param(
        r, "/scim/v2/Users/0123456789012345678901234567890123456789012345678901234567890123456789",
        param, sizeof param));
    assert_string_equal(param, "");
    assert_int_equal(router_match(router_routes, router_nroutes, "PATCH", "/scim/v2/Groups/g", &r,
                                  allow, sizeof allow, &e),
                     IDP_OK);
    assert_string_equal(r->path, "/scim/v2/Groups/{id}");
    assert_int_equal(router_match(router_routes, router_nroutes, "POST", "/scim/v2/Users/.search",
                                  &r, allow, sizeof allow, &e),
                     IDP_OK);
    assert_string_equal(r->path, "/scim/v2/Users/.search");
    assert_false(router_param(r, "/scim/v2/Users/.search", param, sizeof param));
    assert_int_equal(router_match(router_routes, router_nroutes, "POST", "/scim/v2/Users/x", &r,
                                  allow, sizeof allow, &e),
                     IDP_ERR_HTTP_METHOD);
    assert_string_equal(allow, "GET, HEAD, PUT, PATCH, DELETE");
    assert_int_equal(router_match(router_routes, router_nroutes, "DELETE", "/scim/v2/Users", &r,
                                  allow, sizeof allow, &e),
                     IDP_ERR_HTTP_METHOD);
    assert_string_equal(allow, "GET, HEAD, POST");
    assert_int_equal(router_match(router_routes, router_nroutes, "GET", "/scim/v2/Users/", &r,
                                  allow, sizeof allow, &e),
                     IDP_ERR_NOT_FOUND);
    assert_int_equal(router_match(router_routes, router_nroutes, "GET", "/scim/v2/Users/a/b", &r,
                                  allow, sizeof allow, &e),
                     IDP_ERR_NOT_FOUND);
    assert_int_equal(router_match(router_routes, router_nroutes, "GET", "/scim/v2/Bulk", &r, allow,
                                  sizeof allow, &e),
                     IDP_ERR_NOT_FOUND);
    assert_int_equal(router_match(router_routes, router_nroutes, "GET",
                                  "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", &r,
                                  allow, sizeof allow, &e),
                     IDP_OK);
    assert_true(response_is_scim_path("/scim/v2"));
    assert_true(response_is_scim_path("/scim/v2/Nope"));
    assert_false(response_is_scim_path("/scim/v20"));
    assert_false(response_is_scim_path("/token"));

    assert_true(scim_gate_media_type_ok(NULL));
    assert_true(scim_gate_media_type_ok("application/scim+json"));
    assert_true(scim_gate_media_type_ok("Application/JSON; charset=utf-8"));
    assert_false(scim_gate_media_type_ok("text/plain"));
    assert_false(scim_gate_media_type_ok("application/jsonx"));
    assert_false(scim_gate_media_type_ok("application/x-www-form-urlencoded"));

    char body[] = "{\"a\":1,\"a\":2}";
    http_request rq = {.method = "POST",
                       .path = "/scim/v2/Users",
                       .body = body,
                       .body_len = strlen(body),
                       .content_type = "application/scim+json"};
    json_t *j = NULL;
    assert_int_equal(scim_gate_body_json(&rq, 1000, &j, &e),
                     IDP_ERR_SCIM_INVALID_SYNTAX); /* duplicate */
    rq.content_type = "text/plain";
    assert_int_equal(scim_gate_body_json(&rq, 1000, &j, &e), IDP_ERR_HTTP_MEDIA_TYPE);
    rq.content_type = NULL;
    assert_int_equal(scim_gate_body_json(&rq, 4, &j, &e), IDP_ERR_TOO_LARGE);
    rq.body = NULL;
    rq.body_len = 0;
    assert_int_equal(scim_gate_body_json(&rq, 1000, &j, &e), IDP_ERR_SCIM_INVALID_SYNTAX);
    char ok[] = "{\"userName\":\"a\"}";
    rq.body = ok;
    rq.body_len = strlen(ok);
    assert_int_equal(scim_gate_body_json(&rq, 1000, &j, &e), IDP_OK);
    assert_string_equal(jsonx_str(j, "userName"), "a");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(list_defaults_and_clamps),
        cmocka_unit_test(list_rejections),
        cmocka_unit_test(list_filters),
        cmocka_unit_test(search_bodies),
        cmocka_unit_test(wants),
        cmocka_unit_test(etags_and_meta),
        cmocka_unit_test(preconditions),
        cmocka_unit_test(error_bodies),
        cmocka_unit_test(changed_lists),
        cmocka_unit_test(passwords),
        cmocka_unit_test(routes_and_media),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
