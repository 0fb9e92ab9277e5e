/* set_feed — the receiver of idpd's revocation feed (see set_feed.h): a poll response (RFC 8936
 * §2.5) whose SETs (RFC 8417) are verified on the one strict path (verify/token_verify) and
 * recorded in a denylist. set_feed_request / set_feed_parse_request are in set_feed_request.c. */
#include "verify/set_feed.h"

#include "core/jsonx.h"
#include "verify/rev_event.h"
#include "verify/token_verify.h"

#include <string.h>

/* A cursor is opaque to the receiver but must be safe to log and to send back: printable
 * characters of a token (RFC 3986 unreserved), 1..SET_FEED_CURSOR_MAX-1 of them. */
static bool cursor_ok(const char *c)
{
    size_t n = strlen(c);
    return n > 0 && n < SET_FEED_CURSOR_MAX &&
           strspn(c, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-._~") == n;
}

/* Verifies one SET and applies its event. IDP_ERR_NOT_FOUND: an event type we do not know
 * (skipped by the caller). */
static idp_err apply_one(const char *name, const char *set, const token_verify_opts *o,
                         const char *issuer, denylist *d, int64_t now, idp_error *err)
{
    json_t *payload = NULL;
    /* signature with keys from the caller's set only (never from a jwk/jku/x5c header: jws.h),
     * alg in the allow-list, typ secevent+jwt (RFC 8417 §2.3), iss, aud when asked */
    idp_err rc = token_verify(set, strlen(set), o, &payload, err);
    if (rc != IDP_OK) return rc;
    /* RFC 8936 §2.5: each member of "sets" is named by the jti of its SET */
    const char *jti = jsonx_str(payload, "jti");
    rev_event ev;
    if (!jti || strcmp(jti, name))
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "a SET's jti is not the name it is listed under");
    else if ((rc = rev_event_from_set(payload, issuer, &ev, err)) == IDP_OK)
        rc = denylist_apply(d, &ev, now, err);
    json_decref(payload);
    return rc;
}

idp_err set_feed_apply(const char *body, size_t len, const jwks *keys, unsigned algs,
                       const char *issuer, const char *aud, denylist *d, int64_t now,
                       set_feed_result *r, idp_error *err)
{
    json_t *doc = NULL;
    idp_err rc = IDP_OK;
    r->applied = r->skipped = 0;
    r->more = false;
    if (!body || !issuer || !d) return IDP_FAIL(err, IDP_ERR_INVALID, "no feed body or issuer");
    if (len > SET_FEED_MAX_BODY)
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "poll response larger than %u bytes",
                        SET_FEED_MAX_BODY);
    if ((rc = jsonx_parse(body, len, SET_FEED_MAX_BODY, 0, true, &doc, err)) != IDP_OK) return rc;
    const json_t *sets = json_object_get(doc, "sets");
    const json_t *more = json_object_get(doc, "moreAvailable");
    const json_t *cursor = json_object_get(doc, "cursor");
    if (!json_is_object(sets)) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "poll response without a sets object");
        goto out;
    }
    if (json_object_size(sets) > SET_FEED_MAX_EVENTS) {
        rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "more than %d SETs in one poll response",
                      SET_FEED_MAX_EVENTS);
        goto out;
    }
    if (more && !json_is_boolean(more)) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "moreAvailable is not a boolean");
        goto out;
    }
    /* idpd always sends the cursor; without one, nothing may have been read */
    if (cursor ? !json_is_string(cursor) || !cursor_ok(json_string_value(cursor))
               : json_object_size(sets) > 0) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "poll response cursor missing or malformed");
        goto out;
    }
    token_verify_opts o = {.keys = keys,
                           .algs = algs,
                           .typ = REV_SET_TYP,
                           .issuer = issuer,
                           .audiences = aud ? &aud : NULL,
                           .naudiences = aud ? 1 : 0,
                           .now = now,
                           /* a SET has no exp (RFC 8417 §2.2) and the events carry their own
                            * until: a skewed clock must not make us drop a revocation */
                           .ignore_times = true,
                           .require_jti = true};
    const char *name;
    const json_t *v;
    json_object_foreach ((json_t *)sets, name, v) {
        if (!json_is_string(v)) {
            rc = IDP_FAIL(err, IDP_ERR_INVALID, "a member of sets is not a compact SET");
            goto out;
        }
        rc = apply_one(name, json_string_value(v), &o, issuer, d, now, err);
        if (rc == IDP_ERR_NOT_FOUND) {
            r->skipped++; /* RFC 8417 §2.2: an event we do not understand is ignored */
            rc = IDP_OK;
        } else if (rc != IDP_OK) {
            goto out;
        } else {
            r->applied++;
        }
    }
    r->more = json_is_true(more);
    if (cursor) memcpy(r->cursor, json_string_value(cursor), strlen(json_string_value(cursor)) + 1);
out:
    json_decref(doc);
    return rc;
}
