#include "proto/oidc.h"

#include "core/b64url.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

idp_err oidc_at_hash(const char *alg, const char *token, char out[64], idp_error *err)
{
    out[0] = '\0';
    const EVP_MD *md = NULL;
    if (!alg) return IDP_FAIL(err, IDP_ERR_JOSE_ALG, "no alg for at_hash");
    if (strcmp(alg, "ES256") == 0 || strcmp(alg, "RS256") == 0 || strcmp(alg, "PS256") == 0)
        md = EVP_sha256();
    else if (strcmp(alg, "EdDSA") == 0 || strcmp(alg, "Ed25519") == 0)
        md = EVP_sha512(); /* Ed25519's own hash (RFC 8032 §5.1); see oidc.h */
    else
        return IDP_FAIL(err, IDP_ERR_JOSE_ALG, "no at_hash rule for this alg");
    if (!token || !token[0]) return IDP_FAIL(err, IDP_ERR_INVALID, "no token to hash");
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(token, strlen(token), h, &n, md, NULL) != 1 || n < 2) {
        ERR_clear_error();
        return IDP_FAIL(err, IDP_ERR_CRYPTO, "digest failed");
    }
    b64url_encode_to(out, h, n / 2); /* 32 bytes at most: 43 characters + NUL fit in 64 */
    return IDP_OK;
}

const char *oidc_scope_words(const char *scope)
{
    static const struct {
        const char *scope, *words;
    } table[] = {
        {"openid", "Confirm your identity"},  {"profile", "Your name and profile details"},
        {"email", "Your email address"},      {"offline_access", "Keep access while you are away"},
        {"groups", "Your group memberships"},
    };
    for (size_t i = 0; scope && i < sizeof table / sizeof table[0]; i++)
        if (strcmp(scope, table[i].scope) == 0) return table[i].words;
    return NULL;
}
