/* fed_verify — upstream tokens, in the order of fed_verify.h. */
#include "federation/fed_verify.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/timeutil.h"
#include "jose/jws.h"
#include "jose/jwt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const reason_names[FED__R_COUNT] = {
    [FED_ACCEPTED] = "accepted",
    [FED_R_TOO_LARGE] = "too_large",
    [FED_R_MALFORMED] = "malformed",
    [FED_R_ALG_REFUSED] = "alg_refused",
    [FED_R_UNKNOWN_ISSUER] = "unknown_issuer",
    [FED_R_ALG_NOT_ALLOWED] = "alg_not_allowed",
    [FED_R_KEYS_UNAVAILABLE] = "keys_unavailable",
    [FED_R_UNKNOWN_KID] = "unknown_kid",
    [FED_R_BAD_SIGNATURE] = "bad_signature",
    [FED_R_TYP] = "typ",
    [FED_R_EXPIRED] = "expired",
    [FED_R_NOT_YET_VALID] = "not_yet_valid",
    [FED_R_MISSING_CLAIM] = "missing_claim",
    [FED_R_LIFETIME] = "lifetime",
    [FED_R_AUDIENCE] = "audience",
    [FED_R_REQUIRE] = "require",
    [FED_R_SUBJECT] = "subject",
    [FED_R_REPLAY] = "replay",
    [FED_R_CLIENT] = "client",
    [FED_R_NOT_LINKED] = "not_linked",
    [FED_R_INACTIVE_USER] = "inactive_user",
    [FED_R_SCOPE] = "scope",
    [FED_R_TARGET] = "target",
    [FED_R_POLICY] = "policy",
    [FED_R_NONCE] = "nonce",
    [FED_R_STORE] = "store",
    [FED_R_UPSTREAM_ERROR] = "upstream_error",
    [FED_R_UPSTREAM_UNAVAILABLE] = "upstream_unavailable",
};

const char *fed_verify_reason_name(fed_reason r)
{
    return (unsigned)r < FED__R_COUNT && reason_names[r] ? reason_names[r] : "unknown";
}

/* One decoded part of the compact serialization. */
const fed_verify_step fed_verify_steps[] = {
    {"size", "at most 16 KiB", FED_R_TOO_LARGE, FED_R_TOO_LARGE},
    {"compact_jws", "three base64url parts, JSON object header and payload", FED_R_MALFORMED,
     FED_R_MALFORMED},
    {"alg_refused", "alg is not none or HS*", FED_R_ALG_REFUSED, FED_R_ALG_REFUSED},
    {"issuer", "iss is a configured issuer (byte for byte)", FED_R_UNKNOWN_ISSUER,
     FED_R_UNKNOWN_ISSUER},
    {"alg_allowed", "alg is in the issuer's algorithms", FED_R_ALG_NOT_ALLOWED,
     FED_R_ALG_NOT_ALLOWED},
    {"key", "a key of the issuer's set (by kid, or the one fitting alg)", FED_R_KEYS_UNAVAILABLE,
     FED_R_UNKNOWN_KID},
    {"signature", "the signature verifies", FED_R_BAD_SIGNATURE, FED_R_BAD_SIGNATURE},
    {"typ", "typ fits the use", FED_R_TYP, FED_R_TYP},
    {"times", "exp (iat, jti for assertions), nbf, iat, lifetime within clock_skew",
     FED_R_EXPIRED, FED_R_LIFETIME},
    {"audience", "aud names an expected audience", FED_R_AUDIENCE, FED_R_AUDIENCE},
    {"require", "required claims have exactly the required values", FED_R_REQUIRE,
     FED_R_REQUIRE},
    {"subject", "the subject claim is a string of 1 to 255 bytes", FED_R_SUBJECT, FED_R_SUBJECT},
};
const size_t fed_verify_nsteps = sizeof fed_verify_steps / sizeof *fed_verify_steps;

int fed_verify_step_of(fed_reason r)
{
    for (size_t i = 0; i < fed_verify_nsteps; i++)
        if (r >= fed_verify_steps[i].first && r <= fed_verify_steps[i].last) return (int)i;
    return -1;
}

static json_t *decode_part(const char *s, size_t n)
{
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    json_t *v = NULL;
    if (b64url_decode(s, n, &raw, &rawlen) == IDP_OK)
        (void)jsonx_parse((const char *)raw, rawlen, FED_VERIFY_MAX_LEN, 0, true, &v, NULL);
    free(raw);
    return v;
}

/* Splits tok into its three parts; false unless there are exactly two dots. */
static bool split3(const char *tok, size_t len, size_t *d1, size_t *d2)
{
    const char *a = memchr(tok, '.', len);
    if (!a) return false;
    const char *b = memchr(a + 1, '.', len - (size_t)(a + 1 - tok));
    if (!b || memchr(b + 1, '.', len - (size_t)(b + 1 - tok))) return false;
    *d1 = (size_t)(a - tok);
    *d2 = (size_t)(b - tok);
    return true;
}

bool fed_verify_peek_iss(const char *token, size_t len, char *out, size_t cap)
{
    size_t d1, d2;
    if (cap) out[0] = '\0';
    if (!token || len == 0 || len > FED_VERIFY_MAX_LEN || !split3(token, len, &d1, &d2)) return false;
    json_t *p = decode_part(token + d1 + 1, d2 - d1 - 1);
    const char *iss = p ? jsonx_str(p, "iss") : NULL;
    bool ok = iss && strlen(iss) < cap;
    if (ok) memcpy(out, iss, strlen(iss) + 1);
    json_decref(p);
    return ok;
}

/* RFC 7515 §4.1.9: typ compares case-insensitively, "application/" may be omitted. */
static bool typ_is(const char *typ, const char *want)
{
    if (strncasecmp(typ, "application/", 12) == 0) typ += 12;
    return strcasecmp(typ, want) == 0;
}

/* typ values that name another kind of JWT: never a subject token nor an assertion. */
static bool typ_foreign(const char *typ)
{
    static const char *const foreign[] = {"logout+jwt", "dpop+jwt", "secevent+jwt"};
    for (size_t i = 0; i < sizeof foreign / sizeof foreign[0]; i++)
        if (typ_is(typ, foreign[i])) return true;
    return false;
}

static bool plain_string(const char *s, size_t max)
{
    if (!s) return false;
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

#define REFUSE(r, ...) (*why = (r), IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, __VA_ARGS__))

static fed_reason claims_reason(idp_err rc)
{
    switch (rc) {
    case IDP_ERR_JWT_EXPIRED:
        return FED_R_EXPIRED;
    case IDP_ERR_JWT_NOT_YET_VALID:
        return FED_R_NOT_YET_VALID;
    case IDP_ERR_JWT_AUDIENCE:
        return FED_R_AUDIENCE;
    default:
        return FED_R_MISSING_CLAIM;
    }
}

/* The audiences a use expects when the caller gives none. */
static void default_audiences(const fed_verify_in *in, const fed_issuer *is,
                              const char *const **aud, size_t *naud)
{
    *aud = in->audiences;
    *naud = in->naudiences;
    if (*naud) return;
    if (in->use == FED_USE_ID_TOKEN && is->login && is->login->client_id) {
        *aud = &is->login->client_id;
        *naud = 1;
    } else if (in->use != FED_USE_ASSERTION) {
        *aud = is->audiences;
        *naud = is->naudiences;
    }
}

idp_err fed_verify(const fed_verify_in *in, fed_verified *out, fed_reason *why, idp_error *err)
{
    memset(out, 0, sizeof *out);
    *why = FED_ACCEPTED;
    const char *tok = in->token;
    size_t len = in->len, d1, d2;
    /* 1-2: size, compact JWS */
    if (!tok || len == 0) return REFUSE(FED_R_MALFORMED, "the token is empty");
    if (len > FED_VERIFY_MAX_LEN) return REFUSE(FED_R_TOO_LARGE, "the token is larger than %u bytes", FED_VERIFY_MAX_LEN);
    if (!split3(tok, len, &d1, &d2))
        return REFUSE(FED_R_MALFORMED, "the token is not a JWS compact serialization (three parts)");
    json_t *hdr = decode_part(tok, d1);
    json_t *pl = hdr ? decode_part(tok + d1 + 1, d2 - d1 - 1) : NULL;
    jws_verified v = {0};
    idp_err rc = IDP_OK;
    if (!hdr || !pl) {
        rc = REFUSE(FED_R_MALFORMED, "the token header or payload is not base64url JSON");
        goto out;
    }
    /* 3: none and HS* are never accepted, whatever the issuer */
    const char *alg = jsonx_str(hdr, "alg");
    if (!alg) {
        rc = REFUSE(FED_R_MALFORMED, "the token header has no alg");
        goto out;
    }
    if (strcasecmp(alg, "none") == 0 || strncasecmp(alg, "HS", 2) == 0) {
        rc = REFUSE(FED_R_ALG_REFUSED, "alg none and HMAC algorithms are never accepted");
        goto out;
    }
    /* 4: the unverified iss picks the issuer; nothing else is looked at for an unknown one */
    json_t *issv = json_object_get(pl, "iss");
    const fed_issuer *is = json_is_string(issv)
                               ? policy_fed_by_issuer(in->policy, json_string_value(issv),
                                                      json_string_length(issv))
                               : NULL;
    if (!is) {
        rc = REFUSE(FED_R_UNKNOWN_ISSUER, "the token's issuer is not trusted");
        goto out;
    }
    /* 5 */
    jws_alg a = jws_alg_from_name(alg, strlen(alg));
    if (a == JWS_ALG_INVALID || !(is->algorithms & JWS_ALG_BIT(a))) {
        rc = REFUSE(FED_R_ALG_NOT_ALLOWED, "alg is not allowed for issuer %s", is->name);
        goto out;
    }
    /* 6: the issuer's own set only */
    const char *kid = jsonx_str(hdr, "kid");
    if (kid && strlen(kid) >= sizeof out->kid) {
        rc = REFUSE(FED_R_UNKNOWN_KID, "the token's kid is too long");
        goto out;
    }
    jwks *keys = NULL;
    rc = in->keys(in->keys_ctx, is, kid, &keys, err);
    if (rc == IDP_ERR_UNAVAILABLE) {
        *why = FED_R_KEYS_UNAVAILABLE;
        goto out;
    }
    if (rc != IDP_OK) {
        *why = FED_R_KEYS_UNAVAILABLE;
        goto out;
    }
    /* 7: signature (jws_verify never reads keys from jwk/jku/x5u/x5c headers) */
    jws_verify_opts vo = {.allowed_algs = JWS_ALG_BIT(a), .keys = keys, .payload_json = true};
    idp_error ve = {0};
    rc = jws_verify(tok, len, &vo, &v, &ve);
    jwks_unref(keys);
    if (rc != IDP_OK) {
        if (rc == IDP_ERR_NOMEM || rc == IDP_ERR_CRYPTO || rc == IDP_ERR_INTERNAL) {
            *err = ve;
            *why = FED_R_BAD_SIGNATURE;
        } else if (rc == IDP_ERR_JOSE_KEY) {
            rc = REFUSE(FED_R_UNKNOWN_KID, "no key of issuer %s verifies this token (unknown kid)", is->name);
        } else if (rc == IDP_ERR_JOSE_SIGNATURE) {
            rc = REFUSE(FED_R_BAD_SIGNATURE, "the token's signature does not verify");
        } else {
            rc = REFUSE(FED_R_MALFORMED, "the token is malformed (%s)", idp_err_name(rc));
        }
        goto out;
    }
    /* 8: typ */
    const char *typ = jsonx_str(v.header, "typ");
    if (json_object_get(v.header, "typ") && !typ) {
        rc = REFUSE(FED_R_TYP, "typ is not a string");
        goto out;
    }
    if (typ && typ_foreign(typ)) {
        rc = REFUSE(FED_R_TYP, "a token of this typ is never accepted here");
        goto out;
    }
    if (in->use == FED_USE_ID_TOKEN && typ && typ_is(typ, "at+jwt")) {
        rc = REFUSE(FED_R_TYP, "an access token (typ at+jwt) is not an ID token");
        goto out;
    }
    if (in->use == FED_USE_ACCESS_TOKEN && is->typ && !(typ && typ_is(typ, is->typ))) {
        rc = REFUSE(FED_R_TYP, "issuer %s requires typ %s", is->name, is->typ);
        goto out;
    }
    /* 9-10: times and audience */
    const char *const *aud;
    size_t naud;
    default_audiences(in, is, &aud, &naud);
    if (naud == 0) {
        rc = REFUSE(FED_R_AUDIENCE, "no audience is accepted for this use of issuer %s", is->name);
        goto out;
    }
    bool assertion = in->use == FED_USE_ASSERTION;
    jwt_check_opts co = {.audiences = aud,
                         .naudiences = naud,
                         .now = in->now ? in->now : time_now(),
                         .leeway = is->clock_skew_s,
                         .require_exp = true,
                         .require_iat = assertion,
                         .require_jti = assertion};
    idp_error ce = {0};
    if ((rc = jwt_check_claims(v.payload, &co, &ce)) != IDP_OK) {
        *why = claims_reason(rc);
        if (rc == IDP_ERR_JWT_CLAIM && !json_object_get(v.payload, "aud")) *why = FED_R_AUDIENCE;
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "%s", ce.msg);
        goto out;
    }
    int64_t exp = 0, iat = 0;
    (void)jsonx_int(v.payload, "exp", &exp);
    (void)jsonx_int(v.payload, "iat", &iat);
    const char *jti = jsonx_str(v.payload, "jti");
    if (jti && !plain_string(jti, FED_JTI_MAX)) {
        rc = REFUSE(FED_R_MISSING_CLAIM, "jti must be 1..%d bytes without control characters", FED_JTI_MAX);
        goto out;
    }
    if (assertion && exp - iat > is->jwt_bearer_max_lifetime_s) {
        rc = REFUSE(FED_R_LIFETIME, "exp - iat exceeds max_lifetime (%lld s) of issuer %s",
                    (long long)is->jwt_bearer_max_lifetime_s, is->name);
        goto out;
    }
    /* 11: require */
    idp_error re = {0};
    if (policy_fed_map_require(is, v.payload, &re) != IDP_OK) {
        rc = REFUSE(FED_R_REQUIRE, "%s", re.msg);
        goto out;
    }
    /* 12: the subject */
    const char *sub = jsonx_str(v.payload, is->subject_claim);
    if (!plain_string(sub, FED_SUBJECT_MAX)) {
        rc = REFUSE(FED_R_SUBJECT, "claim %s must be a string of 1..%d bytes", is->subject_claim, FED_SUBJECT_MAX);
        goto out;
    }
    out->is = is;
    out->claims = v.payload;
    v.payload = NULL;
    out->subject = sub;
    out->jti = jti;
    out->exp = exp;
    out->iat = iat;
    out->alg = a;
    if (kid) memcpy(out->kid, kid, strlen(kid) + 1);
    rc = IDP_OK;
out:
    jws_verified_clear(&v);
    json_decref(hdr);
    json_decref(pl);
    return rc;
}

void fed_verify_clear(fed_verified *v)
{
    json_decref(v->claims);
    memset(v, 0, sizeof *v);
}
