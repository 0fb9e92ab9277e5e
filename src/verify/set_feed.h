/* set_feed — the wire form of idpd's revocation feed (issue 14): a poll per RFC 8936 §2.4 whose
 * SETs (RFC 8417) carry the events of verify/rev_event.h. The transmitter is POST /ssf/poll
 * (handle/ssf); the receiver is libidpd-verify. Depends on core and jose.
 *
 * Request (POST, Content-Type application/json, Authorization: Bearer <provisioning key with
 * scope events:read>):
 *   {"maxEvents": N, "returnImmediately": true, "since": "<cursor>"}
 *   - maxEvents: a JSON integer 1..1000, default 100 (RFC 8936 §2.4; its 0, an
 *     acknowledgement-only poll, is refused: acknowledgements mean nothing here).
 *   - returnImmediately: accepted; idpd always answers at once (no long poll: a request thread is
 *     never parked), which RFC 8936 §2.4 permits.
 *   - ack / setErrs: accepted and ignored (see "why a cursor").
 *   - since: idpd's addition: the `cursor` of the previous response; absent = from the oldest
 *     retained event. A cursor older than the oldest retained event is fine (everything pruned
 *     concerned only expired tokens); a cursor that is not ours (malformed, or beyond the highest
 *     seq the store ever gave: a receiver ahead of a restored store) is 400 invalid_request. Our
 *     cursor is the decimal seq of the last event read ("0" or digits without a leading zero,
 *     within int64).
 *   - any other member is ignored (forward compatible with receivers that send more SSF members);
 *     the body is one strict JSON object (no duplicate members) of at most SET_FEED_MAX_REQUEST
 *     bytes (413 when larger).
 * Response 200, application/json (RFC 8936 §2.5):
 *   {"sets": {"rev-<seq>": "<compact SET>", ...}, "moreAvailable": bool, "cursor": "<cursor>"}
 *   events in seq order; cursor = the last seq returned (or the request's when none, "0" for an
 *   empty feed polled without since); moreAvailable when more events follow it.
 * Errors: 400 {"err":"invalid_request","description":...} (RFC 8936 §2.6 shape), 401/403 as
 * RFC 6750 for a missing or under-scoped key, 503 when the store cannot be read.
 *
 * Why a cursor instead of RFC 8936's acknowledgements: ack delivery keeps per-receiver state on the
 * transmitter (a stream per receiver); revocations are a broadcast to any number of stateless
 * verifiers, each of which must see every event, so the receiver keeps its own position. Each
 * SET's jti is its sequence, so an acknowledging receiver loses nothing: it just also sends since.
 */
#ifndef IDPD_VERIFY_SET_FEED_H
#define IDPD_VERIFY_SET_FEED_H

#include "core/err.h"
#include "jose/jwk.h"
#include "verify/denylist.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SET_FEED_MAX_EVENTS 1000
#define SET_FEED_DEFAULT_EVENTS 100
#define SET_FEED_MAX_BODY (4u * 1024u * 1024u) /* a receiver refuses a larger response */
#define SET_FEED_CURSOR_MAX 24
#define SET_FEED_MAX_REQUEST (64u * 1024u) /* the transmitter refuses a larger request body */

/* The request body for cursor (NULL or "" = from the start) and max_events (clamped into
 * 1..SET_FEED_MAX_EVENTS), with returnImmediately true. Owned string (free); NULL when out of
 * memory. */
char *set_feed_request(const char *cursor, int max_events);

/* Parses a transmitter-side request body (set_feed_request.c has the rules): *max_events
 * (default when absent), since into *since_seq (-1 when absent). IDP_ERR_INVALID / IDP_ERR_JSON
 * / IDP_ERR_TOO_LARGE with a reason that never quotes the input otherwise (the outputs then
 * hold the defaults). */
idp_err set_feed_parse_request(const char *body, size_t len, int *max_events, int64_t *since_seq,
                               idp_error *err);

typedef struct set_feed_result {
    size_t applied;      /* events recorded in the denylist */
    size_t skipped;      /* SETs of event types we do not know (ignored) */
    bool more;           /* moreAvailable */
    char cursor[SET_FEED_CURSOR_MAX]; /* the response's cursor: send it as since next time */
} set_feed_result;

/* Receiver: reads a poll response body; verifies every SET with keys (the issuer's set, algs a
 * JWS_ALG_BIT allow-list, typ secevent+jwt required, iss == issuer, aud == aud when aud is
 * non-NULL; a SET is never accepted with a jwk/jku header key), turns it into a rev_event and
 * denylist_apply's it. All or nothing for the cursor: on any error (a SET that fails
 * verification, a malformed body, a denylist overflow) it returns that error, *r->cursor is left
 * as it was given (the caller polls again from the old cursor) — events applied before the error
 * stay applied (applying twice is harmless). A SET whose kid is not in keys fails with
 * IDP_ERR_JOSE_KEY (the caller asks its JWKS cache for that kid, which may refetch, and polls
 * again). */
idp_err set_feed_apply(const char *body, size_t len, const jwks *keys, unsigned algs,
                       const char *issuer, const char *aud, denylist *d, int64_t now,
                       set_feed_result *r, idp_error *err);

#endif
