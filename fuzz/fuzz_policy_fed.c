/* Fuzz target for the federation section of the policy (src/policy/policy_fed.c,
 * policy_fed_map.c). The input is a policy document, optionally followed by a line "#json" and a
 * JSON value (an upstream token payload). The document must load or fail cleanly; when it loads,
 * every issuer's claim mapping and require check run over the JSON (or over a fixed payload when
 * there is none or it is not an object), and the mapped groups are evaluated and explained
 * through the issuer's bindings. No leaks, no undefined behaviour, no abort. */
#include "policy/policy_fed.h"
#include "policy/policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char SEP[] = "\n#json\n";

/* Structural checks of a mapped object: every member is a rule's output name. */
static void check_mapped(const fed_issuer *is, const json_t *out)
{
    if (!json_is_object(out)) abort();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)out, k, v)
    {
        bool named = false;
        for (size_t i = 0; i < is->nclaims && !named; i++)
            named = is->claims[i].name && !strcmp(is->claims[i].name, k);
        if (!named || json_is_object(v)) abort();
        if (json_is_array(v) && json_array_size(v) > FED_MAP_MAX_ITEMS) abort();
    }
}

static void exercise(const policy *p, const json_t *upstream)
{
    for (size_t i = 0; i < policy_fed_count(p); i++) {
        const fed_issuer *is = policy_fed_at(p, i);
        if (!is || policy_fed_by_name(p, is->name) != is) abort();
        if (policy_fed_by_issuer(p, is->issuer, strlen(is->issuer)) != is) abort();
        if (!is->algorithms) abort();
        (void)policy_fed_client_allowed(is, true, "svc-a");
        (void)policy_fed_client_allowed(is, false, "gateway");
        (void)policy_fed_map_require(is, upstream, NULL);
        json_t *out = NULL;
        if (policy_fed_map_claims(is, upstream, &out, NULL) != IDP_OK) abort();
        check_mapped(is, out);
        /* the mapped groups through the bindings */
        const char *groups[FED_MAP_MAX_ITEMS];
        size_t ng = 0;
        const json_t *g = json_object_get(out, "groups");
        if (json_is_string(g)) groups[ng++] = json_string_value(g);
        for (size_t k = 0; json_is_array(g) && k < json_array_size(g); k++)
            groups[ng++] = json_string_value(json_array_get(g, k));
        const json_t *sub = json_object_get(upstream, is->subject_claim);
        policy_subject s = {.issuer_name = is->name,
                            .upstream_subject = json_is_string(sub) ? json_string_value(sub) : NULL,
                            .issuer_groups = groups,
                            .nissuer_groups = ng};
        policy_grant gr = {0};
        (void)policy_evaluate(p, &s, policy_scope_count(p) ? policy_scope_name(p, 0) : NULL, NULL,
                              &gr, NULL);
        policy_grant_clear(&gr);
        json_t *x = NULL;
        if (policy_explain(p, &s, "openid", NULL, &x, NULL) == IDP_OK) json_decref(x);
        json_decref(out);
    }
    (void)policy_fed_any(p, true);
    (void)policy_fed_any(p, false);
    (void)policy_fed_any_login(p);
    idp_buf d;
    buf_init(&d, 0);
    (void)policy_diff(p, p, &d, NULL);
    if (d.len) abort(); /* a policy is equivalent to itself */
    buf_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t ylen = size;
    const char *js = NULL;
    size_t jlen = 0;
    for (size_t i = 0; i + sizeof SEP - 1 <= size; i++)
        if (!memcmp(text + i, SEP, sizeof SEP - 1)) {
            ylen = i + 1;
            js = text + i + sizeof SEP - 1;
            jlen = size - i - (sizeof SEP - 1);
            break;
        }
    policy *p = NULL;
    policy_diags d = {0};
    idp_error e = {0};
    idp_err rc = policy_load(text, ylen, NULL, &p, &d, &e);
    if (rc != IDP_OK) {
        if (p || d.n == 0) abort();
        policy_diags_free(&d);
        return 0;
    }
    json_t *up = js ? json_loadb(js, jlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
    if (!json_is_object(up)) {
        json_decref(up);
        up = json_pack("{s:s, s:[s,s,s], s:b, s:s}", "sub", "00u1abc", "groups", "okta-admins", "x",
                       "okta-admins", "email_verified", 1, "email", "a@b.example");
    }
    exercise(p, up);
    json_t *notobj = json_array();
    for (size_t i = 0; i < policy_fed_count(p); i++) {
        json_t *out = (json_t *)(void *)&out;
        if (policy_fed_map_claims(policy_fed_at(p, i), notobj, &out, NULL) != IDP_ERR_INVALID ||
            out)
            abort();
    }
    json_decref(notobj);
    json_decref(up);
    policy_free(p);
    policy_diags_free(&d);
    return 0;
}
