/* Unit tests for src/scim/plan.c: filters resolved against the User and Group schemas (where each
 * value lives, its type and case rule, the converted value), every rule the plan enforces, the
 * sortBy key, and the RFC 3339 date-time parser. */
#include "testutil.h"

#include "scim/filter.h"
#include "scim/plan.h"
#include "scim/schema.h"

#include <stdlib.h>
#include <string.h>

#define T0 1704067200000LL /* 2024-01-01T00:00:00Z */

/* Builds the plan of filter text for rt; returns the code, the plan in *out (NULL on error). */
static idp_err plan_of(const scim_resource_type *rt, const char *text, scim_plan **out)
{
    sf_node *f = NULL;
    idp_error e = {0};
    if (scim_filter_parse(text, strlen(text), &f, &e))
        fail_msg("did not parse: %s: %s", text, e.msg);
    idp_err rc = scim_plan_build(rt, f, out, &e);
    if (rc) {
        assert_null(*out);
        assert_int_equal(e.code, rc);
    }
    scim_filter_free(f); /* the plan must not borrow from the filter */
    return rc;
}

static scim_plan *ok(const scim_resource_type *rt, const char *text)
{
    scim_plan *p = NULL;
    idp_err rc = plan_of(rt, text, &p);
    if (rc) fail_msg("%s: %s", text, idp_err_name(rc));
    assert_ptr_equal(p->rt, rt);
    return p;
}

static void rows_and_values(void **state)
{
    (void)state;
    scim_plan *p = ok(&scim_rt_user, "USERNAME eq \"Bjensen\"");
    const scim_plan_node *n = p->root;
    assert_int_equal(n->kind, SCIM_PLAN_CMP);
    assert_int_equal(n->attr.loc, SCIM_LOC_USER_NAME);
    assert_int_equal(n->attr.set, SCIM_SET_NONE);
    assert_string_equal(n->attr.name, "userName"); /* canonical, not as written */
    assert_false(n->attr.case_exact);
    assert_int_equal(n->op, SF_EQ);
    assert_int_equal(n->value.kind, SCIM_PV_TEXT);
    assert_string_equal(n->value.s, "Bjensen");
    scim_plan_free(p);

    p = ok(&scim_rt_user, "active eq true and meta.created ge \"2024-01-01T01:00:00+01:00\"");
    n = p->root;
    assert_int_equal(n->kind, SCIM_PLAN_AND);
    assert_int_equal(n->left->attr.loc, SCIM_LOC_ACTIVE);
    assert_int_equal(n->left->value.kind, SCIM_PV_INT);
    assert_int_equal(n->left->value.i, 1);
    assert_int_equal(n->right->attr.loc, SCIM_LOC_CREATED);
    assert_int_equal(n->right->value.kind, SCIM_PV_INT);
    assert_int_equal(n->right->value.i, T0);
    scim_plan_free(p);

    p = ok(&scim_rt_user, "id eq \"u1\" or externalId eq null or meta.resourceType eq \"User\"");
    assert_int_equal(p->root->kind, SCIM_PLAN_OR);
    assert_int_equal(p->root->left->kind, SCIM_PLAN_OR);
    assert_int_equal(p->root->left->left->attr.loc, SCIM_LOC_ID);
    assert_true(p->root->left->left->attr.case_exact);
    assert_int_equal(p->root->left->right->attr.loc, SCIM_LOC_EXTERNAL_ID);
    assert_int_equal(p->root->left->right->value.kind, SCIM_PV_NULL);
    assert_int_equal(p->root->right->attr.loc, SCIM_LOC_RESOURCE_TYPE);
    assert_int_equal(p->root->right->attr.type, SA_STRING);
    scim_plan_free(p);

    p = ok(&scim_rt_group,
           "displayName sw \"Eng\" and not (meta.lastModified lt \"2024-01-01T00:00:00Z\")");
    assert_int_equal(p->root->left->attr.loc, SCIM_LOC_DISPLAY_NAME);
    assert_int_equal(p->root->right->kind, SCIM_PLAN_NOT);
    assert_int_equal(p->root->right->left->attr.loc, SCIM_LOC_MODIFIED);
    assert_int_equal(p->root->right->left->value.i, T0);
    scim_plan_free(p);
}

static void document_paths(void **state)
{
    (void)state;
    scim_plan *p = ok(&scim_rt_user, "name.FamilyName co \"Jen\"");
    const scim_plan_node *n = p->root;
    assert_int_equal(n->attr.loc, SCIM_LOC_DOC);
    assert_null(n->attr.urn);
    assert_string_equal(n->attr.name, "name");
    assert_string_equal(n->attr.sub, "familyName");
    assert_int_equal(n->op, SF_CO);
    scim_plan_free(p);

    /* an extension attribute lives under its URN; a complex one alone means its "value" */
    p = ok(&scim_rt_user, SCIM_URN_ENTERPRISE ":manager eq \"m1\"");
    n = p->root;
    assert_int_equal(n->attr.loc, SCIM_LOC_DOC);
    assert_string_equal(n->attr.urn, SCIM_URN_ENTERPRISE);
    assert_string_equal(n->attr.name, "manager");
    assert_string_equal(n->attr.sub, "value");
    scim_plan_free(p);

    p = ok(&scim_rt_user, "name pr"); /* the object is present */
    assert_int_equal(p->root->attr.loc, SCIM_LOC_DOC);
    assert_int_equal(p->root->attr.type, SA_COMPLEX);
    assert_null(p->root->attr.sub);
    assert_int_equal(p->root->value.kind, SCIM_PV_NONE);
    scim_plan_free(p);
}

static void multi_valued(void **state)
{
    (void)state;
    /* a comparison on the attribute itself: any element's "value" */
    scim_plan *p = ok(&scim_rt_user, "emails co \"example.com\"");
    const scim_plan_node *n = p->root;
    assert_int_equal(n->kind, SCIM_PLAN_CMP);
    assert_int_equal(n->attr.set, SCIM_SET_DOC);
    assert_int_equal(n->attr.loc, SCIM_LOC_ELEM_SUB);
    assert_string_equal(n->attr.name, "emails");
    assert_string_equal(n->attr.sub, "value");
    assert_true(n->attr.multi_valued);
    scim_plan_free(p);

    p = ok(&scim_rt_user, "emails pr and groups pr");
    assert_int_equal(p->root->left->attr.loc, SCIM_LOC_SET);
    assert_int_equal(p->root->left->attr.set, SCIM_SET_DOC);
    assert_int_equal(p->root->right->attr.loc, SCIM_LOC_SET);
    assert_int_equal(p->root->right->attr.set, SCIM_SET_GROUPS);
    scim_plan_free(p);

    p = ok(&scim_rt_user, "emails[type eq \"work\" and value ew \".org\"]");
    n = p->root;
    assert_int_equal(n->kind, SCIM_PLAN_ANY);
    assert_int_equal(n->attr.set, SCIM_SET_DOC);
    assert_string_equal(n->attr.name, "emails");
    assert_int_equal(n->left->kind, SCIM_PLAN_AND);
    assert_int_equal(n->left->left->attr.loc, SCIM_LOC_ELEM_SUB);
    assert_string_equal(n->left->left->attr.sub, "type");
    assert_string_equal(n->left->right->attr.sub, "value");
    assert_int_equal(n->left->right->op, SF_EW);
    scim_plan_free(p);

    /* memberships: the relation, not the document */
    p = ok(&scim_rt_group,
           "members[value eq \"u1\"] or members.display eq \"Alice\" or members.type eq \"User\"");
    n = p->root;
    assert_int_equal(n->left->left->kind, SCIM_PLAN_ANY);
    assert_int_equal(n->left->left->attr.set, SCIM_SET_MEMBERS);
    assert_int_equal(n->left->left->left->attr.loc, SCIM_LOC_REF_ID);
    assert_int_equal(n->left->right->attr.loc, SCIM_LOC_REF_DISPLAY);
    assert_false(n->left->right->attr.case_exact);
    assert_int_equal(n->right->attr.loc, SCIM_LOC_REF_TYPE);
    scim_plan_free(p);
}

static void rejections(void **state)
{
    (void)state;
    static const struct {
        const scim_resource_type *rt;
        const char *filter;
        idp_err code;
    } bad[] = {
        {&scim_rt_user, "shoeSize gt 3", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "password eq \"x\"", IDP_ERR_SCIM_INVALID_FILTER}, /* an oracle */
        {&scim_rt_user, "displayName eq \"x\" and members pr", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_group, "userName eq \"x\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "active gt true", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "active co \"t\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "active eq \"true\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "userName eq 12", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "title gt 3", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "userName gt null", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "meta.created gt \"yesterday\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "meta.created co \"2024\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "meta.location eq \"x\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "meta eq \"x\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "schemas eq \"" SCIM_URN_USER "\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "name eq \"x\"", IDP_ERR_SCIM_INVALID_FILTER}, /* no "value" */
        {&scim_rt_user, "emails[foo eq \"x\"]", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "emails[value.x eq \"x\"]", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "name[givenName eq \"x\"]", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "groups.$ref eq \"x\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "x509Certificates co \"x\"", IDP_ERR_SCIM_INVALID_FILTER},
        {&scim_rt_user, "urn:example:nope:userName eq \"x\"", IDP_ERR_SCIM_INVALID_FILTER},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        scim_plan *p = NULL;
        idp_err rc = plan_of(bad[i].rt, bad[i].filter, &p);
        if (rc != bad[i].code) fail_msg("%s: got %s", bad[i].filter, idp_err_name(rc));
    }
}

/* Trees the parser would not build: nested value filters, depth over the cap, other types. */
static void hand_built(void **state)
{
    (void)state;
    idp_error e = {0};
    scim_plan *p = NULL;
    sf_node inner = {.kind = SF_COMPARE,
                     .path = {.attr = "type"},
                     .op = SF_EQ,
                     .vtype = SF_V_STRING,
                     .str = "work"};
    sf_node vp = {.kind = SF_VALUEPATH, .path = {.attr = "emails"}, .left = &inner};
    sf_node nested = {.kind = SF_VALUEPATH, .path = {.attr = "emails"}, .left = &vp};
    assert_int_equal(scim_plan_build(&scim_rt_user, &nested, &p, &e), IDP_ERR_SCIM_INVALID_FILTER);
    assert_null(p);
    sf_node empty = {.kind = SF_VALUEPATH, .path = {.attr = "emails"}};
    assert_int_equal(scim_plan_build(&scim_rt_user, &empty, &p, &e), IDP_ERR_SCIM_INVALID_FILTER);
    sf_node cmp = {.kind = SF_COMPARE,
                   .path = {.attr = "userName"},
                   .op = SF_EQ,
                   .vtype = SF_V_STRING,
                   .str = "x"};
    sf_node chain[80];
    for (int i = 0; i < 80; i++)
        chain[i] = (sf_node){.kind = SF_NOT, .left = i < 79 ? &chain[i + 1] : &cmp};
    assert_int_equal(scim_plan_build(&scim_rt_user, &chain[0], &p, &e), IDP_ERR_SCIM_TOO_MANY);
    assert_null(p);
    assert_int_equal(scim_plan_build(&scim_rt_user, &chain[80 - SCIM_PLAN_MAX_DEPTH], &p, &e),
                     IDP_OK);
    scim_plan_free(p);
    assert_int_equal(scim_plan_build(&scim_rt_user, NULL, &p, &e), IDP_ERR_SCIM_INVALID_FILTER);
    assert_int_equal(scim_plan_build(&scim_rt_user, &cmp, &p, &e), IDP_OK);
    scim_plan_free(p);
    assert_int_equal(scim_plan_build(NULL, &cmp, &p, &e),
                     IDP_ERR_INTERNAL); /* not a resource type the plan knows */
    scim_plan_free(NULL);
}

static void sort_keys(void **state)
{
    (void)state;
    scim_plan_attr a;
    idp_error e = {0};
    assert_int_equal(scim_plan_sort_key(&scim_rt_user, "USERNAME", &a, &e), IDP_OK);
    assert_int_equal(a.loc, SCIM_LOC_USER_NAME);
    assert_int_equal(scim_plan_sort_key(&scim_rt_user, "meta.created", &a, &e), IDP_OK);
    assert_int_equal(a.loc, SCIM_LOC_CREATED);
    assert_int_equal(scim_plan_sort_key(&scim_rt_user, "name.familyName", &a, &e), IDP_OK);
    assert_int_equal(a.loc, SCIM_LOC_DOC);
    assert_string_equal(a.sub, "familyName");
    assert_int_equal(
        scim_plan_sort_key(&scim_rt_user, SCIM_URN_ENTERPRISE ":employeeNumber", &a, &e), IDP_OK);
    assert_string_equal(a.urn, SCIM_URN_ENTERPRISE);
    assert_int_equal(scim_plan_sort_key(&scim_rt_user, "emails", &a, &e), IDP_OK);
    assert_int_equal(a.set, SCIM_SET_DOC);
    assert_int_equal(a.loc, SCIM_LOC_ELEM_SUB);
    assert_string_equal(a.sub, "value");
    const char *bad[] = {"",
                         "nope",
                         "password",
                         "name",
                         "meta.location",
                         "groups.$ref",
                         "a.",
                         "urn:x:nope:userName"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (scim_plan_sort_key(&scim_rt_user, bad[i], &a, &e) != IDP_ERR_SCIM_INVALID_PATH)
            fail_msg("sortBy %s accepted", bad[i]);
}

static void parse_time(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_true(scim_plan_parse_time("2024-01-01T00:00:00Z", &ms));
    assert_int_equal(ms, T0);
    assert_true(scim_plan_parse_time("2024-01-01T00:00:00.5Z", &ms));
    assert_int_equal(ms, T0 + 500);
    assert_true(scim_plan_parse_time("2024-01-01T00:00:00.123456z", &ms));
    assert_int_equal(ms, T0 + 123);
    assert_true(scim_plan_parse_time("2024-01-01T02:00:00+02:00", &ms));
    assert_int_equal(ms, T0);
    assert_true(scim_plan_parse_time("2023-12-31T23:00:00-01:00", &ms));
    assert_int_equal(ms, T0);
    const char *bad[] = {"",
                         "2024-01-01",
                         "2024-01-01T00:00:00",
                         "2024-13-01T00:00:00Z",
                         "2024-02-30T00:00:00Z",
                         "2024-01-01T24:00:00Z",
                         "2024-01-01T00:00:00.Z",
                         "2024-01-01T00:00:00+0200",
                         "2024-01-01T00:00:00Zjunk",
                         "yesterday"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (scim_plan_parse_time(bad[i], &ms)) fail_msg("accepted %s", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_and_values), cmocka_unit_test(document_paths),
        cmocka_unit_test(multi_valued),    cmocka_unit_test(rejections),
        cmocka_unit_test(hand_built),      cmocka_unit_test(sort_keys),
        cmocka_unit_test(parse_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
