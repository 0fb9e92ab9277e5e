/* POST /login: the sign-in form of the authorization code flow. Checks the login CSRF token and
 * the sealed request, throttles per (account, client address) and per client address with
 * exponential back-off (the client address is the peer, or what a trusted proxy forwarded for:
 * request.h client_addr), verifies the Argon2id password of an active SCIM user, starts the
 * session and continues the request. The error shown never tells whether the account exists
 * (the same text, and an Argon2id verification against a dummy hash when it does not). Every
 * failure and success is an audit event (never with the password); a refused (throttled) attempt
 * is only counted (/metrics), with one audit event when a back-off starts (an attempt that lost
 * the store-wide claim to one on another node stays counted: claim_attempt). A throttle that cannot be
 * read or written refuses the attempt with 503 (fail closed). */
#include "handle/signin/authorize.h"
#include "handle/endpoints.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/netaddr.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "http/request_form.h"
#include "creds/password.h"
#include "handle/signin/web.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGIN_BAD_CREDENTIALS "Incorrect username or password."
#define LOGIN_MAX_BACKOFF 900 /* s */
#define LOGIN_USER_MAX 256
#define LOGIN_PASSWORD_MAX 1024

static char dummy_hash[128];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static password_params dummy_params = {.t = 2, .m_kib = 19456, .p = 1};

void login_configure(const password_params *pp)
{
    dummy_params = *pp;
}

/* The configured parameters (cfg argon2_*), so a miss costs what a hit does. */
static void dummy_init(void)
{
    unsigned char pw[16];
    char *h = NULL;
    rand_bytes(pw, sizeof pw);
    if (password_hash(&dummy_params, (const char *)pw, sizeof pw, &h, NULL) == IDP_OK &&
        strlen(h) < sizeof dummy_hash)
        memcpy(dummy_hash, h, strlen(h) + 1);
    free(h);
}

static void audit(struct app *a, const char *actor, const char *action, const char *target,
                  const char *detail)
{
    store_audit ev = {.time_ms = time_now_ms(), .actor = (char *)actor, .action = (char *)action,
                      .target_type = "User", .target_id = (char *)target, .detail = (char *)detail};
    a->st->ops->audit_append(a->st, &ev, NULL);
}

/* 0 below allowed failures, then 1, 2, 4, ... s up to LOGIN_MAX_BACKOFF. */
static int64_t backoff(int64_t allowed, int64_t fails)
{
    int64_t over = fails - allowed;
    if (over < 0) return 0;
    if (over > 10) return LOGIN_MAX_BACKOFF;
    int64_t s = (int64_t)1 << over;
    return s > LOGIN_MAX_BACKOFF ? LOGIN_MAX_BACKOFF : s;
}

/* The throttle counters of one attempt (docs/SECURITY.md): the account as typed (case-folded
 * like userName) from this client address, and the client address alone (password spraying;
 * absent when cfg login_address_free_failures is 0). There is no counter of the account alone:
 * failures from one address never slow the account from another. */
typedef struct throttle {
    char pair[LOGIN_USER_MAX + NETADDR_STRLEN + 8]; /* "acct:UNIT USER" (UNIT has no space) */
    char addr_key[NETADDR_STRLEN + 8]; /* "ip:UNIT": the address, an IPv6 one as its /64 */
    char actor[NETADDR_STRLEN + 8]; /* "ip:ADDR", the audit actor */
    int64_t pair_free, addr_free;                   /* 0: counter not used */
} throttle;

static void throttle_init(const struct app *a, const http_request *rq, const char *user,
                          throttle *t)
{
    const char *ca = rq->client_addr ? rq->client_addr : rq->remote_addr ? rq->remote_addr : "";
    char unit[NETADDR_STRLEN + 4];
    netaddr na;
    if (netaddr_parse(ca, strlen(ca), &na)) netaddr_throttle_unit(&na, unit);
    else snprintf(unit, sizeof unit, "%s", ca);
    size_t n = (size_t)snprintf(t->pair, sizeof t->pair, "acct:%s %s", unit, user);
    for (size_t i = 5 + strlen(unit) + 1; i < n && i < sizeof t->pair; i++)
        t->pair[i] = (char)tolower((unsigned char)t->pair[i]);
    snprintf(t->addr_key, sizeof t->addr_key, "ip:%s", unit);
    snprintf(t->actor, sizeof t->actor, "ip:%s", ca);
    t->pair_free = a->cfg->login_free_failures;
    t->addr_free = a->cfg->login_address_free_failures;
}

/* *left = seconds key must still wait. A counter that cannot be read is an error: the caller
 * refuses the attempt (fail closed), it never treats it as "no failures". */
static idp_err wait_left(struct app *a, const char *key, int64_t allowed, int64_t now,
                         int64_t *left, int64_t *fails_out)
{
    int64_t fails = 0, last = 0;
    *left = 0;
    idp_err rc = a->st->ops->login_fail_get(a->st, key, &fails, &last, NULL);
    if (rc != IDP_OK) return rc;
    int64_t l = backoff(allowed, fails) - (now - last);
    *left = l > 0 ? l : 0;
    if (fails_out) *fails_out = fails;
    return IDP_OK;
}

/* *wait = the longer wait of the attempt's counters; *pair_fails = the pair counter read. */
static idp_err throttle_wait(struct app *a, const throttle *t, int64_t now, int64_t *wait,
                             int64_t *pair_fails)
{
    int64_t wp = 0, wa = 0;
    idp_err rc = wait_left(a, t->pair, t->pair_free, now, &wp, pair_fails);
    if (rc == IDP_OK && t->addr_free)
        rc = wait_left(a, t->addr_key, t->addr_free, now, &wa, NULL);
    *wait = wp > wa ? wp : wa;
    return rc;
}

/* Bound of the throttling table (cfg login_throttle_max_keys): a counter may be evicted for a
 * new one only when it slows nobody now: fewer failures than any threshold, or idle for longer
 * than the longest back-off. */
static store_login_cap throttle_cap(const struct app *a, const throttle *t, int64_t now)
{
    int64_t below = t->pair_free;
    if (t->addr_free && t->addr_free < below) below = t->addr_free;
    return (store_login_cap){.max_keys = a->cfg->login_throttle_max_keys, .fails_below = below,
                             .idle_before = now - LOGIN_MAX_BACKOFF};
}

/* One audit event when a counter enters (or re-enters) back-off, not one per refused attempt:
 * a refused attempt writes nothing (it is counted in idpd_login_throttled_total), so a flood
 * of throttled requests cannot grow the store; at most one event per counter and window. */
static void audit_backoff(struct app *a, const throttle *t, const char *target, const char *what,
                          int64_t allowed, int64_t fails)
{
    int64_t b = backoff(allowed, fails);
    if (b <= 0) return;
    char detail[96];
    snprintf(detail, sizeof detail, "{\"counter\":\"%s\",\"fails\":%lld,\"retry_after\":%lld}",
             what, (long long)fails, (long long)b);
    audit(a, t->actor, "login.throttled", target, detail);
}

/* Counts one failure on each counter (and audits a back-off that starts); pre_counted > 0: the
 * pair counter already counted this attempt (claim_attempt) and is pre_counted now. An error
 * means it was not counted (fail closed). */
static idp_err throttle_fail(struct app *a, const throttle *t, int64_t now, const char *target,
                             int64_t pre_counted)
{
    int64_t fp = pre_counted, fa = 0;
    store_login_cap cap = throttle_cap(a, t, now);
    idp_err rc = pre_counted > 0 ? IDP_OK
                                 : a->st->ops->login_fail(a->st, t->pair, now, &cap, &fp, NULL);
    if (rc == IDP_OK && t->addr_free)
        rc = a->st->ops->login_fail(a->st, t->addr_key, now, &cap, &fa, NULL);
    if (rc != IDP_OK) return rc;
    audit_backoff(a, t, target, "account", t->pair_free, fp);
    if (t->addr_free) audit_backoff(a, t, target, "address", t->addr_free, fa);
    return IDP_OK;
}

/* At most one attempt per (account, address) in flight in this process: the back-off is
 * checked before the password and counted after it, so without this a parallel burst would get
 * one guess per worker thread past the check. A second attempt while one is being verified is
 * answered as throttled (1 s). The set holds 64-bit hashes of pair keys; it cannot fill up
 * (a request thread holds at most one entry), and when it would, the attempt is refused. */
#define LOGIN_INFLIGHT_MAX 512
static pthread_mutex_t inflight_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t inflight[LOGIN_INFLIGHT_MAX];
static size_t inflight_n;

static uint64_t inflight_hash(const char *k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 1099511628211ULL;
    }
    return h | 1; /* never 0: 0 means "none" */
}

static bool inflight_enter(uint64_t h)
{
    bool ok = true;
    pthread_mutex_lock(&inflight_mu);
    for (size_t i = 0; ok && i < inflight_n; i++) ok = inflight[i] != h;
    if (ok && inflight_n == LOGIN_INFLIGHT_MAX) ok = false;
    if (ok) inflight[inflight_n++] = h;
    pthread_mutex_unlock(&inflight_mu);
    return ok;
}

static void inflight_leave(uint64_t h)
{
    pthread_mutex_lock(&inflight_mu);
    for (size_t i = 0; i < inflight_n; i++) {
        if (inflight[i] == h) {
            inflight[i] = inflight[--inflight_n];
            break;
        }
    }
    pthread_mutex_unlock(&inflight_mu);
}

/* Several processes (idpd nodes on one PostgreSQL store) each let one attempt per pair past
 * the in-flight set above, so the pair counter is also the store-wide claim: the attempt is
 * counted as a failure before its password is checked (a correct password resets the counter
 * as before), and it goes on only when the count it got is the count it read plus one, i.e. no
 * other attempt was counted in between. Of attempts that read the same count, one wins (the
 * store serialises the increments); the others are answered as throttled (1 s), and stay
 * counted. *counted = the new count (0: not claimed: the store could not count, e.g. a full
 * table, and the attempt goes on as before, to be counted after the password check). */
static bool claim_attempt(struct app *a, const throttle *t, int64_t now, int64_t read_fails,
                          int64_t *counted)
{
    int64_t n = 0;
    store_login_cap cap = throttle_cap(a, t, now);
    *counted = 0;
    if (a->st->ops->login_fail(a->st, t->pair, now, &cap, &n, NULL) != IDP_OK) return true;
    *counted = n;
    return n == read_fails + 1;
}

/* 429 with Retry-After and the login form again (the attempt is only counted in /metrics). */
static idp_err throttled(struct app *a, http_request *rq, http_response *rs,
                         const client_entry *ce, authz_request *r, int64_t wait, idp_error *err)
{
    char msg[128], ra[24];
    snprintf(msg, sizeof msg, "Too many failed sign-in attempts. Try again in %lld second%s.",
             (long long)wait, wait == 1 ? "" : "s");
    atomic_fetch_add_explicit(&a->login_throttled, 1, memory_order_relaxed);
    snprintf(ra, sizeof ra, "%lld", (long long)wait);
    response_header_set(rs, "Retry-After", ra);
    return authorize_show_login(a, rq, rs, ce, r, msg, IDP_ERR_RATE_LIMITED, err);
}

/* The attempt cannot be decided because the throttle (or the session) cannot be written: 503
 * (RFC 9110 §15.6.4), never a sign-in that was not counted. */
static void unavailable(http_response *rs, const char *why)
{
    log_msg(LOG_ERROR, "sign-in refused (503): %s", why);
    web_error_page(rs, IDP_ERR_UNAVAILABLE, "Sign-in failed",
                   "Sign-in is temporarily unavailable. Try again in a few minutes.");
    response_header_set(rs, "Retry-After", "60");
}

/* Whether pw is the password of the active user named user (*u filled when found, *ur the
 * lookup's result). An unknown account costs the same Argon2id verification. */
static bool check_password(struct app *a, const char *user, const char *pw, store_user *u,
                           idp_err *ur)
{
    bool ok = false;
    *ur = a->st->ops->user_get_by_name(a->st, user, u, NULL);
    if (*ur == IDP_OK && u->active && u->password_hash) {
        ok = password_verify(u->password_hash, pw, strlen(pw));
    } else {
        pthread_once(&dummy_once, dummy_init);
        if (dummy_hash[0]) password_verify(dummy_hash, pw, strlen(pw));
    }
    if (ok && password_needs_rehash(u->password_hash, &a->pw_params)) {
        /* DESIGN §5: the stored hash used other Argon2id parameters: rehash now that the
         * password is known (a failure only leaves the old hash) */
        char *nh = NULL;
        bool done = false;
        if (password_hash(&a->pw_params, pw, strlen(pw), &nh, NULL) == IDP_OK)
            a->st->ops->user_rehash(a->st, u->id, u->password_hash, nh, &done, NULL);
        free(nh);
    }
    return ok;
}

idp_err login_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err)
{
    form f;
    idp_error fe = {0};
    authz_request r = {0};
    store_user u = {0};
    store_session s = {0};
    idp_err rc = IDP_OK;
    uint64_t busy = 0; /* inflight hash to release */
    rs->no_store = true;
    if (request_form(rq, &f, &fe) != IDP_OK) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed", fe.msg);
        return IDP_OK;
    }
    if (!web_login_csrf_ok(a, rq, form_get(&f, "csrf"))) {
        web_error_page(rs, IDP_ERR_FORBIDDEN, "Sign-in failed",
                       "The sign-in form has expired or was not sent by this site. Go back to the "
                       "application and sign in again.");
        return IDP_OK;
    }
    int64_t now = time_now();
    if (authz_request_open(a->kek, form_get(&f, "request"), now, &r, &fe) != IDP_OK) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed",
                       "The sign-in request is invalid or has expired. Go back to the application "
                       "and sign in again.");
        return IDP_OK;
    }
    const client_entry *ce = client_cache_find(rq->clients, r.client_id, strlen(r.client_id));
    if (!ce) {
        web_error_page(rs, IDP_ERR_OAUTH_INVALID_REQUEST, "Sign-in failed", "The application is not known.");
        goto out;
    }
    response_set_client(rs, ce->client_id, ce->id_len);
    const char *user = form_get(&f, "username"), *pw = form_get(&f, "password");
    if (!user || !pw || strlen(user) > LOGIN_USER_MAX || strlen(pw) > LOGIN_PASSWORD_MAX) {
        rc = authorize_show_login(a, rq, rs, ce, &r, LOGIN_BAD_CREDENTIALS, IDP_OK, err);
        goto out;
    }
    throttle t;
    throttle_init(a, rq, user, &t);
    uint64_t h = inflight_hash(t.pair);
    if (!inflight_enter(h)) {
        rc = throttled(a, rq, rs, ce, &r, 1, err);
        goto out;
    }
    busy = h;
    int64_t wait = 0, read_fails = 0, counted = 0;
    if (throttle_wait(a, &t, now, &wait, &read_fails) != IDP_OK) {
        unavailable(rs, "a throttle counter could not be read");
        goto out;
    }
    if (wait > 0 || !claim_attempt(a, &t, now, read_fails, &counted)) {
        rc = throttled(a, rq, rs, ce, &r, wait > 0 ? wait : 1, err);
        goto out;
    }
    idp_err ur = IDP_OK;
    bool ok = check_password(a, user, pw, &u, &ur);
    if (!ok) {
        if (throttle_fail(a, &t, now, ur == IDP_OK ? u.id : NULL, counted) != IDP_OK) {
            /* a failure that is not counted would be a free guess */
            unavailable(rs, "the failure could not be counted (store, or table full)");
            goto out;
        }
        audit(a, t.actor, "login.fail", ur == IDP_OK ? u.id : NULL, NULL);
        free(r.login_hint); /* keep what was typed, so only the password is entered again */
        r.login_hint = xstrdup(user);
        rc = authorize_show_login(a, rq, rs, ce, &r, LOGIN_BAD_CREDENTIALS, IDP_OK, err);
        goto out;
    }
    /* the counter must be writable for a correct password too: otherwise the attempts an
     * attacker cannot have counted would be free (fail closed) */
    if (a->st->ops->login_fail_reset(a->st, t.pair, NULL) != IDP_OK ||
        web_session_start(a, rs, &u, "pwd", now, &s, NULL) != IDP_OK) {
        unavailable(rs, "the counter reset or the session could not be written");
        goto out;
    }
    char uactor[64];
    snprintf(uactor, sizeof uactor, "user:%s", u.id);
    audit(a, uactor, "login.success", u.id, NULL);
    rc = authorize_continue(a, rq, rs, ce, &r, &s, &u, false, err);
out:
    if (busy) inflight_leave(busy);
    authz_request_clear(&r);
    store_user_clear(&u);
    store_session_clear(&s);
    return rc;
}
