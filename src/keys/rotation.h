/* rotation — the key lifecycle state machine (DESIGN §6): next -> current -> retired -> deleted.
 *
 *  - Every algorithm in cfg->algs always has one current and one next key.
 *  - A key enters the JWKS when created (as next) and signs only after >= publish_ahead.
 *  - Rotation is due when current.activated_at + rotation_period <= now; it promotes next to
 *    current (only when next has been published >= publish_ahead, unless forced), retires the
 *    old current, and creates a fresh next.
 *  - A forced rotation (idpd key rotate --force) does the same at once: the next key, which has
 *    signed nothing, takes over; the replaced current key is retired; a fresh next is created.
 *  - A retired key is deleted once retired_at + rotation_retire_window(cfg) <= now: every token
 *    it signed has expired by then (RFC 7517 §5: a verifier finds the key by kid until then).
 *  - Bound: the store never holds more than ROTATION_MAX_KEYS keys, so the key set always loads
 *    and the JWKS stays parseable by verifiers with the usual cap (jwks_add). rotation_check
 *    refuses a configuration whose regular rotations could exceed it; when forced rotations
 *    would, the keys retired longest ago are deleted early (their tokens stop verifying: fail
 *    closed).
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

#define ROTATION_MAX_KEYS JWKS_MAX_KEYS
#define ROTATION_TICK_S 10 /* the server runs rotation_tick this often */

/* How long a retired key stays published: max_token_ttl (the longest a token it signed is
 * valid) + leeway (the clock skew verifiers allow on exp) + jwks_max_age (a margin of one JWKS
 * cache lifetime). */
int64_t rotation_retire_window(const cfg *c);
/* IDP_ERR_CONFIG (the message says the shortest rotation_period that fits) when the configured
 * algs, rotation_period and retire window could keep more than ROTATION_MAX_KEYS keys published
 * at once in regular operation: per alg one current, one next and every key retired within the
 * last retire window + ROTATION_TICK_S. idpd serve and serve --check call it. */
idp_err rotation_check(const cfg *c, idp_error *err);

/* Brings the store to the invariant above at time now: creates missing current/next keys,
 * performs due rotations, deletes expired retired keys, and keeps the bound. *changed tells
 * whether anything was written. Called at init and periodically by the server's background
 * thread. */
idp_err rotation_tick(store *st, const kek *k, const cfg *c, int64_t now, bool *changed,
                      idp_error *err);
/* Operator rotation of one algorithm (idpd key rotate); keeps the bound. Without force,
 * IDP_ERR_CONFLICT when the next key has been published for less than publish_ahead (message
 * says how long to wait). */
idp_err rotation_rotate(store *st, const kek *k, const cfg *c, jws_alg alg, bool force,
                        int64_t now, idp_error *err);

#endif
