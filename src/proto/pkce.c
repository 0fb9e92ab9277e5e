#include "proto/pkce.h"

#include "core/b64url.h"
#include "core/mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

bool pkce_verifier_valid(const char *v)
{
    if (!v) return false;
    size_t n = strnlen(v, PKCE_VERIFIER_MAX + 1);
    if (n < PKCE_VERIFIER_MIN || n > PKCE_VERIFIER_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!unreserved((unsigned char)v[i])) return false;
    return true;
}

bool pkce_challenge_valid(const char *c)
{
    if (!c || strnlen(c, PKCE_CHALLENGE_LEN + 1) != PKCE_CHALLENGE_LEN) return false;
    /* Strict decoding also rejects non-zero trailing bits: exactly one encoding per digest. */
    unsigned char raw[33];
    size_t n = 0;
    return b64url_decode_to(c, PKCE_CHALLENGE_LEN, raw, sizeof raw, &n) == IDP_OK && n == 32;
}

idp_err pkce_check_s256(const char *verifier, const char *challenge, idp_error *err)
{
    if (!pkce_verifier_valid(verifier))
        return IDP_FAIL(
            err, IDP_ERR_OAUTH_INVALID_GRANT,
            "code_verifier must be 43 to 128 unreserved characters (RFC 7636 section 4.1)");
    if (!pkce_challenge_valid(challenge))
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT,
                        "authorization code has no valid code_challenge");
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char enc[PKCE_CHALLENGE_LEN + 1];
    if (EVP_Digest(verifier, strlen(verifier), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return IDP_FAIL(err, IDP_ERR_CRYPTO, "SHA-256 failed");
    b64url_encode_to(enc, md, 32);
    bool ok = CRYPTO_memcmp(enc, challenge, PKCE_CHALLENGE_LEN) == 0;
    mem_wipe(md, sizeof md);
    mem_wipe(enc, sizeof enc);
    if (!ok)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT,
                        "code_verifier does not match the code_challenge");
    return IDP_OK;
}
