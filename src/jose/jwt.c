/* jwt — registered-claim checks (RFC 7519 §4.1) on a verified payload; see jwt.h. */
#include "jose/jwt.h"

#include "core/timeutil.h"

#include <string.h>

/* A NumericDate (RFC 7519 §2): a JSON number, possibly non-integer. *present=false if absent. */
static idp_err get_date(const json_t *p, const char *name, bool required, double *v,
                        bool *present, idp_error *err)
{
    json_t *x = json_object_get(p, name);
    *present = x != NULL;
    if (!x) {
        if (required) return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "required claim %s missing", name);
        return IDP_OK;
    }
    if (!json_is_number(x)) return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "claim %s is not a number", name);
    *v = json_number_value(x);
    return IDP_OK;
}

static idp_err check_times(const json_t *p, const jwt_check_opts *o, double now, idp_error *err)
{
    double v = 0, leeway = (double)(o->leeway > 0 ? o->leeway : 0);
    bool present;
    idp_err rc;
    /* RFC 7519 §4.1.4: reject on or after exp. */
    if ((rc = get_date(p, "exp", o->require_exp, &v, &present, err))) return rc;
    if (present && now >= v + leeway) return IDP_FAIL(err, IDP_ERR_JWT_EXPIRED, "token expired");
    /* §4.1.5: reject before nbf. */
    if ((rc = get_date(p, "nbf", false, &v, &present, err))) return rc;
    if (present && now + leeway < v) return IDP_FAIL(err, IDP_ERR_JWT_NOT_YET_VALID, "token not yet valid");
    /* §4.1.6 / RFC 9068 §4: an iat in the future means a skewed or forged issuer clock. */
    if ((rc = get_date(p, "iat", o->require_iat, &v, &present, err))) return rc;
    double future = leeway + (double)(o->max_iat_future > 0 ? o->max_iat_future : 0);
    if (present && v > now + future) return IDP_FAIL(err, IDP_ERR_JWT_NOT_YET_VALID, "token issued in the future");
    return IDP_OK;
}

static bool aud_wanted(const jwt_check_opts *o, const char *s)
{
    for (size_t i = 0; i < o->naudiences; i++)
        if (strcmp(s, o->audiences[i]) == 0) return true;
    return false;
}

/* §4.1.3: aud is a string or an array of strings; one of the expected audiences must be among
 * them. */
static idp_err check_aud(const json_t *p, const jwt_check_opts *o, idp_error *err)
{
    json_t *aud = json_object_get(p, "aud");
    bool found = false;
    if (!aud) {
        if (o->naudiences) return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "required claim aud missing");
        return IDP_OK;
    }
    if (json_is_string(aud)) {
        found = aud_wanted(o, json_string_value(aud));
    } else if (json_is_array(aud)) {
        for (size_t i = 0; i < json_array_size(aud); i++) {
            const char *s = json_string_value(json_array_get(aud, i));
            if (!s) return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "claim aud has a non-string item");
            found |= aud_wanted(o, s);
        }
    } else {
        return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "claim aud is neither a string nor an array");
    }
    if (o->naudiences && !found) return IDP_FAIL(err, IDP_ERR_JWT_AUDIENCE, "audience not accepted");
    return IDP_OK;
}

static idp_err check_string(const json_t *p, const char *name, bool required, idp_error *err)
{
    json_t *x = json_object_get(p, name);
    if (!x && required) return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "required claim %s missing", name);
    if (x && !json_is_string(x)) return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "claim %s is not a string", name);
    return IDP_OK;
}

idp_err jwt_check_claims(const json_t *payload, const jwt_check_opts *opts, idp_error *err)
{
    if (!json_is_object(payload)) return IDP_FAIL(err, IDP_ERR_JWT_CLAIM, "claims are not an object");
    double now = (double)(opts->now ? opts->now : time_now());
    idp_err rc;
    if (!opts->ignore_times && (rc = check_times(payload, opts, now, err))) return rc;
    /* §4.1.1: iss is a case-sensitive string, compared exactly. */
    if ((rc = check_string(payload, "iss", opts->issuer != NULL, err))) return rc;
    const char *iss = json_string_value(json_object_get(payload, "iss"));
    if (opts->issuer && strcmp(iss, opts->issuer) != 0)
        return IDP_FAIL(err, IDP_ERR_JWT_ISSUER, "issuer not accepted");
    if ((rc = check_aud(payload, opts, err))) return rc;
    if ((rc = check_string(payload, "sub", opts->require_sub, err))) return rc;
    return check_string(payload, "jti", opts->require_jti, err);
}

idp_err jwt_verify(const char *token, size_t len, const jws_verify_opts *vopts,
                   const jwt_check_opts *copts, jws_verified *out, idp_error *err)
{
    jws_verify_opts o = *vopts;
    o.payload_json = true;
    idp_err rc = jws_verify(token, len, &o, out, err);
    if (rc) return rc;
    rc = jwt_check_claims(out->payload, copts, err);
    if (rc) jws_verified_clear(out);
    return rc;
}
