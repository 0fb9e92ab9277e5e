/* keyset — one immutable snapshot of the signing keys; see keyset.h. */
#include "keys/keyset.h"

#include "core/jsonx.h"
#include "core/log.h"
#include "core/mem.h"
#include "keys/signer.h"

#include <stdlib.h>
#include <string.h>

#define KEYSET_MAX_JWK_LEN (64u * 1024u) /* one stored public JWK; RSA-8192 is ~1.5 KB */

struct keyset {
    snap_obj base; /* first: the server publishes keysets in a snap_slot */
    signer *sg;    /* private keys of the current key per alg */
    jwks *pub;     /* every published key: next, current, retired */
    char *jwks_body;
    size_t jwks_len;
    char *current[JWS__ALG_COUNT];    /* kid of the current key per alg, or NULL */
    int64_t activated[JWS__ALG_COUNT]; /* its activated_at, to pick one if several claim it */
};

static void keyset_destroy(snap_obj *o)
{
    keyset *ks = (keyset *)o;
    signer_free(ks->sg);
    jwks_unref(ks->pub);
    free(ks->jwks_body);
    for (int i = 0; i < JWS__ALG_COUNT; i++) free(ks->current[i]);
    free(ks);
}

keyset *keyset_ref(keyset *ks)
{
    return (keyset *)snap_ref((snap_obj *)ks);
}

void keyset_unref(keyset *ks)
{
    snap_unref((snap_obj *)ks);
}

/* Adds the row's public JWK to the public set; its kid and alg must match the row's. */
static idp_err keyset_add_public(keyset *ks, const store_key *row, jws_alg alg, idp_error *err)
{
    json_t *obj = NULL;
    jwk *k = NULL;
    idp_err rc = jsonx_parse(row->public_jwk, strlen(row->public_jwk), KEYSET_MAX_JWK_LEN, 0, true,
                             &obj, err);
    if (rc) goto out;
    rc = jwk_from_json(obj, &k, err);
    if (rc) goto out;
    if (jwk_is_private(k) || strcmp(jwk_kid(k), row->kid) != 0 || jwk_alg(k) != alg) {
        rc = IDP_FAIL(err, IDP_ERR_STORE, "keyset: stored public key does not match its row");
        goto out;
    }
    rc = jwks_add(ks->pub, k, err);
out:
    jwk_unref(k);
    json_decref(obj);
    return rc;
}

/* Decrypts a current key into the signer (aad = kid binds the blob to its row). */
static idp_err keyset_add_private(keyset *ks, const kek *kk, const store_key *row, jws_alg alg,
                                  idp_error *err)
{
    unsigned char *der = NULL;
    size_t len = 0;
    idp_err rc = kek_open(kk, row->kid, row->enc_private, row->enc_private_len, &der, &len, err);
    if (rc) return rc;
    rc = signer_add_der(ks->sg, der, len, alg, row->kid, err);
    mem_wipe(der, len);
    free(der);
    if (rc) return rc;
    /* Two current keys for one alg break the state machine's invariant; sign with the newer. */
    if (!ks->current[alg] || row->activated_at > ks->activated[alg]) {
        free(ks->current[alg]);
        ks->current[alg] = xstrdup(row->kid);
        ks->activated[alg] = row->activated_at;
    }
    return IDP_OK;
}

static idp_err keyset_build_body(keyset *ks, idp_error *err)
{
    json_t *body = jwks_to_public_json(ks->pub);
    ks->jwks_body = body ? jsonx_dump(body) : NULL;
    json_decref(body);
    if (!ks->jwks_body) return IDP_FAIL(err, IDP_ERR_INTERNAL, "keyset: cannot build the JWKS");
    ks->jwks_len = strlen(ks->jwks_body);
    return IDP_OK;
}

/* Publication order of the selection: current, then next, then the most recently retired. */
static int keyset_rank_cmp(const void *x, const void *y)
{
    const store_key *a = *(const store_key *const *)x, *b = *(const store_key *const *)y;
    static const int rank[] = {[KEY_CURRENT] = 0, [KEY_NEXT] = 1, [KEY_RETIRED] = 2};
    int ra = (unsigned)a->state <= KEY_RETIRED ? rank[a->state] : 3;
    int rb = (unsigned)b->state <= KEY_RETIRED ? rank[b->state] : 3;
    if (ra != rb) return ra < rb ? -1 : 1;
    if (a->retired_at != b->retired_at) return a->retired_at > b->retired_at ? -1 : 1;
    return strcmp(a->kid, b->kid);
}

/* keep[i]: row i is published. All of them while the store holds at most JWKS_MAX_KEYS (what
 * rotation keeps); otherwise the current and next keys and the most recently retired ones, so
 * the server still starts, and the rotation tick deletes the rest (rotation.h). Logs the
 * kids left out (a kid is public). */
static void keyset_select(const store_key *rows, size_t n, bool *keep)
{
    for (size_t i = 0; i < n; i++) keep[i] = n <= JWKS_MAX_KEYS;
    if (n <= JWKS_MAX_KEYS) return;
    const store_key **v = xcalloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = &rows[i];
    qsort(v, n, sizeof *v, keyset_rank_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i < JWKS_MAX_KEYS)
            keep[v[i] - rows] = true;
        else
            log_msg(LOG_WARN, "keyset: %zu keys stored, more than %d: key %s (%s) not published", n,
                    JWKS_MAX_KEYS, v[i]->kid, v[i]->alg);
    }
    free(v);
}

idp_err keyset_load(store *st, const kek *k, keyset **out, idp_error *err)
{
    store_key *rows = NULL;
    size_t n = 0;
    bool *keep = NULL;
    *out = NULL;
    keyset *ks = xcalloc(1, sizeof *ks);
    snap_obj_init(&ks->base, keyset_destroy);
    ks->sg = signer_new();
    ks->pub = jwks_new();
    idp_err rc = store_key_list(st, &rows, &n, err);
    if (rc) goto out;
    keep = xcalloc(n ? n : 1, sizeof *keep);
    keyset_select(rows, n, keep);
    for (size_t i = 0; i < n; i++) {
        if (!keep[i]) continue;
        jws_alg alg = jws_alg_from_name(rows[i].alg, strlen(rows[i].alg));
        if (alg == JWS_ALG_INVALID) {
            rc = IDP_FAIL(err, IDP_ERR_STORE, "keyset: a stored key has an unknown alg");
            goto out;
        }
        rc = keyset_add_public(ks, &rows[i], alg, err);
        if (!rc && rows[i].state == KEY_CURRENT) rc = keyset_add_private(ks, k, &rows[i], alg, err);
        if (rc) goto out;
    }
    rc = keyset_build_body(ks, err);
out:
    free(keep);
    store_key_list_free(rows, n);
    if (rc) {
        keyset_unref(ks);
        return rc;
    }
    *out = ks;
    return IDP_OK;
}

const char *keyset_jwks_body(const keyset *ks, size_t *len)
{
    if (len) *len = ks->jwks_len;
    return ks->jwks_body;
}

const jwks *keyset_public(const keyset *ks)
{
    return ks->pub;
}

const char *keyset_current_kid(const keyset *ks, jws_alg alg)
{
    return alg > JWS_ALG_INVALID && alg < JWS__ALG_COUNT ? ks->current[alg] : NULL;
}

idp_err keyset_sign(const keyset *ks, jws_alg alg, const char *typ, const void *payload,
                    size_t payload_len, idp_buf *out, idp_error *err)
{
    const char *kid = keyset_current_kid(ks, alg);
    if (!kid) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "no current signing key for this alg");
    return signer_sign(ks->sg, kid, alg, typ, payload, payload_len, out, err);
}
