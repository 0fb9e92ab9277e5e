/* vfeed — libidpd-verify's subscription to idpd's revocation feed (include/idpd/verify.h "The
 * revocation feed"; the wire form is src/verify/set_feed.h: RFC 8936 §2.4 poll of RFC 8417 SETs).
 *
 * Rules:
 *  - Polled on the verifier's tick (the background thread or idpd_verify_tick) every
 *    feed_interval_ms; when the answer says moreAvailable, the next page is read at once (at most
 *    VFEED_PAGES_PER_TICK pages a round, then the tick asks to be called again now).
 *  - Each poll is POST feed_url, Content-Type application/json, Authorization: Bearer
 *    feed_token (never logged, never in an error text), no redirect followed, TLS verified,
 *    response capped at SET_FEED_MAX_BODY, bounded by jwks_fetch_timeout_ms.
 *  - Every SET is verified by set_feed_apply with the verifier's own issuer keys (the JWKS cache;
 *    a SET signed by a key not yet in the set asks that cache for one refetch, then the page is
 *    applied again) and the verifier's algorithm allow-list; the events go into the denylist.
 *  - The feed is *fresh* when a poll reached the end of the feed (moreAvailable false, every event
 *    recorded) within feed_stale_ms. While it is not (never synchronised, the transmitter down,
 *    refusing our key, or sending SETs we cannot verify), every token is refused with
 *    temporarily_unavailable: a revocation we may have missed must not let its token through.
 *  - A denylist that overflowed (more live revocations than its bounds) refuses every token with
 *    temporarily_unavailable; the same page is read again each interval, and the overflow is
 *    cleared once a poll has recorded every event up to the end of the feed (denylist.h).
 *  - A 400 to a poll with a cursor means the cursor is not the transmitter's (it is ahead of a
 *    store restored from a backup): the next poll starts again without one, from the oldest
 *    retained event (docs/REVOCATION_FEED.md).
 *  - Expired entries are pruned every round. */
#include "internal.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "jose/alg.h"
#include "verify/denylist.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define VFEED_PAGES_PER_TICK 8

typedef struct xfer {
    idp_buf *body;
    bool too_large;
} xfer;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (buf_append(x->body, p, n)) {
        x->too_large = true;
        return 0;
    }
    return n;
}

/* POST json to url (fetch.h's rules: TLS verified, no redirect, capped, no signal). */
static idp_err post_json(const vfeed *f, bool loopback, long timeout_ms, const char *json,
                         idp_buf *body, long *status, idp_error *err)
{
    *status = 0;
    char errbuf[CURL_ERROR_SIZE] = "";
    xfer x = {.body = body};
    idp_err rc = IDP_OK;
    CURL *h = curl_easy_init();
    if (!h) return IDP_FAIL(err, IDP_ERR_NOMEM, "curl_easy_init failed");
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    size_t al = strlen(f->authz) + sizeof "Authorization: ";
    char *line = xmalloc(al);
    snprintf(line, al, "Authorization: %s", f->authz);
    struct curl_slist *h2 = hdrs ? curl_slist_append(hdrs, line) : NULL; /* copies line */
    mem_free_secret(line);
    if (!h2) {
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        return IDP_FAIL(err, IDP_ERR_NOMEM, "curl_slist_append failed");
    }
    hdrs = h2;
    const char *schemes = loopback ? "http,https" : "https";
    curl_easy_setopt(h, CURLOPT_URL, f->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, schemes);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body->max);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libidpd-verify/" IDPD_VERIFY_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (x.too_large || cc == CURLE_FILESIZE_EXCEEDED)
        rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "poll response over %zu bytes", body->max);
    else if (cc != CURLE_OK)
        rc = IDP_FAIL(err, IDP_ERR_IO, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

static void set_error(vfeed *f, const char *msg)
{
    pthread_mutex_lock(&f->smu);
    snprintf(f->last_error, sizeof f->last_error, "%s", msg);
    pthread_mutex_unlock(&f->smu);
}

/* Applies body with the current keys; one refetch of the JWKS on an unknown SET key. */
static idp_err apply(idpd_verify *v, const idp_buf *body, set_feed_result *r, idp_error *err)
{
    for (int attempt = 0;; attempt++) {
        jwks *keys = NULL;
        /* kid "" is in no set: asks for a refetch (within the cooldown rules) */
        idp_err rc = jwks_cache_get(v->keys, attempt ? "" : NULL, &keys, err);
        if (rc != IDP_OK) return rc;
        rc = set_feed_apply(body->data ? body->data : "", body->len, keys, v->algs, v->issuer, NULL,
                            v->feed.deny, time_now(), r, err);
        jwks_unref(keys);
        if (rc != IDP_ERR_JOSE_KEY || attempt) return rc;
    }
}

/* One poll from f->cursor. *more when the transmitter has more after this page. */
static idp_err poll_once(idpd_verify *v, bool *more, idp_error *err)
{
    vfeed *f = &v->feed;
    *more = false;
    char *req = set_feed_request(f->cursor, SET_FEED_MAX_EVENTS);
    if (!req) return IDP_FAIL(err, IDP_ERR_NOMEM, "out of memory");
    idp_buf body;
    buf_init(&body, SET_FEED_MAX_BODY);
    long status = 0;
    idp_err rc = post_json(f, v->src.loopback, (long)v->fetch_timeout_ms, req, &body, &status, err);
    free(req);
    atomic_fetch_add(&f->polls, 1);
    if (rc == IDP_OK && status == 400 && f->cursor[0]) {
        /* our cursor is not the transmitter's (a store restored from a backup is behind us):
         * start again from the oldest retained event (docs/REVOCATION_FEED.md); the denylist
         * keeps what it has, applying an event twice is harmless */
        f->cursor[0] = '\0';
        pthread_mutex_lock(&f->smu);
        f->cursor_copy[0] = '\0';
        pthread_mutex_unlock(&f->smu);
        *more = true;
        buf_free(&body);
        return IDP_OK;
    }
    if (rc == IDP_OK && status != 200)
        rc = IDP_FAIL(err, IDP_ERR_UNAVAILABLE, "poll answered HTTP status %ld", status);
    if (rc == IDP_OK) {
        set_feed_result r = {0};
        memcpy(r.cursor, f->cursor, sizeof r.cursor);
        rc = apply(v, &body, &r, err);
        atomic_fetch_add(&f->applied, r.applied);
        if (rc == IDP_OK) {
            memcpy(f->cursor, r.cursor, sizeof f->cursor);
            *more = r.more;
            pthread_mutex_lock(&f->smu);
            memcpy(f->cursor_copy, f->cursor, sizeof f->cursor_copy);
            pthread_mutex_unlock(&f->smu);
        }
    }
    buf_free(&body);
    return rc;
}

int64_t vfeed_tick(idpd_verify *v, int64_t now_ms)
{
    vfeed *f = &v->feed;
    if (!f->on) return INT64_MAX;
    if (now_ms < f->next_ms) return f->next_ms - now_ms;
    denylist_prune(f->deny, time_now());
    bool more = true;
    idp_error e = {0};
    idp_err rc = IDP_OK;
    for (int p = 0; p < VFEED_PAGES_PER_TICK && more && rc == IDP_OK; p++)
        rc = poll_once(v, &more, &e);
    int64_t after = time_now_ms();
    if (rc != IDP_OK) {
        atomic_fetch_add(&f->failures, 1);
        set_error(f, e.msg[0] ? e.msg : "poll failed");
        f->next_ms = after + f->interval_ms;
    } else if (more) {
        f->next_ms = after; /* a backlog: the next round now */
    } else {
        /* every event up to the end of the feed is recorded (denylist.h: the owner resets) */
        if (denylist_overflowed(f->deny)) denylist_reset_overflow(f->deny);
        atomic_store(&f->synced_at_ms, after);
        atomic_store(&f->ever_synced, true);
        set_error(f, "");
        f->next_ms = after + f->interval_ms;
    }
    return f->next_ms > after ? f->next_ms - after : 0;
}

idpd_verify_code vfeed_gate(idpd_verify *v, int64_t now_ms, idpd_verify_error *err)
{
    vfeed *f = &v->feed;
    if (!f->on) return IDPD_VERIFY_OK;
    if (!atomic_load(&f->ever_synced))
        return vfail(err, IDPD_VERIFY_UNAVAILABLE, "revocation feed not yet synchronised");
    if (now_ms - atomic_load(&f->synced_at_ms) > f->stale_ms)
        return vfail(err, IDPD_VERIFY_UNAVAILABLE,
                     "revocation feed stale (no successful poll "
                     "for over %lld ms)",
                     (long long)f->stale_ms);
    if (denylist_overflowed(f->deny))
        return vfail(err, IDPD_VERIFY_UNAVAILABLE, "revocation list overflowed");
    return IDPD_VERIFY_OK;
}

idpd_verify_code vfeed_check(idpd_verify *v, const json_t *claims, int64_t now_s,
                             idpd_verify_error *err)
{
    vfeed *f = &v->feed;
    if (!f->on) return IDPD_VERIFY_OK;
    int64_t iat = 0;
    (void)jsonx_int(claims, "iat", &iat);
    switch (
        denylist_check(f->deny, jsonx_str(claims, "jti"), jsonx_str(claims, "sub"), iat, now_s)) {
    case DENY_OK:
        return IDPD_VERIFY_OK;
    case DENY_REVOKED:
        return vfail(err, IDPD_VERIFY_INVALID_TOKEN, "token revoked");
    default:
        return vfail(err, IDPD_VERIFY_UNAVAILABLE, "revocation list overflowed");
    }
}

void vfeed_clear(vfeed *f)
{
    if (f->authz) mem_free_secret(f->authz);
    free(f->url);
    denylist_free(f->deny);
    if (f->on) pthread_mutex_destroy(&f->smu);
    memset(f, 0, sizeof *f);
}
