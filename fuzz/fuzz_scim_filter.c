/* fuzz_scim_filter — scim_filter_parse and scim_patch_path_parse on arbitrary bytes; every parsed
 * tree is checked against the caps, resolved against the User and Group resource types and
 * evaluated (scim_filter_match) against a fixed User document and one of its elements. */
#include "scim/filter.h"
#include "scim/schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *doc;

static bool exact_id(const scim_attr_path *p, void *ctx)
{
    (void)ctx;
    return p->attr && strcmp(p->attr, "id") == 0;
}

/* Resolves every path (value-path members relative to their attribute); counts nodes. */
static size_t walk(const sf_node *f, const scim_attr_path *parent, int depth)
{
    if (!f) return 0;
    if (depth > SCIM_FILTER_MAX_NODES) abort(); /* and/or chains are left-deep trees */
    if (!f->path.attr && (f->kind == SF_COMPARE || f->kind == SF_VALUEPATH)) abort();
    if (f->kind == SF_COMPARE && f->op != SF_PR && f->vtype == SF_V_NONE) abort();
    if (f->kind == SF_VALUEPATH && parent) abort(); /* no nested value paths */
    scim_attr_path p = f->path;
    if (parent) {
        p.urn = parent->urn;
        p.attr = parent->attr;
        p.sub = f->path.attr;
    }
    scim_resolved r;
    idp_error e;
    if (f->kind == SF_COMPARE || f->kind == SF_VALUEPATH) {
        if (scim_path_resolve(&scim_rt_user, &p, &r, &e) == IDP_OK && !r.attr) abort();
        if (scim_path_resolve(&scim_rt_group, &p, &r, &e) == IDP_OK && !r.attr) abort();
    }
    const scim_attr_path *np = f->kind == SF_VALUEPATH ? &f->path : parent;
    return 1 + walk(f->left, np, depth + 1) + walk(f->right, np, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!doc) {
        json_error_t je;
        doc = json_loads(
            "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"u1\","
            "\"userName\":\"bjensen\",\"name\":{\"familyName\":\"Jensen\"},\"active\":true,"
            "\"n\":3.5,\"title\":null,\"roles\":[],"
            "\"emails\":[{\"value\":\"b@example.com\",\"type\":\"work\",\"primary\":true},"
            "{\"value\":\"x@y.org\"}],\"meta\":{\"lastModified\":\"2011-05-13T04:42:34Z\"},"
            "\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":"
            "{\"manager\":{\"value\":\"m\"}}}",
            0, &je);
        if (!doc) abort();
    }
    const char *s = (const char *)data;
    sf_node *f = NULL;
    if (scim_filter_parse(s, size, &f, NULL) == IDP_OK) {
        if (!f || size > SCIM_FILTER_MAX_LEN) abort();
        if (walk(f, NULL, 0) > SCIM_FILTER_MAX_NODES) abort();
        bool a = scim_filter_match(f, doc, exact_id, NULL);
        bool b = scim_filter_match(f, doc, exact_id, NULL);
        if (a != b) abort();
        (void)scim_filter_match(f, json_array_get(json_object_get(doc, "emails"), 0), NULL, NULL);
        scim_filter_free(f);
    } else if (f) {
        abort();
    }
    scim_patch_path pp;
    if (scim_patch_path_parse(s, size, &pp, NULL) == IDP_OK) {
        if (!pp.path.attr) abort();
        if (pp.value_filter && pp.path.sub) abort();
        if (pp.value_sub && !pp.value_filter) abort();
        scim_resolved r;
        (void)scim_path_resolve(&scim_rt_user, &pp.path, &r, NULL);
        (void)scim_path_resolve(&scim_rt_group, &pp.path, &r, NULL);
        walk(pp.value_filter, &pp.path, 0);
        (void)scim_filter_match(pp.value_filter, json_array_get(json_object_get(doc, "emails"), 0),
                                NULL, NULL);
    } else if (pp.path.attr || pp.value_filter || pp.value_sub) {
        abort();
    }
    scim_patch_path_clear(&pp);
    return 0;
}
