/* jwks_cache — someone else's JWKS, kept fresh on a background task (issue 12): federation's
 * trusted upstream issuers and the resource-server verifier library use this one cache.
 *
 * Depends on core and jose only: the HTTP GET is the caller's fetch callback (fetch/fetch.h in
 * idpd), the clock and the wake-up of the background thread are callbacks too, so tests drive it
 * with a fake clock and a fake fetcher.
 *
 * Rules:
 *  - Fetches run only inside jwks_cache_tick (the background thread), never on a request.
 *    A good set is refreshed after its Cache-Control max-age clamped to [min_refresh,
 *    max_refresh], or after `refresh` when the response has no max-age. After a failed attempt
 *    the next one is min_refresh later, doubling per consecutive failure up to `refresh`.
 *  - jwks_cache_get with a kid that is not in the set asks for one coalesced refetch when the
 *    last attempt started at least kid_miss_cooldown ago (or a fetch is already under way) and
 *    waits for it at most fetch_timeout (real time); every request missing meanwhile waits on
 *    the same fetch. Within the cooldown it answers at once from the current set. So a flood of
 *    unknown kids costs at most one fetch per cooldown.
 *  - Only HTTP 200 is accepted (the fetcher must not follow redirects), a body of at most
 *    JWKS_CACHE_MAX_BODY bytes, at most JWKS_MAX_KEYS usable keys; unusable members are skipped
 *    (jwks_from_json_report), counted and reported to on_skip.
 *  - After a failed attempt the last good set stays in use until stale_if_error after its fetch
 *    time; then lookups fail with IDP_ERR_UNAVAILABLE (503 temporarily_unavailable), never with
 *    acceptance. A cache without a usable set behaves as on a kid miss (one coalesced fetch,
 *    waiting at most fetch_timeout) and fails with IDP_ERR_UNAVAILABLE when none arrives.
 *  - on_good is told every good body (to persist it); jwks_cache_seed starts from a stored one,
 *    so a restart during an upstream outage still verifies until stale_if_error after the stored
 *    fetch time.
 *
 * Thread safety: any number of request threads call jwks_cache_get / jwks_cache_status; one
 * background thread calls jwks_cache_tick (or use jwks_cache_start). The common read (usable set,
 * kid found) takes no lock: the set is an immutable snapshot (core/snap.h). The mutex and
 * condition variable are used only on the miss path and by the background thread. */
#ifndef IDPD_JOSE_JWKS_CACHE_H
#define IDPD_JOSE_JWKS_CACHE_H

#include "core/buf.h"
#include "core/err.h"
#include "jose/jwk.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest JWKS document accepted. */
#define JWKS_CACHE_MAX_BODY (256u * 1024u)

typedef struct jwks_cache jwks_cache;

typedef struct jwks_cache_opts {
    int64_t refresh_ms;           /* period without a max-age; > 0 */
    int64_t min_refresh_ms;       /* max-age clamp, and the first retry delay; > 0 */
    int64_t max_refresh_ms;       /* max-age clamp; >= min_refresh_ms */
    int64_t kid_miss_cooldown_ms; /* least time between miss-triggered attempts; >= 0 */
    int64_t stale_if_error_ms;    /* a good set is usable this long after its fetch; > 0 */
    int64_t fetch_timeout_ms;     /* given to the fetcher; the most a request waits; > 0 */
} jwks_cache_opts;

/* GET the set: append the body to `body` (its cap is JWKS_CACHE_MAX_BODY: return
 * IDP_ERR_TOO_LARGE when it is exceeded), follow no redirect, finish within timeout_ms. Fill
 * *status (HTTP status) and *max_age_s (Cache-Control max-age in seconds, -1 when none). Return
 * IDP_OK when a response arrived, whatever its status; IDP_ERR_TOO_LARGE; another code (e.g.
 * IDP_ERR_IO) when no response arrived, with err->msg saying why (no key material);
 * IDP_ERR_INVALID when the fetcher refused what it got before the set (e.g. a discovery document
 * or a URL it names): counted as JWKS_FETCH_INVALID with err->msg. Called only
 * from jwks_cache_tick, never with the cache's lock held. */
typedef idp_err (*jwks_cache_fetch_fn)(void *ctx, long timeout_ms, idp_buf *body, long *status,
                                       int64_t *max_age_s, idp_error *err);
/* Milliseconds since the epoch (fetch times are persisted); NULL hook: time_now_ms. */
typedef int64_t (*jwks_cache_clock_fn)(void *ctx);
/* Asks the background thread to call jwks_cache_tick soon. Called with no lock held. */
typedef void (*jwks_cache_wake_fn)(void *ctx);
/* After every good fetch: the body as received, its fetch time and max-age (-1 none). */
typedef void (*jwks_cache_good_fn)(void *ctx, const char *body, size_t len, int64_t fetched_at_ms,
                                   int64_t max_age_s);

typedef struct jwks_cache_hooks {
    jwks_cache_fetch_fn fetch;   /* required */
    jwks_cache_clock_fn clock;   /* NULL: real clock */
    jwks_cache_wake_fn wake;     /* NULL: nothing (or the jwks_cache_start thread) */
    jwks_cache_good_fn on_good;  /* NULL: not persisted */
    jwks_skip_fn on_skip;        /* NULL: skipped members only counted */
    void *ctx;                   /* passed to every hook */
} jwks_cache_hooks;

/* Fetch results, the `result` label of the fetch counter metric. */
typedef enum jwks_fetch_result {
    JWKS_FETCH_OK,            /* 200 with a valid set (possibly with skipped members) */
    JWKS_FETCH_HTTP_STATUS,   /* a response other than 200 (3xx included: no redirects) */
    JWKS_FETCH_TOO_LARGE,     /* body over JWKS_CACHE_MAX_BODY */
    JWKS_FETCH_INVALID,       /* not a JWKS document */
    JWKS_FETCH_TOO_MANY_KEYS, /* more than JWKS_MAX_KEYS usable keys or 256 members */
    JWKS_FETCH_NETWORK,       /* no response: DNS, connection, TLS, timeout */
    JWKS_FETCH_INTERNAL,      /* out of memory or another local failure */
    JWKS_FETCH__COUNT
} jwks_fetch_result;

/* "ok", "http_status", "too_large", "invalid", "too_many_keys", "network", "internal";
 * NULL when out of range. */
const char *jwks_cache_fetch_result_name(int r);

typedef enum jwks_cache_state {
    JWKS_CACHE_UNFETCHED, /* no usable set and no attempt finished yet */
    JWKS_CACHE_OK,        /* usable set; the last attempt (if any) succeeded */
    JWKS_CACHE_STALE,     /* the last attempt failed; the last good set is still usable */
    JWKS_CACHE_FAILING    /* no usable set (never fetched, or past stale_if_error) */
} jwks_cache_state;

const char *jwks_cache_state_name(jwks_cache_state s); /* "unfetched", "ok", "stale", "failing" */

/* For `idpd federation status` and metrics. Times in clock ms, 0 when never. */
typedef struct jwks_cache_status {
    jwks_cache_state state;
    jwks *keys;                /* the current set (new reference; kids via jwks_at) or NULL */
    size_t nkeys;              /* jwks_count(keys), 0 without */
    size_t skipped;            /* members skipped in the current set's document */
    int64_t fetched_at_ms;     /* fetch time of the current set */
    int64_t usable_until_ms;   /* fetched_at + stale_if_error; 0 without a set */
    int64_t last_success_ms;   /* last good fetch (or the seeded fetch time) */
    int64_t last_attempt_ms;   /* start of the last attempt */
    int64_t next_refresh_ms;   /* when the background task fetches next */
    long last_http_status;     /* of the last attempt; 0 when no response */
    jwks_fetch_result last_result;       /* of the last attempt (OK when none) */
    char last_error[240];                /* of the last failed attempt; "" when none */
    unsigned consecutive_failures;
    uint64_t fetches[JWKS_FETCH__COUNT]; /* attempts by result */
    uint64_t skipped_total;              /* members skipped over all good fetches */
    uint64_t miss_refetches;             /* attempts asked for by a kid miss or a missing set */
} jwks_cache_status;

/* A cache; nothing is fetched until the first jwks_cache_tick (or the first jwks_cache_get,
 * which asks for one). IDP_ERR_CONFIG when the options are out of range or hooks->fetch is
 * NULL. The hooks are copied. */
idp_err jwks_cache_new(const jwks_cache_opts *o, const jwks_cache_hooks *hooks, jwks_cache **out,
                       idp_error *err);
/* Stops the jwks_cache_start thread, if any. No other thread may use c any more. NULL ok. */
void jwks_cache_free(jwks_cache *c);

/* Starts from a stored good set (as given to on_good). Accepted when it parses and is still
 * usable (fetched_at_ms + stale_if_error in the future; a fetch time in the future counts as
 * now); the first tick still fetches at once. IDP_ERR_JOSE_KEY / IDP_ERR_TOO_LARGE when it does
 * not parse, IDP_ERR_INVALID when too old, IDP_ERR_CONFLICT when the cache already has a set. */
idp_err jwks_cache_seed(jwks_cache *c, const char *body, size_t len, int64_t fetched_at_ms,
                        idp_error *err);

/* Another process stored a newer good set (`idpd federation refresh`): replaces the current set
 * when fetched_at_ms is later than its fetch time (IDP_ERR_CONFLICT otherwise, nothing changed),
 * clears the failure state and schedules the next refresh from max_age_s (-1: refresh) as a
 * fetch would. Parse and age rules as jwks_cache_seed. Any thread. */
idp_err jwks_cache_offer(jwks_cache *c, const char *body, size_t len, int64_t fetched_at_ms,
                         int64_t max_age_s, idp_error *err);

/* Request threads. *out = a new reference to the current usable set, which holds kid unless
 * the refetch rules above said no (then the caller fails with key-not-found); kid NULL: the set
 * as it is, without a refetch when a usable set is present. May wait up to fetch_timeout.
 * IDP_ERR_UNAVAILABLE (*out NULL) when no usable set exists. */
idp_err jwks_cache_get(jwks_cache *c, const char *kid, jwks **out, idp_error *err);

/* Background thread: performs one fetch when one is due or was asked for; returns the ms until
 * the next due time (0: call again now). Never call it from two threads at once. */
int64_t jwks_cache_tick(jwks_cache *c);

/* Optional: a thread of the cache's own that loops on jwks_cache_tick, woken on misses (then
 * the wake hook, if any, is called as well). Stopped by jwks_cache_free. Real clock only. */
idp_err jwks_cache_start(jwks_cache *c, idp_error *err);

/* A consistent copy of the state; release with jwks_cache_status_clear. */
void jwks_cache_status_get(jwks_cache *c, jwks_cache_status *out);
void jwks_cache_status_clear(jwks_cache_status *s);

#endif
