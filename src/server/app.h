/* app — the server's shared state (DESIGN §2). Request threads only read it: the configuration
 * and secrets are fixed for the whole run, and the key set and client cache are immutable
 * snapshots taken with snap_acquire (no lock on the hot path). One background thread rebuilds the
 * snapshots when the store changes (store_generation), each on its own, runs key rotation,
 * writes the store heartbeat behind /readyz and prunes revoked jtis: nothing slow ever runs on a
 * request thread. */
#ifndef IDPD_HTTP_APP_H
#define IDPD_HTTP_APP_H

#include "core/cfg.h"
#include "core/err.h"
#include "core/netaddr.h"
#include "core/snap.h"
#include "keys/kek.h"
#include "creds/password.h"
#include "core/ratelimit.h"
#include "store/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define APP_ROTATION_INTERVAL_MS 10000 /* ROTATION_TICK_S (keys/rotation.h) in ms */
#define APP_RELOAD_RETRY_MS 5000       /* a failed snapshot load is retried this often unchanged */
#define APP_HEARTBEAT_INTERVAL_MS 1000 /* the store write probe behind /readyz */
#define APP_HEARTBEAT_META "heartbeat" /* the meta setting it writes (the time, no trigger) */
#define APP_REASON_MAX 240             /* = sizeof idp_error.msg */
#define APP_PRUNE_INTERVAL_MS (3600 * 1000)
#define APP_SCIM_RATELIMIT_KEYS 4096 /* bound on the per-key buckets kept */
#define APP_METRIC_ROUTES 96 /* >= router_nroutes + 1 (the last row counts unmatched paths) */
#define APP_REFRESH_LABEL "idpd refresh successor v1"

struct policy;
/* The active policy as a snapshot (p NULL: no policy was ever activated). */
typedef struct policy_snap {
    snap_obj obj; /* first member */
    struct policy *p;
    char *discovery; /* the discovery document for this policy (scopes_supported), owned */
    size_t discovery_len;
} policy_snap;

/* The snapshots the background thread keeps in step with the store, each loaded on its own:
 * one that fails to load keeps its previous version and never holds the others back. */
typedef enum app_snap { APP_SNAP_KEYS, APP_SNAP_CLIENTS, APP_SNAP_POLICY, APP__SNAP_COUNT } app_snap;
extern const char *const app_snap_names[APP__SNAP_COUNT]; /* "keys", "clients", "policy" */

/* The outcome of the last load of one snapshot (for /readyz and /metrics). */
typedef struct app_reload_state {
    int64_t generation;  /* store generation read before the last attempt (bg thread only) */
    int64_t retry_at_ms; /* a failed load is tried again then, changed or not (bg thread only) */
    _Atomic bool ok;     /* the last attempt succeeded */
    _Atomic uint64_t failures; /* failed attempts since start */
} app_reload_state;

struct app {
    const cfg *cfg;          /* borrowed; immutable */
    store *st;               /* owned */
    kek *kek;                /* owned */
    unsigned char pepper[32];/* client-secret pepper (oauth/client_secret.h); wiped on free */
    unsigned char scim_pepper[32]; /* provisioning-key pepper (oauth/pkey.h); wiped on free */
    unsigned char csrf_key[32];    /* HMAC key of CSRF tokens (CSRF_KEY_LABEL); wiped on free */
    unsigned char refresh_key[32]; /* derives a refresh token's successor (APP_REFRESH_LABEL) */
    ratelimit *scim_rl;      /* per provisioning key (cfg scim_rate, scim_burst); owned */
    password_params pw_params; /* from cfg argon2_* */
    netaddr_set trusted_proxies; /* cfg trusted_proxies, parsed (request.h client_addr) */
    _Atomic uint64_t login_throttled; /* sign-in attempts refused by back-off (/metrics) */
    char *scim_base;         /* cfg issuer + "/scim/v2", for Location and $ref URLs; owned */
    snap_slot keys;          /* keyset snapshots */
    snap_slot clients;       /* client_cache snapshots */
    snap_slot policy;        /* policy_snap snapshots */
    int64_t policy_version;  /* version of the published policy (bg thread only) */
    bool reapply_policy_file;/* SIGHUP: apply cfg policy_file again (under bg_lock) */
    app_reload_state reload[APP__SNAP_COUNT];
    _Atomic bool store_writable; /* the last heartbeat write succeeded */
    pthread_mutex_t status_lock; /* guards the reasons below: bg thread writes, /readyz reads */
    char reload_why[APP__SNAP_COUNT][APP_REASON_MAX]; /* last load error, "" when ok */
    char store_why[APP_REASON_MAX];                   /* last heartbeat error, "" when ok */
    char jwks_cache_control[64];
    /* requests answered per route row and status class (1xx..5xx), for /metrics; relaxed
     * atomic increments, no lock */
    _Atomic uint64_t requests[APP_METRIC_ROUTES][5];
    /* background thread */
    pthread_t bg;
    bool bg_started;
    pthread_mutex_t bg_lock;
    pthread_cond_t bg_cond;
    bool stopping;
};

/* Opens everything named by c (master key, store, pepper), runs rotation_tick once and publishes
 * the first snapshots. On failure everything is released (app_free is still safe to call). */
idp_err app_init(struct app *a, const cfg *c, idp_error *err);
/* Rebuilds and publishes every snapshot, each on its own (background thread / init only): one
 * that fails keeps its previous version, is recorded for /readyz and /metrics, and the others
 * still load. Returns the first failure. */
idp_err app_reload(struct app *a, idp_error *err);
/* Why the server is not ready, into why (NUL-terminated, "" when nothing is wrong): a store
 * that cannot write (the last heartbeat failed) or a snapshot that fails to reload. Any thread. */
void app_not_ready_reason(struct app *a, char *why, size_t n);
idp_err app_start_background(struct app *a, idp_error *err);
/* SIGHUP: re-apply cfg policy_file (when set) and reload the snapshots, on the background thread. */
void app_request_reload(struct app *a);
/* Applies cfg policy_file when set and its bytes differ from the active version (logged;
 * an invalid file leaves the active version in place). */
void app_apply_policy_file(struct app *a);
/* Stops and joins the background thread, then frees everything. Accepts a zeroed app. */
void app_free(struct app *a);

#endif
