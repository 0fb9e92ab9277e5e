/* audit_checkpoint — retention of the hash-chained audit log (DESIGN §9) without losing
 * verifiability. Pruning first appends a checkpoint event at the head of the chain that records
 * the last pruned event (its seq P, which is also the number of events pruned since seq 1, and
 * its hash), MACed with HMAC-SHA-256 under a key derived from the master key
 * (AUDIT_CHECKPOINT_LABEL), then deletes the events 1..P, all in one transaction. A verifier
 * then starts at seq P+1, whose prev_hash must be the checkpoint's hash of P: the rest of the
 * chain is checked as before, and removing more events, or forging a checkpoint, needs the
 * master key.
 *
 * Checkpoint event: actor "idpd", action AUDIT_CHECKPOINT_ACTION, detail
 *   {"pruned_through":P,"pruned_events":P,"pruned_head":"<64 hex>","mac":"<base64url>"}
 * mac = HMAC(key, AUDIT_CHECKPOINT_LABEL || 0x00 || I64(seq) || I64(time_ms) || I64(P) ||
 *            head[32]), I64 as in store_audit_hash (8 bytes big-endian). */
#ifndef IDPD_OAUTH_AUDIT_CHECKPOINT_H
#define IDPD_OAUTH_AUDIT_CHECKPOINT_H

#include "core/err.h"
#include "keys/kek.h"
#include "store/store.h"

#include <stdint.h>

#define AUDIT_CHECKPOINT_ACTION "audit.checkpoint"
#define AUDIT_CHECKPOINT_LABEL "idpd audit checkpoint v1"

typedef struct audit_prune_result {
    int64_t pruned;         /* events deleted now (0: nothing was old enough) */
    int64_t through;        /* the last pruned seq */
    int64_t checkpoint_seq; /* seq of the checkpoint appended, 0 when nothing was pruned */
} audit_prune_result;

/* Prunes the events older than retention_s seconds before now_ms, and the oldest beyond the
 * newest max_events, behind a checkpoint (see above), in transactions of at most 20000 events
 * each with its own checkpoint (a large backlog never holds the write lock for long). Never
 * prunes the newest event, so the chain head survives. res: the totals, the last checkpoint.
 * Errors: the store's, IDP_ERR_CRYPTO (what was committed before stays, verifiable). */
idp_err audit_checkpoint_prune(store *st, const kek *k, int64_t now_ms, int64_t retention_s,
                               int64_t max_events, audit_prune_result *res, idp_error *err);

/* Checks checkpoint event ev (action AUDIT_CHECKPOINT_ACTION): detail well formed and its MAC
 * valid for ev->seq and ev->time_ms. On success *through = P and head = the hash of P.
 * IDP_ERR_INVALID when malformed or the MAC does not verify. */
idp_err audit_checkpoint_check(const kek *k, const store_audit *ev, int64_t *through,
                               unsigned char head[32], idp_error *err);

#endif
