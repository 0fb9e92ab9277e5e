/* Unit tests for src/scim/filter.c: the RFC 7644 §3.4.2.2 filter grammar (every example of the
 * RFC), PATCH paths (§3.5.2), every rejection rule, and in-memory evaluation. */
#include "testutil.h"

#include "core/buf.h"
#include "scim/filter.h"
#include "scim/schema.h"

#include <stdlib.h>
#include <string.h>

/* ---- AST rendering: (and L R) (or L R) (not X) (vp path X) (op path value) ---- */

static void put_path(idp_buf *b, const scim_attr_path *p)
{
    if (p->urn) buf_printf(b, "%s:", p->urn);
    buf_puts(b, p->attr);
    if (p->sub) buf_printf(b, ".%s", p->sub);
}

static void render(idp_buf *b, const sf_node *f)
{
    static const char *const opn[] = {"eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le"};
    switch (f->kind) {
    case SF_AND:
    case SF_OR:
        buf_puts(b, f->kind == SF_AND ? "(and " : "(or ");
        render(b, f->left);
        buf_putc(b, ' ');
        render(b, f->right);
        buf_putc(b, ')');
        return;
    case SF_NOT:
        buf_puts(b, "(not ");
        render(b, f->left);
        buf_putc(b, ')');
        return;
    case SF_VALUEPATH:
        buf_puts(b, "(vp ");
        put_path(b, &f->path);
        buf_putc(b, ' ');
        render(b, f->left);
        buf_putc(b, ')');
        return;
    case SF_COMPARE:
        buf_printf(b, "(%s ", opn[f->op]);
        put_path(b, &f->path);
        switch (f->vtype) {
        case SF_V_STRING:
            buf_printf(b, " \"%s\"", f->str);
            break;
        case SF_V_NUMBER:
            buf_printf(b, " %s", f->str);
            break;
        case SF_V_TRUE:
            buf_puts(b, " true");
            break;
        case SF_V_FALSE:
            buf_puts(b, " false");
            break;
        case SF_V_NULL:
            buf_puts(b, " null");
            break;
        case SF_V_NONE:
            break;
        }
        buf_putc(b, ')');
        return;
    }
}

/* Parses s and compares the rendering with want. */
static void check_ast(const char *s, const char *want)
{
    sf_node *f = NULL;
    idp_error e = {0};
    idp_err rc = scim_filter_parse(s, strlen(s), &f, &e);
    if (rc != IDP_OK) fail_msg("filter <%s> rejected: %s", s, e.msg);
    idp_buf b;
    buf_init(&b, 0);
    render(&b, f);
    if (strcmp(buf_cstr(&b), want) != 0)
        fail_msg("filter <%s>\n got  %s\n want %s", s, buf_cstr(&b), want);
    buf_free(&b);
    scim_filter_free(f);
}

/* The filter is rejected with IDP_ERR_INVALID and a message containing want. */
static void check_reject(const char *s, size_t n, const char *want)
{
    sf_node *f = (sf_node *)1;
    idp_error e = {0};
    idp_err rc = scim_filter_parse(s, n, &f, &e);
    if (rc == IDP_OK) fail_msg("filter <%.*s> accepted", (int)n, s);
    assert_int_equal(rc, IDP_ERR_INVALID);
    assert_int_equal(e.code, IDP_ERR_INVALID);
    assert_null(f);
    if (!strstr(e.msg, want))
        fail_msg("filter <%.*s>: message '%s' lacks '%s'", (int)n, s, e.msg, want);
}

#define REJECT(s, want) check_reject((s), strlen(s), (want))

/* ---- parsing ---- */

static void rfc7644_examples(void **state)
{
    check_ast("userName eq \"bjensen\"", "(eq userName \"bjensen\")");
    check_ast("name.familyName co \"O'Malley\"", "(co name.familyName \"O'Malley\")");
    check_ast("userName sw \"J\"", "(sw userName \"J\")");
    check_ast("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
              "(sw urn:ietf:params:scim:schemas:core:2.0:User:userName \"J\")");
    check_ast("title pr", "(pr title)");
    check_ast("meta.lastModified gt \"2011-05-13T04:42:34Z\"",
              "(gt meta.lastModified \"2011-05-13T04:42:34Z\")");
    check_ast("meta.lastModified ge \"2011-05-13T04:42:34Z\"",
              "(ge meta.lastModified \"2011-05-13T04:42:34Z\")");
    check_ast("meta.lastModified lt \"2011-05-13T04:42:34Z\"",
              "(lt meta.lastModified \"2011-05-13T04:42:34Z\")");
    check_ast("meta.lastModified le \"2011-05-13T04:42:34Z\"",
              "(le meta.lastModified \"2011-05-13T04:42:34Z\")");
    check_ast("title pr and userType eq \"Employee\"",
              "(and (pr title) (eq userType \"Employee\"))");
    check_ast("title pr or userType eq \"Intern\"", "(or (pr title) (eq userType \"Intern\"))");
    check_ast("schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
              "(eq schemas \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\")");
    check_ast("userType eq \"Employee\" and (emails co \"example.com\" or emails.value co "
              "\"example.org\")",
              "(and (eq userType \"Employee\") (or (co emails \"example.com\") (co emails.value "
              "\"example.org\")))");
    check_ast("userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co "
              "\"example.org\")",
              "(and (ne userType \"Employee\") (not (or (co emails \"example.com\") (co "
              "emails.value \"example.org\"))))");
    check_ast("userType eq \"Employee\" and (emails.type eq \"work\")",
              "(and (eq userType \"Employee\") (eq emails.type \"work\"))");
    check_ast("userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
              "(and (eq userType \"Employee\") (vp emails (and (eq type \"work\") (co value "
              "\"@example.com\"))))");
    check_ast("emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and "
              "value co \"@foo.com\"]",
              "(or (vp emails (and (eq type \"work\") (co value \"@example.com\"))) "
              "(vp ims (and (eq type \"xmpp\") (co value \"@foo.com\"))))");
}

static void precedence_and_grouping(void **state)
{
    /* and binds tighter than or; chains are left-associative */
    check_ast("a pr or b pr and c pr", "(or (pr a) (and (pr b) (pr c)))");
    check_ast("a pr and b pr or c pr", "(or (and (pr a) (pr b)) (pr c))");
    check_ast("a pr or b pr or c pr", "(or (or (pr a) (pr b)) (pr c))");
    check_ast("(a pr or b pr) and c pr", "(and (or (pr a) (pr b)) (pr c))");
    check_ast("not(a pr)", "(not (pr a))");
    check_ast("not (a pr) and not ( b pr )", "(and (not (pr a)) (not (pr b)))");
    check_ast("((a pr))", "(pr a)");
    check_ast("  a pr  ", "(pr a)");
    check_ast("a\tpr\tand\tb eq 1", "(and (pr a) (eq b 1))");
    /* an attribute may be called "not", "and" or "or" */
    check_ast("not pr", "(pr not)");
    check_ast("and pr and or pr", "(and (pr and) (pr or))");
    /* valFilter with not and grouping */
    check_ast("emails[not (type eq \"work\") and (value co \"x\" or primary eq true)]",
              "(vp emails (and (not (eq type \"work\")) (or (co value \"x\") (eq primary true))))");
}

static void keywords_case_insensitive(void **state)
{
    check_ast("userName EQ \"x\"", "(eq userName \"x\")");
    check_ast("userName Eq \"x\"", "(eq userName \"x\")");
    check_ast("title PR AND userType Ne \"a\" OR NOT (x Sw \"b\")",
              "(or (and (pr title) (ne userType \"a\")) (not (sw x \"b\")))");
    check_ast("a GT 1 and a GE 1 and a LT 1 and a LE 1 and a CO \"\" and a EW \"\"",
              "(and (and (and (and (and (gt a 1) (ge a 1)) (lt a 1)) (le a 1)) (co a \"\")) (ew a "
              "\"\"))");
}

static void values(void **state)
{
    check_ast("a eq \"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\"", "(eq a \"q\"b\\s/\b\f\n\r\t\")");
    check_ast("a eq \"\\u00e9\\u20AC\\ud83d\\ude00\"",
              "(eq a \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\")");
    check_ast("a eq \"caf\xc3\xa9\"", "(eq a \"caf\xc3\xa9\")");
    check_ast("a eq true or a eq false or a eq null",
              "(or (or (eq a true) (eq a false)) (eq a null))");
    check_ast("a eq 0 and a gt -12.5e+3 and a lt 1E2",
              "(and (and (eq a 0) (gt a -12.5e+3)) (lt a 1E2))");
    sf_node *f = NULL;
    assert_int_equal(scim_filter_parse("a gt -12.5e+3", 13, &f, NULL), IDP_OK);
    assert_int_equal(f->vtype, SF_V_NUMBER);
    assert_true(f->num == -12500.0);
    scim_filter_free(f);
    /* length-bounded: the text after n is ignored */
    assert_int_equal(scim_filter_parse("a pr garbage", 4, &f, NULL), IDP_OK);
    assert_int_equal(f->op, SF_PR);
    scim_filter_free(f);
}

static void entra_forms(void **state)
{
    check_ast("userName eq \"test@contoso.com\"", "(eq userName \"test@contoso.com\")");
    check_ast("externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"",
              "(eq externalId \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\")");
    check_ast("displayName eq \"Group1\"", "(eq displayName \"Group1\")");
    check_ast(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m1\"",
        "(eq urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value \"m1\")");
    check_ast("members[value eq \"id\"]", "(vp members (eq value \"id\"))");
    check_ast("groups.$ref pr", "(pr groups.$ref)");
}

static void rejections(void **state)
{
    REJECT("", "empty filter");
    REJECT("   ", "empty filter");
    REJECT("userName eq \"abc", "unterminated string starting at offset 12");
    REJECT("userName eq \"abc\\", "unterminated string");
    REJECT("userName eq \"a\\qb\"", "bad escape in string at offset 14");
    REJECT("userName eq \"\\u12\"", "bad \\u escape");
    REJECT("userName eq \"\\ud800\"", "lone surrogate");
    REJECT("userName eq \"\\udc00\"", "lone surrogate");
    REJECT("userName eq \"\\u0000\"", "\\u0000");
    REJECT("userName eq \"a\tb\"", "control character");
    REJECT("userName xx \"a\"", "unknown operator at offset 9");
    REJECT("userName equals \"a\"", "unknown operator");
    REJECT("userName", "expected an operator");
    REJECT("userName eq", "missing comparison value");
    REJECT("userName eq ", "missing comparison value");
    REJECT("(userName eq )", "missing comparison value");
    REJECT("userName eq\"a\"", "expected a space after the operator");
    REJECT("userName pr \"a\"", "unexpected value after 'pr'");
    REJECT("userName pr true", "unexpected value after 'pr'");
    REJECT("userName eq \"a\" garbage", "unexpected text at offset 16");
    REJECT("userName eq \"a\"and b pr", "unexpected text");
    REJECT("a pr and", "missing expression after 'and' at offset 8");
    REJECT("a pr or ", "expected an attribute name at offset 8 (end of input)");
    REJECT("a pr and(b pr)", "expected a space after 'and'");
    REJECT("(a pr", "missing ')' for '(' at offset 0");
    REJECT("a pr)", "unbalanced ')' at offset 4");
    REJECT("a pr]", "unbalanced ']'");
    REJECT("()", "expected an attribute name");
    REJECT("not (a pr", "missing ')'");
    REJECT("emails[type eq \"work\"", "missing ']' for '[' at offset 6");
    REJECT("emails[type eq \"work\"].value eq \"x\"", "unexpected text");
    REJECT("emails[value[type eq \"w\"]]", "nested value path");
    REJECT("emails.type[value pr]", "value filter after a sub-attribute");
    /* Unquoted values (seen in Microsoft's SCIM Postman collection) are not JSON literals. */
    REJECT("userName eq bjensen", "quote strings");
    REJECT("active eq True", "quote strings");
    REJECT("a eq 01", "malformed number");
    REJECT("a eq 1.", "malformed number");
    REJECT("a eq -", "malformed number");
    REJECT("a eq 1e", "malformed number");
    REJECT("a eq 12abc", "malformed number");
    REJECT("a eq 1e999", "number out of range");
    REJECT("1abc pr", "invalid attribute name");
    REJECT("a-b.c.d pr", "invalid sub-attribute name");
    REJECT("$foo pr", "invalid attribute name");
    REJECT("a:b pr", "invalid attribute name");
    REJECT("urn:x pr", "malformed schema URN");
    REJECT("urn:ietf:params:scim:schemas:core:2.0:User: pr", "malformed schema URN");
    REJECT("\"a\" eq \"a\"", "expected an attribute name");
    check_reject("a eq \"\xff\"", 8, "invalid UTF-8");
    check_reject("a eq \"\xc0\xaf\"", 9, "invalid UTF-8");
    check_reject("a eq \"\xed\xa0\x80\"", 10, "invalid UTF-8");
    check_reject("a pr\0", 5, "invalid UTF-8 or NUL");
    sf_node *f = (sf_node *)1;
    assert_int_equal(scim_filter_parse(NULL, 0, &f, NULL), IDP_ERR_INVALID); /* err NULL is fine */
    assert_null(f);
}

static void caps(void **state)
{
    idp_buf b;
    buf_init(&b, 0);
    /* too long */
    buf_puts(&b, "a eq \"");
    while (b.len < SCIM_FILTER_MAX_LEN)
        buf_putc(&b, 'x');
    buf_putc(&b, '"');
    check_reject(b.data, b.len, "longer than 4096");
    /* too deep: 17 parentheses; 16 are fine */
    for (int depth = SCIM_FILTER_MAX_DEPTH; depth <= SCIM_FILTER_MAX_DEPTH + 1; depth++) {
        buf_reset(&b);
        for (int i = 0; i < depth; i++)
            buf_putc(&b, '(');
        buf_puts(&b, "a pr");
        for (int i = 0; i < depth; i++)
            buf_putc(&b, ')');
        sf_node *f = NULL;
        idp_error e = {0};
        idp_err rc = scim_filter_parse(b.data, b.len, &f, &e);
        if (depth <= SCIM_FILTER_MAX_DEPTH) {
            assert_int_equal(rc, IDP_OK);
            scim_filter_free(f);
        } else {
            assert_int_equal(rc, IDP_ERR_INVALID);
            assert_non_null(strstr(e.msg, "nested deeper than 16"));
        }
    }
    buf_reset(&b);
    for (int i = 0; i < 17; i++)
        buf_puts(&b, "not (");
    buf_puts(&b, "a pr");
    for (int i = 0; i < 17; i++)
        buf_putc(&b, ')');
    check_reject(b.data, b.len, "nested deeper");
    /* too many nodes: 129 "a pr" joined by 128 "or" = 257 nodes; 128 + 127 = 255 are fine */
    for (int terms = 128; terms <= 129; terms++) {
        buf_reset(&b);
        for (int i = 0; i < terms; i++)
            buf_puts(&b, i ? " or a pr" : "a pr");
        sf_node *f = NULL;
        idp_err rc = scim_filter_parse(b.data, b.len, &f, NULL);
        assert_int_equal(rc, terms == 128 ? IDP_OK : IDP_ERR_INVALID);
        scim_filter_free(f);
    }
    check_reject(b.data, b.len, "more than 256 nodes");
    buf_free(&b);
}

/* ---- PATCH paths ---- */

static void patch_paths(void **state)
{
    scim_patch_path pp;
    idp_error e = {0};
    assert_int_equal(scim_patch_path_parse("name.givenName", 14, &pp, &e), IDP_OK);
    assert_null(pp.path.urn);
    assert_string_equal(pp.path.attr, "name");
    assert_string_equal(pp.path.sub, "givenName");
    assert_null(pp.value_filter);
    scim_patch_path_clear(&pp);

    const char *s = "emails[type eq \"work\"].value";
    assert_int_equal(scim_patch_path_parse(s, strlen(s), &pp, &e), IDP_OK);
    assert_string_equal(pp.path.attr, "emails");
    assert_null(pp.path.sub);
    assert_non_null(pp.value_filter);
    assert_int_equal(pp.value_filter->kind, SF_COMPARE);
    assert_string_equal(pp.value_filter->path.attr, "type");
    assert_string_equal(pp.value_filter->str, "work");
    assert_string_equal(pp.value_sub, "value");
    scim_patch_path_clear(&pp);
    assert_null(pp.value_sub);
    scim_patch_path_clear(&pp); /* twice is fine */

    s = "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]";
    assert_int_equal(scim_patch_path_parse(s, strlen(s), &pp, &e), IDP_OK);
    assert_string_equal(pp.path.attr, "members");
    assert_string_equal(pp.value_filter->str, "2819c223-7f76-453a-919d-413861904646");
    assert_null(pp.value_sub);
    scim_patch_path_clear(&pp);

    s = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    assert_int_equal(scim_patch_path_parse(s, strlen(s), &pp, &e), IDP_OK);
    assert_string_equal(pp.path.urn, SCIM_URN_ENTERPRISE);
    assert_string_equal(pp.path.attr, "manager");
    scim_patch_path_clear(&pp);

    s = "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\" and primary eq "
        "true].$ref";
    assert_int_equal(scim_patch_path_parse(s, strlen(s), &pp, &e), IDP_OK);
    assert_string_equal(pp.path.urn, SCIM_URN_USER);
    assert_int_equal(pp.value_filter->kind, SF_AND);
    assert_string_equal(pp.value_sub, "$ref");
    scim_patch_path_clear(&pp);
}

static void patch_path_reject(const char *s, const char *want)
{
    scim_patch_path pp;
    memset(&pp, 0x5a, sizeof pp);
    idp_error e = {0};
    if (scim_patch_path_parse(s, strlen(s), &pp, &e) == IDP_OK) fail_msg("path <%s> accepted", s);
    assert_int_equal(e.code, IDP_ERR_INVALID);
    assert_null(pp.path.attr);
    assert_null(pp.value_filter);
    assert_null(pp.value_sub);
    if (!strstr(e.msg, want)) fail_msg("path <%s>: message '%s' lacks '%s'", s, e.msg, want);
}

static void patch_path_rejections(void **state)
{
    patch_path_reject("", "empty path");
    patch_path_reject(" name", "expected an attribute name");
    patch_path_reject("name ", "unexpected text in path at offset 4");
    patch_path_reject("name.givenName.x", "invalid sub-attribute name");
    patch_path_reject("emails[type eq \"work\"", "missing ']'");
    patch_path_reject("emails[type eq \"work\"].", "invalid sub-attribute name");
    patch_path_reject("emails[type eq \"work\"].value.x", "invalid sub-attribute name");
    patch_path_reject("emails[type eq \"work\"]x", "unexpected text in path");
    patch_path_reject("emails[type eq work]", "quote strings");
    patch_path_reject("emails[]", "expected an attribute name");
    patch_path_reject("emails[a[b pr]]", "nested value path");
    patch_path_reject("name.givenName[value pr]", "value filter after a sub-attribute");
    patch_path_reject("1emails", "invalid attribute name");
}

/* ---- evaluation ---- */

static json_t *user_doc(void)
{
    json_error_t je;
    json_t *u = json_loads(
        "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","
        "  \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
        " \"id\":\"2819c223\",\"externalId\":\"Ext-1\",\"userName\":\"bjensen@example.com\","
        " \"name\":{\"familyName\":\"O'Malley\",\"givenName\":\"Barbara\"},"
        " \"title\":\"Tour Guide\",\"userType\":\"Employee\",\"active\":true,\"nickName\":\"\","
        " \"locale\":null,\"loginCount\":42,"
        " \"emails\":[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":true},"
        "             {\"value\":\"babs@jensen.org\",\"type\":\"home\"}],"
        " \"ims\":[{\"value\":\"babs@foo.com\",\"type\":\"xmpp\"}],"
        " \"roles\":[],"
        " \"meta\":{\"lastModified\":\"2011-05-13T04:42:34Z\",\"created\":\"2010-01-23T04:56:22.5+"
        "02:00\"},"
        " \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
        "   {\"employeeNumber\":\"701984\",\"manager\":{\"value\":\"26118915\"}}}",
        0, &je);
    assert_non_null(u);
    return u;
}

static bool exact_ids(const scim_attr_path *p, void *ctx)
{
    (void)ctx;
    return strcmp(p->attr, "id") == 0 || strcmp(p->attr, "externalId") == 0;
}

static bool m(const json_t *doc, const char *s)
{
    sf_node *f = NULL;
    idp_error e = {0};
    if (scim_filter_parse(s, strlen(s), &f, &e) != IDP_OK)
        fail_msg("filter <%s> rejected: %s", s, e.msg);
    bool r = scim_filter_match(f, doc, exact_ids, NULL);
    scim_filter_free(f);
    return r;
}

static void match_rfc_examples(void **state)
{
    json_t *u = user_doc();
    assert_true(m(u, "userName eq \"BJENSEN@example.com\""));
    assert_false(m(u, "userName eq \"bjensen\""));
    assert_true(m(u, "name.familyName co \"o'malley\""));
    assert_true(m(u, "userName sw \"BJ\""));
    assert_true(m(u, "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"bj\""));
    assert_true(m(u, "title pr"));
    assert_true(m(u, "meta.lastModified gt \"2011-05-13T04:42:33Z\""));
    assert_false(m(u, "meta.lastModified gt \"2011-05-13T04:42:34Z\""));
    assert_true(m(u, "meta.lastModified ge \"2011-05-13T04:42:34Z\""));
    assert_true(m(u, "title pr and userType eq \"Employee\""));
    assert_true(m(u, "title pr or userType eq \"Intern\""));
    assert_true(m(u, "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\""));
    assert_true(m(u, "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co "
                     "\"example.org\")"));
    assert_false(m(u, "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value "
                      "co \"example.org\")"));
    assert_true(m(u, "userType eq \"Employee\" and (emails.type eq \"work\")"));
    assert_true(m(
        u, "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]"));
    /* both conditions must hold on the same element */
    assert_false(m(u, "emails[type eq \"home\" and value co \"@example.com\"]"));
    assert_true(m(u, "emails.type eq \"home\" and emails.value co \"@example.com\""));
    assert_true(m(u, "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq "
                     "\"xmpp\" and value co \"@foo.com\"]"));
    assert_true(m(u, "ims[type eq \"xmpp\" and value co \"@foo.com\"]"));
    json_decref(u);
}

static void match_semantics(void **state)
{
    json_t *u = user_doc();
    /* attribute names are case-insensitive; extension attributes by URN */
    assert_true(m(u, "USERNAME ew \".COM\""));
    assert_true(m(
        u,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\""));
    assert_true(
        m(u, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"26118915\""));
    assert_false(m(u, "urn:example:other:employeeNumber eq \"701984\""));
    /* case_exact callback: id and externalId compare exactly */
    assert_true(m(u, "externalId eq \"Ext-1\""));
    assert_false(m(u, "externalId eq \"ext-1\""));
    assert_true(m(u, "externalId ne \"ext-1\""));
    assert_false(m(u, "externalId co \"EXT\""));
    assert_false(m(u, "id sw \"2819C\""));
    /* booleans and numbers */
    assert_true(m(u, "active eq true"));
    assert_false(m(u, "active eq false"));
    assert_true(m(u, "active ne false"));
    assert_false(m(u, "active gt false"));
    assert_false(m(u, "active eq \"true\""));
    assert_true(
        m(u, "loginCount eq 42 and loginCount ge 42.0 and loginCount lt 1e2 and loginCount gt -1"));
    assert_false(m(u, "loginCount gt 42"));
    assert_false(m(u, "loginCount co 4"));
    assert_true(m(u, "emails[primary eq true and type eq \"work\"]"));
    /* strings order lexicographically (case-insensitively); dateTimes chronologically */
    assert_true(m(u, "title gt \"tour\" and title lt \"TOUR GUIDES\""));
    assert_true(
        m(u,
          "meta.created lt \"2010-01-23T02:56:23Z\" and meta.created gt \"2010-01-23T02:56:22Z\""));
    assert_true(m(u, "meta.lastModified lt \"2011-05-13T06:42:35+02:00\""));
    assert_false(m(u, "meta.lastModified lt \"2011-05-13T06:42:34+02:00\""));
    /* pr: present and non-empty (RFC 7644 §3.4.2.2) */
    assert_false(m(u, "nickName pr"));
    assert_false(m(u, "locale pr"));
    assert_false(m(u, "roles pr"));
    assert_false(m(u, "timezone pr"));
    assert_true(m(u, "emails pr and name pr and active pr and loginCount pr"));
    assert_true(m(u, "emails.type pr"));
    assert_false(m(u, "emails.display pr"));
    /* multi-valued: any element; a complex attribute alone means its "value" */
    assert_true(m(u, "emails eq \"babs@jensen.org\""));
    assert_true(m(u, "emails ne \"babs@jensen.org\"")); /* the other element differs */
    assert_false(m(u, "emails.type eq \"other\""));
    assert_true(m(u, "name eq \"x\" or not (name eq \"x\")"));
    assert_false(m(u, "name eq \"Barbara\"")); /* name has no "value" */
    /* missing / null / empty-array attributes: only ne (and eq null) match */
    const char *missing[] = {"timezone", "locale", "roles", "name.middleName",
                             "phoneNumbers.value"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s eq \"x\" or %s co \"\" or %s gt \"\" or %s le \"~\"",
                 missing[i], missing[i], missing[i], missing[i]);
        assert_false(m(u, buf));
        snprintf(buf, sizeof buf, "%s ne \"x\" and %s eq null and not (%s ne null)", missing[i],
                 missing[i], missing[i]);
        assert_true(m(u, buf));
        snprintf(buf, sizeof buf, "not (%s eq \"x\")", missing[i]);
        assert_true(m(u, buf));
    }
    assert_true(m(u, "title ne null and not (title eq null)"));
    assert_false(m(u, "phoneNumbers[type eq \"work\"]"));
    assert_false(m(u, "userName[value pr]"));
    /* mismatched types are unequal */
    assert_false(m(u, "userName eq 1"));
    assert_true(m(u, "userName ne 1"));
    /* a singular complex attribute used as a value path */
    assert_true(m(u, "name[givenName eq \"barbara\" and familyName sw \"O'\"]"));
    /* NULL filter or non-object document never match */
    assert_false(scim_filter_match(NULL, u, NULL, NULL));
    sf_node *f = NULL;
    assert_int_equal(scim_filter_parse("a pr", 4, &f, NULL), IDP_OK);
    json_t *arr = json_array();
    assert_false(scim_filter_match(f, arr, NULL, NULL));
    json_decref(arr);
    scim_filter_free(f);
    json_decref(u);
}

static bool exact_all(const scim_attr_path *p, void *ctx)
{
    (void)p;
    (void)ctx;
    return true;
}

/* Value filters of PATCH paths are evaluated against one element of the attribute. */
static void match_element(void **state)
{
    json_error_t je;
    json_t *el =
        json_loads("{\"value\":\"A@B.example\",\"type\":\"work\",\"primary\":false}", 0, &je);
    scim_patch_path pp;
    const char *s = "emails[type eq \"WORK\" and not (primary eq true)]";
    assert_int_equal(scim_patch_path_parse(s, strlen(s), &pp, NULL), IDP_OK);
    assert_true(scim_filter_match(pp.value_filter, el, NULL, NULL));
    scim_patch_path_clear(&pp);
    s = "emails[value eq \"a@b.example\"]";
    assert_int_equal(scim_patch_path_parse(s, strlen(s), &pp, NULL), IDP_OK);
    assert_true(scim_filter_match(pp.value_filter, el, NULL, NULL));
    assert_false(scim_filter_match(pp.value_filter, el, exact_all, NULL));
    scim_patch_path_clear(&pp);
    json_decref(el);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc7644_examples),
        cmocka_unit_test(precedence_and_grouping),
        cmocka_unit_test(keywords_case_insensitive),
        cmocka_unit_test(values),
        cmocka_unit_test(entra_forms),
        cmocka_unit_test(rejections),
        cmocka_unit_test(caps),
        cmocka_unit_test(patch_paths),
        cmocka_unit_test(patch_path_rejections),
        cmocka_unit_test(match_rfc_examples),
        cmocka_unit_test(match_semantics),
        cmocka_unit_test(match_element),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
