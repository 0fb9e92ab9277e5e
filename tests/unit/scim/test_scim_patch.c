/* Unit tests for src/scim/patch.c (normalisation, PATCH), patch_value.c, patch_members.c and
 * delta.c: RFC 7644 §3.5.2 examples, Microsoft Entra ID and Okta request shapes, every
 * rejection with its scimType, atomicity, and member deltas at scale. */
#include "testutil.h"

#include "core/err.h"
#include "core/timeutil.h"
#include "scim/patch.h"
#include "scim/patch_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENT SCIM_URN_ENTERPRISE

static json_t *J(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    if (!v) fprintf(stderr, "bad test JSON: %s: %s\n", je.text, s);
    assert_non_null(v);
    return v;
}

/* {"schemas":[PatchOp],"Operations":[ops]} */
static json_t *P(const char *ops)
{
    char *s = NULL;
    assert_true(asprintf(&s, "{\"schemas\":[\"%s\"],\"Operations\":[%s]}", SCIM_URN_PATCH, ops) > 0);
    json_t *v = J(s);
    free(s);
    return v;
}

static json_t *base_user(void)
{
    return J("{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"userName\":\"bjensen\","
             "\"name\":{\"givenName\":\"Barbara\",\"familyName\":\"Jensen\"},\"active\":true,"
             "\"emails\":[{\"value\":\"bj@example.com\",\"type\":\"work\",\"primary\":true},"
             "{\"value\":\"babs@home.example\",\"type\":\"home\"}],"
             "\"" ENT "\":{\"department\":\"Tour\",\"manager\":{\"value\":\"m1\"}}}");
}

static json_t *base_group(void)
{
    return J("{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"displayName\":\"Tour Guides\"}");
}

/* Applies ops to a copy of doc; returns the error code, *out the result (or unchanged doc). */
static idp_err patch(const scim_resource_type *rt, const json_t *doc, const char *ops, json_t **out,
                     scim_delta *d, idp_error *e)
{
    json_t *body = P(ops);
    *out = json_deep_copy(doc);
    idp_err rc = scim_patch_apply(rt, *out, body, d, e);
    json_decref(body);
    return rc;
}

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = J(want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        fprintf(stderr, "got  %s\nwant %s\n", g, want);
        free(g);
    }
    assert_true(json_equal(got, w));
    json_decref(w);
}

static void delta_basic(void **state)
{
    scim_delta d = {0};
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "u%d", i);
        scim_delta_add(&d, id);
        if (i % 2) scim_delta_remove(&d, id);
    }
    assert_int_equal(d.nadd, 100);
    assert_int_equal(d.nremove, 50);
    assert_string_equal(d.add[99], "u99");
    assert_string_equal(d.remove[0], "u1");
    scim_delta_clear(&d);
    assert_null(d.add);
    assert_int_equal(d.nadd, 0);
    scim_delta_clear(&d);
    scim_delta_clear(NULL);
}

static void datetime_rfc3339(void **state)
{
    const char *ok[] = {"2019-09-18T18:15:26.5788954+00:00", "2011-08-01T21:32:44.882Z",
                        "2011-08-01T21:32:44Z", "1985-04-12t23:20:50.52z", "1996-12-19T16:39:57-08:00"};
    const char *bad[] = {"2011-08-01", "2011-08-01 21:32:44Z", "2011-13-01T21:32:44Z",
                         "2011-08-01T25:32:44Z", "2011-08-01T21:32:44", "2011-08-01T21:32:44.Z",
                         "2011-08-01T21:32:44+0000", "2011-08-01T21:32:44Zjunk", ""};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) assert_true(patch_value_is_datetime(ok[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_false(patch_value_is_datetime(bad[i]));
}

/* Entra's POST (Microsoft's SCIM validator collection): capitalised "Primary", "Department",
 * "Manager": {"Value": ..}, meta sent by the client, nulls and empty arrays. */
static void normalize_entra_user(void **state)
{
    json_t *in = J("{\"userName\":\"UserName222\",\"active\":\"True\",\"displayName\":\"lennay\","
                   "\"schemas\":[\"" ENT "\",\"" SCIM_URN_USER "\"],\"externalId\":\"x-1\","
                   "\"id\":\"client-chosen\",\"meta\":{\"resourceType\":\"User\"},"
                   "\"name\":{\"formatted\":\"Adrew Ryan\",\"familyName\":\"Ryan\",\"givenName\":\"Andrew\","
                   "\"honorificPrefix\":null},"
                   "\"emails\":[{\"Primary\":true,\"type\":\"work\",\"value\":\"t@bob2.com\"},"
                   "{\"Primary\":false,\"type\":\"home\",\"value\":\"h@bob3.com\"}],\"roles\":[],"
                   "\"addresses\":[{\"country\":null,\"type\":\"other\",\"primary\":false}],"
                   "\"" ENT "\":{\"Department\":\"bob\",\"Manager\":{\"Value\":\"SuzzyQ\"}}}");
    json_t *out = NULL;
    scim_delta d = {0};
    idp_error e = {0};
    assert_int_equal(scim_resource_normalize(&scim_rt_user, in, &out, &d, &e), IDP_OK);
    assert_json(out, "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],"
                     "\"" ENT "\":{\"department\":\"bob\",\"manager\":{\"value\":\"SuzzyQ\"}},"
                     "\"userName\":\"UserName222\",\"active\":true,\"displayName\":\"lennay\","
                     "\"externalId\":\"x-1\",\"name\":{\"formatted\":\"Adrew Ryan\",\"familyName\":\"Ryan\","
                     "\"givenName\":\"Andrew\"},\"emails\":[{\"primary\":true,\"type\":\"work\","
                     "\"value\":\"t@bob2.com\"},{\"primary\":false,\"type\":\"home\",\"value\":\"h@bob3.com\"}],"
                     "\"addresses\":[{\"type\":\"other\",\"primary\":false}]}");
    assert_int_equal(d.nadd, 0); /* not a Group */
    assert_false(d.replace_all);
    json_decref(out);
    json_decref(in);
    /* The enterprise URN listed without data: schemas lists only the core. Misspelled and
     * unknown attributes ("Put a user misspelled attribute" expects 200) are ignored. */
    in = J("{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"USERNAME\":\"a\",\"adadfdresses\":[1],"
           "\"urn:example:custom\":{\"x\":1}}");
    assert_int_equal(scim_resource_normalize(&scim_rt_user, in, &out, NULL, &e), IDP_OK);
    assert_json(out, "{\"schemas\":[\"" SCIM_URN_USER "\"],\"userName\":\"a\"}");
    json_decref(out);
    json_decref(in);
}

/* Okta's documented create: groups (readOnly) sent empty, password kept for the caller. */
static void normalize_okta_user(void **state)
{
    json_t *in = J("{\"schemas\":[\"" SCIM_URN_USER "\"],\"userName\":\"isaac@example.com\","
                   "\"name\":{\"givenName\":\"Isaac\",\"familyName\":\"Brock\"},"
                   "\"emails\":[{\"primary\":true,\"value\":\"isaac@example.com\",\"type\":\"work\"}],"
                   "\"displayName\":\"Isaac Brock\",\"locale\":\"en-US\",\"externalId\":\"00u1\","
                   "\"groups\":[],\"password\":\"1mz050nq\",\"active\":true}");
    json_t *out = NULL;
    assert_int_equal(scim_resource_normalize(&scim_rt_user, in, &out, NULL, NULL), IDP_OK);
    assert_null(json_object_get(out, "groups"));
    assert_string_equal(json_string_value(json_object_get(out, "password")), "1mz050nq");
    assert_string_equal(json_string_value(json_object_get(out, "locale")), "en-US");
    assert_true(json_is_true(json_object_get(out, "active")));
    json_decref(out);
    json_decref(in);
}

static void expect_norm(const scim_resource_type *rt, const char *body, idp_err want)
{
    json_t *in = J(body), *out = (json_t *)1;
    idp_error e = {0};
    scim_delta d = {0};
    idp_err rc = scim_resource_normalize(rt, in, &out, &d, &e);
    if (rc != want) fprintf(stderr, "body %s: got %d (%s) want %d\n", body, rc, e.msg, want);
    assert_int_equal(rc, want);
    assert_null(out);
    assert_int_equal(d.nadd, 0);
    assert_non_null(idp_err_scim_type(want));
    json_decref(in);
}

#define U "\"schemas\":[\"" SCIM_URN_USER "\"],"
static void normalize_rejects(void **state)
{
    const scim_resource_type *u = &scim_rt_user;
    expect_norm(u, "[]", IDP_ERR_SCIM_INVALID_SYNTAX);
    expect_norm(u, "{\"userName\":\"a\"}", IDP_ERR_SCIM_INVALID_SYNTAX);
    expect_norm(u, "{\"schemas\":\"" SCIM_URN_USER "\",\"userName\":\"a\"}", IDP_ERR_SCIM_INVALID_SYNTAX);
    expect_norm(u, "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"userName\":\"a\"}", IDP_ERR_SCIM_INVALID_SYNTAX);
    expect_norm(u, "{" U "\"displayName\":\"no userName\"}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":null}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":7}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":[\"a\"]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":\"a\",\"active\":\"yes\"}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":\"a\",\"active\":1}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":\"a\",\"emails\":{\"value\":\"x\"}}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":\"a\",\"emails\":[[\"x\"]]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":\"a\",\"emails\":[{\"value\":\"x\",\"primary\":true},"
                   "{\"value\":\"y\",\"primary\":\"True\"}]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":\"a\",\"name\":[{\"givenName\":\"x\"}]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":\"a\",\"name\":{\"givenName\":{\"x\":1}}}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":\"a\",\"UserName\":\"b\"}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{" U "\"userName\":\"a\",\"name\":{\"givenName\":\"x\",\"GIVENNAME\":\"y\"}}",
                IDP_ERR_SCIM_INVALID_VALUE);
    /* Extension data needs its URN in schemas (RFC 7643 §3) and must be an object. */
    expect_norm(u, "{" U "\"userName\":\"a\",\"" ENT "\":{\"department\":\"x\"}}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"userName\":\"a\",\"" ENT "\":\"x\"}",
                IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(u, "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"userName\":\"a\",\"" ENT
                   "\":{\"manager\":[\"x\"]}}", IDP_ERR_SCIM_INVALID_VALUE);
    /* Group: displayName required; members are User ids (strings). */
    expect_norm(&scim_rt_group, "{\"schemas\":[\"" SCIM_URN_GROUP "\"]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(&scim_rt_group, "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"displayName\":\"g\","
                                "\"members\":[{\"value\":5}]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(&scim_rt_group, "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"displayName\":\"g\","
                                "\"members\":[{\"value\":\"g2\",\"type\":\"Group\"}]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_norm(&scim_rt_group, "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"displayName\":\"g\","
                                "\"members\":[{\"display\":\"no value\",\"type\":\"User\"}]}", IDP_ERR_SCIM_INVALID_VALUE);
}

static void normalize_booleans_and_group(void **state)
{
    const char *t[] = {"\"False\"", "\"false\"", "\"FALSE\"", "false"};
    for (int i = 0; i < 4; i++) {
        char *s = NULL;
        assert_true(asprintf(&s, "{" U "\"userName\":\"a\",\"active\":%s}", t[i]) > 0);
        json_t *in = J(s), *out = NULL;
        assert_int_equal(scim_resource_normalize(&scim_rt_user, in, &out, NULL, NULL), IDP_OK);
        assert_true(json_is_false(json_object_get(out, "active")));
        json_decref(in);
        json_decref(out);
        free(s);
    }
    /* Group members become a replace-all delta (duplicates folded); display is readOnly. */
    json_t *in = J("{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"id\":\"g\",\"displayName\":\"putName\","
                   "\"members\":[{\"value\":\"id3\",\"display\":\"VP\"},{\"value\":\"id4\",\"display\":\"SenorVP\"},"
                   "{\"value\":\"id3\"}]}");
    json_t *out = NULL;
    scim_delta d = {0};
    assert_int_equal(scim_resource_normalize(&scim_rt_group, in, &out, &d, NULL), IDP_OK);
    assert_json(out, "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"displayName\":\"putName\"}");
    assert_true(d.replace_all);
    assert_int_equal(d.nadd, 2);
    assert_string_equal(d.add[0], "id3");
    assert_string_equal(d.add[1], "id4");
    assert_int_equal(d.nremove, 0);
    scim_delta_clear(&d);
    json_decref(out);
    json_decref(in);
    /* Without members (or "members":[]), PUT still means "no members". */
    in = J("{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"displayName\":\"g\",\"members\":[]}");
    assert_int_equal(scim_resource_normalize(&scim_rt_group, in, &out, &d, NULL), IDP_OK);
    assert_true(d.replace_all);
    assert_int_equal(d.nadd, 0);
    json_decref(out);
    json_decref(in);
}

/* RFC 7644 §3.5.2.1-3 examples (adapted to idpd's schema). */
static void patch_rfc_examples(void **state)
{
    json_t *u = base_user(), *out = NULL;
    idp_error e = {0};
    /* §3.5.2.1: add without path merges attributes; emails append. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"add\",\"value\":{\"emails\":[{\"value\":\"babs@jensen.org\","
                                         "\"type\":\"home\"}],\"nickname\":\"Babs\"}}", &out, NULL, &e), IDP_OK);
    assert_int_equal(json_array_size(json_object_get(out, "emails")), 3);
    assert_string_equal(json_string_value(json_object_get(out, "nickName")), "Babs");
    json_decref(out);
    /* Adding an existing value again does not duplicate it. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"value\":\"bj@example.com\","
                                         "\"type\":\"work\",\"primary\":true}]}", &out, NULL, &e), IDP_OK);
    assert_int_equal(json_array_size(json_object_get(out, "emails")), 2);
    json_decref(out);
    /* §3.5.2.2: remove a value by filter; remove a whole attribute; sub-attribute of matches. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"remove\",\"path\":\"emails[type eq \\\"work\\\" and "
                                         "value ew \\\"example.com\\\"]\"}", &out, NULL, &e), IDP_OK);
    assert_json(json_object_get(out, "emails"), "[{\"value\":\"babs@home.example\",\"type\":\"home\"}]");
    json_decref(out);
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"remove\",\"path\":\"emails\"}", &out, NULL, &e), IDP_OK);
    assert_null(json_object_get(out, "emails"));
    json_decref(out);
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"remove\",\"path\":\"emails[type eq \\\"home\\\"].type\"}",
                           &out, NULL, &e), IDP_OK);
    assert_json(json_array_get(json_object_get(out, "emails"), 1), "{\"value\":\"babs@home.example\"}");
    json_decref(out);
    /* remove with a filter that matches nothing is a no-op (idempotent retries). */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"remove\",\"path\":\"emails[type eq \\\"other\\\"]\"}",
                           &out, NULL, &e), IDP_OK);
    assert_true(json_equal(out, u));
    json_decref(out);
    /* §3.5.2.3: replace a singular complex attribute keeps unspecified sub-attributes. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"replace\",\"path\":\"name\",\"value\":{\"familyName\":\"Doe\"}}",
                           &out, NULL, &e), IDP_OK);
    assert_json(json_object_get(out, "name"), "{\"givenName\":\"Barbara\",\"familyName\":\"Doe\"}");
    json_decref(out);
    /* replace a multi-valued attribute replaces all values; replace sub of matching elements. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"replace\",\"path\":\"emails\",\"value\":[{\"value\":\"n@x\"}]}",
                           &out, NULL, &e), IDP_OK);
    assert_json(json_object_get(out, "emails"), "[{\"value\":\"n@x\"}]");
    json_decref(out);
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"replace\",\"path\":\"emails[type eq \\\"WORK\\\"].value\","
                                         "\"value\":\"new@example.com\"}", &out, NULL, &e), IDP_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(out, "emails"), 0), "value")),
                        "new@example.com");
    json_decref(out);
    /* replace of matched elements without sub-attribute replaces the elements. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"replace\",\"path\":\"emails[type eq \\\"home\\\"]\","
                                         "\"value\":{\"value\":\"h2@x\",\"type\":\"other\"}}", &out, NULL, &e), IDP_OK);
    assert_json(json_array_get(json_object_get(out, "emails"), 1), "{\"value\":\"h2@x\",\"type\":\"other\"}");
    json_decref(out);
    /* replace without path sets singular attributes (Okta deactivation). */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"replace\",\"value\":{\"active\":false,\"id\":\"ignored\","
                                         "\"meta\":{\"version\":\"x\"},\"unknownAttr\":1}}", &out, NULL, &e), IDP_OK);
    assert_true(json_is_false(json_object_get(out, "active")));
    assert_null(json_object_get(out, "id"));
    assert_null(json_object_get(out, "unknownAttr"));
    json_decref(out);
    json_decref(u);
}

/* Shapes sent by Microsoft Entra ID. */
static void patch_entra_shapes(void **state)
{
    json_t *u = base_user(), *out = NULL;
    idp_error e = {0};
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"}",
                           &out, NULL, &e), IDP_OK);
    assert_true(json_is_false(json_object_get(out, "active")));
    json_decref(out);
    /* No-path value with dotted and URN-qualified keys; manager as a bare id. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"Add\",\"value\":{\"name.givenName\":\"Babs\","
                                         "\"displayName\":\"Babs J\",\"emails[type eq \\\"work\\\"].value\":\"w@x\","
                                         "\"" ENT ":manager\":\"boss-2\",\"" ENT ":employeeNumber\":\"42\"}}",
                           &out, NULL, &e), IDP_OK);
    assert_json(json_object_get(out, "name"), "{\"givenName\":\"Babs\",\"familyName\":\"Jensen\"}");
    assert_json(json_object_get(out, ENT), "{\"department\":\"Tour\",\"manager\":{\"value\":\"boss-2\"},"
                                          "\"employeeNumber\":\"42\"}");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(out, "emails"), 0), "value")),
                        "w@x");
    json_decref(out);
    /* Path-qualified manager with a bare id; remove of the manager. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"replace\",\"path\":\"" ENT ":manager\",\"value\":\"b3\"}",
                           &out, NULL, &e), IDP_OK);
    assert_json(json_object_get(json_object_get(out, ENT), "manager"), "{\"value\":\"b3\"}");
    json_decref(out);
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"Remove\",\"path\":\"" ENT ":manager\","
                                         "\"value\":[{\"value\":null}]}", &out, NULL, &e), IDP_OK);
    assert_json(json_object_get(out, ENT), "{\"department\":\"Tour\"}");
    json_decref(out);
    /* Removing the last extension attribute drops the extension from schemas. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"remove\",\"path\":\"" ENT ":manager\"},"
                                         "{\"op\":\"remove\",\"path\":\"" ENT ":department\"}", &out, NULL, &e), IDP_OK);
    assert_null(json_object_get(out, ENT));
    assert_json(json_object_get(out, "schemas"), "[\"" SCIM_URN_USER "\"]");
    json_decref(out);
    /* Entra adds a typed value that does not exist yet: created from the eq filter. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"Add\",\"path\":\"phoneNumbers[type eq \\\"mobile\\\"].value\","
                                         "\"value\":\"+1 555\"},{\"op\":\"replace\",\"path\":"
                                         "\"addresses[type eq \\\"work\\\"].locality\",\"value\":\"Redmond\"}",
                           &out, NULL, &e), IDP_OK);
    assert_json(json_object_get(out, "phoneNumbers"), "[{\"type\":\"mobile\",\"value\":\"+1 555\"}]");
    assert_json(json_object_get(out, "addresses"), "[{\"type\":\"work\",\"locality\":\"Redmond\"}]");
    json_decref(out);
    /* A no-path value object with the extension as an object. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"replace\",\"value\":{\"" ENT "\":{\"Department\":\"Ops\"}}}",
                           &out, NULL, &e), IDP_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, ENT), "department")), "Ops");
    json_decref(out);
    json_decref(u);
}

/* Setting primary true on one value clears it on the others (RFC 7644 §3.5.2). */
static void patch_primary(void **state)
{
    json_t *u = base_user(), *out = NULL;
    idp_error e = {0};
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"value\":\"p@x\","
                                         "\"primary\":true}]}", &out, NULL, &e), IDP_OK);
    json_t *em = json_object_get(out, "emails");
    assert_int_equal(patch_value_count_primary(em), 1);
    assert_true(json_is_true(json_object_get(json_array_get(em, 2), "primary")));
    assert_true(json_is_false(json_object_get(json_array_get(em, 0), "primary")));
    json_decref(out);
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"replace\",\"path\":\"emails[type eq \\\"home\\\"].primary\","
                                         "\"value\":\"True\"}", &out, NULL, &e), IDP_OK);
    em = json_object_get(out, "emails");
    assert_int_equal(patch_value_count_primary(em), 1);
    assert_true(json_is_true(json_object_get(json_array_get(em, 1), "primary")));
    json_decref(out);
    /* Two primaries in one operation's value. */
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"value\":\"a@x\","
                                         "\"primary\":true},{\"value\":\"b@x\",\"primary\":true}]}", &out, NULL, &e),
                     IDP_ERR_SCIM_INVALID_VALUE);
    assert_true(json_equal(out, u));
    json_decref(out);
    json_decref(u);
}

static void expect_patch(const scim_resource_type *rt, const char *ops, idp_err want)
{
    json_t *doc = rt == &scim_rt_user ? base_user() : base_group(), *out = NULL;
    idp_error e = {0};
    scim_delta d = {0};
    idp_err rc = patch(rt, doc, ops, &out, &d, &e);
    bool named = strstr(e.msg, "Operations[0]: ") || strstr(e.msg, "is required");
    if (rc != want || !named)
        fprintf(stderr, "ops %s: got %d (%s) want %d\n", ops, rc, e.msg, want);
    assert_int_equal(rc, want);
    assert_true(json_equal(out, doc)); /* unchanged */
    assert_int_equal(d.nadd + d.nremove, 0);
    assert_false(d.replace_all);
    assert_true(named); /* names the failing operation (or the missing attribute) */
    json_decref(out);
    json_decref(doc);
}

static void patch_body_rejects(void **state)
{
    json_t *u = base_user();
    const char *bodies[] = {
        "[]", "{\"Operations\":[{\"op\":\"add\",\"path\":\"title\",\"value\":\"x\"}]}",
        "{\"schemas\":[\"" SCIM_URN_USER "\"],\"Operations\":[{\"op\":\"add\",\"path\":\"title\",\"value\":\"x\"}]}",
        "{\"schemas\":[\"" SCIM_URN_PATCH "\"]}", "{\"schemas\":[\"" SCIM_URN_PATCH "\"],\"Operations\":[]}",
        "{\"schemas\":[\"" SCIM_URN_PATCH "\"],\"Operations\":{}}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        json_t *b = J(bodies[i]), *doc = json_deep_copy(u);
        assert_int_equal(scim_patch_apply(&scim_rt_user, doc, b, NULL, NULL), IDP_ERR_SCIM_INVALID_SYNTAX);
        assert_true(json_equal(doc, u));
        json_decref(b);
        json_decref(doc);
    }
    /* More than 1000 operations. */
    json_t *ops = json_array();
    for (int i = 0; i < 1001; i++)
        json_array_append_new(ops, json_pack("{ssssss}", "op", "replace", "path", "title", "value", "t"));
    json_t *b = json_pack("{s[s]so}", "schemas", SCIM_URN_PATCH, "Operations", ops), *doc = json_deep_copy(u);
    assert_int_equal(scim_patch_apply(&scim_rt_user, doc, b, NULL, NULL), IDP_ERR_SCIM_INVALID_SYNTAX);
    json_array_remove(ops, 0);
    assert_int_equal(scim_patch_apply(&scim_rt_user, doc, b, NULL, NULL), IDP_OK);
    assert_string_equal(json_string_value(json_object_get(doc, "title")), "t");
    json_decref(b);
    json_decref(doc);
    json_decref(u);
}

static void patch_op_rejects(void **state)
{
    const scim_resource_type *u = &scim_rt_user, *g = &scim_rt_group;
    /* invalidSyntax */
    expect_patch(u, "\"add\"", IDP_ERR_SCIM_INVALID_SYNTAX);
    expect_patch(u, "{\"op\":\"move\",\"path\":\"title\",\"value\":\"x\"}", IDP_ERR_SCIM_INVALID_SYNTAX);
    expect_patch(u, "{\"path\":\"title\",\"value\":\"x\"}", IDP_ERR_SCIM_INVALID_SYNTAX);
    expect_patch(u, "{\"op\":\"add\",\"path\":\"title\"}", IDP_ERR_SCIM_INVALID_SYNTAX);
    expect_patch(u, "{\"op\":\"replace\"}", IDP_ERR_SCIM_INVALID_SYNTAX);
    /* invalidPath */
    expect_patch(u, "{\"op\":\"add\",\"path\":\"nosuch\",\"value\":\"x\"}", IDP_ERR_SCIM_INVALID_PATH);
    expect_patch(u, "{\"op\":\"add\",\"path\":\"name.nosuch\",\"value\":\"x\"}", IDP_ERR_SCIM_INVALID_PATH);
    expect_patch(u, "{\"op\":\"add\",\"path\":\"emails[type eq \",\"value\":\"x\"}", IDP_ERR_SCIM_INVALID_PATH);
    expect_patch(u, "{\"op\":\"add\",\"path\":\"name[givenName eq \\\"x\\\"]\",\"value\":\"x\"}", IDP_ERR_SCIM_INVALID_PATH);
    expect_patch(u, "{\"op\":\"add\",\"path\":\"emails[type eq \\\"work\\\"].nosuch\",\"value\":\"x\"}",
                 IDP_ERR_SCIM_INVALID_PATH);
    expect_patch(u, "{\"op\":\"add\",\"path\":\"urn:example:nosuch:title\",\"value\":\"x\"}", IDP_ERR_SCIM_INVALID_PATH);
    expect_patch(u, "{\"op\":\"add\",\"path\":17,\"value\":\"x\"}", IDP_ERR_SCIM_INVALID_PATH);
    /* noTarget: remove without path (RFC 7644 §3.5.2.2); replace whose filter matches nothing
     * and cannot describe a new value. */
    expect_patch(u, "{\"op\":\"remove\"}", IDP_ERR_SCIM_NO_TARGET);
    expect_patch(u, "{\"op\":\"Remove\",\"value\":{\"title\":\"x\"}}", IDP_ERR_SCIM_NO_TARGET);
    expect_patch(u, "{\"op\":\"replace\",\"path\":\"emails[type ne \\\"work\\\" and type ne \\\"home\\\"].value\","
                    "\"value\":\"x\"}", IDP_ERR_SCIM_NO_TARGET);
    /* mutability: readOnly (id, meta, groups, schemas) and immutable member values. */
    expect_patch(u, "{\"op\":\"replace\",\"path\":\"id\",\"value\":\"x\"}", IDP_ERR_SCIM_MUTABILITY);
    expect_patch(u, "{\"op\":\"remove\",\"path\":\"meta\"}", IDP_ERR_SCIM_MUTABILITY);
    expect_patch(u, "{\"op\":\"replace\",\"path\":\"meta.version\",\"value\":\"x\"}", IDP_ERR_SCIM_MUTABILITY);
    expect_patch(u, "{\"op\":\"add\",\"path\":\"groups\",\"value\":[{\"value\":\"g\"}]}", IDP_ERR_SCIM_MUTABILITY);
    expect_patch(u, "{\"op\":\"replace\",\"path\":\"schemas\",\"value\":[\"x\"]}", IDP_ERR_SCIM_MUTABILITY);
    expect_patch(g, "{\"op\":\"replace\",\"path\":\"members[value eq \\\"a\\\"].value\",\"value\":\"b\"}",
                 IDP_ERR_SCIM_MUTABILITY);
    expect_patch(g, "{\"op\":\"replace\",\"path\":\"members.value\",\"value\":\"b\"}", IDP_ERR_SCIM_MUTABILITY);
    /* invalidValue: types, required attributes, primary. */
    expect_patch(u, "{\"op\":\"replace\",\"path\":\"active\",\"value\":\"maybe\"}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(u, "{\"op\":\"replace\",\"path\":\"userName\",\"value\":[\"x\"]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(u, "{\"op\":\"replace\",\"path\":\"userName\",\"value\":null}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(u, "{\"op\":\"remove\",\"path\":\"userName\"}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(u, "{\"op\":\"replace\",\"value\":{\"userName\":null}}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(u, "{\"op\":\"add\",\"path\":\"name\",\"value\":\"x\"}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(u, "{\"op\":\"add\",\"path\":\"emails\",\"value\":[{\"value\":7}]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(u, "{\"op\":\"add\",\"value\":\"not an object\"}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(u, "{\"op\":\"add\",\"value\":{\"" ENT "\":\"x\"}}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(g, "{\"op\":\"remove\",\"path\":\"displayName\"}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(g, "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":1}]}", IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(g, "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"g\",\"type\":\"Group\"}]}",
                 IDP_ERR_SCIM_INVALID_VALUE);
    expect_patch(g, "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"\"}]}", IDP_ERR_SCIM_INVALID_VALUE);
    /* invalidFilter: member filters other than value eq, and filters on add. */
    expect_patch(g, "{\"op\":\"remove\",\"path\":\"members[display eq \\\"x\\\"]\"}", IDP_ERR_SCIM_INVALID_FILTER);
    expect_patch(g, "{\"op\":\"remove\",\"path\":\"members[value co \\\"x\\\"]\"}", IDP_ERR_SCIM_INVALID_FILTER);
    expect_patch(g, "{\"op\":\"add\",\"path\":\"members[value eq \\\"x\\\"]\",\"value\":{\"value\":\"x\"}}",
                 IDP_ERR_SCIM_INVALID_FILTER);
}

/* All or nothing: a failing third operation leaves the document and the delta untouched. */
static void patch_atomic(void **state)
{
    json_t *u = base_user(), *out = NULL;
    idp_error e = {0};
    assert_int_equal(patch(&scim_rt_user, u, "{\"op\":\"replace\",\"path\":\"title\",\"value\":\"Boss\"},"
                                         "{\"op\":\"remove\",\"path\":\"emails\"},"
                                         "{\"op\":\"replace\",\"path\":\"id\",\"value\":\"x\"}", &out, NULL, &e),
                     IDP_ERR_SCIM_MUTABILITY);
    assert_true(json_equal(out, u));
    assert_non_null(strstr(e.msg, "Operations[2]"));
    json_decref(out);
    json_t *g = base_group();
    scim_delta d = {0};
    assert_int_equal(patch(&scim_rt_group, g, "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"a\"}]},"
                                          "{\"op\":\"replace\",\"path\":\"displayName\",\"value\":\"New\"},"
                                          "{\"op\":\"add\",\"path\":\"nosuch\",\"value\":1}", &out, &d, &e),
                     IDP_ERR_SCIM_INVALID_PATH);
    assert_true(json_equal(out, g));
    assert_int_equal(d.nadd, 0);
    json_decref(out);
    json_decref(g);
    json_decref(u);
}

static void assert_ids(char **ids, size_t n, const char *const *want, size_t nwant)
{
    assert_int_equal(n, nwant);
    for (size_t i = 0; i < n; i++) assert_string_equal(ids[i], want[i]);
}

/* Group membership through PATCH: the shapes of Entra's and Okta's provisioning. */
static void patch_members_shapes(void **state)
{
    json_t *g = base_group(), *out = NULL;
    scim_delta d = {0};
    idp_error e = {0};
    /* Entra add (with an extra "displayName" and the op "name" member, as in Microsoft's
     * validator collection), then Entra/RFC remove by filter. */
    assert_int_equal(patch(&scim_rt_group, g, "{\"name\":\"addMember\",\"op\":\"add\",\"path\":\"members\","
                                          "\"value\":[{\"displayName\":\"new User\",\"value\":\"u4\"},{\"value\":\"u5\"}]},"
                                          "{\"op\":\"remove\",\"path\":\"members[value eq \\\"u9\\\" or value eq \\\"u8\\\"]\"}",
                           &out, &d, &e), IDP_OK);
    assert_true(json_equal(out, g)); /* members never enter the document */
    assert_false(d.replace_all);
    assert_ids(d.add, d.nadd, (const char *[]){"u4", "u5"}, 2);
    assert_ids(d.remove, d.nremove, (const char *[]){"u9", "u8"}, 2);
    scim_delta_clear(&d);
    json_decref(out);
    /* Entra's remove with path "members" and a value list; add then remove cancels out. */
    assert_int_equal(patch(&scim_rt_group, g, "{\"op\":\"Add\",\"path\":\"members\",\"value\":[{\"value\":\"a\"},{\"value\":\"b\"}]},"
                                          "{\"op\":\"Remove\",\"path\":\"members\",\"value\":[{\"value\":\"a\"},{\"value\":\"c\"}]},"
                                          "{\"op\":\"add\",\"path\":\"members\",\"value\":\"c\"}",
                           &out, &d, &e), IDP_OK);
    assert_ids(d.add, d.nadd, (const char *[]){"b", "c"}, 2);
    assert_ids(d.remove, d.nremove, (const char *[]){"a"}, 1);
    scim_delta_clear(&d);
    json_decref(out);
    /* replace members = replace-all + adds; remove members without filter = replace-all. */
    assert_int_equal(patch(&scim_rt_group, g, "{\"op\":\"remove\",\"path\":\"members[value eq \\\"x\\\"]\"},"
                                          "{\"op\":\"replace\",\"path\":\"members\",\"value\":[{\"value\":\"r1\"}]},"
                                          "{\"op\":\"remove\",\"path\":\"members[value eq \\\"r1\\\"]\"},"
                                          "{\"op\":\"add\",\"value\":{\"members\":[{\"value\":\"r2\"}],\"displayName\":\"G2\"}}",
                           &out, &d, &e), IDP_OK);
    assert_true(d.replace_all);
    assert_ids(d.add, d.nadd, (const char *[]){"r2"}, 1);
    assert_int_equal(d.nremove, 0);
    assert_string_equal(json_string_value(json_object_get(out, "displayName")), "G2");
    scim_delta_clear(&d);
    json_decref(out);
    assert_int_equal(patch(&scim_rt_group, g, "{\"op\":\"add\",\"path\":\"members\",\"value\":[{\"value\":\"z\"}]},"
                                          "{\"op\":\"remove\",\"path\":\"members\"}", &out, &d, &e), IDP_OK);
    assert_true(d.replace_all);
    assert_int_equal(d.nadd + d.nremove, 0);
    scim_delta_clear(&d);
    json_decref(out);
    /* Okta: replace without path carrying members (and an id it echoes back). */
    assert_int_equal(patch(&scim_rt_group, g, "{\"op\":\"replace\",\"value\":{\"id\":\"g1\",\"displayName\":\"Ops\","
                                          "\"members\":[{\"value\":\"o1\",\"display\":\"o1@example.com\"}]}}",
                           &out, &d, &e), IDP_OK);
    assert_true(d.replace_all);
    assert_ids(d.add, d.nadd, (const char *[]){"o1"}, 1);
    assert_null(json_object_get(out, "id"));
    scim_delta_clear(&d);
    json_decref(out);
    json_decref(g);
}

/* 10,000 member adds in one PATCH (one operation), then 10,000 removes over 1,000 operations:
 * linear, and fast even in the sanitised debug build. */
static void patch_members_bulk(void **state)
{
    json_t *g = base_group(), *vals = json_array();
    char id[48];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "2819c223-7f76-453a-919d-%012d", i);
        json_array_append_new(vals, json_pack("{ss}", "value", id));
    }
    json_t *body = json_pack("{s[s]s[{sssssO}]}", "schemas", SCIM_URN_PATCH, "Operations", "op", "add",
                             "path", "members", "value", vals);
    /* Speed is measured by bench/scim_bench.mjs, not asserted here (no timed unit tests). */
    scim_delta d = {0};
    assert_int_equal(scim_patch_apply(&scim_rt_group, g, body, &d, NULL), IDP_OK);
    assert_int_equal(d.nadd, 10000);
    assert_string_equal(d.add[9999], id);
    scim_delta_clear(&d);
    json_decref(body);
    json_t *ops = json_array();
    for (int i = 0; i < 1000; i++) {
        json_t *v = json_array();
        for (int j = 0; j < 10; j++) json_array_append(v, json_array_get(vals, (size_t)(i * 10 + j)));
        json_array_append_new(ops, json_pack("{sssssO}", "op", "remove", "path", "members", "value", v));
        json_decref(v);
    }
    body = json_pack("{s[s]so}", "schemas", SCIM_URN_PATCH, "Operations", ops);
    assert_int_equal(scim_patch_apply(&scim_rt_group, g, body, &d, NULL), IDP_OK);
    assert_int_equal(d.nremove, 10000);
    assert_int_equal(d.nadd, 0);
    scim_delta_clear(&d);
    json_decref(body);
    json_decref(vals);
    json_decref(g);
}

/* Every POST/PUT/PATCH body of Microsoft's published SCIM validator collection: those it
 * expects to succeed (2xx, or 409 which is the store's uniqueness) normalise/apply here; those
 * it expects to fail with 400 fail here too. */
static void collection_walk(const json_t *items, int *ok, int *rejected)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (json_object_get(it, "item")) {
            collection_walk(json_object_get(it, "item"), ok, rejected);
            continue;
        }
        json_t *req = json_object_get(it, "request");
        const char *method = json_string_value(json_object_get(req, "method"));
        const char *raw = json_string_value(json_object_get(json_object_get(req, "body"), "raw"));
        const char *url = json_string_value(json_object_get(json_object_get(req, "url"), "raw"));
        if (!method || !raw || !url || !strcmp(method, "GET") || !strcmp(method, "DELETE")) continue;
        char *tests = json_dumps(json_object_get(it, "event"), JSON_ENCODE_ANY);
        bool want_fail = tests && strstr(tests, "status(400)");
        free(tests);
        const scim_resource_type *rt = strstr(url, "/Groups") ? &scim_rt_group : &scim_rt_user;
        json_t *body = json_loads(raw, 0, NULL), *out = NULL;
        idp_err rc = IDP_ERR_JSON;
        scim_delta d = {0};
        if (body && !strcmp(method, "PATCH")) {
            out = rt == &scim_rt_group ? base_group() : base_user();
            rc = scim_patch_apply(rt, out, body, &d, NULL);
        } else if (body) {
            rc = scim_resource_normalize(rt, body, &out, &d, NULL);
        }
        if ((rc != IDP_OK) != want_fail) fprintf(stderr, "collection item: %s %s\n", method, url);
        assert_int_equal(rc != IDP_OK, want_fail);
        *(want_fail ? rejected : ok) += 1;
        scim_delta_clear(&d);
        json_decref(out);
        json_decref(body);
    }
}

static void ms_collection(void **state)
{
    json_t *c = tu_load_vector_json("ms-scim/PostmanCollection.json");
    int ok = 0, rejected = 0;
    collection_walk(json_object_get(c, "item"), &ok, &rejected);
    assert_true(ok >= 25);
    assert_true(rejected >= 3);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(delta_basic),          cmocka_unit_test(datetime_rfc3339),
        cmocka_unit_test(normalize_entra_user), cmocka_unit_test(normalize_okta_user),
        cmocka_unit_test(normalize_rejects),    cmocka_unit_test(normalize_booleans_and_group),
        cmocka_unit_test(patch_rfc_examples),   cmocka_unit_test(patch_entra_shapes),
        cmocka_unit_test(patch_primary),        cmocka_unit_test(patch_body_rejects),
        cmocka_unit_test(patch_op_rejects),     cmocka_unit_test(patch_atomic),
        cmocka_unit_test(patch_members_shapes), cmocka_unit_test(patch_members_bulk),
        cmocka_unit_test(ms_collection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
