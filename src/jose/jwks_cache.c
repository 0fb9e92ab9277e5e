#include "jose/jwks_cache.h"

#include "core/mem.h"
#include "core/snap.h"
#include "core/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The current set: immutable once published. */
typedef struct set_snap {
    snap_obj base; /* first */
    jwks *set;
    int64_t fetched_at_ms;
    size_t skipped;
} set_snap;

struct jwks_cache {
    jwks_cache_opts o;
    jwks_cache_hooks h;
    snap_slot slot; /* the current set_snap; read without a lock */

    pthread_mutex_t mu;
    pthread_cond_t done; /* an attempt finished (gen changed); CLOCK_MONOTONIC */
    /* under mu */
    bool want;        /* a request asked for a fetch */
    bool fetching;    /* an attempt is under way */
    bool attempted;   /* an attempt has started at least once */
    uint64_t gen;     /* attempts finished */
    int64_t last_attempt_ms, next_refresh_ms, last_success_ms;
    long last_http_status;
    jwks_fetch_result last_result;
    bool last_failed;
    char last_error[240];
    unsigned consecutive_failures;
    uint64_t fetches[JWKS_FETCH__COUNT];
    uint64_t skipped_total, miss_refetches;

    /* jwks_cache_start's thread, under mu */
    bool thr_started, thr_stop, thr_wake;
    pthread_cond_t thr_cv; /* CLOCK_MONOTONIC */
    pthread_t thr;
};

static const char *const result_names[JWKS_FETCH__COUNT] = {
    [JWKS_FETCH_OK] = "ok",
    [JWKS_FETCH_HTTP_STATUS] = "http_status",
    [JWKS_FETCH_TOO_LARGE] = "too_large",
    [JWKS_FETCH_INVALID] = "invalid",
    [JWKS_FETCH_TOO_MANY_KEYS] = "too_many_keys",
    [JWKS_FETCH_NETWORK] = "network",
    [JWKS_FETCH_INTERNAL] = "internal",
};

const char *jwks_cache_fetch_result_name(int r)
{
    return r >= 0 && r < JWKS_FETCH__COUNT ? result_names[r] : NULL;
}

const char *jwks_cache_state_name(jwks_cache_state s)
{
    switch (s) {
    case JWKS_CACHE_UNFETCHED: return "unfetched";
    case JWKS_CACHE_OK: return "ok";
    case JWKS_CACHE_STALE: return "stale";
    case JWKS_CACHE_FAILING: return "failing";
    }
    return "unknown";
}

static int64_t now_ms(const jwks_cache *c)
{
    return c->h.clock ? c->h.clock(c->h.ctx) : time_now_ms();
}

static void set_snap_destroy(snap_obj *o)
{
    set_snap *s = (set_snap *)o;
    jwks_unref(s->set);
    free(s);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static set_snap *acquire(jwks_cache *c) { return (set_snap *)snap_acquire(&c->slot); }

static bool usable(const jwks_cache *c, const set_snap *s, int64_t now)
{
    return s && now - s->fetched_at_ms < c->o.stale_if_error_ms;
}

static void publish(jwks_cache *c, jwks *set, int64_t fetched_at_ms, size_t skipped)
{
    set_snap *s = xcalloc(1, sizeof *s);
    snap_obj_init(&s->base, set_snap_destroy);
    s->set = set; /* takes the reference */
    s->fetched_at_ms = fetched_at_ms;
    s->skipped = skipped;
    snap_publish(&c->slot, &s->base);
}

static void cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static struct timespec mono_deadline(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ms < 0) ms = 0;
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

idp_err jwks_cache_new(const jwks_cache_opts *o, const jwks_cache_hooks *hooks, jwks_cache **out,
                       idp_error *err)
{
    *out = NULL;
    if (!o || !hooks || !hooks->fetch)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "JWKS cache without a fetcher");
    if (o->refresh_ms <= 0 || o->min_refresh_ms <= 0 || o->max_refresh_ms < o->min_refresh_ms ||
        o->kid_miss_cooldown_ms < 0 || o->stale_if_error_ms <= 0 || o->fetch_timeout_ms <= 0)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "JWKS cache timings out of range");
    jwks_cache *c = xcalloc(1, sizeof *c);
    c->o = *o;
    c->h = *hooks;
    snap_slot_init(&c->slot);
    pthread_mutex_init(&c->mu, NULL);
    cond_init_mono(&c->done);
    cond_init_mono(&c->thr_cv);
    *out = c;
    return IDP_OK;
}

void jwks_cache_free(jwks_cache *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    bool started = c->thr_started;
    c->thr_stop = true;
    pthread_cond_signal(&c->thr_cv);
    pthread_mutex_unlock(&c->mu);
    if (started) pthread_join(c->thr, NULL);
    snap_slot_destroy(&c->slot);
    pthread_cond_destroy(&c->done);
    pthread_cond_destroy(&c->thr_cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- parsing ----------------------------------------------------------------------------- */

typedef struct skip_count {
    const jwks_cache *c;
    size_t n;
} skip_count;

static void count_skip(void *ctx, size_t index, const char *kid, const char *reason)
{
    skip_count *sc = ctx;
    sc->n++;
    if (sc->c->h.on_skip) sc->c->h.on_skip(sc->c->h.ctx, index, kid, reason);
}

static jwks_fetch_result parse_set(const jwks_cache *c, const char *body, size_t len, jwks **out,
                                   size_t *skipped, idp_error *err)
{
    skip_count sc = {c, 0};
    *out = NULL;
    *skipped = 0;
    if (len > JWKS_CACHE_MAX_BODY) {
        IDP_FAIL(err, IDP_ERR_TOO_LARGE, "JWKS body of %zu bytes (at most %u)", len,
                 JWKS_CACHE_MAX_BODY);
        return JWKS_FETCH_TOO_LARGE;
    }
    idp_err rc = jwks_from_json_report(body ? body : "", len, count_skip, &sc, out, err);
    if (rc == IDP_ERR_TOO_LARGE) return JWKS_FETCH_TOO_MANY_KEYS;
    if (rc == IDP_ERR_NOMEM) return JWKS_FETCH_INTERNAL;
    if (rc) return JWKS_FETCH_INVALID;
    *skipped = sc.n;
    return JWKS_FETCH_OK;
}

idp_err jwks_cache_seed(jwks_cache *c, const char *body, size_t len, int64_t fetched_at_ms,
                        idp_error *err)
{
    jwks *set = NULL;
    size_t skipped = 0;
    idp_error e2 = {0};
    jwks_fetch_result r = parse_set(c, body, len, &set, &skipped, &e2);
    if (r != JWKS_FETCH_OK)
        return IDP_FAIL(err, e2.code ? e2.code : IDP_ERR_INVALID, "stored JWKS refused: %s",
                        e2.msg);
    int64_t now = now_ms(c);
    if (fetched_at_ms > now) fetched_at_ms = now;
    if (now - fetched_at_ms >= c->o.stale_if_error_ms) {
        jwks_unref(set);
        return IDP_FAIL(err, IDP_ERR_INVALID, "stored JWKS older than stale_if_error");
    }
    pthread_mutex_lock(&c->mu);
    set_snap *cur = acquire(c);
    if (cur) {
        snap_release(&cur->base);
        pthread_mutex_unlock(&c->mu);
        jwks_unref(set);
        return IDP_FAIL(err, IDP_ERR_CONFLICT, "JWKS cache already holds a set");
    }
    publish(c, set, fetched_at_ms, skipped);
    c->last_success_ms = fetched_at_ms;
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->mu);
    return IDP_OK;
}

idp_err jwks_cache_offer(jwks_cache *c, const char *body, size_t len, int64_t fetched_at_ms,
                         int64_t max_age_s, idp_error *err)
{
    jwks *set = NULL;
    size_t skipped = 0;
    idp_error e2 = {0};
    jwks_fetch_result r = parse_set(c, body, len, &set, &skipped, &e2);
    if (r != JWKS_FETCH_OK)
        return IDP_FAIL(err, e2.code ? e2.code : IDP_ERR_INVALID, "stored JWKS refused: %s",
                        e2.msg);
    int64_t now = now_ms(c);
    if (fetched_at_ms > now) fetched_at_ms = now;
    if (now - fetched_at_ms >= c->o.stale_if_error_ms) {
        jwks_unref(set);
        return IDP_FAIL(err, IDP_ERR_INVALID, "stored JWKS older than stale_if_error");
    }
    pthread_mutex_lock(&c->mu);
    set_snap *cur = acquire(c);
    bool newer = !cur || fetched_at_ms > cur->fetched_at_ms;
    snap_release(cur ? &cur->base : NULL);
    if (!newer) {
        pthread_mutex_unlock(&c->mu);
        jwks_unref(set);
        return IDP_FAIL(err, IDP_ERR_CONFLICT, "the cache's set is as new");
    }
    publish(c, set, fetched_at_ms, skipped);
    c->last_success_ms = fetched_at_ms;
    c->last_failed = false;
    c->consecutive_failures = 0;
    c->last_error[0] = '\0';
    int64_t next = max_age_s >= 0 ? clamp64(max_age_s > INT64_MAX / 1000 ? INT64_MAX / 1000
                                                                          : max_age_s * 1000,
                                            c->o.min_refresh_ms, c->o.max_refresh_ms)
                                  : c->o.refresh_ms;
    if (c->attempted) c->next_refresh_ms = fetched_at_ms + next;
    c->gen++;
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->mu);
    return IDP_OK;
}

/* ---- request threads --------------------------------------------------------------------- */

idp_err jwks_cache_get(jwks_cache *c, const char *kid, jwks **out, idp_error *err)
{
    *out = NULL;
    /* Common case, no lock: a usable set that has the kid. */
    set_snap *s = acquire(c);
    int64_t now = now_ms(c);
    if (usable(c, s, now) && (!kid || jwks_find(s->set, kid))) {
        *out = jwks_ref(s->set);
        snap_release(&s->base);
        return IDP_OK;
    }
    snap_release(s ? &s->base : NULL);

    /* Miss (or no usable set): join the fetch under way or ask for one unless in cooldown. */
    struct timespec deadline = mono_deadline(c->o.fetch_timeout_ms);
    bool wake = false;
    pthread_mutex_lock(&c->mu);
    now = now_ms(c);
    bool wait = c->want || c->fetching;
    if (!wait && (!c->attempted || now - c->last_attempt_ms >= c->o.kid_miss_cooldown_ms)) {
        c->want = true;
        c->miss_refetches++;
        wait = wake = true;
        if (c->thr_started) {
            c->thr_wake = true;
            pthread_cond_signal(&c->thr_cv);
        }
    }
    if (wait) {
        uint64_t g = c->gen;
        if (wake && c->h.wake) {
            pthread_mutex_unlock(&c->mu);
            c->h.wake(c->h.ctx);
            pthread_mutex_lock(&c->mu);
        }
        while (c->gen == g)
            if (pthread_cond_timedwait(&c->done, &c->mu, &deadline) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&c->mu);

    s = acquire(c);
    now = now_ms(c);
    if (!usable(c, s, now)) {
        snap_release(s ? &s->base : NULL);
        return IDP_FAIL(err, IDP_ERR_UNAVAILABLE,
                        s ? "the issuer's keys are stale and could not be refreshed"
                          : "the issuer's keys could not be fetched");
    }
    *out = jwks_ref(s->set);
    snap_release(&s->base);
    return IDP_OK;
}

/* ---- background thread ------------------------------------------------------------------- */


static int64_t retry_delay(const jwks_cache *c, unsigned failures)
{
    int64_t cap = c->o.refresh_ms > c->o.min_refresh_ms ? c->o.refresh_ms : c->o.min_refresh_ms;
    int64_t d = c->o.min_refresh_ms;
    for (unsigned i = 1; i < failures && d < cap; i++) d = d > cap / 2 ? cap : d * 2;
    return d < cap ? d : cap;
}

int64_t jwks_cache_tick(jwks_cache *c)
{
    pthread_mutex_lock(&c->mu);
    int64_t start = now_ms(c);
    if (!(c->want || !c->attempted || start >= c->next_refresh_ms) || c->fetching) {
        int64_t ms = c->next_refresh_ms - start;
        pthread_mutex_unlock(&c->mu);
        snap_reap(&c->slot);
        return ms > 0 ? ms : 0;
    }
    c->want = false;
    c->fetching = true;
    c->attempted = true;
    c->last_attempt_ms = start;
    pthread_mutex_unlock(&c->mu);

    idp_buf body;
    buf_init(&body, JWKS_CACHE_MAX_BODY);
    long status = 0;
    int64_t max_age = -1;
    idp_error e = {0};
    jwks *set = NULL;
    size_t skipped = 0;
    jwks_fetch_result r;
    idp_err rc = c->h.fetch(c->h.ctx, (long)c->o.fetch_timeout_ms, &body, &status, &max_age, &e);
    if (rc == IDP_ERR_TOO_LARGE || (rc == IDP_OK && body.len > JWKS_CACHE_MAX_BODY)) {
        r = JWKS_FETCH_TOO_LARGE;
        if (!rc) IDP_FAIL(&e, IDP_ERR_TOO_LARGE, "JWKS body over %u bytes", JWKS_CACHE_MAX_BODY);
    } else if (rc == IDP_ERR_NOMEM) {
        r = JWKS_FETCH_INTERNAL;
    } else if (rc == IDP_ERR_INVALID) {
        r = JWKS_FETCH_INVALID;
        if (!e.msg[0]) IDP_FAIL(&e, rc, "invalid response");
    } else if (rc) {
        r = JWKS_FETCH_NETWORK;
        if (!e.msg[0]) IDP_FAIL(&e, rc, "no response");
    } else if (status != 200) {
        r = JWKS_FETCH_HTTP_STATUS;
        IDP_FAIL(&e, IDP_ERR_UNAVAILABLE, "HTTP status %ld", status);
    } else {
        memset(&e, 0, sizeof e);
        r = parse_set(c, body.data, body.len, &set, &skipped, &e);
    }
    if (r == JWKS_FETCH_OK) publish(c, jwks_ref(set), start, skipped);

    pthread_mutex_lock(&c->mu);
    c->fetches[r]++;
    c->last_result = r;
    c->last_http_status = status;
    if (r == JWKS_FETCH_OK) {
        c->last_failed = false;
        c->consecutive_failures = 0;
        c->last_success_ms = start;
        c->skipped_total += skipped;
        int64_t next = max_age >= 0
                           ? clamp64(max_age > INT64_MAX / 1000 ? INT64_MAX / 1000 : max_age * 1000,
                                     c->o.min_refresh_ms, c->o.max_refresh_ms)
                           : c->o.refresh_ms;
        c->next_refresh_ms = start + next;
    } else {
        c->last_failed = true;
        c->consecutive_failures++;
        snprintf(c->last_error, sizeof c->last_error, "%.200s: %.30s", e.msg[0] ? e.msg : "failed",
                 result_names[r]);
        c->next_refresh_ms = start + retry_delay(c, c->consecutive_failures);
    }
    c->fetching = false;
    c->gen++;
    pthread_cond_broadcast(&c->done);
    int64_t ms = c->next_refresh_ms - now_ms(c);
    pthread_mutex_unlock(&c->mu);

    if (r == JWKS_FETCH_OK && c->h.on_good) c->h.on_good(c->h.ctx, body.data, body.len, start, max_age);
    jwks_unref(set);
    buf_free(&body);
    snap_reap(&c->slot);
    return ms > 0 ? ms : 0;
}

static void *run(void *arg)
{
    jwks_cache *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->thr_stop) {
        pthread_mutex_unlock(&c->mu);
        int64_t ms = jwks_cache_tick(c);
        pthread_mutex_lock(&c->mu);
        if (ms > 0 && !c->thr_wake && !c->want && !c->thr_stop) {
            struct timespec d = mono_deadline(ms);
            pthread_cond_timedwait(&c->thr_cv, &c->mu, &d);
        }
        c->thr_wake = false;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

idp_err jwks_cache_start(jwks_cache *c, idp_error *err)
{
    pthread_mutex_lock(&c->mu);
    if (c->thr_started) {
        pthread_mutex_unlock(&c->mu);
        return IDP_FAIL(err, IDP_ERR_CONFLICT, "JWKS cache thread already started");
    }
    if (pthread_create(&c->thr, NULL, run, c) != 0) {
        pthread_mutex_unlock(&c->mu);
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "cannot start the JWKS cache thread");
    }
    c->thr_started = true;
    pthread_mutex_unlock(&c->mu);
    return IDP_OK;
}

/* ---- status ------------------------------------------------------------------------------ */

void jwks_cache_status_get(jwks_cache *c, jwks_cache_status *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->mu);
    set_snap *s = acquire(c);
    int64_t now = now_ms(c);
    if (s) {
        out->keys = jwks_ref(s->set);
        out->nkeys = jwks_count(s->set);
        out->skipped = s->skipped;
        out->fetched_at_ms = s->fetched_at_ms;
        out->usable_until_ms = s->fetched_at_ms + c->o.stale_if_error_ms;
    }
    if (usable(c, s, now))
        out->state = c->last_failed ? JWKS_CACHE_STALE : JWKS_CACHE_OK;
    else
        out->state = c->gen == 0 ? JWKS_CACHE_UNFETCHED : JWKS_CACHE_FAILING;
    snap_release(s ? &s->base : NULL);
    out->last_success_ms = c->last_success_ms;
    out->last_attempt_ms = c->attempted ? c->last_attempt_ms : 0;
    out->next_refresh_ms = c->attempted ? c->next_refresh_ms : now;
    out->last_http_status = c->last_http_status;
    out->last_result = c->last_result;
    memcpy(out->last_error, c->last_error, sizeof out->last_error);
    out->consecutive_failures = c->consecutive_failures;
    memcpy(out->fetches, c->fetches, sizeof out->fetches);
    out->skipped_total = c->skipped_total;
    out->miss_refetches = c->miss_refetches;
    pthread_mutex_unlock(&c->mu);
}

void jwks_cache_status_clear(jwks_cache_status *s)
{
    if (!s) return;
    jwks_unref(s->keys);
    s->keys = NULL;
}
