/* signer — private keys by kid; see signer.h. */
#include "keys/signer.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "jose/jws.h"

#include <stdlib.h>
#include <string.h>

#define SIGNER_MAX_KEYS 256

struct signer {
    jwk **keys; /* private jwks, one reference each */
    size_t n, cap;
};

signer *signer_new(void)
{
    return xcalloc(1, sizeof(signer));
}

void signer_free(signer *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) jwk_unref(s->keys[i]);
    free(s->keys);
    free(s);
}

static const jwk *signer_find(const signer *s, const char *kid)
{
    for (size_t i = 0; kid && i < s->n; i++)
        if (strcmp(jwk_kid(s->keys[i]), kid) == 0) return s->keys[i];
    return NULL;
}

bool signer_has(const signer *s, const char *kid)
{
    return signer_find(s, kid) != NULL;
}

idp_err signer_add(signer *s, jwk *priv, idp_error *err)
{
    if (!priv || !jwk_is_private(priv))
        return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "signer: not a private key");
    if (signer_find(s, jwk_kid(priv)))
        return IDP_FAIL(err, IDP_ERR_CONFLICT, "signer: duplicate kid");
    if (s->n == SIGNER_MAX_KEYS) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "signer: too many keys");
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->keys = xrealloc(s->keys, s->cap * sizeof *s->keys);
    }
    s->keys[s->n++] = jwk_ref(priv);
    return IDP_OK;
}

idp_err signer_add_der(signer *s, const unsigned char *der, size_t len, jws_alg alg,
                       const char *kid, idp_error *err)
{
    jwk *k = NULL;
    idp_err rc = jwk_private_from_der(der, len, alg, &k, err);
    if (rc) return rc;
    /* The stored kid is the key's thumbprint (RFC 7638); a mismatch means the row is corrupt. */
    if (!kid || strcmp(jwk_kid(k), kid) != 0)
        rc = IDP_FAIL(err, IDP_ERR_JOSE_KEY, "signer: private key does not match its kid");
    else
        rc = signer_add(s, k, err);
    jwk_unref(k);
    return rc;
}

idp_err signer_sign(const signer *s, const char *kid, jws_alg alg, const char *typ,
                    const void *payload, size_t payload_len, idp_buf *out, idp_error *err)
{
    const jwk *k = signer_find(s, kid);
    if (!k) return IDP_FAIL(err, IDP_ERR_JOSE_KEY, "signer: no private key for this kid");
    if (!jwk_allows(k, alg)) return IDP_FAIL(err, IDP_ERR_JOSE_ALG, "signer: key does not allow alg");
    return jws_sign_compact(k, alg, typ, payload, payload_len, out, err);
}

idp_err signer_generate(jws_alg alg, int rsa_bits, signer_keygen *out, idp_error *err)
{
    jwk *k = NULL;
    json_t *pub = NULL;
    memset(out, 0, sizeof *out);
    idp_err rc = jwk_generate(alg, rsa_bits, &k, err);
    if (rc) goto out;
    rc = jwk_thumbprint(k, out->kid, err);
    if (rc) goto out;
    /* jwk_generate sets kid = thumbprint; the stored kid must be exactly that. */
    if (strcmp(jwk_kid(k), out->kid) != 0) {
        rc = IDP_FAIL(err, IDP_ERR_INTERNAL, "signer: generated kid is not the thumbprint");
        goto out;
    }
    rc = jwk_private_to_der(k, &out->der, &out->der_len, err);
    if (rc) goto out;
    pub = jwk_to_public_json(k);
    out->public_jwk = pub ? jsonx_dump(pub) : NULL;
    if (!out->public_jwk) rc = IDP_FAIL(err, IDP_ERR_INTERNAL, "signer: cannot serialize the JWK");
out:
    json_decref(pub);
    jwk_unref(k);
    if (rc) signer_keygen_clear(out);
    return rc;
}

void signer_keygen_clear(signer_keygen *g)
{
    if (!g) return;
    if (g->der) mem_wipe(g->der, g->der_len);
    free(g->der);
    free(g->public_jwk);
    memset(g, 0, sizeof *g);
}
