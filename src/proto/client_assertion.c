#include "proto/client_assertion.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/timeutil.h"
#include "jose/jws.h"
#include "jose/jwt.h"

#include <stdlib.h>
#include <string.h>

#define FAIL_CLIENT(err, ...) IDP_FAIL((err), IDP_ERR_OAUTH_INVALID_CLIENT, __VA_ARGS__)

/* 1..max bytes without C0 control characters or DEL (they end up in logs and the store). */
static bool plain_string(const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

/* An error of jws_verify / jwt_check_claims as invalid_client. Their messages are static texts
 * that name a rule, never a value, so they are passed on. Server faults stay what they are. */
static idp_err as_client_error(idp_err rc, const idp_error *je, idp_error *err)
{
    switch (rc) {
    case IDP_ERR_CRYPTO:
    case IDP_ERR_NOMEM:
    case IDP_ERR_INTERNAL:
        return IDP_FAIL(err, rc, "client assertion: %s", je->msg);
    case IDP_ERR_JOSE_ALG:
        return FAIL_CLIENT(err,
                           "client assertion alg is not allowed (RS256, PS256, ES256 or EdDSA)");
    case IDP_ERR_JOSE_KEY:
        return FAIL_CLIENT(err, "no registered client key matches the client assertion (%s)",
                           je->msg);
    case IDP_ERR_JOSE_SIGNATURE:
        return FAIL_CLIENT(err, "client assertion signature did not verify");
    case IDP_ERR_JOSE_CRIT:
        return FAIL_CLIENT(err, "client assertion has an unsupported critical header");
    case IDP_ERR_JWT_EXPIRED:
        return FAIL_CLIENT(err, "client assertion expired");
    case IDP_ERR_JWT_NOT_YET_VALID:
        return FAIL_CLIENT(err, "client assertion is not yet valid (nbf or iat)");
    case IDP_ERR_JWT_CLAIM:
        return FAIL_CLIENT(err, "client assertion: %s", je->msg);
    default:
        return FAIL_CLIENT(err, "client assertion is not a well-formed signed JWT (%s)", je->msg);
    }
}

/* RFC 7523 §3 items 1-2 and OIDC Core §9: iss = sub = the client_id. */
static idp_err check_subject(const json_t *p, const char *expected, client_assertion_result *out,
                             idp_error *err)
{
    const char *iss = jsonx_str(p, "iss"), *sub = jsonx_str(p, "sub");
    if (!iss || !sub)
        return FAIL_CLIENT(err, "client assertion needs iss and sub (RFC 7523 section 3)");
    if (strcmp(iss, sub) != 0)
        return FAIL_CLIENT(
            err, "client assertion iss and sub must both be the client_id (RFC 7523 section 3)");
    if (!plain_string(iss, CLIENT_ASSERTION_MAX_ID))
        return FAIL_CLIENT(err, "client assertion iss is not a valid client_id");
    if (expected && strcmp(iss, expected) != 0)
        return FAIL_CLIENT(err, "client assertion iss is not the authenticating client");
    memcpy(out->client_id, iss, strlen(iss) + 1);
    return IDP_OK;
}

static bool accepted(const char *s, const char *const *audiences, size_t naud)
{
    for (size_t i = 0; s && i < naud; i++)
        if (audiences[i] && strcmp(s, audiences[i]) == 0) return true;
    return false;
}

/* RFC 7523 §3 item 3: the server MUST reject a JWT without its own identity as an audience. */
static idp_err check_aud(const json_t *p, const char *const *audiences, size_t naud, idp_error *err)
{
    const json_t *aud = json_object_get(p, "aud");
    bool found = false;
    if (json_is_string(aud)) {
        found = accepted(json_string_value(aud), audiences, naud);
    } else if (json_is_array(aud)) {
        for (size_t i = 0; i < json_array_size(aud); i++) {
            const char *s = json_string_value(json_array_get(aud, i));
            if (!s) return FAIL_CLIENT(err, "client assertion aud has a non-string item");
            found |= accepted(s, audiences, naud);
        }
    } else {
        return FAIL_CLIENT(err,
                           "client assertion needs an aud string or array (RFC 7523 section 3)");
    }
    if (!found)
        return FAIL_CLIENT(err,
                           "client assertion aud must be the token endpoint URL or the issuer");
    return IDP_OK;
}

static idp_err check_exp_jti(const json_t *p, int64_t now, int64_t max_lifetime,
                             client_assertion_result *out, idp_error *err)
{
    /* jwt_check_claims made sure exp is a number and now < exp + leeway. Compared as doubles
     * first, so a huge exp is refused before any conversion to an integer. */
    double exp = json_number_value(json_object_get(p, "exp"));
    if (!(exp - (double)now <= (double)max_lifetime))
        return FAIL_CLIENT(err,
                           "client assertion exp is too far in the future (at most %lld seconds)",
                           (long long)max_lifetime);
    const char *jti = jsonx_str(p, "jti");
    if (!plain_string(jti, CLIENT_ASSERTION_MAX_JTI))
        return FAIL_CLIENT(err,
                           "client assertion jti must be 1 to %d bytes without control characters",
                           CLIENT_ASSERTION_MAX_JTI);
    memcpy(out->jti, jti, strlen(jti) + 1);
    out->exp = (int64_t)exp;
    return IDP_OK;
}

idp_err client_assertion_verify_keys(const char *assertion, const jwks *keys,
                                     const char *expected_client_id, const char *const *audiences,
                                     size_t naud, int64_t now, int64_t leeway, int64_t max_lifetime,
                                     client_assertion_result *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    size_t len = assertion ? strnlen(assertion, CLIENT_ASSERTION_MAX_LEN + 1) : 0;
    if (len == 0) return FAIL_CLIENT(err, "client assertion is missing");
    if (len > CLIENT_ASSERTION_MAX_LEN) return FAIL_CLIENT(err, "client assertion is too long");
    if (!audiences || naud == 0)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "no audience for client assertions");
    if (!keys || jwks_count(keys) == 0)
        return FAIL_CLIENT(err, "client has no registered public keys for private_key_jwt");
    if (now == 0) now = time_now();
    if (max_lifetime <= 0) max_lifetime = CLIENT_ASSERTION_DEFAULT_MAX_LIFETIME;
    jws_verify_opts vo = {.allowed_algs = CLIENT_ASSERTION_ALGS,
                          .keys = keys,
                          .max_len = CLIENT_ASSERTION_MAX_LEN,
                          .payload_json = true};
    jwt_check_opts co = {.now = now, .leeway = leeway, .require_exp = true, .require_jti = true};
    jws_verified v = {0};
    idp_error je = {0};
    idp_err rc = jws_verify(assertion, len, &vo, &v, &je);
    if (rc) return as_client_error(rc, &je, err);
    if ((rc = jwt_check_claims(v.payload, &co, &je))) {
        rc = as_client_error(rc, &je, err);
        goto out;
    }
    if ((rc = check_subject(v.payload, expected_client_id, out, err))) goto out;
    if ((rc = check_aud(v.payload, audiences, naud, err))) goto out;
    if ((rc = check_exp_jti(v.payload, now, max_lifetime, out, err))) goto out;
    out->alg = v.alg;
out:
    jws_verified_clear(&v);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

idp_err client_assertion_verify(const char *assertion, const char *client_jwks_json,
                                const char *expected_client_id, const char *const *audiences,
                                size_t naud, int64_t now, int64_t leeway, int64_t max_lifetime,
                                client_assertion_result *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    jwks *keys = NULL;
    idp_error je = {0};
    if (!client_jwks_json || jwks_from_json(client_jwks_json, strlen(client_jwks_json), &keys, &je))
        return FAIL_CLIENT(err, "client has no usable registered JWKS for private_key_jwt");
    idp_err rc = client_assertion_verify_keys(assertion, keys, expected_client_id, audiences, naud,
                                              now, leeway, max_lifetime, out, err);
    jwks_unref(keys);
    return rc;
}

idp_err client_assertion_peek_iss(const char *assertion, char out[CLIENT_ASSERTION_MAX_ID + 1],
                                  idp_error *err)
{
    out[0] = '\0';
    size_t len = assertion ? strnlen(assertion, CLIENT_ASSERTION_MAX_LEN + 1) : 0;
    if (len == 0) return FAIL_CLIENT(err, "client assertion is missing");
    if (len > CLIENT_ASSERTION_MAX_LEN) return FAIL_CLIENT(err, "client assertion is too long");
    const char *d1 = memchr(assertion, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - assertion)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - assertion)))
        return FAIL_CLIENT(err, "client assertion is not a JWS compact serialization");
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    json_t *p = NULL;
    idp_err rc = IDP_OK;
    if (b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &raw, &rawlen) ||
        jsonx_parse((const char *)raw, rawlen, CLIENT_ASSERTION_MAX_LEN, 0, true, &p, NULL)) {
        rc = FAIL_CLIENT(err, "client assertion payload is not a JSON object");
        goto out;
    }
    const char *iss = jsonx_str(p, "iss");
    if (!plain_string(iss, CLIENT_ASSERTION_MAX_ID)) {
        rc = FAIL_CLIENT(err, "client assertion has no valid iss");
        goto out;
    }
    memcpy(out, iss, strlen(iss) + 1);
out:
    json_decref(p);
    free(raw);
    return rc;
}
