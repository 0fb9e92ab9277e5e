/* policy_fed_map — the claim mapping and the `require` check of a federation issuer
 * (policy/policy_fed.h, docs/POLICY.md "Federation"). Pure: upstream JSON in, new JSON out. */
#include "policy/internal.h"

#include <stdio.h>
#include <string.h>

/* The map entry for s, or NULL. */
static const char *map_lookup(const fed_claim_rule *r, const char *s)
{
    size_t lo = 0, hi = r->nmap;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s, r->map_from[mid]);
        if (c == 0) return r->map_to[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* One string through the rule: the mapped value, the value itself, or NULL (dropped). */
static const char *map_one(const fed_claim_rule *r, const char *s, size_t len)
{
    if (len > FED_MAP_MAX_STRING) return NULL;
    if (strlen(s) != len) return NULL; /* an embedded NUL never matches and is not passed on */
    const char *m = r->nmap ? map_lookup(r, s) : NULL;
    if (m) return m;
    return r->drop_unmapped ? NULL : s;
}

/* The output value of rule r for upstream value v (new reference), or NULL when dropped. */
static json_t *map_value(const fed_claim_rule *r, const json_t *v)
{
    if (json_is_string(v)) {
        const char *m = map_one(r, json_string_value(v), json_string_length(v));
        return m ? json_string(m) : NULL;
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if (n > FED_MAP_MAX_ITEMS) return NULL;
        for (size_t i = 0; i < n; i++) {
            const json_t *it = json_array_get(v, i);
            if (!json_is_string(it) || json_string_length(it) > FED_MAP_MAX_STRING) return NULL;
        }
        json_t *a = json_array();
        if (!a) return NULL;
        for (size_t i = 0; i < n; i++) {
            const json_t *it = json_array_get(v, i);
            const char *m = map_one(r, json_string_value(it), json_string_length(it));
            if (!m) continue;
            bool dup = false;
            for (size_t k = 0; k < json_array_size(a) && !dup; k++)
                dup = !strcmp(json_string_value(json_array_get(a, k)), m);
            if (!dup && json_array_append_new(a, json_string(m)) != 0) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    if (json_is_object(v)) return NULL;
    /* numbers, true/false, null */
    return r->nmap ? NULL : json_deep_copy(v);
}

idp_err policy_fed_map_claims(const fed_issuer *is, const json_t *upstream, json_t **out,
                              idp_error *err)
{
    *out = NULL;
    if (!is || !json_is_object(upstream))
        return IDP_FAIL(err, IDP_ERR_INVALID, "claim mapping: the payload is not a JSON object");
    json_t *o = json_object();
    if (!o) return IDP_FAIL(err, IDP_ERR_NOMEM, "claim mapping: out of memory");
    for (size_t i = 0; i < is->nclaims; i++) {
        const fed_claim_rule *r = &is->claims[i];
        if (!r->name || !r->from) continue;
        const json_t *v = json_object_get(upstream, r->from);
        if (!v) continue;
        if (r->only_if && !json_is_true(json_object_get(upstream, r->only_if))) continue;
        json_t *m = map_value(r, v);
        if (m && json_object_set_new(o, r->name, m) != 0) {
            json_decref(o);
            return IDP_FAIL(err, IDP_ERR_NOMEM, "claim mapping: out of memory");
        }
    }
    *out = o;
    return IDP_OK;
}

idp_err policy_fed_map_require(const fed_issuer *is, const json_t *upstream, idp_error *err)
{
    if (!is || !json_is_object(upstream))
        return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "the payload is not a JSON object");
    const char *k;
    json_t *want;
    json_object_foreach((json_t *)is->require, k, want)
    {
        const json_t *v = json_object_get(upstream, k);
        if (!v) return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "required claim %s is missing", k);
        if (!json_equal(v, want))
            return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "claim %s does not have the required value", k);
    }
    return IDP_OK;
}
