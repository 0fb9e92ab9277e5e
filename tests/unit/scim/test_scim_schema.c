/* Unit tests for src/scim/schema.c: the RFC 7643 tables, scim_attr_find, scim_path_resolve and
 * the /Schemas and /ResourceTypes representations (RFC 7643 §6, §7). */
#include "testutil.h"

#include "scim/schema.h"

#include <stdlib.h>
#include <string.h>

static const scim_attr_def *attr(const scim_schema *s, const char *name)
{
    const scim_attr_def *a = scim_attr_find(s->attrs, s->nattrs, name);
    assert_non_null(a);
    return a;
}

static const scim_attr_def *sub(const scim_attr_def *a, const char *name)
{
    const scim_attr_def *s = scim_attr_find(a->subs, a->nsubs, name);
    assert_non_null(s);
    return s;
}

static void user_characteristics(void **state)
{
    const scim_attr_def *a = attr(&scim_schema_user, "userName");
    assert_true(a->required);
    assert_false(a->case_exact);
    assert_int_equal(a->uniqueness, SA_UNIQ_SERVER);
    assert_int_equal(a->mutability, SA_READ_WRITE);
    a = attr(&scim_schema_user, "password");
    assert_int_equal(a->mutability, SA_WRITE_ONLY);
    assert_int_equal(a->returned, SA_RET_NEVER);
    assert_int_equal(attr(&scim_schema_user, "active")->type, SA_BOOLEAN);
    assert_int_equal(attr(&scim_schema_user, "profileUrl")->type, SA_REFERENCE);
    a = attr(&scim_schema_user, "name");
    assert_int_equal(a->type, SA_COMPLEX);
    assert_false(a->multi_valued);
    assert_int_equal(a->nsubs, 6);
    sub(a, "honorificSuffix");
    const char *mv[] = {"emails", "phoneNumbers", "ims",   "photos",          "addresses",
                        "groups", "entitlements", "roles", "x509Certificates"};
    for (size_t i = 0; i < sizeof mv / sizeof mv[0]; i++) {
        a = attr(&scim_schema_user, mv[i]);
        assert_true(a->multi_valued);
        assert_int_equal(a->type, SA_COMPLEX);
        sub(a, "type");
    }
    a = attr(&scim_schema_user, "emails");
    assert_string_equal(sub(a, "type")->canonical_values[0], "work");
    assert_int_equal(sub(a, "primary")->type, SA_BOOLEAN);
    assert_string_equal(sub(attr(&scim_schema_user, "ims"), "type")->canonical_values[4], "msn");
    assert_int_equal(sub(attr(&scim_schema_user, "photos"), "value")->type, SA_REFERENCE);
    assert_int_equal(sub(attr(&scim_schema_user, "x509Certificates"), "value")->type, SA_BINARY);
    sub(attr(&scim_schema_user, "addresses"), "postalCode");
    sub(attr(&scim_schema_user, "addresses"), "primary");
    a = attr(&scim_schema_user, "groups");
    assert_int_equal(a->mutability, SA_READ_ONLY);
    assert_int_equal(sub(a, "$ref")->mutability, SA_READ_ONLY);
    assert_string_equal(sub(a, "$ref")->reference_types[1], "Group");
}

static void enterprise_group_common(void **state)
{
    assert_non_null(scim_attr_find(scim_schema_enterprise_user.attrs,
                                   scim_schema_enterprise_user.nattrs, "employeeNumber"));
    const scim_attr_def *m = attr(&scim_schema_enterprise_user, "manager");
    assert_int_equal(sub(m, "displayName")->mutability, SA_READ_ONLY);
    assert_int_equal(sub(m, "value")->mutability, SA_READ_WRITE);
    assert_true(attr(&scim_schema_group, "displayName")->required);
    m = attr(&scim_schema_group, "members");
    assert_true(m->multi_valued);
    assert_int_equal(sub(m, "value")->mutability, SA_IMMUTABLE);
    assert_int_equal(sub(m, "display")->mutability, SA_READ_ONLY);
    assert_string_equal(sub(m, "type")->canonical_values[0], "User");
    const scim_attr_def *id = attr(&scim_schema_common, "id");
    assert_true(id->case_exact);
    assert_int_equal(id->mutability, SA_READ_ONLY);
    assert_int_equal(id->returned, SA_RET_ALWAYS);
    assert_true(attr(&scim_schema_common, "externalId")->case_exact);
    const scim_attr_def *meta = attr(&scim_schema_common, "meta");
    assert_int_equal(meta->mutability, SA_READ_ONLY);
    assert_int_equal(sub(meta, "lastModified")->type, SA_DATETIME);
    sub(meta, "version");
    assert_ptr_equal(scim_rt_user.core, &scim_schema_user);
    assert_int_equal(scim_rt_user.nextensions, 1);
    assert_ptr_equal(scim_rt_group.core, &scim_schema_group);
    assert_int_equal(scim_rt_group.nextensions, 0);
}

static void attr_find_case_insensitive(void **state)
{
    assert_ptr_equal(scim_attr_find(scim_schema_user.attrs, scim_schema_user.nattrs, "USERNAME"),
                     scim_attr_find(scim_schema_user.attrs, scim_schema_user.nattrs, "userName"));
    assert_null(scim_attr_find(scim_schema_user.attrs, scim_schema_user.nattrs, "nope"));
    assert_null(scim_attr_find(scim_schema_user.attrs, scim_schema_user.nattrs, NULL));
    assert_null(scim_attr_find(NULL, 0, "userName"));
}

static idp_err resolve(const scim_resource_type *rt, const char *urn, const char *a, const char *s,
                       scim_resolved *r)
{
    scim_attr_path p = {.urn = (char *)urn, .attr = (char *)a, .sub = (char *)s};
    idp_error e = {0};
    idp_err rc = scim_path_resolve(rt, &p, r, &e);
    if (rc) assert_int_equal(e.code, rc);
    return rc;
}

static void path_resolve_ok(void **state)
{
    scim_resolved r;
    assert_int_equal(resolve(&scim_rt_user, NULL, "USERNAME", NULL, &r), IDP_OK);
    assert_ptr_equal(r.schema, &scim_schema_user);
    assert_string_equal(r.attr->name, "userName");
    assert_null(r.sub);
    assert_int_equal(resolve(&scim_rt_user, NULL, "name", "FAMILYNAME", &r), IDP_OK);
    assert_string_equal(r.sub->name, "familyName");
    assert_int_equal(
        resolve(&scim_rt_user, "URN:ietf:params:scim:schemas:core:2.0:user", "userName", NULL, &r),
        IDP_OK);
    assert_ptr_equal(r.schema, &scim_schema_user);
    assert_int_equal(resolve(&scim_rt_user, NULL, "id", NULL, &r), IDP_OK);
    assert_ptr_equal(r.schema, &scim_schema_common);
    assert_int_equal(resolve(&scim_rt_user, NULL, "meta", "lastModified", &r), IDP_OK);
    assert_string_equal(r.sub->name, "lastModified");
    assert_int_equal(resolve(&scim_rt_user, NULL, "schemas", NULL, &r), IDP_OK);
    assert_string_equal(r.attr->name, "schemas");
    /* Extension attributes: with their URN, or bare (looked up after common and core). */
    assert_int_equal(resolve(&scim_rt_user, SCIM_URN_ENTERPRISE, "manager", "value", &r), IDP_OK);
    assert_ptr_equal(r.schema, &scim_schema_enterprise_user);
    assert_int_equal(resolve(&scim_rt_user, NULL, "employeeNumber", NULL, &r), IDP_OK);
    assert_ptr_equal(r.schema, &scim_schema_enterprise_user);
    assert_int_equal(resolve(&scim_rt_user, NULL, "emails", "$REF", &r), IDP_ERR_SCIM_INVALID_PATH);
    assert_int_equal(resolve(&scim_rt_user, NULL, "groups", "$ref", &r), IDP_OK);
    assert_int_equal(resolve(&scim_rt_group, NULL, "members", "value", &r), IDP_OK);
    assert_ptr_equal(r.schema, &scim_schema_group);
    assert_int_equal(resolve(&scim_rt_group, NULL, "externalId", NULL, &r), IDP_OK);
}

static void path_resolve_rejects(void **state)
{
    scim_resolved r;
    assert_int_equal(resolve(&scim_rt_user, NULL, "nickname2", NULL, &r),
                     IDP_ERR_SCIM_INVALID_PATH);
    assert_null(r.attr);
    /* sub-attribute of a simple attribute */
    assert_int_equal(resolve(&scim_rt_user, NULL, "userName", "x", &r), IDP_ERR_SCIM_INVALID_PATH);
    assert_int_equal(resolve(&scim_rt_user, NULL, "name", "nope", &r), IDP_ERR_SCIM_INVALID_PATH);
    /* unknown schema URN; core attribute under the extension URN and vice versa */
    assert_int_equal(resolve(&scim_rt_user, "urn:example:nope", "userName", NULL, &r),
                     IDP_ERR_SCIM_INVALID_PATH);
    assert_int_equal(resolve(&scim_rt_user, SCIM_URN_ENTERPRISE, "userName", NULL, &r),
                     IDP_ERR_SCIM_INVALID_PATH);
    assert_int_equal(resolve(&scim_rt_user, SCIM_URN_USER, "employeeNumber", NULL, &r),
                     IDP_ERR_SCIM_INVALID_PATH);
    /* Group attributes are not User attributes, and Groups have no enterprise extension */
    assert_int_equal(resolve(&scim_rt_user, NULL, "members", NULL, &r), IDP_ERR_SCIM_INVALID_PATH);
    assert_int_equal(resolve(&scim_rt_group, NULL, "userName", NULL, &r),
                     IDP_ERR_SCIM_INVALID_PATH);
    assert_int_equal(resolve(&scim_rt_group, SCIM_URN_ENTERPRISE, "manager", NULL, &r),
                     IDP_ERR_SCIM_INVALID_PATH);
    assert_int_equal(resolve(&scim_rt_group, SCIM_URN_USER, "displayName", NULL, &r),
                     IDP_ERR_SCIM_INVALID_PATH);
    assert_int_equal(resolve(&scim_rt_user, NULL, NULL, NULL, &r), IDP_ERR_SCIM_INVALID_PATH);
}

static const char *const attr_keys[] = {"name",        "type",     "multiValued",
                                        "description", "required", "caseExact",
                                        "mutability",  "returned", "uniqueness"};

/* Every attribute has the RFC 7643 §7 characteristics; complex ones have subAttributes. */
static size_t check_attrs(const json_t *attrs, int depth)
{
    size_t count = 0, i;
    json_t *a;
    assert_true(json_is_array(attrs));
    json_array_foreach(attrs, i, a)
    {
        for (size_t k = 0; k < sizeof attr_keys / sizeof attr_keys[0]; k++)
            assert_non_null(json_object_get(a, attr_keys[k]));
        assert_true(json_is_boolean(json_object_get(a, "multiValued")));
        const char *type = json_string_value(json_object_get(a, "type"));
        json_t *subs = json_object_get(a, "subAttributes");
        if (strcmp(type, "complex") == 0) {
            assert_int_equal(depth, 0);
            count += check_attrs(subs, 1);
        } else {
            assert_null(subs);
        }
        if (strcmp(type, "reference") == 0)
            assert_true(json_is_array(json_object_get(a, "referenceTypes")));
        count++;
    }
    return count;
}

static json_t *find_by_name(const json_t *arr, const char *name)
{
    size_t i;
    json_t *a;
    json_array_foreach(arr, i, a) if (strcmp(json_string_value(json_object_get(a, "name")), name) ==
                                      0) return a;
    fail_msg("attribute %s not found", name);
    return NULL;
}

static void schema_json_shape(void **state)
{
    const scim_schema *all[] = {&scim_schema_user, &scim_schema_enterprise_user,
                                &scim_schema_group};
    for (size_t i = 0; i < 3; i++) {
        json_t *j = scim_schema_to_json(all[i], "https://idp.example.com/scim/v2");
        assert_string_equal(json_string_value(json_array_get(json_object_get(j, "schemas"), 0)),
                            "urn:ietf:params:scim:schemas:core:2.0:Schema");
        assert_string_equal(json_string_value(json_object_get(j, "id")), all[i]->urn);
        assert_non_null(json_string_value(json_object_get(j, "name")));
        assert_true(check_attrs(json_object_get(j, "attributes"), 0) >= all[i]->nattrs);
        json_t *meta = json_object_get(j, "meta");
        assert_string_equal(json_string_value(json_object_get(meta, "resourceType")), "Schema");
        char loc[256];
        snprintf(loc, sizeof loc, "https://idp.example.com/scim/v2/Schemas/%s", all[i]->urn);
        assert_string_equal(json_string_value(json_object_get(meta, "location")), loc);
        json_decref(j);
    }
    json_t *u = scim_schema_to_json(&scim_schema_user, NULL);
    json_t *attrs = json_object_get(u, "attributes");
    json_t *pw = find_by_name(attrs, "password");
    assert_string_equal(json_string_value(json_object_get(pw, "mutability")), "writeOnly");
    assert_string_equal(json_string_value(json_object_get(pw, "returned")), "never");
    json_t *un = find_by_name(attrs, "userName");
    assert_true(json_is_true(json_object_get(un, "required")));
    assert_string_equal(json_string_value(json_object_get(un, "uniqueness")), "server");
    json_t *emails = find_by_name(attrs, "emails");
    assert_true(json_is_true(json_object_get(emails, "multiValued")));
    json_t *et = find_by_name(json_object_get(emails, "subAttributes"), "type");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(et, "canonicalValues"), 1)), "home");
    assert_string_equal(json_string_value(json_object_get(json_object_get(u, "meta"), "location")),
                        "/Schemas/" SCIM_URN_USER);
    /* common attributes are not part of the User schema representation */
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a)
        assert_string_not_equal(json_string_value(json_object_get(a, "name")), "id");
    json_decref(u);
}

static void resource_type_json_shape(void **state)
{
    json_t *j = scim_resource_type_to_json(&scim_rt_user, "https://idp.example.com/scim/v2");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "schemas"), 0)),
                        "urn:ietf:params:scim:schemas:core:2.0:ResourceType");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "User");
    assert_string_equal(json_string_value(json_object_get(j, "name")), "User");
    assert_string_equal(json_string_value(json_object_get(j, "endpoint")), "/Users");
    assert_string_equal(json_string_value(json_object_get(j, "schema")), SCIM_URN_USER);
    json_t *ext = json_array_get(json_object_get(j, "schemaExtensions"), 0);
    assert_string_equal(json_string_value(json_object_get(ext, "schema")), SCIM_URN_ENTERPRISE);
    assert_true(json_is_false(json_object_get(ext, "required")));
    json_t *meta = json_object_get(j, "meta");
    assert_string_equal(json_string_value(json_object_get(meta, "resourceType")), "ResourceType");
    assert_string_equal(json_string_value(json_object_get(meta, "location")),
                        "https://idp.example.com/scim/v2/ResourceTypes/User");
    json_decref(j);
    j = scim_resource_type_to_json(&scim_rt_group, "https://x");
    assert_string_equal(json_string_value(json_object_get(j, "endpoint")), "/Groups");
    assert_int_equal(json_array_size(json_object_get(j, "schemaExtensions")), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "meta"), "location")),
                        "https://x/ResourceTypes/Group");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_characteristics),       cmocka_unit_test(enterprise_group_common),
        cmocka_unit_test(attr_find_case_insensitive), cmocka_unit_test(path_resolve_ok),
        cmocka_unit_test(path_resolve_rejects),       cmocka_unit_test(schema_json_shape),
        cmocka_unit_test(resource_type_json_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
