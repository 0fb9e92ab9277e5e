/* keyset — an immutable snapshot of the signing keys (DESIGN §6): the private keys of the
 * current key per algorithm (held by the signer, the only custodian of private keys), every
 * published public key (next, current, retired) as a jwks for verification, and the JWKS
 * response body prebuilt once per snapshot. Readers take it with snap_acquire on the server's
 * slot; the background thread rebuilds it when the store's generation changes. */
#ifndef IDPD_KEYS_KEYSET_H
#define IDPD_KEYS_KEYSET_H

#include "core/buf.h"
#include "core/cfg.h"
#include "core/err.h"
#include "core/snap.h"
#include "jose/jwk.h"
#include "keys/kek.h"
#include "store/store.h"

typedef struct keyset keyset; /* begins with a snap_obj: cast with (snap_obj *)ks */

/* Reads every key row, decrypts the current keys, builds the snapshot (refs = 1). A store with
 * more than JWKS_MAX_KEYS rows (rotation keeps it within) still loads: the current, next and
 * most recently retired keys up to the bound are published, the others logged and left out. */
idp_err keyset_load(store *st, const kek *k, keyset **out, idp_error *err);
keyset *keyset_ref(keyset *ks);
void keyset_unref(keyset *ks);

/* Prebuilt {"keys":[...]} body of all published keys; borrowed, lives as long as ks. */
const char *keyset_jwks_body(const keyset *ks, size_t *len);
/* Every published public key; borrowed. */
const jwks *keyset_public(const keyset *ks);
/* kid of the current key for alg, or NULL when there is none; borrowed. */
const char *keyset_current_kid(const keyset *ks, jws_alg alg);
/* Signs payload as a compact JWS with the current key for alg, header {alg, kid, typ}.
 * Appends to out. IDP_ERR_JOSE_KEY when alg has no current key. */
idp_err keyset_sign(const keyset *ks, jws_alg alg, const char *typ, const void *payload,
                    size_t payload_len, idp_buf *out, idp_error *err);

#endif
