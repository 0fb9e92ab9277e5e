/* verify_cache — access tokens that already passed signature and claim checks (issue 14), so a
 * service (or /introspect, /forward-auth) that sees the same token repeatedly pays one signature
 * check. Depends on core only (OpenSSL SHA-256, jansson).
 *
 * Rules:
 *  - Keyed by SHA-256 of the token bytes; the token itself is never stored.
 *  - An entry never outlives the token: it is valid while now < exp (the token's exp; the
 *    caller's leeway is not applied to a cached answer, so a hit is never more lenient than a
 *    fresh check), and is dropped when found expired.
 *  - The entry remembers the kid that verified it: verify_cache_get is given the current key
 *    set's lookup and misses when that kid is no longer in the set (a key removed from the JWKS
 *    revokes the cached tokens it signed at once).
 *  - Bounded: at most max_entries (default 10000); when full, an insert evicts the entry closest
 *    to its exp in the shard (expired ones first).
 *  - A hit returns a new reference to the immutable claims object that was verified (callers must
 *    not modify it).
 *  - Revocation is NOT cached: callers check the denylist after every hit and every miss.
 *
 * Thread safety: any number of threads; the table is split into shards with one mutex each, held
 * only for the lookup or insert (no allocation under the lock on a hit). */
#ifndef IDPD_VERIFY_VERIFY_CACHE_H
#define IDPD_VERIFY_VERIFY_CACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct verify_cache verify_cache;

#define VERIFY_CACHE_DEFAULT_MAX 10000

/* max_entries 0 takes the default. NULL when out of memory. */
verify_cache *verify_cache_new(size_t max_entries);
void verify_cache_free(verify_cache *c); /* accepts NULL */

/* Is kid still among the current keys? (the caller's key set; ctx is passed through) */
typedef bool (*verify_cache_kid_fn)(void *ctx, const char *kid);
/* The kid check every caller wants: ctx is the current key set (a jose jwks *), kid must be in it. */
bool verify_cache_kid_in_jwks(void *keys, const char *kid);

/* The claims of tok[0..len) when it was verified before, its exp > now, and kid_ok (may be NULL:
 * not checked) says its kid is still current; NULL otherwise. New reference. */
json_t *verify_cache_get(verify_cache *c, const char *tok, size_t len, int64_t now,
                         verify_cache_kid_fn kid_ok, void *ctx);

/* Remembers a verified token: claims (a new reference is taken), the kid of the key that
 * verified it ("" when none), its exp (s). Tokens without exp are not cached (exp <= now: no-op). */
void verify_cache_put(verify_cache *c, const char *tok, size_t len, json_t *claims,
                      const char *kid, int64_t exp, int64_t now);

/* The same two calls with the key computed once by the caller (a miss followed by a put hashes
 * the token once): key = SHA-256 of the token bytes, as verify_cache_key writes it. */
#define VERIFY_CACHE_KEY_LEN 32
void verify_cache_key(const char *tok, size_t len, unsigned char key[VERIFY_CACHE_KEY_LEN]);
json_t *verify_cache_get_key(verify_cache *c, const unsigned char key[VERIFY_CACHE_KEY_LEN],
                             int64_t now, verify_cache_kid_fn kid_ok, void *ctx);
void verify_cache_put_key(verify_cache *c, const unsigned char key[VERIFY_CACHE_KEY_LEN],
                          json_t *claims, const char *kid, int64_t exp, int64_t now);

/* Entries now (metrics, tests), and hit/miss counters since creation. */
size_t verify_cache_size(verify_cache *c);
void verify_cache_stats(verify_cache *c, uint64_t *hits, uint64_t *misses);

#endif
