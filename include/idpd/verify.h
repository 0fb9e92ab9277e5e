/* idpd/verify.h — libidpd-verify: offline verification of idpd's JWT access tokens (RFC 9068)
 * in a resource server. The one public header of the library (docs/VERIFY.md has the long form).
 * Link with `pkg-config --libs idpd-verify` (or `--static --libs` for libidpd-verify.a); the
 * library depends on OpenSSL 3, jansson, libcurl and pthreads only. Every exported name starts
 * with idpd_verify_.
 *
 * A verifier (idpd_verify) is configured once (idpd_verify_options) and then answers
 * idpd_verify_token from any number of threads. For each token, in this order:
 *   1. the verified-token cache: a token verified before (keyed by SHA-256 of its bytes, the token
 *      itself is never stored) whose exp has not passed and whose signing key (kid) is still in
 *      the current key set is answered without a signature check. Bounded (cache_size entries);
 *      an entry never outlives the token's exp (the leeway is not applied to a cached answer).
 *      Tokens without a kid header are never cached.
 *   2. otherwise strict verification: at most 16 KiB, JWS compact form, alg in the allow-list and
 *      allowed by the key (RFC 8725 §3.1), no `crit`, the key only from the issuer's JWKS by kid
 *      (never jwk/jku/x5u/x5c headers, RFC 8725 §3.10), the signature, `typ` (RFC 9068 §4 item 2;
 *      default at+jwt), `iss` equal to the issuer byte for byte, `aud` naming one of the accepted
 *      audiences, exp/nbf/iat with the clock leeway, and the claims RFC 9068 §2.2 requires (exp,
 *      iat, sub, jti, client_id; exp alone with exp_only).
 * Failures are one error: an RFC 6750 §3.1 code (`invalid_token`; `invalid_request` for a
 * malformed call such as an empty token or a NULL argument) or `temporarily_unavailable` when the
 * issuer's keys cannot be had (never fetched, or older than jwks_stale_if_error_ms: fail closed,
 * never accepted) — plus a precise reason ("token expired", "audience mismatch (...)"), which
 * never contains token bytes.
 *
 * The issuer's JWKS is kept by idpd's one JWKS cache, with the rules idpd's federation uses for
 * upstream issuers (docs/FEDERATION.md "Where the keys come from"), and the same defaults:
 *  - source: issuer discovery (`<issuer>/.well-known/openid-configuration`, whose `issuer` must
 *    equal the configured issuer; its `jwks_uri`; read again after a failed attempt), an explicit
 *    jwks_uri, or a local file (read like a fetch, at each refresh);
 *  - URLs: https:// only, or http:// to a loopback host when allow_http_loopback; no userinfo, no
 *    fragment, at most 2048 bytes; no redirect is followed; TLS peers are verified; bodies capped
 *    (JWKS 256 KiB, discovery 64 KiB); each GET bounded by jwks_fetch_timeout_ms;
 *  - refresh after the response's Cache-Control max-age clamped to [jwks_min_refresh_ms,
 *    jwks_max_refresh_ms], or jwks_refresh_ms without one; after a failure min_refresh later,
 *    doubling per consecutive failure up to refresh;
 *  - an unknown kid asks for one coalesced refetch when the last attempt started at least
 *    jwks_kid_miss_cooldown_ms ago (a flood of unknown kids costs one fetch per cooldown); the
 *    request waits for it at most jwks_fetch_timeout_ms. That is how a key rotation at the issuer
 *    is picked up at once;
 *  - after a failed attempt the last good set is used until jwks_stale_if_error_ms after its
 *    fetch; unusable members of a set are skipped (RFC 7517 §5) and reported to on_jwks_skip.
 *
 * Driving it: either idpd_verify_start (a background thread of the verifier's own, stopped by
 * idpd_verify_stop or idpd_verify_free), or, for an event-loop server, call idpd_verify_tick
 * whenever idpd_verify_next_deadline has passed. Nothing is fetched before the first tick (or the
 * thread's first round). Without the thread, a kid miss (or the first verification without a set)
 * performs its refetch on the calling thread — at most once per cooldown, bounded by
 * jwks_fetch_timeout_ms.
 *
 * The revocation feed (optional: feed_url and feed_token): idpd's POST /ssf/poll (RFC 8936 §2.4
 * poll of RFC 8417 Security Event Tokens), polled every feed_interval_ms on the same thread /
 * tick as the JWKS, a backlog read page after page at once. Every SET is verified with the
 * verifier's own issuer keys and algorithms (typ secevent+jwt, iss equal to the issuer); its
 * event (an access token revoked by jti; a user disabled, deleted or changed, which revokes that
 * user's older tokens) goes into a bounded in-memory denylist, forgotten when no token it
 * concerns can still be valid. idpd_verify_token then refuses a revoked token with invalid_token
 * "token revoked" — a cached token too (the denylist is checked after the cache). Fail closed:
 * until the first poll has reached the end of the feed, when none has for feed_stale_ms, or when
 * the denylist overflowed, every token is refused with temporarily_unavailable. With the default
 * interval a revocation at idpd is refused within about 2 s (one interval plus a poll).
 *
 * Memory: every function that can fail on allocation aborts the process instead (like idpd). */
#ifndef IDPD_VERIFY_H
#define IDPD_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IDPD_VERIFY_VERSION "0.1.0"

/* ---- results ------------------------------------------------------------------------------ */

typedef enum idpd_verify_code {
    IDPD_VERIFY_OK = 0,
    IDPD_VERIFY_INVALID_TOKEN = 1,   /* "invalid_token" (RFC 6750 §3.1): refuse with 401 */
    IDPD_VERIFY_INVALID_REQUEST = 2, /* "invalid_request" (RFC 6750 §3.1): a malformed call */
    IDPD_VERIFY_UNAVAILABLE = 3,     /* "temporarily_unavailable": keys unavailable; 503 */
} idpd_verify_code;

#define IDPD_VERIFY_REASON_MAX 256

typedef struct idpd_verify_error {
    idpd_verify_code code;
    const char *error;                   /* the code's name above; static; "" when OK */
    char reason[IDPD_VERIFY_REASON_MAX]; /* precise, human-readable; never token bytes */
} idpd_verify_error;

/* ---- configuration ------------------------------------------------------------------------ */

/* Called for each JWKS member that is skipped as unusable (RFC 7517 §5): its index in "keys",
 * its kid ("" when none) and why. From whichever thread fetches. */
typedef void (*idpd_verify_skip_fn)(void *ctx, size_t index, const char *kid, const char *reason);

typedef struct idpd_verify_options {
    const char *issuer;           /* required: compared byte for byte with iss */
    const char *const *audiences; /* required: aud must name one of them (RFC 9068 §4 item 3) */
    size_t naudiences;            /* >= 1 */
    /* The JWKS source: jwks_file, else jwks_uri, else issuer discovery. At most one of the two. */
    const char *jwks_uri;
    const char *jwks_file;
    bool allow_http_loopback; /* http:// URLs to 127.0.0.0/8, [::1], localhost too */
    /* Comma- or space-separated: ES256, RS256, PS256, EdDSA. NULL: all four. */
    const char *algorithms;
    const char *typ;  /* required typ header; NULL: "at+jwt"; "": not checked */
    int64_t leeway_s; /* clock skew for exp/nbf/iat; default 60, at most 600 */
    /* false (default): the claims RFC 9068 §2.2 requires (exp, iat, sub, jti, client_id) must be
     * present; true: exp only (for JWTs that are not RFC 9068 access tokens; `idpd verify`). */
    bool exp_only;
    size_t cache_size; /* verified-token cache entries; default 10000 */
    /* JWKS cache timings (docs/FEDERATION.md defaults): */
    int64_t jwks_refresh_ms;           /* 300 s */
    int64_t jwks_min_refresh_ms;       /* 30 s */
    int64_t jwks_max_refresh_ms;       /* 24 h */
    int64_t jwks_kid_miss_cooldown_ms; /* 30 s (0 allowed) */
    int64_t jwks_stale_if_error_ms;    /* 24 h */
    int64_t jwks_fetch_timeout_ms;     /* 3 s, at most 300 s */
    idpd_verify_skip_fn on_jwks_skip;  /* NULL: skipped members are only counted */
    void *ctx;                         /* passed to on_jwks_skip */
    /* The revocation feed (see "The revocation feed" above); feed_url NULL: no feed. */
    const char *feed_url;     /* idpd's POST /ssf/poll URL (same URL rules as jwks_uri) */
    const char *feed_token;   /* required with feed_url: a provisioning key with scope
                                 events:read, sent as Authorization: Bearer; never logged */
    int64_t feed_interval_ms; /* poll period; default 2000, 100 .. 3600000 */
    int64_t feed_stale_ms;    /* refuse every token (temporarily_unavailable) when no poll
                                 reached the end of the feed for this long; default 30000,
                                 > feed_interval_ms, at most 24 h */
    size_t feed_max_entries;  /* denylist bound, each of revoked jtis and users; 100000 */
} idpd_verify_options;

/* Fills *o with the defaults above (issuer, audiences and the source left NULL). Call it first,
 * then set what you need: fields left at 0 are taken as given, not as "default". */
void idpd_verify_options_init(idpd_verify_options *o);

/* ---- the verifier ------------------------------------------------------------------------- */

typedef struct idpd_verify idpd_verify;

/* A verifier for *o (copied; nothing fetched yet). IDPD_VERIFY_INVALID_REQUEST with the reason
 * when an option is missing or out of range. */
idpd_verify_code idpd_verify_new(const idpd_verify_options *o, idpd_verify **out,
                                 idpd_verify_error *err);
/* Stops the thread (if started) and frees v. No other thread may use v any more. NULL ok. */
void idpd_verify_free(idpd_verify *v);

/* The background thread: keeps the JWKS fresh (and fetches it at once). Idempotent
 * (IDPD_VERIFY_OK when already running). */
idpd_verify_code idpd_verify_start(idpd_verify *v, idpd_verify_error *err);
/* Stops and joins the thread; the verifier stays usable (tick-driven). NULL ok. */
void idpd_verify_stop(idpd_verify *v);

/* Event-loop driving: does the work that is due (at most one JWKS fetch, bounded by
 * jwks_fetch_timeout_ms) and returns the milliseconds until the next call is due (0: now).
 * Safe with the thread running too (calls are serialised). */
int64_t idpd_verify_tick(idpd_verify *v);
/* When the next tick is due, in milliseconds since the epoch (CLOCK_REALTIME); before the first
 * tick: now. */
int64_t idpd_verify_next_deadline(idpd_verify *v);

/* ---- verification ------------------------------------------------------------------------- */

/* Opaque: the verified claims (the token's payload). Immutable; free with
 * idpd_verify_claims_free. Usable from any thread, after idpd_verify_free too. */
typedef struct idpd_verify_claims idpd_verify_claims;

/* Verifies token[0..len) (see the top of this header). IDPD_VERIFY_OK with *claims set (the
 * caller frees it), or the error with *claims NULL. Thread-safe. err may be NULL. */
idpd_verify_code idpd_verify_token(idpd_verify *v, const char *token, size_t len,
                                   idpd_verify_claims **claims, idpd_verify_error *err);

void idpd_verify_claims_free(idpd_verify_claims *c); /* NULL ok */

/* Claim getters; name is a top-level claim. Borrowed results live as long as c. */
/* A string claim; NULL when absent or not a string. */
const char *idpd_verify_claims_string(const idpd_verify_claims *c, const char *name);
/* A string-array claim as a NULL-terminated array (owned: free with idpd_verify_strings_free),
 * its length in *n (n may be NULL): a JSON array of strings gives its items; a single string
 * gives one item, except `scope`, whose space-separated words (RFC 9068 §2.2.3, RFC 6749 §3.3)
 * are the items. NULL (and *n = 0) when absent, of another type, or an array with a non-string. */
char **idpd_verify_claims_strings(const idpd_verify_claims *c, const char *name, size_t *n);
void idpd_verify_strings_free(char **list); /* NULL ok */
/* A number claim; false when absent or not a number. */
bool idpd_verify_claims_number(const idpd_verify_claims *c, const char *name, double *out);
/* An integer claim (exp, iat, ...); false when absent or not an integer. */
bool idpd_verify_claims_int(const idpd_verify_claims *c, const char *name, int64_t *out);
/* true when claim name is present and JSON true. */
bool idpd_verify_claims_bool(const idpd_verify_claims *c, const char *name);
/* All claims as compact JSON (owned: free()). */
char *idpd_verify_claims_json(const idpd_verify_claims *c);

/* ---- introspection ------------------------------------------------------------------------ */

typedef struct idpd_verify_stats {
    const char *jwks_state;     /* "unfetched", "ok", "stale", "failing" */
    size_t jwks_keys;           /* keys in the current set */
    int64_t jwks_fetched_at_ms; /* 0 when none */
    uint64_t jwks_fetches;      /* attempts so far */
    char jwks_last_error[240];  /* of the last failed attempt; "" when none */
    size_t cache_entries;
    uint64_t cache_hits, cache_misses;
    /* the revocation feed: "off" (none configured), "unsynced" (no poll reached the end yet),
     * "ok", "stale" (past feed_stale_ms), "overflow" (the denylist is full) */
    const char *feed_state;
    char feed_cursor[24];         /* the position in the feed ("" before the first event) */
    int64_t feed_synced_at_ms;    /* last poll that reached the end; 0 when none */
    uint64_t feed_events_applied; /* revocation events recorded so far */
    uint64_t feed_polls, feed_failures;
    size_t feed_revoked_jtis, feed_revoked_users; /* denylist entries now */
    char feed_last_error[240]; /* of the last failed round; "" when none; never the token */
} idpd_verify_stats;

void idpd_verify_stats_get(idpd_verify *v, idpd_verify_stats *out);

#ifdef __cplusplus
}
#endif

#endif
