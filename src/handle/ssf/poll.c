/* POST /ssf/poll — the transmitter of idpd's revocation feed (issue 14): SET delivery by poll
 * (RFC 8936) of the store's revocation events (store rev_list), one SET (RFC 8417) per event as
 * verify/rev_event.h defines it, signed by the current signing key of the default algorithm
 * (the key snapshot of the request, like token issuance; header typ secevent+jwt, kid, alg). The
 * wire form, cursor included, is verify/set_feed.h.
 *
 * Rules:
 *  - the caller is a provisioning key with scope events:read (creds/pkey.h), rate-limited per key
 *    with the SCIM limit (429 + Retry-After, RFC 6585 §4); 401 / 403 carry an RFC 6750 §3
 *    challenge, 401 with one answer whatever was wrong (no hint for a guesser);
 *  - Content-Type application/json (RFC 8936 §2.4; parameters ignored) else 415; the body is read
 *    by set_feed_parse_request (400 with the reason, 413 past SET_FEED_MAX_REQUEST); a since
 *    beyond the store's rev_last_seq is 400 too (not our cursor: the receiver starts over);
 *  - at most maxEvents SETs and at most SET_FEED_MAX_BODY bytes of response (what a receiver
 *    accepts): the rest is moreAvailable, so no poll answer is ever unbounded;
 *  - the store cannot be read (or a SET cannot be signed): 503 / 500, never a partial or empty
 *    200 that a receiver would take as "nothing was revoked";
 *  - SETs carry no aud: the feed is one broadcast to every verifier of this issuer (set_feed.h
 *    "why a cursor"); a receiver checks iss, typ and the signature. */
#include "handle/ssf/ssf.h"

#include "core/buf.h"
#include "core/jsonw.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/timeutil.h"
#include "creds/pkey.h"
#include "handle/app.h"
#include "keys/keyset.h"
#include "oauth/token_mint.h"
#include "verify/rev_event.h"
#include "verify/set_feed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 8935 §2.4 error codes where one fits; otherwise the OAuth error of the table. */
static const char *ssf_err_code(idp_err c, int status)
{
    if (c == IDP_ERR_UNAUTHORIZED) return "authentication_failed";
    if (c == IDP_ERR_FORBIDDEN) return "access_denied";
    if (status == 503) return "temporarily_unavailable";
    if (status >= 500) return "server_error";
    if (c == IDP_ERR_RATE_LIMITED) return "slow_down";
    return "invalid_request";
}

/* Renders e as {"err","description"} (see ssf.h); keeps headers already set (WWW-Authenticate,
 * Retry-After). */
static void ssf_error(http_response *rs, const idp_error *e)
{
    idp_err code = e->code == IDP_OK ? IDP_ERR_INTERNAL : e->code;
    rs->status = idp_err_http_status(code);
    rs->content_type = "application/json";
    rs->no_store = true;
    buf_reset(&rs->body);
    const char *desc = e->msg[0] ? e->msg : idp_err_name(code);
    if (rs->status >= 500) {
        log_msg(LOG_ERROR, "ssf poll: %s (%s:%d): %s", idp_err_name(code), e->func ? e->func : "?",
                e->line, e->msg);
        desc = rs->status == 503 ? "the revocation feed cannot be read now; poll again"
                                 : "internal server error";
    } else if (rs->status == 401) {
        desc = PKEY_AUTH_FAILED_MSG;
    }
    buf_puts(&rs->body, "{");
    jsonw_member_str(&rs->body, 1, "err", ssf_err_code(code, rs->status));
    jsonw_member_str(&rs->body, 0, "description", desc);
    buf_puts(&rs->body, "}");
}

/* RFC 8936 §2.4: the request is application/json; the media type is case-insensitive (RFC 9110
 * §8.3.1), parameters (charset) are ignored. */
static bool media_type_ok(const char *ct)
{
    static const char want[] = "application/json";
    if (!ct) return false;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == sizeof want - 1 && strncasecmp(ct, want, n) == 0;
}

/* The caller: a provisioning key with events:read, within its rate. */
static idp_err gate(struct app *a, const http_request *rq, http_response *rs, idp_error *err)
{
    store_pkey key = {0};
    idp_error e = {0};
    idp_err rc = pkey_authenticate(a->st, a->scim_pepper, rq->authorization, PKEY_SCOPE_EVENTS_READ,
                                   time_now(), &key, &e);
    if (key.id) response_set_client(rs, key.id, strlen(key.id));
    if (rc == IDP_ERR_UNAUTHORIZED) {
        response_bearer_challenge(rs, SSF_REALM, NULL); /* RFC 6750 §3: one answer */
        rc = IDP_FAIL(err, IDP_ERR_UNAUTHORIZED, "%s", PKEY_AUTH_FAILED_MSG);
    } else if (rc == IDP_ERR_FORBIDDEN) {
        IDP_FAIL(err, IDP_ERR_FORBIDDEN, "this provisioning key lacks the %s scope",
                 PKEY_SCOPE_EVENTS_READ);
        response_bearer_challenge(rs, SSF_REALM, err); /* error="insufficient_scope" */
    } else if (rc != IDP_OK) {
        /* the key table cannot be read: fail closed, and say it is temporary */
        rc = IDP_FAIL(err, IDP_ERR_UNAVAILABLE, "provisioning key lookup: %s", e.msg);
    } else if (!app_pkey_rate_take(a, key.id, rs, err)) {
        rc = IDP_ERR_RATE_LIMITED;
    }
    store_pkey_clear(&key);
    return rc;
}

/* Appends "rev-<seq>":"<SET>" for row to out (no separator). IDP_ERR_TOO_LARGE when out's cap
 * would be passed (out is then as it was). */
static idp_err append_set(struct app *a, const keyset *ks, jws_alg alg, const store_rev_event *row,
                          int64_t now, idp_buf *out, idp_error *err)
{
    rev_event ev = ssf_rev_event(row);
    if (!rev_event_type_uri(ev.kind) || !ev.subject)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "revocation event %" PRId64 " has kind %d", row->seq,
                        row->kind);
    json_t *p = rev_event_to_set(&ev, a->cfg->issuer, NULL, now);
    char *payload = p ? jsonx_dump(p) : NULL;
    json_decref(p);
    if (!payload) return IDP_FAIL(err, IDP_ERR_NOMEM, "out of memory");
    idp_buf set;
    buf_init(&set, 0);
    idp_err rc = token_mint_sign(ks, alg, REV_SET_TYP, payload, strlen(payload), &set, err);
    free(payload);
    if (rc == IDP_OK) {
        char name[32];
        snprintf(name, sizeof name, "rev-%" PRId64, row->seq);
        size_t mark = out->len;
        /* a compact JWS is base64url and dots: nothing to escape */
        if (buf_printf(out, "\"%s\":\"%.*s\"", name, (int)set.len, set.data) ||
            out->len > SET_FEED_MAX_BODY - 64) {
            out->len = mark;
            rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "poll response full");
        }
    }
    buf_free(&set);
    return rc;
}

/* The RFC 8936 §2.5 body for the events after since (at most max). */
static idp_err respond(struct app *a, const http_request *rq, http_response *rs, int max,
                       int64_t since, idp_error *err)
{
    store_rev_event *rows = NULL;
    size_t n = 0;
    idp_error se = {0};
    int64_t after = since < 0 ? 0 : since, last = 0;
    /* a cursor beyond every seq ever given is not ours: e.g. a receiver ahead of a store restored
     * from a backup, which must start again from the oldest event rather than wait */
    if (since > 0) {
        if (a->st->ops->rev_last_seq(a->st, &last, &se) != IDP_OK)
            return IDP_FAIL(err, IDP_ERR_UNAVAILABLE, "revocation events: %s", se.msg);
        if (since > last)
            return IDP_FAIL(err, IDP_ERR_INVALID,
                            "since is beyond the newest event: poll again without since");
    }
    /* one more than asked: whether more are available, without a second query */
    if (a->st->ops->rev_list(a->st, after, (size_t)max + 1, &rows, &n, &se) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_UNAVAILABLE, "revocation events: %s", se.msg);
    jws_alg alg = token_mint_alg(a->cfg, JWS_ALG_INVALID);
    int64_t now = time_now(), cursor = after;
    bool more = n > (size_t)max;
    idp_err rc = buf_puts(&rs->body, "{\"sets\":{") ? IDP_FAIL(err, IDP_ERR_NOMEM, "body") : IDP_OK;
    for (size_t i = 0; rc == IDP_OK && i < n && i < (size_t)max; i++) {
        if (i && buf_putc(&rs->body, ',')) {
            rc = IDP_FAIL(err, IDP_ERR_NOMEM, "body");
            break;
        }
        rc = append_set(a, rq->keys, alg, &rows[i], now, &rs->body, err);
        if (rc == IDP_ERR_TOO_LARGE && i) { /* bounded: the rest on the next poll */
            rs->body.len--;                 /* the comma */
            more = true;
            rc = IDP_OK;
            break;
        }
        if (rc == IDP_ERR_TOO_LARGE) /* never an empty page with moreAvailable: a loop */
            rc = IDP_FAIL(err, IDP_ERR_INTERNAL, "revocation event %" PRId64 " too large",
                          rows[i].seq);
        if (rc == IDP_OK) cursor = rows[i].seq;
    }
    store_rev_event_list_free(rows, n);
    if (rc != IDP_OK) return rc;
    if (buf_printf(&rs->body, "},\"moreAvailable\":%s,\"cursor\":\"%" PRId64 "\"}",
                   more ? "true" : "false", cursor))
        return IDP_FAIL(err, IDP_ERR_NOMEM, "body");
    rs->status = 200;
    rs->content_type = "application/json";
    return IDP_OK;
}

idp_err ssf_poll_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    idp_error e = {0};
    int max = 0;
    int64_t since = -1;
    rs->no_store = true; /* RFC 8936 §2.5: the answer changes with every revocation */
    idp_err rc = gate(a, rq, rs, &e);
    if (rc == IDP_OK && !media_type_ok(rq->content_type))
        rc = IDP_FAIL(&e, IDP_ERR_HTTP_MEDIA_TYPE, "Content-Type must be application/json");
    if (rc == IDP_OK) {
        rc = set_feed_parse_request(rq->body, rq->body_len, &max, &since, &e);
        if (rc == IDP_ERR_JSON) rc = e.code = IDP_ERR_INVALID; /* 400 either way */
    }
    if (rc == IDP_OK) {
        buf_reset(&rs->body);
        rc = respond(a, rq, rs, max, since, &e);
    }
    if (rc != IDP_OK) {
        ssf_error(rs, &e);
        /* the message is in the log (5xx) or the body; the dispatcher renders nothing more */
        (void)err;
    }
    return IDP_OK;
}
