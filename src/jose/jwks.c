/* jwks — a set of public keys (RFC 7517 §5), declared in jwk.h: building, parsing someone
 * else's set (unusable members skipped and reported), lookup by kid, the public JSON. */
#include "jose/jwk.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "jose/internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define JWKS_MAX_MEMBERS 256 /* members read from a document, usable or not */
#define JWKS_MAX_JSON (256u * 1024u)

struct jwks {
    atomic_int refs;
    jwk **keys;
    size_t n, cap;
};

jwks *jwks_new(void)
{
    jwks *s = xcalloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    return s;
}

idp_err jwks_add(jwks *s, jwk *k, idp_error *err)
{
    if (jwks_find(s, jwk_kid(k))) return IDP_FAIL(err, IDP_ERR_CONFLICT, "duplicate kid in key set");
    if (s->n >= JWKS_MAX_KEYS) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "too many keys in key set");
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->keys = xrealloc(s->keys, s->cap * sizeof *s->keys);
    }
    s->keys[s->n++] = jwk_ref(k);
    return IDP_OK;
}

/* The kid of a member as text for reports ("" when absent or not a string). */
static const char *member_kid(const json_t *m)
{
    const char *kid = json_string_value(json_object_get(m, "kid"));
    return kid ? kid : "";
}

idp_err jwks_from_json_report(const char *str, size_t n, jwks_skip_fn on_skip, void *ctx,
                              jwks **out, idp_error *err)
{
    *out = NULL;
    json_t *doc = NULL;
    jwks *s = NULL;
    idp_err rc = jsonx_parse(str, n, JWKS_MAX_JSON, 0, true, &doc, err);
    if (rc) {
        rc = IDP_FAIL(err, IDP_ERR_JOSE_KEY, "JWKS is not a strict JSON object");
        goto out;
    }
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        rc = IDP_FAIL(err, IDP_ERR_JOSE_KEY, "JWKS without a keys array");
        goto out;
    }
    size_t nm = json_array_size(keys);
    if (nm > JWKS_MAX_MEMBERS) {
        rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "JWKS with %zu members (at most %d)", nm, JWKS_MAX_MEMBERS);
        goto out;
    }
    /* RFC 7517 §5: members with an unknown kty, missing required members or values out of the
     * supported range are ignored and the rest of the set is used. A kid that two members
     * share is ambiguous (RFC 7517 §4.5), so every member with that kid is ignored. */
    s = jwks_new();
    for (size_t i = 0; i < nm; i++) {
        const json_t *m = json_array_get(keys, i);
        jwk *k = NULL;
        bool skip = false;
        idp_error e2 = {0};
        if (jwk_parse(m, &k, &skip, &e2) != IDP_OK) {
            if (on_skip) on_skip(ctx, i, member_kid(m), e2.msg[0] ? e2.msg : "unsupported key");
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = strcmp(member_kid(json_array_get(keys, j)), jwk_kid(k)) == 0;
        for (size_t j = i + 1; j < nm && !dup; j++)
            dup = strcmp(member_kid(json_array_get(keys, j)), jwk_kid(k)) == 0;
        if (dup) {
            if (on_skip) on_skip(ctx, i, jwk_kid(k), "another member has the same kid");
            jwk_unref(k);
            continue;
        }
        rc = jwks_add(s, k, err);
        jwk_unref(k);
        if (rc) goto out;
    }
out:
    json_decref(doc);
    if (rc) {
        jwks_unref(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

idp_err jwks_from_json(const char *str, size_t n, jwks **out, idp_error *err)
{
    return jwks_from_json_report(str, n, NULL, NULL, out, err);
}

jwks *jwks_ref(jwks *s)
{
    if (s) atomic_fetch_add(&s->refs, 1);
    return s;
}

void jwks_unref(jwks *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    for (size_t i = 0; i < s->n; i++) jwk_unref(s->keys[i]);
    free(s->keys);
    free(s);
}

size_t jwks_count(const jwks *s) { return s ? s->n : 0; }

const jwk *jwks_at(const jwks *s, size_t i) { return s && i < s->n ? s->keys[i] : NULL; }

const jwk *jwks_find(const jwks *s, const char *kid)
{
    if (!s || !kid) return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(jwk_kid(s->keys[i]), kid) == 0) return s->keys[i];
    return NULL;
}

json_t *jwks_to_public_json(const jwks *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; s && i < s->n; i++) json_array_append_new(arr, jwk_to_public_json(s->keys[i]));
    json_t *o = json_object();
    json_object_set_new(o, "keys", arr);
    return o;
}
