/* ratelimit — per-key token buckets (SCIM contract: cfg scim_rate requests/s, scim_burst).
 *
 * Each key (a provisioning-key id) has a bucket of `burst` tokens refilled at `rate` tokens per
 * second; a request takes one token or is refused with the number of seconds after which one will
 * be there (the Retry-After of the 429, RFC 6585 §4). Time is passed in by the caller (ms), so
 * the logic is testable with an explicit clock; a clock that goes backwards refills nothing.
 *
 * Thread-safe: the table is split into lock stripes (a mutex each), chosen by a hash of the key.
 * Memory is bounded: at most max_keys buckets. A bucket idle long enough to be full again is
 * indistinguishable from a new one and is evicted first; when a stripe is still full, its least
 * recently used bucket is evicted (that key starts again with a full bucket — the table never
 * grows past its bound). */
#ifndef IDPD_OAUTH_RATELIMIT_H
#define IDPD_OAUTH_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_MAX_KEY_LEN 128

typedef struct ratelimit ratelimit;

/* rate: tokens per second (>= 1), burst: bucket size (>= 1), max_keys: bound on the number of
 * buckets kept (>= 16; smaller values are raised to 16). Owned (ratelimit_free). */
ratelimit *ratelimit_new(int rate, int burst, size_t max_keys);
void ratelimit_free(ratelimit *rl); /* accepts NULL */

/* Takes one token from key_id's bucket at time now_ms. true: allowed. false: refused, and
 * *retry_after_s (when non-NULL) receives the whole seconds (>= 1) until a token is available.
 * A key_id that is NULL, empty or longer than RATELIMIT_MAX_KEY_LEN is refused (retry 1). */
bool ratelimit_take(ratelimit *rl, const char *key_id, int64_t now_ms, int64_t *retry_after_s);

/* Number of buckets currently held (for tests and metrics). */
size_t ratelimit_size(ratelimit *rl);

#endif
