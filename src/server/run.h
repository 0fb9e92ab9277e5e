/* run — `idpd serve`'s run (DESIGN §2): signals, the app state and its background thread, the
 * transport (http/server.h) serving every request through the dispatcher (server/dispatch.h). */
#ifndef IDPD_SERVER_RUN_H
#define IDPD_SERVER_RUN_H

#include "core/cfg.h"
#include "core/err.h"

/* Runs the server until SIGTERM or SIGINT, then shuts down gracefully and returns IDP_OK.
 *
 * c is borrowed for the whole run and must be final: c->issuer is used as is (the caller — `idpd
 * serve` — resolves it: --issuer/config when given, else the store's meta "issuer" written by
 * `idpd init`), c->data_dir must hold idpd.db (IDP_ERR_NOT_FOUND with a clear message otherwise),
 * c->master_key_file (or env IDPD_MASTER_KEY) the master key.
 *
 * Once listening it prints exactly one line on stdout, "idpd listening on http://HOST:PORT" (the
 * bound port, also for port 0), and flushes it; then one JSON log line per request on stderr.
 * SIGHUP re-applies policy_file and reloads the snapshots (on the background thread).
 * Must be called from the main thread before any other thread is started: it blocks SIGTERM,
 * SIGINT and SIGHUP in the calling thread (inherited by the server's threads) and waits for them
 * with sigwait; the signal mask is restored before returning. */
idp_err server_run(const cfg *c, idp_error *err);

#endif
