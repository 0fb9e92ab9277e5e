/* Unit tests for src/jose/jwks_cache.c with a fake clock and a fake fetcher: the first fetch,
 * the refresh schedule (max-age clamped both ways), kid misses (one coalesced refetch, the
 * cooldown, a flood from several threads), the miss waiter's bound, failures by result with the
 * last good set kept, stale_if_error, seed and on_good, skipped members, status. */
#include "testutil.h"

#include "core/buf.h"
#include "core/timeutil.h"
#include "jose/jwk.h"
#include "jose/jwks_cache.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T0 1800000000000LL /* fake epoch ms */
#define NKEYS 70

static jwk *keys[NKEYS];

typedef struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic int64_t now;
    /* the next responses */
    idp_err rc;
    long status;
    int64_t max_age;
    char *body;
    int delay_ms;
    bool hold; /* fetch blocks until released */
    _Atomic int calls;
    /* on_good */
    char *good;
    int64_t good_at, good_age;
    int goods;
    /* on_skip */
    int skips;
    char reason[160];
    /* ticker thread: ticks once per wake */
    sem_t sem;
    pthread_t thr;
    atomic_bool stop;
    jwks_cache *c;
} fake;

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t fake_clock(void *ctx) { return atomic_load(&((fake *)ctx)->now); }
static void advance(fake *f, int64_t ms) { atomic_fetch_add(&f->now, ms); }

static idp_err fake_fetch(void *ctx, long timeout_ms, idp_buf *body, long *status,
                          int64_t *max_age_s, idp_error *err)
{
    fake *f = ctx;
    atomic_fetch_add(&f->calls, 1);
    pthread_mutex_lock(&f->mu);
    while (f->hold) pthread_cond_wait(&f->cv, &f->mu);
    idp_err rc = f->rc;
    *status = f->status;
    *max_age_s = f->max_age;
    char *b = f->body ? strdup(f->body) : NULL;
    int delay = f->delay_ms;
    pthread_mutex_unlock(&f->mu);
    if (delay) msleep(delay);
    if (rc) {
        *status = 0;
        free(b);
        return IDP_FAIL(err, rc, "connection refused");
    }
    if (b && buf_append(body, b, strlen(b)) != 0) {
        free(b);
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "body over the cap");
    }
    free(b);
    return IDP_OK;
}

static void fake_wake(void *ctx) { sem_post(&((fake *)ctx)->sem); }

static void fake_good(void *ctx, const char *body, size_t len, int64_t at, int64_t max_age)
{
    fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    free(f->good);
    f->good = strndup(body, len);
    f->good_at = at;
    f->good_age = max_age;
    f->goods++;
    pthread_mutex_unlock(&f->mu);
}

static void fake_skip(void *ctx, size_t index, const char *kid, const char *reason)
{
    fake *f = ctx;
    f->skips++;
    snprintf(f->reason, sizeof f->reason, "%s", reason);
}

static void *ticker(void *arg)
{
    fake *f = arg;
    for (;;) {
        sem_wait(&f->sem);
        if (atomic_load(&f->stop)) break;
        jwks_cache_tick(f->c);
    }
    return NULL;
}

/* The set {"keys":[...]} of keys[from..to). Owned. */
static char *body_of(int from, int to)
{
    json_t *j = json_pack("{s:[]}", "keys");
    for (int i = from; i < to; i++)
        json_array_append_new(json_object_get(j, "keys"), jwk_to_public_json(keys[i]));
    char *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return out;
}

static void serve(fake *f, idp_err rc, long status, int64_t max_age, char *body /* taken */)
{
    pthread_mutex_lock(&f->mu);
    f->rc = rc;
    f->status = status;
    f->max_age = max_age;
    free(f->body);
    f->body = body;
    pthread_mutex_unlock(&f->mu);
}

static void set_hold(fake *f, bool hold)
{
    pthread_mutex_lock(&f->mu);
    f->hold = hold;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static const jwks_cache_opts OPTS = {
    .refresh_ms = 600000,
    .min_refresh_ms = 60000,
    .max_refresh_ms = 3600000,
    .kid_miss_cooldown_ms = 30000,
    .stale_if_error_ms = 86400000,
    .fetch_timeout_ms = 2000,
};

static fake *fake_new(const jwks_cache_opts *o)
{
    fake *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    atomic_init(&f->now, T0);
    sem_init(&f->sem, 0, 0);
    f->status = 200;
    f->max_age = -1;
    f->body = body_of(0, 1);
    jwks_cache_hooks h = {.fetch = fake_fetch, .clock = fake_clock, .wake = fake_wake,
                          .on_good = fake_good, .on_skip = fake_skip, .ctx = f};
    assert_int_equal(jwks_cache_new(o ? o : &OPTS, &h, &f->c, NULL), IDP_OK);
    pthread_create(&f->thr, NULL, ticker, f);
    return f;
}

static void fake_free(fake *f)
{
    set_hold(f, false);
    atomic_store(&f->stop, true);
    sem_post(&f->sem);
    pthread_join(f->thr, NULL);
    jwks_cache_free(f->c);
    free(f->body);
    free(f->good);
    sem_destroy(&f->sem);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* jwks_cache_get for kid: the rc, and whether the returned set has kid. */
static idp_err get_has(fake *f, const char *kid, bool *has)
{
    jwks *s = NULL;
    idp_err rc = jwks_cache_get(f->c, kid, &s, NULL);
    *has = s && kid && jwks_find(s, kid);
    if (rc) assert_null(s);
    jwks_unref(s);
    return rc;
}

static const char *kid(int i) { return jwk_kid(keys[i]); }

static int setup_keys(void **state)
{
    for (int i = 0; i < NKEYS; i++)
        if (jwk_generate(JWS_ES256, 0, &keys[i], NULL)) return -1;
    return 0;
}

static int teardown_keys(void **state)
{
    for (int i = 0; i < NKEYS; i++) jwk_unref(keys[i]);
    return 0;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void first_fetch(void **state)
{
    fake *f = fake_new(NULL);
    jwks_cache_status st;
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_UNFETCHED);
    assert_null(st.keys);
    jwks_cache_status_clear(&st);

    assert_int_equal(jwks_cache_tick(f->c), OPTS.refresh_ms);
    assert_int_equal(atomic_load(&f->calls), 1);
    bool has;
    assert_int_equal(get_has(f, kid(0), &has), IDP_OK);
    assert_true(has);
    jwks *s = NULL;
    assert_int_equal(jwks_cache_get(f->c, NULL, &s, NULL), IDP_OK); /* the set as is */
    assert_int_equal(jwks_count(s), 1);
    jwks_unref(s);
    assert_int_equal(atomic_load(&f->calls), 1);

    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_OK);
    assert_string_equal(jwks_cache_state_name(st.state), "ok");
    assert_int_equal(st.nkeys, 1);
    assert_string_equal(jwk_kid(jwks_at(st.keys, 0)), kid(0));
    assert_int_equal(st.fetched_at_ms, T0);
    assert_int_equal(st.last_success_ms, T0);
    assert_int_equal(st.last_attempt_ms, T0);
    assert_int_equal(st.next_refresh_ms, T0 + OPTS.refresh_ms);
    assert_int_equal(st.usable_until_ms, T0 + OPTS.stale_if_error_ms);
    assert_int_equal(st.last_http_status, 200);
    assert_int_equal(st.fetches[JWKS_FETCH_OK], 1);
    assert_string_equal(st.last_error, "");
    jwks_cache_status_clear(&st);
    /* on_good saw the body */
    assert_int_equal(f->goods, 1);
    assert_string_equal(f->good, f->body);
    assert_int_equal(f->good_at, T0);
    assert_int_equal(f->good_age, -1);
    fake_free(f);
}

static void refresh_schedule(void **state)
{
    fake *f = fake_new(NULL);
    /* no max-age: refresh */
    assert_int_equal(jwks_cache_tick(f->c), OPTS.refresh_ms);
    advance(f, OPTS.refresh_ms - 1);
    assert_int_equal(jwks_cache_tick(f->c), 1); /* not due: no fetch */
    assert_int_equal(atomic_load(&f->calls), 1);
    advance(f, 1);
    /* max-age within the clamp */
    serve(f, IDP_OK, 200, 120, body_of(0, 1));
    assert_int_equal(jwks_cache_tick(f->c), 120000);
    assert_int_equal(atomic_load(&f->calls), 2);
    assert_int_equal(f->good_age, 120);
    /* below min_refresh: clamped up (0 included) */
    advance(f, 120000);
    serve(f, IDP_OK, 200, 1, body_of(0, 1));
    assert_int_equal(jwks_cache_tick(f->c), OPTS.min_refresh_ms);
    advance(f, OPTS.min_refresh_ms);
    serve(f, IDP_OK, 200, 0, body_of(0, 1));
    assert_int_equal(jwks_cache_tick(f->c), OPTS.min_refresh_ms);
    /* above max_refresh: clamped down */
    advance(f, OPTS.min_refresh_ms);
    serve(f, IDP_OK, 200, 2147483648LL, body_of(0, 1));
    assert_int_equal(jwks_cache_tick(f->c), OPTS.max_refresh_ms);
    jwks_cache_status st;
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.next_refresh_ms, atomic_load(&f->now) + OPTS.max_refresh_ms);
    assert_int_equal(st.fetches[JWKS_FETCH_OK], 5);
    jwks_cache_status_clear(&st);
    /* a failure retries after min_refresh, doubling, capped at refresh */
    advance(f, OPTS.max_refresh_ms);
    serve(f, IDP_ERR_IO, 0, -1, NULL);
    assert_int_equal(jwks_cache_tick(f->c), 60000);
    advance(f, 60000);
    assert_int_equal(jwks_cache_tick(f->c), 120000);
    advance(f, 120000);
    assert_int_equal(jwks_cache_tick(f->c), 240000);
    advance(f, 240000);
    assert_int_equal(jwks_cache_tick(f->c), 480000);
    advance(f, 480000);
    assert_int_equal(jwks_cache_tick(f->c), OPTS.refresh_ms);
    advance(f, OPTS.refresh_ms);
    assert_int_equal(jwks_cache_tick(f->c), OPTS.refresh_ms);
    fake_free(f);
}

static void kid_miss_refetch_then_cooldown(void **state)
{
    fake *f = fake_new(NULL);
    jwks_cache_tick(f->c);
    serve(f, IDP_OK, 200, -1, body_of(0, 2));
    advance(f, OPTS.kid_miss_cooldown_ms); /* last attempt old enough */
    bool has;
    assert_int_equal(get_has(f, kid(1), &has), IDP_OK); /* waits for the refetch */
    assert_true(has);
    assert_int_equal(atomic_load(&f->calls), 2);
    /* another unknown kid within the cooldown: answered at once from the current set */
    serve(f, IDP_OK, 200, -1, body_of(0, 3));
    assert_int_equal(get_has(f, kid(2), &has), IDP_OK);
    assert_false(has);
    advance(f, OPTS.kid_miss_cooldown_ms - 1);
    assert_int_equal(get_has(f, kid(2), &has), IDP_OK);
    assert_false(has);
    assert_int_equal(atomic_load(&f->calls), 2);
    /* cooldown passed: one more refetch */
    advance(f, 1);
    assert_int_equal(get_has(f, kid(2), &has), IDP_OK);
    assert_true(has);
    assert_int_equal(atomic_load(&f->calls), 3);
    jwks_cache_status st;
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.miss_refetches, 2);
    assert_int_equal(st.nkeys, 3);
    jwks_cache_status_clear(&st);
    /* known kids never fetch */
    for (int i = 0; i < 100; i++) assert_int_equal(get_has(f, kid(i % 3), &has), IDP_OK);
    assert_int_equal(atomic_load(&f->calls), 3);
    fake_free(f);
}

typedef struct flood_arg {
    fake *f;
    int i;
    int found;
} flood_arg;

static void *flood_one(void *p)
{
    flood_arg *a = p;
    for (int n = 0; n < 20; n++) {
        char k[32];
        snprintf(k, sizeof k, "unknown-%d-%d", a->i, n);
        bool has;
        if (get_has(a->f, k, &has) == IDP_OK && has) a->found++;
        if (get_has(a->f, kid(1), &has) == IDP_OK && has) a->found++;
    }
    return NULL;
}

static void miss_flood_one_fetch(void **state)
{
    fake *f = fake_new(NULL);
    jwks_cache_tick(f->c);
    advance(f, OPTS.kid_miss_cooldown_ms);
    serve(f, IDP_OK, 200, -1, body_of(0, 2));
    pthread_mutex_lock(&f->mu);
    f->delay_ms = 50; /* so that the threads pile up on the same fetch */
    pthread_mutex_unlock(&f->mu);
    enum { N = 8 };
    pthread_t t[N];
    flood_arg a[N];
    for (int i = 0; i < N; i++) {
        a[i] = (flood_arg){f, i, 0};
        pthread_create(&t[i], NULL, flood_one, &a[i]);
    }
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&f->calls), 2); /* the first fetch and exactly one refetch */
    for (int i = 0; i < N; i++) assert_true(a[i].found >= 19); /* kid(1) after the refetch */
    fake_free(f);
}

static void miss_waiter_bounded(void **state)
{
    jwks_cache_opts o = OPTS;
    o.fetch_timeout_ms = 150;
    fake *f = fake_new(&o);
    jwks_cache_tick(f->c);
    advance(f, o.kid_miss_cooldown_ms);
    /* a fetch that arrives within fetch_timeout: the waiter gets the new key */
    serve(f, IDP_OK, 200, -1, body_of(0, 2));
    pthread_mutex_lock(&f->mu);
    f->delay_ms = 30;
    pthread_mutex_unlock(&f->mu);
    bool has;
    assert_int_equal(get_has(f, kid(1), &has), IDP_OK);
    assert_true(has);
    /* a fetch that hangs: the waiter is answered after fetch_timeout from the current set */
    advance(f, o.kid_miss_cooldown_ms);
    set_hold(f, true);
    int64_t t = time_mono_us();
    assert_int_equal(get_has(f, kid(2), &has), IDP_OK);
    int64_t waited_ms = (time_mono_us() - t) / 1000;
    assert_false(has);
    assert_true(waited_ms >= 140 && waited_ms < 1000);
    /* a second miss while the same fetch hangs joins it (no new fetch), bounded as well */
    t = time_mono_us();
    assert_int_equal(get_has(f, kid(3), &has), IDP_OK);
    assert_true((time_mono_us() - t) / 1000 < 1000);
    assert_int_equal(atomic_load(&f->calls), 3);
    set_hold(f, false);
    fake_free(f);
}

static void never_fetched(void **state)
{
    jwks_cache_opts o = OPTS;
    o.fetch_timeout_ms = 150;
    fake *f = fake_new(&o);
    /* a lookup without a set asks for the fetch and gets it */
    bool has;
    assert_int_equal(get_has(f, kid(0), &has), IDP_OK);
    assert_true(has);
    assert_int_equal(atomic_load(&f->calls), 1);
    fake_free(f);

    /* the fetch fails: 503 at once (after the attempt), then within the cooldown without one */
    f = fake_new(&o);
    serve(f, IDP_ERR_IO, 0, -1, NULL);
    idp_error e = {0};
    jwks *s = NULL;
    assert_int_equal(jwks_cache_get(f->c, kid(0), &s, &e), IDP_ERR_UNAVAILABLE);
    assert_null(s);
    assert_int_equal(idp_err_http_status(e.code), 503);
    assert_int_equal(jwks_cache_get(f->c, NULL, &s, NULL), IDP_ERR_UNAVAILABLE);
    assert_int_equal(atomic_load(&f->calls), 1);
    jwks_cache_status st;
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_FAILING);
    assert_int_equal(st.fetches[JWKS_FETCH_NETWORK], 1);
    assert_non_null(strstr(st.last_error, "connection refused"));
    jwks_cache_status_clear(&st);
    fake_free(f);

    /* the fetch hangs: 503 after fetch_timeout */
    f = fake_new(&o);
    set_hold(f, true);
    int64_t t = time_mono_us();
    assert_int_equal(jwks_cache_get(f->c, kid(0), &s, NULL), IDP_ERR_UNAVAILABLE);
    int64_t waited_ms = (time_mono_us() - t) / 1000;
    assert_true(waited_ms >= 140 && waited_ms < 1000);
    fake_free(f);
}

/* A failed attempt of each kind: counted by result, the last good set kept, state stale. */
static void failures_keep_last_good(void **state)
{
    fake *f = fake_new(NULL);
    jwks_cache_tick(f->c);
    char *big = malloc(JWKS_CACHE_MAX_BODY + 2);
    memset(big, ' ', JWKS_CACHE_MAX_BODY + 1);
    big[JWKS_CACHE_MAX_BODY + 1] = 0;
    struct {
        idp_err rc;
        long status;
        char *body;
        jwks_fetch_result want;
    } cases[] = {
        {IDP_OK, 500, strdup("oops"), JWKS_FETCH_HTTP_STATUS},
        {IDP_OK, 302, strdup(""), JWKS_FETCH_HTTP_STATUS},
        {IDP_OK, 404, body_of(0, 2), JWKS_FETCH_HTTP_STATUS},
        {IDP_OK, 200, big, JWKS_FETCH_TOO_LARGE},
        {IDP_OK, 200, strdup("<html>not json</html>"), JWKS_FETCH_INVALID},
        {IDP_OK, 200, strdup("{\"keys\":{}}"), JWKS_FETCH_INVALID},
        {IDP_OK, 200, strdup("{\"keys\":[]} trailing"), JWKS_FETCH_INVALID},
        {IDP_OK, 200, body_of(0, JWKS_MAX_KEYS + 1), JWKS_FETCH_TOO_MANY_KEYS},
        {IDP_ERR_IO, 0, NULL, JWKS_FETCH_NETWORK},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        advance(f, OPTS.refresh_ms);
        serve(f, cases[i].rc, cases[i].status, -1, cases[i].body);
        jwks_cache_tick(f->c);
        jwks_cache_status st;
        jwks_cache_status_get(f->c, &st);
        assert_int_equal(st.state, JWKS_CACHE_STALE);
        assert_int_equal(st.last_result, cases[i].want);
        assert_int_equal(st.fetches[cases[i].want] > 0, 1);
        assert_int_equal(st.consecutive_failures, i + 1);
        assert_true(st.last_error[0] != 0);
        assert_null(strstr(st.last_error, "\"x\"")); /* no key bytes */
        assert_int_equal(st.nkeys, 1);
        assert_int_equal(st.fetched_at_ms, T0);
        jwks_cache_status_clear(&st);
        bool has;
        assert_int_equal(get_has(f, kid(0), &has), IDP_OK);
        assert_true(has);
    }
    jwks_cache_status st;
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.fetches[JWKS_FETCH_OK], 1);
    assert_int_equal(st.fetches[JWKS_FETCH_HTTP_STATUS], 3);
    assert_int_equal(st.fetches[JWKS_FETCH_TOO_LARGE], 1);
    assert_int_equal(st.fetches[JWKS_FETCH_INVALID], 3);
    assert_int_equal(st.fetches[JWKS_FETCH_TOO_MANY_KEYS], 1);
    assert_int_equal(st.fetches[JWKS_FETCH_NETWORK], 1);
    assert_int_equal(st.last_success_ms, T0);
    assert_string_equal(jwks_cache_state_name(st.state), "stale");
    jwks_cache_status_clear(&st);
    assert_int_equal(f->goods, 1);
    /* recovery */
    advance(f, OPTS.refresh_ms);
    serve(f, IDP_OK, 200, -1, body_of(1, 2));
    jwks_cache_tick(f->c);
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_OK);
    assert_int_equal(st.consecutive_failures, 0);
    assert_string_equal(jwk_kid(jwks_at(st.keys, 0)), kid(1));
    jwks_cache_status_clear(&st);
    fake_free(f);
}

static void stale_if_error_expiry(void **state)
{
    jwks_cache_opts o = OPTS;
    o.stale_if_error_ms = 3600000;
    fake *f = fake_new(&o);
    jwks_cache_tick(f->c);
    serve(f, IDP_OK, 503, -1, strdup("down"));
    advance(f, o.refresh_ms);
    jwks_cache_tick(f->c);
    advance(f, o.stale_if_error_ms - o.refresh_ms - 1);
    bool has;
    assert_int_equal(get_has(f, kid(0), &has), IDP_OK);
    assert_true(has);
    advance(f, 1);
    /* expired: the lookup tries once (the upstream still fails) and then refuses */
    idp_error e = {0};
    assert_int_equal(get_has(f, kid(0), &has), IDP_ERR_UNAVAILABLE);
    jwks *s = NULL;
    assert_int_equal(jwks_cache_get(f->c, kid(0), &s, &e), IDP_ERR_UNAVAILABLE);
    assert_string_equal(idp_err_oauth(e.code), "temporarily_unavailable");
    jwks_cache_status st;
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_FAILING);
    assert_int_equal(st.nkeys, 1); /* still shown, not used */
    assert_int_equal(st.last_http_status, 503);
    jwks_cache_status_clear(&st);
    fake_free(f);
}

static void seed_then_outage(void **state)
{
    /* a first process fetches and persists */
    fake *f = fake_new(NULL);
    serve(f, IDP_OK, 200, 300, body_of(0, 2));
    jwks_cache_tick(f->c);
    char *stored = strdup(f->good);
    int64_t stored_at = f->good_at;
    assert_int_equal(f->good_age, 300);
    fake_free(f);

    /* a restart during an outage */
    f = fake_new(NULL);
    advance(f, 3600000);
    serve(f, IDP_ERR_IO, 0, -1, NULL);
    assert_int_equal(jwks_cache_seed(f->c, stored, strlen(stored), stored_at, NULL), IDP_OK);
    assert_int_equal(jwks_cache_seed(f->c, stored, strlen(stored), stored_at, NULL),
                     IDP_ERR_CONFLICT);
    jwks_cache_status st;
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_OK);
    assert_int_equal(st.last_success_ms, T0);
    assert_int_equal(st.usable_until_ms, T0 + OPTS.stale_if_error_ms);
    jwks_cache_status_clear(&st);
    jwks_cache_tick(f->c); /* the first tick still fetches, and fails */
    assert_int_equal(atomic_load(&f->calls), 1);
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_STALE);
    jwks_cache_status_clear(&st);
    bool has;
    assert_int_equal(get_has(f, kid(1), &has), IDP_OK);
    assert_true(has);
    atomic_store(&f->now, T0 + OPTS.stale_if_error_ms);
    assert_int_equal(get_has(f, kid(1), &has), IDP_ERR_UNAVAILABLE);
    fake_free(f);

    /* a stored copy already too old, or not a set, is refused */
    f = fake_new(NULL);
    advance(f, OPTS.stale_if_error_ms);
    assert_int_equal(jwks_cache_seed(f->c, stored, strlen(stored), stored_at, NULL),
                     IDP_ERR_INVALID);
    assert_int_not_equal(jwks_cache_seed(f->c, "nope", 4, T0, NULL), IDP_OK);
    /* a fetch time in the future counts as now */
    assert_int_equal(jwks_cache_seed(f->c, stored, strlen(stored), T0 * 2, NULL), IDP_OK);
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.fetched_at_ms, atomic_load(&f->now));
    jwks_cache_status_clear(&st);
    fake_free(f);
    free(stored);
}

/* jwks_cache_offer: a newer stored set (another process fetched it) replaces the current one,
 * clears the failure state and schedules the next refresh; an older or equal one is refused. */
static void offer_newer_set(void **state)
{
    (void)state;
    fake *f = fake_new(NULL);
    serve(f, IDP_OK, 200, -1, body_of(0, 1));
    jwks_cache_tick(f->c);
    serve(f, IDP_OK, 500, -1, strdup("{}"));
    advance(f, OPTS.refresh_ms);
    jwks_cache_tick(f->c); /* fails: stale */
    jwks_cache_status st;
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_STALE);
    jwks_cache_status_clear(&st);
    char *other = body_of(1, 2);
    int64_t now = atomic_load(&f->now);
    /* not newer than the current set: refused, nothing changes */
    assert_int_equal(jwks_cache_offer(f->c, other, strlen(other), T0, -1, NULL), IDP_ERR_CONFLICT);
    assert_int_not_equal(jwks_cache_offer(f->c, "nope", 4, now, -1, NULL), IDP_OK);
    assert_int_equal(jwks_cache_offer(f->c, other, strlen(other), now, 120, NULL), IDP_OK);
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_OK);
    assert_int_equal(st.fetched_at_ms, now);
    assert_int_equal(st.last_success_ms, now);
    assert_int_equal(st.consecutive_failures, 0);
    assert_string_equal(st.last_error, "");
    int64_t want = 120000;
    if (want < OPTS.min_refresh_ms) want = OPTS.min_refresh_ms;
    if (want > OPTS.max_refresh_ms) want = OPTS.max_refresh_ms;
    assert_int_equal(st.next_refresh_ms, now + want);
    jwks_cache_status_clear(&st);
    bool has;
    assert_int_equal(get_has(f, kid(1), &has), IDP_OK);
    assert_true(has);
    free(other);
    fake_free(f);
}

static void unusable_members_skipped(void **state)
{
    fake *f = fake_new(NULL);
    char *good = body_of(0, 2);
    /* splice unusable members in front: unknown kty, use enc, a kid two members share */
    json_t *doc = json_loads(good, 0, NULL);
    free(good);
    json_t *arr = json_object_get(doc, "keys");
    json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "kty", "oct", "k", "AAAA", "kid", "sym"));
    json_t *enc = json_deep_copy(json_array_get(arr, 0));
    json_object_set_new(enc, "use", json_string("enc"));
    json_object_set_new(enc, "kid", json_string("enc-key"));
    json_array_append_new(arr, enc);
    json_t *dup = json_deep_copy(json_array_get(arr, 1));
    json_array_append_new(arr, dup); /* kid(1) twice: both ignored */
    serve(f, IDP_OK, 200, -1, json_dumps(doc, JSON_COMPACT));
    json_decref(doc);
    jwks_cache_tick(f->c);
    jwks_cache_status st;
    jwks_cache_status_get(f->c, &st);
    assert_int_equal(st.state, JWKS_CACHE_OK);
    assert_int_equal(st.nkeys, 1);
    assert_int_equal(st.skipped, 4);
    assert_int_equal(st.skipped_total, 4);
    assert_int_equal(st.fetches[JWKS_FETCH_OK], 1);
    jwks_cache_status_clear(&st);
    assert_int_equal(f->skips, 4);
    assert_true(f->reason[0] != 0);
    bool has;
    assert_int_equal(get_has(f, kid(0), &has), IDP_OK);
    assert_true(has);
    fake_free(f);
}

static void names_and_options(void **state)
{
    static const char *const want[] = {"ok", "http_status", "too_large", "invalid",
                                       "too_many_keys", "network", "internal"};
    for (int i = 0; i < JWKS_FETCH__COUNT; i++)
        assert_string_equal(jwks_cache_fetch_result_name(i), want[i]);
    assert_null(jwks_cache_fetch_result_name(JWKS_FETCH__COUNT));
    assert_null(jwks_cache_fetch_result_name(-1));
    assert_string_equal(jwks_cache_state_name(JWKS_CACHE_UNFETCHED), "unfetched");
    assert_string_equal(jwks_cache_state_name(JWKS_CACHE_FAILING), "failing");

    jwks_cache *c = NULL;
    jwks_cache_hooks h = {.fetch = fake_fetch};
    jwks_cache_opts o = OPTS;
    o.max_refresh_ms = o.min_refresh_ms - 1;
    assert_int_equal(jwks_cache_new(&o, &h, &c, NULL), IDP_ERR_CONFIG);
    o = OPTS;
    o.fetch_timeout_ms = 0;
    assert_int_equal(jwks_cache_new(&o, &h, &c, NULL), IDP_ERR_CONFIG);
    jwks_cache_hooks none = {0};
    assert_int_equal(jwks_cache_new(&OPTS, &none, &c, NULL), IDP_ERR_CONFIG);
    assert_null(c);
    jwks_cache_free(NULL);
}

/* jwks_cache_start's own thread on the real clock: a lookup wakes it. */
static void own_thread(void **state)
{
    fake *f = fake_new(NULL);
    jwks_cache *c = NULL;
    jwks_cache_hooks h = {.fetch = fake_fetch, .ctx = f};
    assert_int_equal(jwks_cache_new(&OPTS, &h, &c, NULL), IDP_OK);
    assert_int_equal(jwks_cache_start(c, NULL), IDP_OK);
    assert_int_equal(jwks_cache_start(c, NULL), IDP_ERR_CONFLICT);
    jwks *s = NULL;
    assert_int_equal(jwks_cache_get(c, kid(0), &s, NULL), IDP_OK);
    assert_non_null(jwks_find(s, kid(0)));
    jwks_unref(s);
    jwks_cache_free(c);
    fake_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_fetch),
        cmocka_unit_test(refresh_schedule),
        cmocka_unit_test(kid_miss_refetch_then_cooldown),
        cmocka_unit_test(miss_flood_one_fetch),
        cmocka_unit_test(miss_waiter_bounded),
        cmocka_unit_test(never_fetched),
        cmocka_unit_test(failures_keep_last_good),
        cmocka_unit_test(stale_if_error_expiry),
        cmocka_unit_test(seed_then_outage),
        cmocka_unit_test(offer_newer_set),
        cmocka_unit_test(unusable_members_skipped),
        cmocka_unit_test(names_and_options),
        cmocka_unit_test(own_thread),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
