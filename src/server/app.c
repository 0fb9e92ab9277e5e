#include "server/app.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "keys/keyset.h"
#include "keys/rotation.h"
#include "oauth/audit_checkpoint.h"
#include "oauth/client_cache.h"
#include "creds/client_secret.h"
#include "proto/csrf.h"
#include "handle/endpoints.h"
#include "creds/pkey.h"
#include "server/router.h"
#include "oauth/policy_admin.h"
#include "policy/policy.h"
#include "federation/fed_registry.h"
#include "verify/denylist.h"
#include "verify/verify_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What only the background thread (and the SIGHUP path) touches: never seen by a handler. */
struct app_bg {
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stopping;
    bool reapply_policy_file; /* SIGHUP: apply cfg policy_file again (under lock) */
    int64_t policy_version;   /* version of the published policy (bg thread only) */
    /* per snapshot: the store generation read before the last attempt, and when a failed load
     * is tried again, changed or not (bg thread only) */
    int64_t generation[APP__SNAP_COUNT];
    int64_t retry_at_ms[APP__SNAP_COUNT];
    int64_t fed_generation; /* the store generation the registry last re-seeded at (bg thread) */
    bool listen_down;       /* wait_change failed last time (logged once per change; bg thread) */
};

_Static_assert(APP_ROTATION_INTERVAL_MS == ROTATION_TICK_S * 1000,
               "rotation_check counts on the tick interval");

static idp_err load_clients(struct app *a, idp_error *err)
{
    store_client *rows = NULL;
    size_t n = 0;
    client_cache *cc = NULL;
    idp_err rc = store_client_list(a->st, &rows, &n, err);
    if (rc != IDP_OK) goto out;
    if ((rc = client_cache_build(rows, n, &cc, err)) != IDP_OK) goto out;
    snap_publish(&a->clients, &cc->obj);
out:
    store_client_list_free(rows, n);
    return rc;
}

static void policy_snap_destroy(snap_obj *o)
{
    policy_snap *ps = (policy_snap *)o;
    policy_free(ps->p);
    free(ps->discovery);
    free(ps);
}

/* Publishes the active policy when its version changed. A version that does not load (it was
 * validated before activation, so only a different policy_env can cause this) is logged and the
 * previous snapshot stays. */
static idp_err load_policy(struct app *a, idp_error *err)
{
    int64_t v = 0;
    idp_err rc = a->st->ops->policy_active(a->st, &v, err);
    if (rc != IDP_OK) return rc;
    if (v == a->bg->policy_version && v != 0) return IDP_OK;
    policy *p = NULL;
    idp_error le = {0};
    if (v != 0 && policy_admin_load(a->st, v, a->cfg->policy_env, &p, &le) != IDP_OK) {
        log_msg(LOG_ERROR, "policy version %lld not activated: %s", (long long)v, le.msg);
        a->bg->policy_version = v; /* do not retry every poll */
        return IDP_OK;
    }
    policy_snap *ps = xcalloc(1, sizeof *ps);
    snap_obj_init(&ps->obj, policy_snap_destroy);
    ps->p = p;
    ps->discovery = discovery_body(a, p);
    if (!ps->discovery) {
        snap_unref(&ps->obj);
        return IDP_FAIL(err, IDP_ERR_CONFIG, "issuer is not valid UTF-8");
    }
    ps->discovery_len = strlen(ps->discovery);
    /* the key caches first, so a request that sees the new policy finds its issuers' caches */
    fed_registry_sync(a->fed, p);
    snap_publish(&a->policy, &ps->obj);
    if (v != a->bg->policy_version && v != 0)
        log_msg(LOG_INFO, "policy version %lld active (sha256 %s)", (long long)v, policy_sha256(p));
    a->bg->policy_version = v;
    return IDP_OK;
}

void app_apply_policy_file(struct app *a)
{
    const char *path = a->cfg->policy_file;
    if (!path) return;
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_msg(LOG_ERROR, "policy_file %s: cannot open", path);
        return;
    }
    idp_buf b;
    buf_init(&b, POLICY_MAX_BYTES + 1);
    char chunk[8192];
    size_t n;
    bool big = false;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(&b, chunk, n)) {
            big = true;
            break;
        }
    fclose(f);
    policy_diags d = {0};
    idp_error e = {0};
    int64_t v = 0;
    bool same = false;
    if (big) {
        log_msg(LOG_ERROR, "policy_file %s: larger than %u bytes", path, POLICY_MAX_BYTES);
    } else if (policy_admin_apply(a->st, b.data ? b.data : "", b.len, a->cfg->policy_env,
                                  "server:policy_file", path, &v, &same, &d, &e) != IDP_OK) {
        idp_buf out;
        buf_init(&out, 0);
        policy_diags_format(&d, path, &out);
        log_msg(LOG_ERROR, "policy_file not applied: %s %s", e.msg, buf_cstr(&out));
        buf_free(&out);
    } else if (!same) {
        log_msg(LOG_INFO, "policy_file %s applied as version %lld", path, (long long)v);
    }
    policy_diags_free(&d);
    buf_free(&b);
}

void app_request_reload(struct app *a)
{
    pthread_mutex_lock(&a->bg->lock);
    a->bg->reapply_policy_file = true;
    pthread_cond_signal(&a->bg->cond);
    pthread_mutex_unlock(&a->bg->lock);
}

static idp_err load_keys(struct app *a, idp_error *err)
{
    keyset *ks = NULL;
    idp_err rc = keyset_load(a->st, a->kek, &ks, err);
    if (rc == IDP_OK) snap_publish(&a->keys, (snap_obj *)ks);
    return rc;
}

static idp_err (*const app_loaders[APP__SNAP_COUNT])(struct app *, idp_error *) = {
    [APP_SNAP_KEYS] = load_keys,
    [APP_SNAP_CLIENTS] = load_clients,
    [APP_SNAP_POLICY] = load_policy,
};

/* Records the outcome of an attempt in *why (under status_lock) and *ok; logs only changes
 * (a failure that repeats every retry is logged once). */
static void app_status_set(struct app *a, _Atomic bool *ok, char *why, const char *what,
                           const idp_error *e)
{
    pthread_mutex_lock(&a->status_lock);
    bool was_ok = atomic_load(ok) && !why[0];
    if (e && (was_ok || strcmp(why, e->msg) != 0))
        log_msg(LOG_ERROR, "%s: %s", what, e->msg);
    else if (!e && !was_ok && why[0])
        log_msg(LOG_INFO, "%s: ok again", what);
    snprintf(why, APP_REASON_MAX, "%s", e ? e->msg : "");
    atomic_store(ok, e == NULL);
    pthread_mutex_unlock(&a->status_lock);
}

/* Loads snapshot s; gen is the store generation read before (a change made while loading
 * triggers one more load). */
static idp_err reload_one(struct app *a, app_snap s, int64_t gen, idp_error *err)
{
    app_reload_state *r = &a->reload[s];
    idp_error e = {0};
    char what[32];
    snprintf(what, sizeof what, "reload %s", app_snap_names[s]);
    idp_err rc = app_loaders[s](a, &e);
    a->bg->generation[s] = gen;
    if (rc != IDP_OK) {
        atomic_fetch_add(&r->failures, 1);
        a->bg->retry_at_ms[s] = time_now_ms() + APP_RELOAD_RETRY_MS;
        if (err) *err = e;
    }
    app_status_set(a, &r->ok, a->reload_why[s], what, rc ? &e : NULL);
    return rc;
}

/* Loads the snapshots whose inputs may have changed since their last attempt (the store
 * generation gen, read first, differs; all when force), and retries failed ones every
 * APP_RELOAD_RETRY_MS (a store error may be transient). Returns the first failure. */
static idp_err reload_due(struct app *a, int64_t gen, bool force, idp_error *err)
{
    int64_t now = time_now_ms();
    idp_err rc, first = IDP_OK;
    for (int s = 0; s < APP__SNAP_COUNT; s++) {
        if (!force && gen == a->bg->generation[s] &&
            (atomic_load(&a->reload[s].ok) || now < a->bg->retry_at_ms[s]))
            continue;
        rc = reload_one(a, (app_snap)s, gen, first ? NULL : err);
        if (!first) first = rc;
    }
    return first;
}

idp_err app_reload(struct app *a, idp_error *err)
{
    int64_t gen = 0;
    idp_err rc = store_generation(a->st, &gen, err);
    return rc != IDP_OK ? rc : reload_due(a, gen, true, err);
}

/* Readiness includes the store's ability to write (docs/SECURITY.md): a small committed write
 * (the time, in a meta setting no trigger watches), so a full disk or a read-only file system
 * shows in /readyz within a second. A write in a transaction that is rolled back would not
 * reach the disk (SQLite writes the WAL at commit) and would prove nothing. */
static void heartbeat(struct app *a)
{
    char now[24];
    idp_error e = {0};
    snprintf(now, sizeof now, "%lld", (long long)time_now());
    idp_err rc = store_meta_set(a->st, APP_HEARTBEAT_META, now, &e);
    app_status_set(a, &a->store_writable, a->store_why, "store heartbeat", rc ? &e : NULL);
}

static idp_err rotate(struct app *a, idp_error *err)
{
    bool changed = false;
    int64_t gen = 0;
    idp_err rc = rotation_tick(a->st, a->kek, a->cfg, time_now(), &changed, err);
    if (rc == IDP_OK && changed && (rc = store_generation(a->st, &gen, err)) == IDP_OK)
        reload_due(a, gen, false, NULL); /* a failing load is logged and shown in /readyz */
    return rc;
}

idp_err app_init(struct app *a, const cfg *c, idp_error *err)
{
    memset(a, 0, sizeof *a);
    a->cfg = c;
    a->bg = xcalloc(1, sizeof *a->bg);
    snap_slot_init(&a->keys);
    snap_slot_init(&a->clients);
    snap_slot_init(&a->policy);
    pthread_mutex_init(&a->status_lock, NULL);
    atomic_store(&a->store_writable, true);
    pthread_mutex_init(&a->bg->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->bg->cond, &ca);
    pthread_condattr_destroy(&ca);
    snprintf(a->jwks_cache_control, sizeof a->jwks_cache_control, "public, max-age=%lld",
             (long long)c->jwks_max_age);

    char path[4096];
    idp_err rc = IDP_OK;
    if (router_nroutes >= APP_METRIC_ROUTES) /* a bug: raise APP_METRIC_ROUTES */
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "more routes than metric rows");
    a->routes = xcalloc(router_nroutes, sizeof *a->routes);
    for (size_t i = 0; i < router_nroutes; i++)
        a->routes[i] = (app_route_name){router_routes[i].method, router_routes[i].path};
    a->nroutes = router_nroutes;
    if (!c->data_dir) return IDP_FAIL(err, IDP_ERR_CONFIG, "data_dir is not set");
    if ((rc = rotation_check(c, err)) != IDP_OK) return rc;
    if ((rc = kek_load(c->master_key_file, &a->kek, err)) != IDP_OK) return rc;
    /* the store: config `store`, else SQLite in the data directory */
    if (c->store) {
        if ((size_t)snprintf(path, sizeof path, "%s", c->store) >= sizeof path)
            return IDP_FAIL(err, IDP_ERR_CONFIG, "store: location too long");
    } else {
        if ((size_t)snprintf(path, sizeof path, "%s/idpd.db", c->data_dir) >= sizeof path)
            return IDP_FAIL(err, IDP_ERR_CONFIG, "data_dir path too long");
        if (access(path, F_OK) != 0)
            return IDP_FAIL(err, IDP_ERR_NOT_FOUND,
                            "%s does not exist (run `idpd init --data-dir %s` first)", path,
                            c->data_dir);
    }
    if ((rc = store_open_pool(path, false, c->store_pool, &a->st, err)) != IDP_OK) return rc;
    if ((rc = fed_registry_new(a->st, &a->fed, err)) != IDP_OK) return rc;
    if ((rc = kek_derive(a->kek, CLIENT_SECRET_PEPPER_LABEL, a->pepper, err)) != IDP_OK) return rc;
    if ((rc = pkey_pepper(a->kek, a->scim_pepper, err)) != IDP_OK) return rc;
    if ((rc = kek_derive(a->kek, CSRF_KEY_LABEL, a->csrf_key, err)) != IDP_OK) return rc;
    if ((rc = kek_derive(a->kek, APP_REFRESH_LABEL, a->refresh_key, err)) != IDP_OK) return rc;
    a->pw_params = (password_params){.t = (uint32_t)c->argon2_t, .m_kib = (uint32_t)c->argon2_m_kib,
                                     .p = (uint32_t)c->argon2_p};
    login_configure(&a->pw_params);
    if ((rc = netaddr_set_parse(c->trusted_proxies, &a->trusted_proxies, err)) != IDP_OK)
        return rc;
    a->scim_rl = ratelimit_new(c->scim_rate, c->scim_burst, APP_SCIM_RATELIMIT_KEYS);
    a->vcache = verify_cache_new(0);
    a->deny = denylist_new(0, 0);
    if (!a->vcache || !a->deny) return IDP_FAIL(err, IDP_ERR_NOMEM, "out of memory");
    size_t il = strlen(c->issuer);
    a->scim_base = xmalloc(il + sizeof "/scim/v2");
    memcpy(a->scim_base, c->issuer, il);
    memcpy(a->scim_base + il, "/scim/v2", sizeof "/scim/v2");
    /* A failing rotation (e.g. a full disk) does not stop the start: the keys in the store still
     * sign, the background thread tries again every ROTATION_TICK_S, and the heartbeat below
     * makes /readyz say why. */
    bool changed = false;
    idp_error re = {0};
    if (rotation_tick(a->st, a->kek, c, time_now(), &changed, &re) != IDP_OK)
        log_msg(LOG_ERROR, "key rotation: %s", re.msg);
    heartbeat(a);
    app_apply_policy_file(a);
    return app_reload(a, err);
}

/* ---- background tasks ---------------------------------------------------------------------
 * Everything the server does on its own runs on the one background thread, from this table: a
 * task runs when its interval has passed since it last ran (0: on every wake-up, i.e. every
 * poll_interval_ms or at once on a signal). Tasks log their own failures and never block for
 * long; a failing task does not stop the others. To add one: a function and a row. */

/* The CLI or another node changed keys, clients or policy: reload what changed. */
static void task_generation(struct app *a)
{
    idp_error e = {0};
    int64_t gen = 0;
    if (store_generation(a->st, &gen, &e) != IDP_OK)
        log_msg(LOG_ERROR, "store generation: %s", e.msg);
    else {
        reload_due(a, gen, false, NULL); /* a failing load is logged and shown in /readyz */
        /* e.g. `idpd federation refresh` stored a newer upstream JWKS */
        if (gen != a->bg->fed_generation) {
            a->bg->fed_generation = gen;
            fed_registry_reseed(a->fed);
        }
    }
}

static void task_rotate(struct app *a)
{
    idp_error e = {0};
    if (rotate(a, &e) != IDP_OK) log_msg(LOG_ERROR, "key rotation: %s", e.msg);
}

static void task_prune(struct app *a)
{
    idp_error e = {0};
    /* keep entries for one leeway past exp: a margin for any check that allows skew */
    if (store_jti_prune(a->st, time_now() - a->cfg->leeway, &e) != IDP_OK)
        log_msg(LOG_ERROR, "revoked jti prune: %s", e.msg);
    if (a->st->ops->oidc_prune(a->st, time_now(), &e) != IDP_OK)
        log_msg(LOG_ERROR, "sign-in state prune: %s", e.msg);
    audit_prune_result pr;
    if (audit_checkpoint_prune(a->st, a->kek, time_now_ms(), a->cfg->audit_retention,
                               a->cfg->audit_max_events, &pr, &e) != IDP_OK)
        log_msg(LOG_ERROR, "audit prune: %s", e.msg);
    else if (pr.pruned)
        log_msg(LOG_INFO, "audit: pruned %lld events through seq %lld (checkpoint at seq %lld)",
                (long long)pr.pruned, (long long)pr.through, (long long)pr.checkpoint_seq);
}

/* Old snapshots whose grace period is over are freed. */
static void task_reap(struct app *a)
{
    snap_reap(&a->keys);
    snap_reap(&a->clients);
    snap_reap(&a->policy);
}

typedef struct bg_task {
    const char *name;
    int64_t interval_ms;
    void (*run)(struct app *a);
    bool at_start; /* also due on the first wake-up (else one interval after the start) */
} bg_task;

static const bg_task bg_tasks[] = {
    {"generation", 0, task_generation, true},
    {"heartbeat", APP_HEARTBEAT_INTERVAL_MS, heartbeat, false}, /* app_init wrote the first */
    {"rotation", APP_ROTATION_INTERVAL_MS, task_rotate, false}, /* app_init ran the first */
    {"prune", APP_PRUNE_INTERVAL_MS, task_prune, true},
    {"reap", 0, task_reap, true},
};
#define BG_NTASKS (sizeof bg_tasks / sizeof *bg_tasks)

static void bg_tick(struct app *a, int64_t last[BG_NTASKS])
{
    for (size_t i = 0; i < BG_NTASKS; i++) {
        int64_t now = time_now_ms();
        if (last[i] >= 0 && now - last[i] < bg_tasks[i].interval_ms) continue;
        last[i] = now;
        bg_tasks[i].run(a);
    }
}

static void *bg_main(void *arg)
{
    struct app *a = arg;
    int64_t last[BG_NTASKS];
    for (size_t i = 0; i < BG_NTASKS; i++) last[i] = bg_tasks[i].at_start ? -1 : time_now_ms();
    pthread_mutex_lock(&a->bg->lock);
    while (!a->bg->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t ns = ts.tv_nsec + (a->cfg->poll_interval_ms % 1000) * 1000000;
        ts.tv_sec += a->cfg->poll_interval_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        /* With a store that announces changes (PostgreSQL NOTIFY) the wait ends early when
         * another process changed something; never later than poll_interval_ms, so polling
         * the generation stays the correctness path. When the announcement channel is down,
         * the plain timed wait below. */
        bool waited = false;
        if (a->st->ops->wait_change && !a->bg->reapply_policy_file) {
            pthread_mutex_unlock(&a->bg->lock);
            bool notified = false;
            idp_error e = {0};
            waited = a->st->ops->wait_change(a->st, (int)a->cfg->poll_interval_ms, &notified,
                                             &e) == IDP_OK;
            if (waited == a->bg->listen_down) {
                a->bg->listen_down = !waited;
                if (waited)
                    log_msg(LOG_INFO, "store change notifications: listening");
                else
                    log_msg(LOG_WARN, "%s: polling every %lld ms", e.msg,
                            (long long)a->cfg->poll_interval_ms);
            }
            pthread_mutex_lock(&a->bg->lock);
        }
        int w = waited ? ETIMEDOUT : 0;
        while (!a->bg->stopping && !a->bg->reapply_policy_file && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&a->bg->cond, &a->bg->lock, &ts);
        if (a->bg->stopping) break;
        bool reapply = a->bg->reapply_policy_file;
        a->bg->reapply_policy_file = false;
        pthread_mutex_unlock(&a->bg->lock);
        if (reapply) {
            log_msg(LOG_INFO, "SIGHUP: reloading");
            app_apply_policy_file(a);
            app_reload(a, NULL); /* failures are logged and shown in /readyz */
        }
        bg_tick(a, last);
        pthread_mutex_lock(&a->bg->lock);
    }
    pthread_mutex_unlock(&a->bg->lock);
    return NULL;
}

idp_err app_start_background(struct app *a, idp_error *err)
{
    if (pthread_create(&a->bg->thread, NULL, bg_main, a) != 0)
        return IDP_FAIL(err, IDP_ERR_INTERNAL, "cannot start the background thread");
    a->bg->started = true;
    return IDP_OK;
}

void app_free(struct app *a)
{
    if (!a || !a->cfg) return;
    if (a->bg->started) {
        pthread_mutex_lock(&a->bg->lock);
        a->bg->stopping = true;
        pthread_cond_signal(&a->bg->cond);
        pthread_mutex_unlock(&a->bg->lock);
        pthread_join(a->bg->thread, NULL);
        a->bg->started = false;
    }
    /* the registry's thread uses the store: stop it first */
    fed_registry_free(a->fed);
    a->fed = NULL;
    snap_slot_destroy(&a->keys);
    snap_slot_destroy(&a->clients);
    snap_slot_destroy(&a->policy);
    pthread_cond_destroy(&a->bg->cond);
    pthread_mutex_destroy(&a->bg->lock);
    pthread_mutex_destroy(&a->status_lock);
    store_close(a->st);
    kek_free(a->kek);
    mem_wipe(a->pepper, sizeof a->pepper);
    mem_wipe(a->scim_pepper, sizeof a->scim_pepper);
    mem_wipe(a->csrf_key, sizeof a->csrf_key);
    mem_wipe(a->refresh_key, sizeof a->refresh_key);
    ratelimit_free(a->scim_rl);
    verify_cache_free(a->vcache);
    denylist_free(a->deny);
    free(a->scim_base);
    free(a->routes);
    free(a->bg);
    memset(a, 0, sizeof *a);
}
