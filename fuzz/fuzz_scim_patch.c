/* fuzz_scim_patch — scim_resource_normalize and scim_patch_apply on fuzzer-provided JSON
 * against a fixed User and Group document, and scim_project of the results. Invariants: a
 * failed PATCH leaves the document unchanged (atomicity); a successful one yields a document
 * that normalises again; the member delta has disjoint, duplicate-free lists. */
#include "core/jsonx.h"
#include "scim/patch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const user_doc =
    "{\"schemas\":[\"" SCIM_URN_USER "\",\"" SCIM_URN_ENTERPRISE "\"],\"userName\":\"bjensen\","
    "\"name\":{\"givenName\":\"Barbara\",\"familyName\":\"Jensen\"},\"active\":true,"
    "\"emails\":[{\"value\":\"bj@example.com\",\"type\":\"work\",\"primary\":true},"
    "{\"value\":\"babs@home.example\",\"type\":\"home\"}],"
    "\"" SCIM_URN_ENTERPRISE "\":{\"department\":\"Tour\",\"manager\":{\"value\":\"m1\"}}}";
static const char *const group_doc =
    "{\"schemas\":[\"" SCIM_URN_GROUP "\"],\"displayName\":\"Tour Guides\"}";

static void check_delta(const scim_delta *d)
{
    for (size_t i = 0; i < d->nadd; i++)
        for (size_t j = 0; j < d->nremove && d->nremove < 64 && d->nadd < 64; j++)
            if (strcmp(d->add[i], d->remove[j]) == 0) abort();
}

static void run(const scim_resource_type *rt, const char *doc_s, const json_t *in)
{
    json_t *doc = json_loads(doc_s, 0, NULL), *orig = json_deep_copy(doc), *out = NULL, *p = NULL;
    scim_delta d = {0};
    if (scim_patch_apply(rt, doc, in, &d, NULL) != IDP_OK) {
        if (!json_equal(doc, orig) || d.nadd || d.nremove || d.replace_all) abort();
    } else {
        check_delta(&d);
        scim_delta_clear(&d);
        if (scim_resource_normalize(rt, doc, &out, &d, NULL) != IDP_OK) abort();
        if (scim_project(rt, doc, "userName,name.givenName,emails.value", NULL, &p, NULL) != IDP_OK) abort();
        json_decref(p);
        p = NULL;
    }
    scim_delta_clear(&d);
    json_decref(out);
    out = NULL;
    if (scim_resource_normalize(rt, in, &out, &d, NULL) == IDP_OK) {
        check_delta(&d);
        if (scim_project(rt, out, NULL, "emails,members", &p, NULL) != IDP_OK) abort();
    }
    scim_delta_clear(&d);
    json_decref(p);
    json_decref(out);
    json_decref(orig);
    json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = NULL;
    if (jsonx_parse((const char *)data, size, 1u << 20, 0, false, &in, NULL) != IDP_OK) return 0;
    run(&scim_rt_user, user_doc, in);
    run(&scim_rt_group, group_doc, in);
    json_decref(in);
    return 0;
}
