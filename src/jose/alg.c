/* alg — the JWS algorithm registry (see alg.h). */
#include "jose/alg.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <string.h>

static const char *const alg_names[JWS__ALG_COUNT] = {
    [JWS_ES256] = "ES256", [JWS_RS256] = "RS256", [JWS_PS256] = "PS256", [JWS_EDDSA] = "EdDSA"};

const char *jws_alg_name(jws_alg a)
{
    return a > JWS_ALG_INVALID && a < JWS__ALG_COUNT ? alg_names[a] : NULL;
}

jws_alg jws_alg_from_name(const char *s, size_t n)
{
    for (int a = JWS_ALG_INVALID + 1; a < JWS__ALG_COUNT; a++)
        if (strlen(alg_names[a]) == n && memcmp(alg_names[a], s, n) == 0) return (jws_alg)a;
    return JWS_ALG_INVALID;
}

jws_alg_kty jws_alg_kty_of(jws_alg a)
{
    switch (a) {
    case JWS_ES256:
        return JWS_ALG_KTY_EC;
    case JWS_RS256:
    case JWS_PS256:
        return JWS_ALG_KTY_RSA;
    case JWS_EDDSA:
        return JWS_ALG_KTY_OKP;
    default:
        return JWS_ALG_KTY_NONE;
    }
}

static bool ec_is_p256(EVP_PKEY *pkey)
{
    char name[64];
    size_t len = 0;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len))
        return false;
    return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0;
}

jws_alg_kty jws_alg_pkey_kty(EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) return JWS_ALG_KTY_RSA;
    if (EVP_PKEY_is_a(pkey, "EC")) return ec_is_p256(pkey) ? JWS_ALG_KTY_EC : JWS_ALG_KTY_NONE;
    if (EVP_PKEY_is_a(pkey, "ED25519")) return JWS_ALG_KTY_OKP;
    return JWS_ALG_KTY_NONE;
}

bool jws_alg_fits_pkey(jws_alg a, EVP_PKEY *pkey)
{
    jws_alg_kty want = jws_alg_kty_of(a);
    return want != JWS_ALG_KTY_NONE && pkey && jws_alg_pkey_kty(pkey) == want;
}

static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256;

static void md_init(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *jws_alg_sha256(void)
{
    pthread_once(&md_once, md_init);
    return md_sha256;
}

EVP_MD_CTX *jws_alg_md_ctx(jws_alg a, EVP_PKEY *key, bool sign)
{
    const EVP_MD *md = a == JWS_EDDSA ? NULL : jws_alg_sha256();
    if (a != JWS_EDDSA && !md) return NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = ctx && (sign ? EVP_DigestSignInit(ctx, &pctx, md, NULL, key)
                          : EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key)) == 1;
    if (ok && a == JWS_PS256)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0;
    if (!ok) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
