/* rotation — the key lifecycle state machine (DESIGN §6): next -> current -> retired -> deleted.
 *
 *  - Every algorithm in cfg->algs always has one current and one next key.
 *  - A key enters the JWKS when created (as next) and signs only after >= publish_ahead.
 *  - Rotation is due when current.activated_at + rotation_period <= now; it promotes next to
 *    current (only when next has been published >= publish_ahead, unless forced), retires the
 *    old current, and creates a fresh next.
 *  - A retired key is deleted once retired_at + max_token_ttl + leeway <= now: every token it
 *    signed has expired by then.
 * All changes of one step happen in one exclusive store transaction, so several processes (or
 * nodes) may run rotation_tick concurrently: one wins, the others see the result. */
#ifndef IDPD_KEYS_ROTATION_H
#define IDPD_KEYS_ROTATION_H

#include "core/cfg.h"
#include "core/err.h"
#include "jose/jwk.h"
#include "keys/kek.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

/* Brings the store to the invariant above at time now: creates missing current/next keys,
 * performs due rotations, deletes expired retired keys. *changed tells whether anything was
 * written. Called at init and periodically by the server's background thread. */
idp_err rotation_tick(store *st, const kek *k, const cfg *c, int64_t now, bool *changed,
                      idp_error *err);
/* Operator rotation of one algorithm (idpd key rotate). Without force, IDP_ERR_CONFLICT when the
 * next key has been published for less than publish_ahead (message says how long to wait). */
idp_err rotation_rotate(store *st, const kek *k, const cfg *c, jws_alg alg, bool force,
                        int64_t now, idp_error *err);

#endif
