/* libidpd-verify — the verifier of include/idpd/verify.h over idpd's own engine: the JWKS cache
 * (src/jose/jwks_cache.h, federation's), the strict path (src/verify/token_verify.h), the
 * verified-token cache (src/verify/verify_cache.h) and the denylist fed by the revocation feed
 * (vfeed.c). The header states the contract; this file keeps to it:
 *  - idpd_verify_token: the cache first (a hit whose kid is still in the current set), else the
 *    signature and claims; then, hit or miss, the revocation feed's answer (vfeed_check);
 *  - every jwks_cache_tick and feed poll runs under tick_mu (internal.h), from the background
 *    thread, idpd_verify_tick, or inline from a request thread of a tick-driven verifier whose
 *    cache asks for a refetch (the wake hook). */
#include "internal.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "fetch/fetch.h"
#include "jose/alg.h"
#include "jose/jws.h"
#include "verify/token_verify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_MS 60000 /* the longest the thread sleeps */

/* The verifier whose tick this thread is running (the wake hook then ticks inline). */
static _Thread_local idpd_verify *tls_ticking;

/* ---- options ------------------------------------------------------------------------------ */

void idpd_verify_options_init(idpd_verify_options *o)
{
    if (!o) return;
    *o = (idpd_verify_options){.leeway_s = 60,
                               .cache_size = 10000,
                               .jwks_refresh_ms = 300000,
                               .jwks_min_refresh_ms = 30000,
                               .jwks_max_refresh_ms = 86400000,
                               .jwks_kid_miss_cooldown_ms = 30000,
                               .jwks_stale_if_error_ms = 86400000,
                               .jwks_fetch_timeout_ms = 3000,
                               .feed_interval_ms = 2000,
                               .feed_stale_ms = 30000,
                               .feed_max_entries = 100000};
}

static idpd_verify_code parse_algs(const char *list, unsigned *mask, idpd_verify_error *err)
{
    *mask = 0;
    if (!list) {
        *mask = JWS_ALG_BIT(JWS_ES256) | JWS_ALG_BIT(JWS_RS256) | JWS_ALG_BIT(JWS_PS256) |
                JWS_ALG_BIT(JWS_EDDSA);
        return IDPD_VERIFY_OK;
    }
    for (const char *p = list + strspn(list, ", "); *p;) {
        size_t l = strcspn(p, ", ");
        jws_alg a = jws_alg_from_name(p, l);
        if (a == JWS_ALG_INVALID)
            return vfail(err, IDPD_VERIFY_INVALID_REQUEST,
                         "algorithms: unknown algorithm (use ES256, RS256, PS256, EdDSA)");
        *mask |= JWS_ALG_BIT(a);
        p += l;
        p += strspn(p, ", ");
    }
    return *mask ? IDPD_VERIFY_OK : vfail(err, IDPD_VERIFY_INVALID_REQUEST, "algorithms: empty");
}

#define RANGE(f, lo, hi)                                                                           \
    if (o->f < (lo) || o->f > (hi))                                                                \
        return vfail(err, IDPD_VERIFY_INVALID_REQUEST, #f " must be %lld to %lld",                 \
                     (long long)(lo), (long long)(hi));

static idpd_verify_code check_options(const idpd_verify_options *o, idpd_verify_error *err)
{
    idp_error e = {0};
    if (!o->issuer || !*o->issuer)
        return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "issuer is required");
    if (!o->audiences || o->naudiences == 0)
        return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "at least one audience is required");
    if (o->naudiences > 64) return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "at most 64 audiences");
    for (size_t i = 0; i < o->naudiences; i++)
        if (!o->audiences[i] || !*o->audiences[i])
            return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "audience %zu is empty", i);
    if (o->jwks_uri && o->jwks_file)
        return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "jwks_uri and jwks_file: choose one");
    if (o->jwks_file && !*o->jwks_file)
        return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "jwks_file is empty");
    if (o->jwks_uri && fetch_url_allowed(o->jwks_uri, o->allow_http_loopback, &e))
        return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "jwks_uri: %s", e.msg);
    if (!o->jwks_uri && !o->jwks_file) {
        if (fetch_url_allowed(o->issuer, o->allow_http_loopback, &e))
            return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "issuer (for discovery): %s", e.msg);
    }
    RANGE(leeway_s, 0, 600)
    RANGE(jwks_refresh_ms, 1, 7LL * 86400000)
    RANGE(jwks_min_refresh_ms, 1, 7LL * 86400000)
    RANGE(jwks_max_refresh_ms, o->jwks_min_refresh_ms, 30LL * 86400000)
    RANGE(jwks_kid_miss_cooldown_ms, 0, 86400000)
    RANGE(jwks_stale_if_error_ms, 1, 30LL * 86400000)
    RANGE(jwks_fetch_timeout_ms, 1, 300000)
    if (o->cache_size > 10000000)
        return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "cache_size must be at most 10000000");
    if (o->feed_url) {
        if (fetch_url_allowed(o->feed_url, o->allow_http_loopback, &e))
            return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "feed_url: %s", e.msg);
        if (!o->feed_token || !*o->feed_token)
            return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "feed_url needs feed_token");
        for (const char *p = o->feed_token; *p; p++) /* never quoted: it is a secret */
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                return vfail(err, IDPD_VERIFY_INVALID_REQUEST,
                             "feed_token holds a character a bearer token may not hold");
        RANGE(feed_interval_ms, 100, 3600000)
        RANGE(feed_stale_ms, o->feed_interval_ms + 1, 86400000)
        if (o->feed_max_entries < 1 || o->feed_max_entries > 10000000)
            return vfail(err, IDPD_VERIFY_INVALID_REQUEST,
                         "feed_max_entries must be 1 to 10000000");
    }
    return IDPD_VERIFY_OK;
}

/* ---- the JWKS cache's hooks --------------------------------------------------------------- */

static void hook_good(void *ctx, const char *body, size_t len, int64_t at, int64_t max_age)
{
    ((idpd_verify *)ctx)->src.last_failed = false; /* under tick_mu, as vsrc_fetch */
}

static void hook_skip(void *ctx, size_t index, const char *kid, const char *reason)
{
    idpd_verify *v = ctx;
    if (v->on_skip) v->on_skip(v->ctx, index, kid ? kid : "", reason);
}

/* A request thread's kid miss asked for a refetch: the thread, if running, does it; otherwise
 * it is done here, on the caller (bounded by the fetch timeout). */
static void hook_wake(void *ctx)
{
    idpd_verify *v = ctx;
    if (tls_ticking == v) { /* inside our own tick (the feed asked): tick_mu is held */
        jwks_cache_tick(v->keys);
        return;
    }
    if (atomic_load(&v->thr_running)) {
        pthread_mutex_lock(&v->mu);
        v->thr_wake = true;
        pthread_cond_signal(&v->cv);
        pthread_mutex_unlock(&v->mu);
        return;
    }
    pthread_mutex_lock(&v->tick_mu);
    tls_ticking = v;
    jwks_cache_tick(v->keys);
    tls_ticking = NULL;
    pthread_mutex_unlock(&v->tick_mu);
}

/* ---- new / free --------------------------------------------------------------------------- */

static idpd_verify_code feed_init(idpd_verify *v, const idpd_verify_options *o)
{
    vfeed *f = &v->feed;
    if (!o->feed_url) return IDPD_VERIFY_OK;
    f->on = true;
    f->url = xstrdup(o->feed_url);
    size_t n = strlen(o->feed_token) + sizeof "Bearer ";
    f->authz = xmalloc(n);
    snprintf(f->authz, n, "Bearer %s", o->feed_token);
    f->interval_ms = o->feed_interval_ms;
    f->stale_ms = o->feed_stale_ms;
    f->deny = denylist_new(o->feed_max_entries, o->feed_max_entries);
    if (!f->deny) abort();
    pthread_mutex_init(&f->smu, NULL);
    return IDPD_VERIFY_OK;
}

/* libcurl's global state, once per process (thread-safe since libcurl 7.84; never cleaned up:
 * the program may use libcurl itself). A failure shows at the first fetch. */
static void curl_once(void)
{
    (void)fetch_init(NULL);
}

idpd_verify_code idpd_verify_new(const idpd_verify_options *o, idpd_verify **out,
                                 idpd_verify_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_once);
    if (err) *err = (idpd_verify_error){.code = IDPD_VERIFY_OK, .error = ""};
    if (!out) return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "out is NULL");
    *out = NULL;
    if (!o) return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "options are NULL");
    idpd_verify_code rc = check_options(o, err);
    if (rc != IDPD_VERIFY_OK) return rc;
    idpd_verify *v = xcalloc(1, sizeof *v);
    if ((rc = parse_algs(o->algorithms, &v->algs, err)) != IDPD_VERIFY_OK) {
        free(v);
        return rc;
    }
    v->issuer = xstrdup(o->issuer);
    v->naud = o->naudiences;
    v->auds = xcalloc(v->naud + 1, sizeof *v->auds);
    for (size_t i = 0; i < v->naud; i++)
        v->auds[i] = xstrdup(o->audiences[i]);
    v->typ = o->typ ? (*o->typ ? xstrdup(o->typ) : NULL) : xstrdup("at+jwt");
    v->leeway_s = o->leeway_s;
    v->exp_only = o->exp_only;
    v->fetch_timeout_ms = o->jwks_fetch_timeout_ms;
    v->on_skip = o->on_jwks_skip;
    v->ctx = o->ctx;
    v->src.issuer = xstrdup(o->issuer);
    v->src.jwks_uri = o->jwks_uri ? xstrdup(o->jwks_uri) : NULL;
    v->src.jwks_file = o->jwks_file ? xstrdup(o->jwks_file) : NULL;
    v->src.loopback = o->allow_http_loopback;
    pthread_mutex_init(&v->tick_mu, NULL);
    pthread_mutex_init(&v->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&v->cv, &ca);
    pthread_condattr_destroy(&ca);
    feed_init(v, o);
    if (o->cache_size && !(v->cache = verify_cache_new(o->cache_size))) abort();
    jwks_cache_opts co = {.refresh_ms = o->jwks_refresh_ms,
                          .min_refresh_ms = o->jwks_min_refresh_ms,
                          .max_refresh_ms = o->jwks_max_refresh_ms,
                          .kid_miss_cooldown_ms = o->jwks_kid_miss_cooldown_ms,
                          .stale_if_error_ms = o->jwks_stale_if_error_ms,
                          .fetch_timeout_ms = o->jwks_fetch_timeout_ms};
    jwks_cache_hooks h = {.fetch = vsrc_fetch,
                          .wake = hook_wake,
                          .on_good = hook_good,
                          .on_skip = hook_skip,
                          .ctx = v};
    idp_error e = {0};
    if (jwks_cache_new(&co, &h, &v->keys, &e) != IDP_OK) {
        idpd_verify_free(v);
        return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "JWKS cache options: %s", e.msg);
    }
    *out = v;
    return IDPD_VERIFY_OK;
}

void idpd_verify_free(idpd_verify *v)
{
    if (!v) return;
    idpd_verify_stop(v);
    jwks_cache_free(v->keys);
    verify_cache_free(v->cache);
    vfeed_clear(&v->feed);
    vsrc_clear(&v->src);
    for (size_t i = 0; i < v->naud; i++)
        free(v->auds[i]);
    free(v->auds);
    free(v->issuer);
    free(v->typ);
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    pthread_mutex_destroy(&v->tick_mu);
    free(v);
}

/* ---- driving ------------------------------------------------------------------------------ */

int64_t idpd_verify_tick(idpd_verify *v)
{
    if (!v) return IDLE_MS;
    pthread_mutex_lock(&v->tick_mu);
    tls_ticking = v;
    int64_t ms = jwks_cache_tick(v->keys);
    int64_t fm = vfeed_tick(v, time_now_ms());
    if (fm < ms) ms = fm;
    if (ms < 0) ms = 0;
    atomic_store(&v->next_deadline_ms, time_now_ms() + ms);
    tls_ticking = NULL;
    pthread_mutex_unlock(&v->tick_mu);
    return ms;
}

int64_t idpd_verify_next_deadline(idpd_verify *v)
{
    int64_t d = v ? atomic_load(&v->next_deadline_ms) : 0;
    return d ? d : time_now_ms();
}

static void *run(void *arg)
{
    idpd_verify *v = arg;
    for (;;) {
        int64_t ms = idpd_verify_tick(v);
        if (ms > IDLE_MS) ms = IDLE_MS;
        pthread_mutex_lock(&v->mu);
        if (ms > 0 && !v->thr_wake && !v->thr_stop) {
            struct timespec d;
            clock_gettime(CLOCK_MONOTONIC, &d);
            d.tv_sec += ms / 1000;
            d.tv_nsec += (long)(ms % 1000) * 1000000L;
            if (d.tv_nsec >= 1000000000L) {
                d.tv_sec++;
                d.tv_nsec -= 1000000000L;
            }
            while (!v->thr_wake && !v->thr_stop)
                if (pthread_cond_timedwait(&v->cv, &v->mu, &d) == ETIMEDOUT) break;
        }
        v->thr_wake = false;
        bool stop = v->thr_stop;
        pthread_mutex_unlock(&v->mu);
        if (stop) return NULL;
    }
}

idpd_verify_code idpd_verify_start(idpd_verify *v, idpd_verify_error *err)
{
    if (err) *err = (idpd_verify_error){.code = IDPD_VERIFY_OK, .error = ""};
    if (!v) return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "verifier is NULL");
    pthread_mutex_lock(&v->mu);
    idpd_verify_code rc = IDPD_VERIFY_OK;
    if (!atomic_load(&v->thr_running)) {
        v->thr_stop = false;
        v->thr_wake = false;
        int e = pthread_create(&v->thr, NULL, run, v);
        if (e)
            rc = vfail(err, IDPD_VERIFY_UNAVAILABLE, "cannot start the thread: %s", strerror(e));
        else
            atomic_store(&v->thr_running, true);
    }
    pthread_mutex_unlock(&v->mu);
    return rc;
}

void idpd_verify_stop(idpd_verify *v)
{
    if (!v || !atomic_load(&v->thr_running)) return;
    pthread_mutex_lock(&v->mu);
    v->thr_stop = true;
    pthread_cond_signal(&v->cv);
    pthread_mutex_unlock(&v->mu);
    pthread_join(v->thr, NULL);
    atomic_store(&v->thr_running, false);
}

/* ---- verification ------------------------------------------------------------------------- */

/* The kid of the token's protected header into out (cap bytes), "" when none or unreadable
 * (token_verify then fails the token with the precise reason). */
static void header_kid(const char *tok, size_t len, char *out, size_t cap)
{
    out[0] = '\0';
    const char *dot = memchr(tok, '.', len);
    size_t hl = dot ? (size_t)(dot - tok) : 0;
    unsigned char raw[1024];
    size_t n = 0;
    if (!hl || b64url_decoded_max(hl) > sizeof raw - 1 ||
        b64url_decode_to(tok, hl, raw, sizeof raw - 1, &n) != IDP_OK)
        return;
    json_t *h = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    const char *k = json_string_value(json_object_get(h, "kid"));
    if (k && strlen(k) < cap) memcpy(out, k, strlen(k) + 1);
    json_decref(h);
}

static idpd_verify_code fail_of(idp_err r, const idp_error *e, idpd_verify_error *err)
{
    if (r == IDP_ERR_UNAVAILABLE)
        return vfail(err, IDPD_VERIFY_UNAVAILABLE, "%s", e->msg[0] ? e->msg : "keys unavailable");
    /* e->msg names the check, never token bytes (token_verify.h) */
    const char *why = token_verify_reason(r);
    if (e->msg[0] && strcasecmp(e->msg, why))
        return vfail(err, IDPD_VERIFY_INVALID_TOKEN, "%s (%s)", why, e->msg);
    return vfail(err, IDPD_VERIFY_INVALID_TOKEN, "%s", why);
}

/* No usable key set: the cache's reason and the last attempt's error (no key material in it). */
static idpd_verify_code keys_unavailable(idpd_verify *v, const idp_error *e, idpd_verify_error *err)
{
    jwks_cache_status s;
    jwks_cache_status_get(v->keys, &s);
    idpd_verify_code rc = s.last_error[0]
                              ? vfail(err, IDPD_VERIFY_UNAVAILABLE, "%s (%s)", e->msg, s.last_error)
                              : vfail(err, IDPD_VERIFY_UNAVAILABLE, "%s", e->msg);
    jwks_cache_status_clear(&s);
    return rc;
}

/* Signature and claims: the strict path. *out the verified claims; remembered in the cache
 * under ck (NULL: no cache) when the header named the key by kid. A kid that is not in the set
 * is a rotation: the JWKS cache's kid-miss refetch (its cooldown rules), then one more try. */
static idpd_verify_code verify_fresh(idpd_verify *v, const char *tok, size_t len,
                                     const unsigned char *ck, jwks **keys, int64_t now,
                                     json_t **out, idpd_verify_error *err)
{
    const jwk *used = NULL;
    token_verify_opts o = {.keys = *keys,
                           .algs = v->algs,
                           .typ = v->typ,
                           .issuer = v->issuer,
                           .audiences = (const char *const *)v->auds,
                           .naudiences = v->naud,
                           .leeway = v->leeway_s,
                           .now = now,
                           .require_exp = true,
                           .require_iat = !v->exp_only, /* RFC 9068 §2.2 */
                           .require_jti = !v->exp_only,
                           .require_sub = !v->exp_only,
                           .require_client_id = !v->exp_only,
                           .key_out = &used};
    idp_error e = {0};
    idp_err r = token_verify(tok, len, &o, out, &e);
    if (r == IDP_ERR_JOSE_KEY) {
        char kid[256];
        header_kid(tok, len, kid, sizeof kid);
        if (kid[0] && !jwks_find(*keys, kid)) {
            jwks *nk = NULL;
            idp_error ke = {0};
            idp_err kr = jwks_cache_get(v->keys, kid, &nk, &ke);
            if (kr != IDP_OK) return keys_unavailable(v, &ke, err);
            jwks_unref(*keys);
            *keys = nk;
            if (jwks_find(nk, kid)) {
                o.keys = nk;
                memset(&e, 0, sizeof e);
                r = token_verify(tok, len, &o, out, &e);
            }
        }
    }
    if (r != IDP_OK) return fail_of(r, &e, err);
    int64_t exp = 0;
    if (ck && used && jsonx_int(*out, "exp", &exp))
        verify_cache_put_key(v->cache, ck, *out, jwk_kid(used), exp, now);
    return IDPD_VERIFY_OK;
}

idpd_verify_code idpd_verify_token(idpd_verify *v, const char *token, size_t len,
                                   idpd_verify_claims **claims, idpd_verify_error *err)
{
    if (err) {
        err->code = IDPD_VERIFY_OK;
        err->error = "";
        err->reason[0] = '\0';
    }
    if (claims) *claims = NULL;
    if (!v || !claims) return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "NULL argument");
    if (!token || !len) return vfail(err, IDPD_VERIFY_INVALID_REQUEST, "empty token");
    if (len > JWS_MAX_LEN) return vfail(err, IDPD_VERIFY_INVALID_TOKEN, "token too large");
    int64_t now_ms = time_now_ms(), now = now_ms / 1000;
    idpd_verify_code rc = vfeed_gate(v, now_ms, err);
    if (rc != IDPD_VERIFY_OK) return rc;
    jwks *keys = NULL;
    idp_error e = {0};
    idp_err r = jwks_cache_get(v->keys, NULL, &keys, &e);
    if (r != IDP_OK) return keys_unavailable(v, &e, err);
    unsigned char ck[VERIFY_CACHE_KEY_LEN];
    json_t *c = NULL;
    if (v->cache) {
        verify_cache_key(token, len, ck); /* once, for the lookup and the insert */
        c = verify_cache_get_key(v->cache, ck, now, verify_cache_kid_in_jwks, keys);
    }
    if (!c) rc = verify_fresh(v, token, len, v->cache ? ck : NULL, &keys, now, &c, err);
    jwks_unref(keys);
    if (rc == IDPD_VERIFY_OK) rc = vfeed_check(v, c, now, err);
    if (rc != IDPD_VERIFY_OK) {
        json_decref(c);
        return rc;
    }
    *claims = (idpd_verify_claims *)c; /* the opaque type is the immutable payload */
    return IDPD_VERIFY_OK;
}

/* ---- claims ------------------------------------------------------------------------------- */

static const json_t *J(const idpd_verify_claims *c)
{
    return (const json_t *)c;
}

void idpd_verify_claims_free(idpd_verify_claims *c)
{
    json_decref((json_t *)c);
}

const char *idpd_verify_claims_string(const idpd_verify_claims *c, const char *name)
{
    return c && name ? json_string_value(json_object_get(J(c), name)) : NULL;
}

static char **words(const char *s, size_t *n)
{
    size_t cnt = 0, cap = 4;
    char **out = xmalloc(cap * sizeof *out);
    for (const char *p = s + strspn(s, " "); *p; p += strspn(p, " ")) {
        size_t l = strcspn(p, " ");
        if (cnt + 1 >= cap) out = xrealloc(out, (cap *= 2) * sizeof *out);
        out[cnt++] = xstrndup(p, l);
        p += l;
    }
    out[cnt] = NULL;
    *n = cnt;
    return out;
}

char **idpd_verify_claims_strings(const idpd_verify_claims *c, const char *name, size_t *n)
{
    size_t dummy;
    if (!n) n = &dummy;
    *n = 0;
    const json_t *v = c && name ? json_object_get(J(c), name) : NULL;
    if (json_is_string(v)) {
        if (!strcmp(name, "scope")) return words(json_string_value(v), n); /* RFC 9068 §2.2.3 */
        char **out = xcalloc(2, sizeof *out);
        out[0] = xstrdup(json_string_value(v));
        *n = 1;
        return out;
    }
    if (!json_is_array(v)) return NULL;
    size_t len = json_array_size(v);
    for (size_t i = 0; i < len; i++)
        if (!json_is_string(json_array_get(v, i))) return NULL;
    char **out = xcalloc(len + 1, sizeof *out);
    for (size_t i = 0; i < len; i++)
        out[i] = xstrdup(json_string_value(json_array_get(v, i)));
    *n = len;
    return out;
}

void idpd_verify_strings_free(char **list)
{
    if (!list) return;
    for (char **p = list; *p; p++)
        free(*p);
    free(list);
}

bool idpd_verify_claims_number(const idpd_verify_claims *c, const char *name, double *out)
{
    const json_t *v = c && name ? json_object_get(J(c), name) : NULL;
    if (!json_is_number(v)) return false;
    if (out) *out = json_number_value(v);
    return true;
}

bool idpd_verify_claims_int(const idpd_verify_claims *c, const char *name, int64_t *out)
{
    const json_t *v = c && name ? json_object_get(J(c), name) : NULL;
    if (!json_is_integer(v)) return false;
    if (out) *out = (int64_t)json_integer_value(v);
    return true;
}

bool idpd_verify_claims_bool(const idpd_verify_claims *c, const char *name)
{
    return c && name && json_is_true(json_object_get(J(c), name));
}

char *idpd_verify_claims_json(const idpd_verify_claims *c)
{
    char *s = c ? json_dumps(J(c), JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (c && !s) abort();
    return s;
}

/* ---- stats -------------------------------------------------------------------------------- */

void idpd_verify_stats_get(idpd_verify *v, idpd_verify_stats *out)
{
    memset(out, 0, sizeof *out);
    out->jwks_state = "unfetched";
    out->feed_state = "off";
    if (!v) return;
    jwks_cache_status s;
    jwks_cache_status_get(v->keys, &s);
    out->jwks_state = jwks_cache_state_name(s.state);
    out->jwks_keys = s.nkeys;
    out->jwks_fetched_at_ms = s.fetched_at_ms;
    for (int i = 0; i < JWKS_FETCH__COUNT; i++)
        out->jwks_fetches += s.fetches[i];
    snprintf(out->jwks_last_error, sizeof out->jwks_last_error, "%s", s.last_error);
    jwks_cache_status_clear(&s);
    if (v->cache) {
        out->cache_entries = verify_cache_size(v->cache);
        verify_cache_stats(v->cache, &out->cache_hits, &out->cache_misses);
    }
    vfeed *f = &v->feed;
    if (!f->on) return;
    idpd_verify_error e;
    int64_t now = time_now_ms();
    if (!atomic_load(&f->ever_synced))
        out->feed_state = "unsynced";
    else if (denylist_overflowed(f->deny))
        out->feed_state = "overflow";
    else if (vfeed_gate(v, now, &e) != IDPD_VERIFY_OK)
        out->feed_state = "stale";
    else
        out->feed_state = "ok";
    out->feed_synced_at_ms = atomic_load(&f->synced_at_ms);
    out->feed_events_applied = atomic_load(&f->applied);
    out->feed_polls = atomic_load(&f->polls);
    out->feed_failures = atomic_load(&f->failures);
    denylist_size(f->deny, &out->feed_revoked_jtis, &out->feed_revoked_users);
    pthread_mutex_lock(&f->smu);
    snprintf(out->feed_cursor, sizeof out->feed_cursor, "%s", f->cursor_copy);
    snprintf(out->feed_last_error, sizeof out->feed_last_error, "%s", f->last_error);
    pthread_mutex_unlock(&f->smu);
}
