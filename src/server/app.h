/* app — the lifecycle of the server's shared state (DESIGN §2; the state itself, as handlers
 * read it, is handle/app.h). One background thread rebuilds the snapshots when the store changes
 * (store_generation), each on its own, runs key rotation, writes the store heartbeat behind
 * /readyz and prunes revoked jtis: nothing slow ever runs on a request thread. Its bookkeeping
 * (the thread, its lock and condition, the policy version, the reload generations and retry
 * times, the SIGHUP flag) is private to app.c (struct app_bg). */
#ifndef IDPD_SERVER_APP_H
#define IDPD_SERVER_APP_H

#include "core/cfg.h"
#include "core/err.h"
#include "handle/app.h"

#define APP_ROTATION_INTERVAL_MS 10000 /* ROTATION_TICK_S (keys/rotation.h) in ms */
#define APP_RELOAD_RETRY_MS 5000       /* a failed snapshot load is retried this often unchanged */
#define APP_HEARTBEAT_INTERVAL_MS 1000 /* the store write probe behind /readyz */
#define APP_HEARTBEAT_META "heartbeat" /* the meta setting it writes (the time, no trigger) */
#define APP_PRUNE_INTERVAL_MS (3600 * 1000)
#define APP_SCIM_RATELIMIT_KEYS 4096 /* bound on the per-key buckets kept */

/* Opens everything named by c (master key, store, pepper), runs rotation_tick once and publishes
 * the first snapshots. On failure everything is released (app_free is still safe to call). */
idp_err app_init(struct app *a, const cfg *c, idp_error *err);
/* Rebuilds and publishes every snapshot, each on its own (background thread / init only): one
 * that fails keeps its previous version, is recorded for /readyz and /metrics, and the others
 * still load. Returns the first failure. */
idp_err app_reload(struct app *a, idp_error *err);
idp_err app_start_background(struct app *a, idp_error *err);
/* SIGHUP: re-apply cfg policy_file (when set) and reload the snapshots, on the background thread. */
void app_request_reload(struct app *a);
/* Applies cfg policy_file when set and its bytes differ from the active version (logged;
 * an invalid file leaves the active version in place). */
void app_apply_policy_file(struct app *a);
/* Stops and joins the background thread, then frees everything. Accepts a zeroed app. */
void app_free(struct app *a);

#endif
