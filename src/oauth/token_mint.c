/* token_mint — access token lifetime, signing and the token response (see token_mint.h). */
#include "oauth/token_mint.h"

#include "jose/jws.h"
#include "core/jsonw.h"

#include <string.h>

int64_t token_mint_ttl(const cfg *c, int64_t client_ttl)
{
    int64_t ttl = client_ttl > 0 ? client_ttl : c->token_ttl;
    return ttl > c->max_token_ttl ? c->max_token_ttl : ttl;
}

jws_alg token_mint_alg(const cfg *c, jws_alg client_alg)
{
    if (client_alg != JWS_ALG_INVALID) return client_alg;
    return jws_alg_from_name(c->default_alg, strlen(c->default_alg));
}

idp_err token_mint_sign(const keyset *ks, jws_alg alg, const char *typ, const char *payload,
                        size_t len, idp_buf *out, idp_error *err)
{
    if (!ks) return IDP_FAIL(err, IDP_ERR_INTERNAL, "no key set loaded");
    idp_err rc = keyset_sign(ks, alg, typ, payload, len, out, err);
    /* A missing signing key is the server's problem, not the client's request. */
    if (rc == IDP_ERR_JOSE_KEY)
        rc = IDP_FAIL(err, IDP_ERR_CONFIG, "no current signing key for %s", jws_alg_name(alg));
    return rc;
}

idp_err token_mint_access(const keyset *ks, jws_alg alg, const token_claims *tc, idp_buf *out,
                          idp_error *err)
{
    idp_buf claims;
    buf_init(&claims, JWS_MAX_LEN);
    idp_err rc = token_claims_build(tc, &claims, err);
    if (rc == IDP_OK)
        rc = token_mint_sign(ks, alg, TOKEN_MINT_AT_TYP, claims.data, claims.len, out, err);
    buf_free(&claims);
    return rc;
}

idp_err token_mint_respond(const token_mint_response *r, idp_buf *out, idp_error *err)
{
    int bad = buf_puts(out, "{");
    bad |= jsonw_member_str(out, 1, "access_token", r->access_token);
    if (r->issued_token_type)
        bad |= jsonw_member_str(out, 0, "issued_token_type", r->issued_token_type);
    bad |= jsonw_member_str(out, 0, "token_type", "Bearer");
    bad |= jsonw_member_int(out, 0, "expires_in", r->expires_in);
    if (r->scope && r->scope[0]) bad |= jsonw_member_str(out, 0, "scope", r->scope);
    if (r->id_token && r->id_token[0]) bad |= jsonw_member_str(out, 0, "id_token", r->id_token);
    if (r->refresh_token) bad |= jsonw_member_str(out, 0, "refresh_token", r->refresh_token);
    bad |= buf_puts(out, "}");
    return bad ? IDP_FAIL(err, IDP_ERR_INTERNAL, "token response too large") : IDP_OK;
}
