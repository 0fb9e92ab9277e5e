/* pkey — provisioning keys: machine credentials for SCIM and the admin API (DESIGN §1, SCIM
 * contract "Provisioning key format").
 *
 * A key is the string "idpd_pk_<id>.<secret>": id = base64url of 16 random bytes (22 chars, the
 * public row id), secret = base64url of 32 random bytes (43 chars). The store keeps only
 * HMAC-SHA-256(pepper, secret) (oauth/client_secret.h); the pepper is derived from the master key
 * with its own label, PKEY_PEPPER_LABEL (one derivation per purpose: a client-secret hash can
 * never be replayed as a provisioning-key hash). Use pkey_pepper() to get it.
 *
 * Scopes (space-separated in store_pkey.scopes): "scim:read" (GET), "scim:write" (POST, PUT,
 * PATCH, DELETE), "admin" (the admin API) and "events:read" (the revocation feed, POST
 * /ssf/poll: docs/REVOCATION_FEED.md). Each is separate: admin does NOT imply the SCIM or events
 * scopes, and scim:write does not imply scim:read; list every scope a key needs.
 *
 * Everything except pkey_pepper and pkey_authenticate is pure (no I/O, no clock). */
#ifndef IDPD_OAUTH_PKEY_H
#define IDPD_OAUTH_PKEY_H

#include "core/err.h"
#include "keys/kek.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKEY_PREFIX "idpd_pk_"
#define PKEY_PREFIX_LEN 8
#define PKEY_ID_LEN 22     /* base64url of 16 bytes */
#define PKEY_SECRET_LEN 43 /* base64url of 32 bytes */
#define PKEY_KEY_LEN (PKEY_PREFIX_LEN + PKEY_ID_LEN + 1 + PKEY_SECRET_LEN) /* 74 */
#define PKEY_PEPPER_LABEL "idpd provisioning-key pepper v1"
/* The one message of every authentication failure (no hint of what was wrong). */
#define PKEY_AUTH_FAILED_MSG "authentication required"
/* last_used_at is written at most once per key per this many seconds. */
#define PKEY_TOUCH_INTERVAL 60

#define PKEY_SCOPE_SCIM_READ "scim:read"
#define PKEY_SCOPE_SCIM_WRITE "scim:write"
#define PKEY_SCOPE_ADMIN "admin"
#define PKEY_SCOPE_EVENTS_READ "events:read"

/* HKDF of the master key with PKEY_PEPPER_LABEL into out (wipe after use). */
idp_err pkey_pepper(const kek *k, unsigned char out[32], idp_error *err);

/* A new key. *id (owned, free()) is the row id; *key (owned, mem_free_secret) is the full key
 * string, to be shown once; hash receives HMAC(pepper, secret) for the row. */
void pkey_generate(const unsigned char pepper[32], char **id, char **key, unsigned char hash[32]);

/* Strict parse of key[0..n): exactly PREFIX, 22 base64url chars, '.', 43 base64url chars (strict
 * base64url: no padding, no non-zero trailing bits). Copies the id into id_out (NUL-terminated)
 * and points *secret at the 43 secret characters inside key (borrowed). IDP_ERR_UNAUTHORIZED
 * with PKEY_AUTH_FAILED_MSG for anything else. */
idp_err pkey_parse(const char *key, size_t n, char id_out[PKEY_ID_LEN + 1], const char **secret,
                   idp_error *err);

/* The credentials of an Authorization header value "Bearer <token>" as bearer_parse reads them
 * (oauth/bearer.h: RFC 6750 §2.1, up to BEARER_MAX_TOKEN characters). Points *token at the token
 * inside header (borrowed). IDP_ERR_UNAUTHORIZED (PKEY_AUTH_FAILED_MSG) for every bearer_parse
 * failure. */
idp_err pkey_bearer(const char *header, const char **token, size_t *n, idp_error *err);

/* Normalises a scope list given with commas and/or spaces ("scim:read,scim:write") into a
 * single-space-separated list in canonical order (scim:read scim:write admin events:read); *out owned.
 * IDP_ERR_INVALID naming the problem (unknown scope, duplicate, empty list). */
idp_err pkey_scopes_normalize(const char *list, char **out, idp_error *err);
/* Whole-word membership of scope in the space-separated list (NULL list -> false). */
bool pkey_has_scope(const char *scopes, const char *scope);

/* A key usable at now: not revoked and (expires_at == 0 or now < expires_at). */
bool pkey_is_active(const store_pkey *k, int64_t now);
/* The old key's expires_at after a rotation at now with the given overlap (s, >= 0):
 * min(old_expires, now + overlap), where old_expires 0 means "never". */
int64_t pkey_rotate_expiry(int64_t old_expires, int64_t now, int64_t overlap);
/* The successor's expires_at: keeps the old key's lifetime policy. A key created with a lifetime
 * (expires_at - created_at) gets the same lifetime from now; a key that never expires gives a
 * successor that never expires. */
int64_t pkey_successor_expiry(const store_pkey *old, int64_t now);

/* Authenticates the Authorization header value against the store at time now (s):
 *  - IDP_ERR_UNAUTHORIZED, message PKEY_AUTH_FAILED_MSG, for every authentication failure
 *    (missing/malformed header, malformed key, unknown id, wrong secret, revoked, expired).
 *    An unknown id is verified against a dummy hash so its timing matches a wrong secret.
 *  - IDP_ERR_FORBIDDEN when the key is valid but lacks required_scope (NULL: no scope check).
 *  - IDP_ERR_STORE (or another store error) when the database fails.
 * On success *out (when non-NULL) receives the row (caller clears with store_pkey_clear) and
 * last_used_at is recorded when it is PKEY_TOUCH_INTERVAL or more old (a failed write of
 * last_used_at is logged and does not fail the authentication). */
idp_err pkey_authenticate(store *st, const unsigned char pepper[32],
                          const char *authorization_header, const char *required_scope, int64_t now,
                          store_pkey *out, idp_error *err);

#endif
