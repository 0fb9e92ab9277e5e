/* Unit tests for src/scim/project.c: attributes / excludedAttributes (RFC 7644 §3.9) and the
 * "returned" characteristic (RFC 7643 §2.4, §7). */
#include "testutil.h"

#include "core/err.h"
#include "scim/patch.h"

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

static json_t *full_user(void)
{
    return J("{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\",\"externalId\":\"e1\","
             "\"userName\":\"bjensen\",\"password\":\"never-out\","
             "\"name\":{\"givenName\":\"Barbara\",\"familyName\":\"Jensen\"},\"active\":true,"
             "\"emails\":[{\"value\":\"bj@example.com\",\"type\":\"work\",\"primary\":true},"
             "{\"value\":\"babs@home.example\",\"type\":\"home\"}],"
             "\"groups\":[{\"value\":\"g1\",\"display\":\"Tour\",\"type\":\"direct\"}],"
             "\"meta\":{\"resourceType\":\"User\",\"version\":\"W/\\\"3\\\"\"},"
             "\"" ENT "\":{\"department\":\"Tour\",\"manager\":{\"value\":\"m1\"}}}");
}

static json_t *proj(const scim_resource_type *rt, const json_t *full, const char *a, const char *x)
{
    json_t *out = NULL;
    idp_error e = {0};
    idp_err rc = scim_project(rt, full, a, x, &out, &e);
    if (rc) fprintf(stderr, "project: %s\n", e.msg);
    assert_int_equal(rc, IDP_OK);
    return out;
}

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = J(want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT);
        fprintf(stderr, "got  %s\nwant %s\n", g, want);
        free(g);
    }
    assert_true(json_equal(got, w));
    json_decref(w);
}

static void project_default(void **state)
{
    json_t *f = full_user(), *o = proj(&scim_rt_user, f, NULL, NULL);
    assert_null(json_object_get(o, "password")); /* returned: never */
    json_object_del(f, "password");
    assert_true(json_equal(o, f)); /* everything else */
    json_decref(o);
    o = proj(&scim_rt_user, f, "", " , ");
    assert_true(json_equal(o, f));
    json_decref(o);
    json_decref(f);
}

static void project_attributes(void **state)
{
    json_t *f = full_user(), *o = proj(&scim_rt_user, f, "userName", NULL);
    assert_json(o, "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\",\"userName\":\"bjensen\"}");
    json_decref(o);
    /* Sub-attributes, case-insensitive names, spaces; unknown names ignored. */
    o = proj(&scim_rt_user, f, "NAME.givenName, emails.value,nosuch,name.nosuch", NULL);
    assert_json(o, "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\","
                   "\"name\":{\"givenName\":\"Barbara\"},"
                   "\"emails\":[{\"value\":\"bj@example.com\"},{\"value\":\"babs@home.example\"}]}");
    json_decref(o);
    /* A whole extension by URN, or one of its attributes; password is never returned. */
    o = proj(&scim_rt_user, f, ENT ",password", NULL);
    assert_json(o, "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\","
                   "\"" ENT "\":{\"department\":\"Tour\",\"manager\":{\"value\":\"m1\"}}}");
    json_decref(o);
    o = proj(&scim_rt_user, f, ENT ":manager.value,meta.version", NULL);
    assert_json(o, "{\"schemas\":[\"" SCIM_URN_USER "\",\"" ENT "\"],\"id\":\"u1\","
                   "\"meta\":{\"version\":\"W/\\\"3\\\"\"},\"" ENT "\":{\"manager\":{\"value\":\"m1\"}}}");
    json_decref(o);
    /* attributes wins over excludedAttributes when both are given. */
    o = proj(&scim_rt_user, f, "userName", "userName");
    assert_string_equal(json_string_value(json_object_get(o, "userName")), "bjensen");
    json_decref(o);
    json_decref(f);
}

static void project_excluded(void **state)
{
    json_t *f = full_user(), *o = proj(&scim_rt_user, f, NULL, "emails,name.familyName,id,groups,"
                                                              ENT ":department,schemas");
    assert_null(json_object_get(o, "emails"));
    assert_null(json_object_get(o, "groups"));
    assert_json(json_object_get(o, "name"), "{\"givenName\":\"Barbara\"}");
    assert_string_equal(json_string_value(json_object_get(o, "id")), "u1"); /* returned: always */
    assert_non_null(json_object_get(o, "schemas"));
    assert_json(json_object_get(o, ENT), "{\"manager\":{\"value\":\"m1\"}}");
    assert_non_null(json_object_get(o, "meta"));
    assert_null(json_object_get(o, "password"));
    json_decref(o);
    /* Excluding everything of the extension drops it. */
    o = proj(&scim_rt_user, f, NULL, ENT);
    assert_null(json_object_get(o, ENT));
    json_decref(o);
    json_decref(f);
}

static void project_group(void **state)
{
    json_t *f = J("{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"id\":\"g1\",\"displayName\":\"Tour\","
                  "\"members\":[{\"value\":\"u1\",\"display\":\"bjensen\",\"type\":\"User\","
                  "\"$ref\":\"https://idp/scim/v2/Users/u1\"}]}");
    json_t *o = proj(&scim_rt_group, f, NULL, "members");
    assert_json(o, "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"id\":\"g1\",\"displayName\":\"Tour\"}");
    json_decref(o);
    o = proj(&scim_rt_group, f, "members.value", NULL);
    assert_json(o, "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"id\":\"g1\",\"members\":[{\"value\":\"u1\"}]}");
    json_decref(o);
    json_decref(f);
}

static void project_rejects(void **state)
{
    json_t *f = full_user(), *o = (json_t *)1;
    idp_error e = {0};
    const char *bad[] = {"emails[type eq \"work\"]", "name.", "a b", "emails[", "\"x\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(scim_project(&scim_rt_user, f, bad[i], NULL, &o, &e), IDP_ERR_SCIM_INVALID_PATH);
        assert_null(o);
        assert_int_equal(scim_project(&scim_rt_user, f, NULL, bad[i], &o, &e), IDP_ERR_SCIM_INVALID_PATH);
    }
    char *many = calloc(1, 5000);
    for (int i = 0; i < 300; i++) memcpy(many + 2 * i, "a,", 2); /* 300 names > the cap */
    assert_int_equal(scim_project(&scim_rt_user, f, many, NULL, &o, &e), IDP_ERR_SCIM_INVALID_PATH);
    memset(many, 'a', 4999);
    assert_int_equal(scim_project(&scim_rt_user, f, many, NULL, &o, &e), IDP_ERR_SCIM_INVALID_PATH);
    free(many);
    json_decref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(project_default), cmocka_unit_test(project_attributes),
        cmocka_unit_test(project_excluded), cmocka_unit_test(project_group),
        cmocka_unit_test(project_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
