/* app — the server's shared state as the handlers see it (DESIGN §2). Request threads only read
 * it: the configuration and secrets are fixed for the whole run, and the key set, client cache
 * and policy are immutable snapshots taken with snap_acquire (no lock on the hot path). The
 * composition root (server/app.h) fills it, keeps the snapshots in step with the store on its
 * background thread and holds its own bookkeeping (the thread, its lock, the policy version, the
 * reload generations and retry times) behind the opaque bg pointer. */
#ifndef IDPD_HANDLE_APP_H
#define IDPD_HANDLE_APP_H

#include "core/cfg.h"
#include "core/err.h"
#include "core/netaddr.h"
#include "core/ratelimit.h"
#include "core/snap.h"
#include "creds/password.h"
#include "http/response.h"
#include "keys/kek.h"
#include "store/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APP_REASON_MAX 240   /* = sizeof idp_error.msg */
#define APP_METRIC_ROUTES 96 /* >= the number of routes + 1 (the last row counts unmatched paths) */
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
    _Atomic bool ok;           /* the last attempt succeeded */
    _Atomic uint64_t failures; /* failed attempts since start */
} app_reload_state;

/* One row of the route table by name, for /metrics (the server sets app.routes at init). */
typedef struct app_route_name {
    const char *method;
    const char *path;
} app_route_name;

struct fed_registry; /* federation/fed_registry.h */
struct app_bg; /* the server's background-thread state (server/app.c) */

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
    app_reload_state reload[APP__SNAP_COUNT];
    _Atomic bool store_writable; /* the last heartbeat write succeeded */
    pthread_mutex_t status_lock; /* guards the reasons below: bg thread writes, /readyz reads */
    char reload_why[APP__SNAP_COUNT][APP_REASON_MAX]; /* last load error, "" when ok */
    char store_why[APP_REASON_MAX];                   /* last heartbeat error, "" when ok */
    char jwks_cache_control[64];
    /* the route table's rows (method, path) in order, row i counted in requests[i]; owned */
    app_route_name *routes;
    size_t nroutes;
    /* requests answered per route row and status class (1xx..5xx), for /metrics; relaxed
     * atomic increments, no lock */
    _Atomic uint64_t requests[APP_METRIC_ROUTES][5];
    /* the trusted upstream issuers' key caches, on their own thread (federation/fed_registry.h);
     * synced with each published policy; owned */
    struct fed_registry *fed;
    /* the resource-server side (issue 14; verify/): access tokens of ours already verified
     * (introspection, /forward-auth), and the revocation state every node keeps in memory from
     * the store's revocation events (the revocation feed's events, tailed by a background task),
     * so /forward-auth needs no database round trip. Both owned, created in server/app.c. */
    struct verify_cache *vcache;
    struct denylist *deny;
    /* where the tail of the store's revocation events into deny stands (handle/ssf/deny_sync.c;
     * seq and overflow_logged: the background thread only) */
    struct {
        int64_t seq;              /* the last event applied (0: none yet) */
        bool overflow_logged;     /* the current overflow was logged */
        bool bound_pending;       /* rev_bound_raise has not succeeded yet (retried each tick) */
        _Atomic uint64_t applied; /* events applied since start (/metrics) */
        _Atomic int64_t synced_ms; /* when a tail last reached the newest event (0: never) */
    } deny_sync;
    struct app_bg *bg;       /* server-private (server/app.c); owned */
};

/* Why the server is not ready, into why (NUL-terminated, "" when nothing is wrong): a store
 * that cannot write (the last heartbeat failed) or a snapshot that fails to reload. Any thread. */
void app_not_ready_reason(struct app *a, char *why, size_t n);

/* The per-provisioning-key request budget (cfg scim_rate/scim_burst; SCIM and the revocation
 * feed share it): true when key_id may go on; otherwise sets Retry-After (RFC 9110 §10.2.3) on rs
 * and fails err with IDP_ERR_RATE_LIMITED. */
bool app_pkey_rate_take(struct app *a, const char *key_id, http_response *rs, idp_error *err);

#endif
