/* fed_registry — one JWKS cache per trusted upstream issuer, on the registry's own thread
 * (fed_registry.h, docs/FEDERATION.md). */
#include "federation/fed_registry.h"

#include "core/netaddr.h"
#include "core/jsonx.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/snap.h"
#include "core/timeutil.h"
#include "fetch/fetch.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FED_GRANTS 3
static const char *const grant_names[FED_GRANTS] = {"token_exchange", "jwt_bearer", "login"};
#define FED_IDLE_MS 60000 /* the longest the thread sleeps without a due time */

/* ---- URLs and the fetch path -------------------------------------------------------------- */



void fed_registry_upstream_of(const fed_issuer *is, fed_upstream *out)
{
    *out = (fed_upstream){.name = is->name,
                          .issuer = is->issuer,
                          .jwks_uri = is->jwks_uri,
                          .allow_http_loopback = is->allow_http_loopback,
                          .timeout_ms = (long)is->jwks.fetch_timeout_ms};
}

static fetch_opts opts_of(const fed_upstream *u)
{
    return (fetch_opts){.timeout_ms = u->timeout_ms > 0 ? u->timeout_ms : 5000,
                        .max_redirects = 0,
                        .allow_http = u->allow_http_loopback,
                        .user_agent = "idpd"};
}

idp_err fed_registry_discover(const fed_upstream *u, fed_discovered *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    fetch_opts fo = opts_of(u);
    json_t *doc = NULL;
    bool lb = u->allow_http_loopback;
    idp_err rc = fetch_discovery(u->issuer, lb, &fo, &doc, err);
    if (rc == IDP_OK &&
        ((rc = fetch_discovery_url(doc, "jwks_uri", true, lb, out->jwks_uri, err)) != IDP_OK ||
         (rc = fetch_discovery_url(doc, "authorization_endpoint", false, lb, out->authz, err)) !=
             IDP_OK ||
         (rc = fetch_discovery_url(doc, "token_endpoint", false, lb, out->token, err)) != IDP_OK))
        memset(out, 0, sizeof *out);
    else if (rc == IDP_OK)
        out->known = true;
    json_decref(doc);
    return rc;
}

idp_err fed_registry_fetch_jwks(const fed_upstream *u, fed_discovered *d, bool rediscover, idp_buf *body,
                       long *status, int64_t *max_age_s, idp_error *err)
{
    *status = 0;
    *max_age_s = -1;
    const char *url = u->jwks_uri;
    if (!url) {
        if (rediscover || !d->known) {
            fed_discovered nd;
            idp_err rc = fed_registry_discover(u, &nd, err);
            if (rc != IDP_OK) return rc;
            *d = nd;
        }
        url = d->jwks_uri;
    }
    idp_error e = {0};
    if (fetch_url_allowed(url, u->allow_http_loopback, &e) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_INVALID, "jwks_uri refused: %s", e.msg);
    fetch_opts fo = opts_of(u);
    fetch_resp fr;
    idp_err rc = fetch_get(url, &fo, body, &fr, err);
    *status = fr.status;
    *max_age_s = fr.max_age;
    return rc;
}

/* ---- entries and the table ---------------------------------------------------------------- */

typedef struct fed_entry {
    snap_obj obj; /* first member: entries are reference-counted by the tables holding them */
    fed_registry *r;
    char *name, *issuer, *jwks_uri;
    bool loopback;
    fed_jwks_opts opts;
    fed_upstream up; /* points at the strings above */
    jwks_cache *c;
    pthread_mutex_t mu; /* guards disc and last_failed */
    fed_discovered disc;
    bool last_failed; /* the last JWKS attempt failed: read discovery again */
    /* registry thread only */
    int64_t seen_attempt_ms;
    bool logged_fail;
    jwks_fetch_result logged_result;
    _Atomic uint64_t tokens[FED_GRANTS][FED__R_COUNT];
} fed_entry;

typedef struct fed_table {
    snap_obj obj; /* first member */
    size_t n;
    fed_entry *e[POLICY_MAX_ISSUERS];
} fed_table;

struct fed_registry {
    store *st;
    snap_slot slot;     /* the current fed_table */
    pthread_mutex_t wmu; /* writers of the table: sync, reseed */
    pthread_mutex_t mu;  /* the thread's wake-up */
    pthread_cond_t cv;   /* CLOCK_MONOTONIC */
    bool wake, stop, started;
    pthread_t thr;
    _Atomic uint64_t unknown[FED_GRANTS][FED__R_COUNT];
};

static void entry_destroy(snap_obj *o)
{
    fed_entry *e = (fed_entry *)o;
    jwks_cache_free(e->c);
    pthread_mutex_destroy(&e->mu);
    free(e->name);
    free(e->issuer);
    free(e->jwks_uri);
    free(e);
}

static void table_destroy(snap_obj *o)
{
    fed_table *t = (fed_table *)o;
    for (size_t i = 0; i < t->n; i++) snap_unref(&t->e[i]->obj);
    free(t);
}

static bool opt_str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool entry_is(const fed_entry *e, const fed_issuer *is)
{
    return !strcmp(e->name, is->name) && !strcmp(e->issuer, is->issuer) &&
           opt_str_eq(e->jwks_uri, is->jwks_uri) && e->loopback == is->allow_http_loopback;
}

static bool entry_same(const fed_entry *e, const fed_issuer *is)
{
    return entry_is(e, is) && !memcmp(&e->opts, &is->jwks, sizeof e->opts);
}

static fed_table *table_acquire(fed_registry *r)
{
    return r ? (fed_table *)snap_acquire(&r->slot) : NULL;
}

static fed_entry *table_find(fed_table *t, const fed_issuer *is)
{
    if (!t || !is) return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (entry_is(t->e[i], is)) return t->e[i];
    return NULL;
}

static idp_err hook_fetch(void *ctx, long timeout_ms, idp_buf *body, long *status,
                          int64_t *max_age_s, idp_error *err)
{
    fed_entry *e = ctx;
    fed_upstream u = e->up;
    u.timeout_ms = timeout_ms;
    fed_discovered d;
    pthread_mutex_lock(&e->mu);
    d = e->disc;
    bool rediscover = e->last_failed;
    e->last_failed = true; /* until on_good */
    pthread_mutex_unlock(&e->mu);
    bool was = d.known;
    idp_err rc = fed_registry_fetch_jwks(&u, &d, rediscover, body, status, max_age_s, err);
    if (d.known || was) {
        pthread_mutex_lock(&e->mu);
        if (d.known) e->disc = d;
        pthread_mutex_unlock(&e->mu);
    }
    return rc;
}

static void hook_wake(void *ctx)
{
    fed_entry *e = ctx;
    fed_registry *r = e->r;
    pthread_mutex_lock(&r->mu);
    r->wake = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void hook_good(void *ctx, const char *body, size_t len, int64_t fetched_at_ms,
                      int64_t max_age_s)
{
    fed_entry *e = ctx;
    pthread_mutex_lock(&e->mu);
    e->last_failed = false;
    pthread_mutex_unlock(&e->mu);
    if (!e->r->st) return;
    char *text = xstrndup(body ? body : "", len);
    store_fed_jwks j = {.issuer = e->issuer,
                        .body = text,
                        .fetched_at = fetched_at_ms,
                        .max_age = max_age_s > 0 ? max_age_s : 0};
    idp_error err = {0};
    if (e->r->st->ops->fed_jwks_put(e->r->st, &j, &err) != IDP_OK)
        log_msg(LOG_ERROR, "federation issuer %s: cannot store its JWKS: %s", e->name, err.msg);
    free(text);
}

static jwks_cache_opts cache_opts(const fed_jwks_opts *o)
{
    return (jwks_cache_opts){.refresh_ms = o->refresh_s * 1000,
                             .min_refresh_ms = o->min_refresh_s * 1000,
                             .max_refresh_ms = o->max_refresh_s * 1000,
                             .kid_miss_cooldown_ms = o->kid_miss_cooldown_s * 1000,
                             .stale_if_error_ms = o->stale_if_error_s * 1000,
                             .fetch_timeout_ms = o->fetch_timeout_ms};
}

static fed_entry *entry_new(fed_registry *r, const fed_issuer *is)
{
    fed_entry *e = xcalloc(1, sizeof *e);
    snap_obj_init(&e->obj, entry_destroy);
    e->r = r;
    e->name = xstrdup(is->name);
    e->issuer = xstrdup(is->issuer);
    e->jwks_uri = is->jwks_uri ? xstrdup(is->jwks_uri) : NULL;
    e->loopback = is->allow_http_loopback;
    e->opts = is->jwks;
    e->up = (fed_upstream){.name = e->name,
                           .issuer = e->issuer,
                           .jwks_uri = e->jwks_uri,
                           .allow_http_loopback = e->loopback,
                           .timeout_ms = (long)is->jwks.fetch_timeout_ms};
    pthread_mutex_init(&e->mu, NULL);
    jwks_cache_opts o = cache_opts(&is->jwks);
    jwks_cache_hooks h = {.fetch = hook_fetch, .wake = hook_wake, .on_good = hook_good, .ctx = e};
    idp_error err = {0};
    if (jwks_cache_new(&o, &h, &e->c, &err) != IDP_OK) {
        log_msg(LOG_ERROR, "federation issuer %s: no key cache: %s", e->name, err.msg);
        entry_destroy(&e->obj);
        return NULL;
    }
    store_fed_jwks sj = {0};
    if (r->st && r->st->ops->fed_jwks_get(r->st, e->issuer, &sj, &err) == IDP_OK) {
        idp_error se = {0};
        if (jwks_cache_seed(e->c, sj.body, strlen(sj.body), sj.fetched_at, &se) == IDP_OK)
            log_msg(LOG_INFO, "federation issuer %s: starting from its stored JWKS", e->name);
        else
            log_msg(LOG_INFO, "federation issuer %s: stored JWKS not used: %s", e->name, se.msg);
    }
    store_fed_jwks_clear(&sj);
    return e;
}

/* ---- status rows (for `idpd federation status` in another process) ------------------------- */

static void status_put(store *st, const char *name, const char *issuer,
                       const jwks_cache_status *s, bool notify)
{
    if (!st) return;
    json_t *kids = json_array();
    for (size_t i = 0; s->keys && i < jwks_count(s->keys); i++) {
        const char *kid = jwk_kid(jwks_at(s->keys, i));
        json_array_append_new(kids, kid ? json_string(kid) : json_null());
    }
    char *kt = jsonx_dump(kids);
    json_decref(kids);
    char le[STORE_FED_ERROR_MAX + 1];
    snprintf(le, sizeof le, "%s", s->last_result == JWKS_FETCH_OK ? "" : s->last_error);
    store_fed_status row = {.issuer = (char *)issuer,
                            .name = (char *)name,
                            .state = (char *)jwks_cache_state_name(s->state),
                            .last_success = s->last_success_ms,
                            .last_attempt = s->last_attempt_ms,
                            .next_refresh = s->next_refresh_ms,
                            .last_error = le,
                            .kids = kt,
                            .notify = notify};
    idp_error err = {0};
    if (st->ops->fed_status_put(st, &row, &err) != IDP_OK)
        log_msg(LOG_ERROR, "federation issuer %s: cannot store its status: %s", name, err.msg);
    free(kt);
}

/* ---- the thread --------------------------------------------------------------------------- */

/* After each attempt: log a failure once per change of state or reason, and a recovery. */
static void after_attempt(fed_entry *e)
{
    jwks_cache_status s;
    jwks_cache_status_get(e->c, &s);
    if (s.last_attempt_ms != 0 && s.last_attempt_ms != e->seen_attempt_ms) {
        e->seen_attempt_ms = s.last_attempt_ms;
        status_put(e->r->st, e->name, e->issuer, &s, false);
        bool failed = s.last_result != JWKS_FETCH_OK;
        if (failed && (!e->logged_fail || e->logged_result != s.last_result)) {
            log_msg(LOG_WARN, "federation issuer %s: JWKS fetch failed (%s, keys %s): %s",
                    e->name, jwks_cache_fetch_result_name((int)s.last_result),
                    jwks_cache_state_name(s.state), s.last_error);
            e->logged_fail = true;
            e->logged_result = s.last_result;
        } else if (!failed && e->logged_fail) {
            log_msg(LOG_INFO, "federation issuer %s: JWKS fetched again (%zu keys)", e->name,
                    s.nkeys);
            e->logged_fail = false;
        }
    }
    jwks_cache_status_clear(&s);
}

static void *reg_main(void *arg)
{
    fed_registry *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        r->wake = false;
        pthread_mutex_unlock(&r->mu);
        int64_t sleep_ms = FED_IDLE_MS;
        fed_table *t = table_acquire(r);
        for (size_t i = 0; t && i < t->n; i++) {
            int64_t ms = jwks_cache_tick(t->e[i]->c);
            after_attempt(t->e[i]);
            if (ms < sleep_ms) sleep_ms = ms;
        }
        snap_release(t ? &t->obj : NULL);
        pthread_mutex_lock(&r->wmu);
        snap_reap(&r->slot);
        pthread_mutex_unlock(&r->wmu);
        pthread_mutex_lock(&r->mu);
        if (sleep_ms > 0 && !r->wake && !r->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = ts.tv_nsec + (sleep_ms % 1000) * 1000000;
            ts.tv_sec += (time_t)(sleep_ms / 1000 + ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void wake_thread(fed_registry *r)
{
    pthread_mutex_lock(&r->mu);
    r->wake = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

idp_err fed_registry_new(store *st, fed_registry **out, idp_error *err)
{
    *out = NULL;
    fed_registry *r = xcalloc(1, sizeof *r);
    r->st = st;
    snap_slot_init(&r->slot);
    pthread_mutex_init(&r->wmu, NULL);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thr, NULL, reg_main, r) != 0) {
        fed_registry_free(r);
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "cannot start the federation thread");
    }
    r->started = true;
    *out = r;
    return IDP_OK;
}

void fed_registry_free(fed_registry *r)
{
    if (!r) return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thr, NULL);
    }
    snap_slot_destroy(&r->slot);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->wmu);
    free(r);
}

void fed_registry_sync(fed_registry *r, const policy *p)
{
    if (!r) return;
    pthread_mutex_lock(&r->wmu);
    fed_table *old = (fed_table *)snap_acquire(&r->slot);
    fed_table *t = xcalloc(1, sizeof *t);
    snap_obj_init(&t->obj, table_destroy);
    size_t n = p ? policy_fed_count(p) : 0;
    bool changed = !old || old->n != n;
    for (size_t i = 0; i < n && t->n < POLICY_MAX_ISSUERS; i++) {
        const fed_issuer *is = policy_fed_at(p, i);
        fed_entry *keep = NULL;
        for (size_t j = 0; old && j < old->n && !keep; j++)
            if (entry_same(old->e[j], is)) keep = old->e[j];
        if (keep) {
            snap_ref(&keep->obj);
            if (!old || i >= old->n || old->e[i] != keep) changed = true;
            t->e[t->n++] = keep;
        } else {
            changed = true;
            fed_entry *e = entry_new(r, is);
            if (e) t->e[t->n++] = e;
        }
    }
    snap_release(old ? &old->obj : NULL);
    if (changed)
        snap_publish(&r->slot, &t->obj);
    else
        snap_unref(&t->obj);
    pthread_mutex_unlock(&r->wmu);
    if (changed) wake_thread(r);
}

void fed_registry_reseed(fed_registry *r)
{
    if (!r || !r->st) return;
    fed_table *t = table_acquire(r);
    for (size_t i = 0; t && i < t->n; i++) {
        fed_entry *e = t->e[i];
        store_fed_jwks sj = {0};
        idp_error err = {0};
        if (r->st->ops->fed_jwks_get(r->st, e->issuer, &sj, &err) == IDP_OK) {
            jwks_cache_status s;
            jwks_cache_status_get(e->c, &s);
            bool newer = sj.fetched_at > s.fetched_at_ms;
            jwks_cache_status_clear(&s);
            if (newer &&
                jwks_cache_offer(e->c, sj.body, strlen(sj.body), sj.fetched_at,
                                 sj.max_age > 0 ? sj.max_age : -1, &err) == IDP_OK) {
                pthread_mutex_lock(&e->mu);
                e->last_failed = false;
                pthread_mutex_unlock(&e->mu);
                log_msg(LOG_INFO, "federation issuer %s: took the JWKS another process stored",
                        e->name);
            }
        }
        store_fed_jwks_clear(&sj);
    }
    snap_release(t ? &t->obj : NULL);
    wake_thread(r);
}

idp_err fed_registry_keys(void *ctx, const fed_issuer *is, const char *kid, jwks **out,
                          idp_error *err)
{
    *out = NULL;
    fed_table *t = table_acquire(ctx);
    fed_entry *e = table_find(t, is);
    idp_err rc = e ? jwks_cache_get(e->c, kid, out, err)
                   : IDP_FAIL(err, IDP_ERR_UNAVAILABLE, "no key cache for this issuer yet");
    snap_release(t ? &t->obj : NULL);
    return rc;
}

static int grant_index(const char *grant)
{
    for (int i = 0; grant && i < FED_GRANTS; i++)
        if (!strcmp(grant, grant_names[i])) return i;
    return -1;
}

void fed_registry_count(fed_registry *r, const fed_issuer *is, const char *grant, fed_reason why)
{
    int g = grant_index(grant);
    if (!r || g < 0 || (int)why < 0 || why >= FED__R_COUNT) return;
    fed_table *t = table_acquire(r);
    fed_entry *e = table_find(t, is);
    atomic_fetch_add_explicit(e ? &e->tokens[g][why] : &r->unknown[g][why], 1,
                              memory_order_relaxed);
    snap_release(t ? &t->obj : NULL);
}

bool fed_registry_status(fed_registry *r, const char *name, jwks_cache_status *out)
{
    memset(out, 0, sizeof *out);
    fed_table *t = table_acquire(r);
    bool found = false;
    for (size_t i = 0; t && i < t->n && !found; i++)
        if (!strcmp(t->e[i]->name, name)) {
            jwks_cache_status_get(t->e[i]->c, out);
            found = true;
        }
    snap_release(t ? &t->obj : NULL);
    return found;
}

idp_err fed_registry_endpoints(fed_registry *r, const fed_issuer *is, char *authz, size_t authz_cap,
                               char *token, size_t token_cap, idp_error *err)
{
    fed_table *t = table_acquire(r);
    fed_entry *e = table_find(t, is);
    idp_err rc = IDP_OK;
    if (!e) {
        rc = IDP_FAIL(err, IDP_ERR_UNAVAILABLE, "no such upstream issuer in the registry");
    } else {
        pthread_mutex_lock(&e->mu);
        if (!e->disc.known)
            rc = IDP_FAIL(err, IDP_ERR_UNAVAILABLE,
                          "the upstream discovery document has not been read yet");
        else if (strlen(e->disc.authz) >= authz_cap || strlen(e->disc.token) >= token_cap)
            rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "endpoint URL longer than the buffer");
        else {
            memcpy(authz, e->disc.authz, strlen(e->disc.authz) + 1);
            memcpy(token, e->disc.token, strlen(e->disc.token) + 1);
        }
        pthread_mutex_unlock(&e->mu);
    }
    snap_release(t ? &t->obj : NULL);
    return rc;
}

int fed_registry_metrics(fed_registry *r, idp_buf *out)
{
    if (!r) return 0;
    int bad = 0;
    fed_table *t = table_acquire(r);
    size_t n = t ? t->n : 0;
    jwks_cache_status *st = xcalloc(n ? n : 1, sizeof *st);
    for (size_t i = 0; i < n; i++) jwks_cache_status_get(t->e[i]->c, &st[i]);
    int64_t now = time_now_ms();
    bad |= buf_puts(out, "# HELP idpd_federation_jwks_fetch_total JWKS fetch attempts per "
                         "upstream issuer, by result.\n"
                         "# TYPE idpd_federation_jwks_fetch_total counter\n");
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < JWKS_FETCH__COUNT; k++)
            bad |= buf_printf(out,
                              "idpd_federation_jwks_fetch_total{issuer=\"%s\",result=\"%s\"} "
                              "%" PRIu64 "\n",
                              t->e[i]->name, jwks_cache_fetch_result_name(k), st[i].fetches[k]);
    bad |= buf_puts(out, "# HELP idpd_federation_jwks_age_seconds Seconds since the upstream "
                         "issuer's current key set was fetched (-1: no set).\n"
                         "# TYPE idpd_federation_jwks_age_seconds gauge\n");
    for (size_t i = 0; i < n; i++) {
        double age = st[i].keys ? (double)(now - st[i].fetched_at_ms) / 1000.0 : -1.0;
        if (st[i].keys && age < 0) age = 0;
        bad |= buf_printf(out, "idpd_federation_jwks_age_seconds{issuer=\"%s\"} %.3f\n",
                          t->e[i]->name, age);
    }
    bad |= buf_puts(out, "# HELP idpd_federation_tokens_total Upstream tokens decided, by "
                         "issuer, grant and result (accepted or the refusal reason).\n"
                         "# TYPE idpd_federation_tokens_total counter\n");
    for (size_t i = 0; i <= n; i++)
        for (int g = 0; g < FED_GRANTS; g++)
            for (int k = 0; k < FED__R_COUNT; k++) {
                uint64_t v = atomic_load_explicit(i < n ? &t->e[i]->tokens[g][k]
                                                        : &r->unknown[g][k],
                                                  memory_order_relaxed);
                if (!v) continue;
                bad |= buf_printf(out,
                                  "idpd_federation_tokens_total{issuer=\"%s\",grant=\"%s\","
                                  "result=\"%s\"} %" PRIu64 "\n",
                                  i < n ? t->e[i]->name : "(unknown)", grant_names[g],
                                  fed_verify_reason_name((fed_reason)k), v);
            }
    for (size_t i = 0; i < n; i++) jwks_cache_status_clear(&st[i]);
    free(st);
    snap_release(t ? &t->obj : NULL);
    return bad;
}

idp_err fed_registry_refresh_once(store *st, const fed_issuer *is, bool notify, jwks_cache_status *out,
                         idp_error *err)
{
    memset(out, 0, sizeof *out);
    /* a registry without a thread: the same entry, hooks and store writes as the server's */
    fed_registry r = {.st = st};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    fed_entry *e = entry_new(&r, is);
    idp_err rc = IDP_OK;
    if (!e) {
        rc = IDP_FAIL(err, IDP_ERR_CONFIG, "federation issuer %s: its jwks options are invalid",
                      is->name);
    } else {
        jwks_cache_tick(e->c);
        jwks_cache_status_get(e->c, out);
        status_put(st, e->name, e->issuer, out, notify);
        if (out->last_result != JWKS_FETCH_OK)
            rc = IDP_FAIL(err, IDP_ERR_UNAVAILABLE, "%s", out->last_error);
        snap_unref(&e->obj);
    }
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
    return rc;
}
