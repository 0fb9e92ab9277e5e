/* rev_event — one revocation event of idpd's revocation feed (issue 14), and its Security Event
 * Token form (RFC 8417) with Shared Signals / CAEP / RISC event types. Shared by the transmitter
 * (handle/ssf: POST /ssf/poll signs one SET per event) and every receiver (libidpd-verify, and
 * /forward-auth on each node, which reads the same events from the store instead of HTTP).
 * Depends on core only (jansson).
 *
 * The events, and what a receiver does with each (the "receiver rule"):
 *
 *   kind                  event type URI (payload "events" member)                 sub_id format
 *   REV_TOKEN_REVOKED     https://schemas.openid.net/secevent/caep/event-type/session-revoked
 *                                                                                  jwt_id {iss, jti}
 *   REV_USER_DISABLED     https://schemas.openid.net/secevent/risc/event-type/account-disabled
 *                                                                                  iss_sub {iss, sub}
 *   REV_USER_DELETED      https://schemas.openid.net/secevent/risc/event-type/account-purged
 *                                                                                  iss_sub {iss, sub}
 *   REV_USER_CHANGED      https://schemas.openid.net/secevent/caep/event-type/token-claims-change
 *                                                                                  iss_sub {iss, sub}
 *
 *  - REV_TOKEN_REVOKED: the access token with that jti is revoked (RFC 7009) — reject it.
 *  - REV_USER_*: every access token of user `sub` issued before the event is revoked (deactivation,
 *    deletion, or a group/role change that bumped the user's token_epoch). A token of ours whose
 *    jti has the form "<random>.<epoch>" is revoked when epoch < event.epoch (exact, no clocks);
 *    any other token of that sub is revoked when its iat <= event.at (seconds).
 *  - Every event carries `until`: no token it concerns is valid after it (the token's exp, or the
 *    event time plus the longest access-token lifetime plus leeway). A receiver forgets the event
 *    after `until`; the transmitter prunes it then too. So a receiver that starts from the oldest
 *    retained event holds the complete revocation state.
 *
 * SET payload (RFC 8417 §2.2; SSF 1.0 §4: one event per SET, subject in the top-level `sub_id`,
 * RFC 9493 formats; "jwt_id" is SSF's format for one JWT):
 *   {"iss": ISSUER, "jti": "rev-<seq>", "iat": NOW, "aud": AUD?,
 *    "sub_id": {"format": "jwt_id", "iss": ISSUER, "jti": JTI}        (or "iss_sub" with "sub"),
 *    "events": {URI: {"event_timestamp": AT, "until": UNTIL, "token_epoch": EPOCH?,
 *                     "reason_admin": {"en": "..."}?}}}
 * header {"alg": ..., "kid": ..., "typ": "secevent+jwt"} (RFC 8417 §2.3). `until` and
 * `token_epoch` are idpd's additions to the event members (CAEP allows extra members); token_epoch
 * is present for REV_USER_* only. No SET carries `exp` or `sub` (RFC 8417 §2.2: a SET must not be
 * mistaken for an access or ID token). */
#ifndef IDPD_VERIFY_REV_EVENT_H
#define IDPD_VERIFY_REV_EVENT_H

#include "core/err.h"

#include <jansson.h>
#include <stdint.h>

#define REV_SET_TYP "secevent+jwt"

typedef enum rev_kind {
    REV_TOKEN_REVOKED = 1,
    REV_USER_DISABLED = 2,
    REV_USER_DELETED = 3,
    REV_USER_CHANGED = 4,
} rev_kind;

typedef struct rev_event {
    int64_t seq;         /* transmitter's order; the SET jti is "rev-<seq>"; the poll cursor */
    rev_kind kind;
    const char *subject; /* the jti (REV_TOKEN_REVOKED) or the user id (REV_USER_*) */
    int64_t epoch;       /* REV_USER_*: the user's token_epoch after the event; 0 otherwise */
    int64_t at;          /* s: when it happened (event_timestamp) */
    int64_t until;       /* s: no token it concerns is valid after this */
} rev_event;

/* The event type URI of kind; NULL when kind is not a rev_kind. */
const char *rev_event_type_uri(rev_kind kind);
/* The kind of an event type URI; 0 when it is none of ours. */
rev_kind rev_event_kind_of(const char *uri);

/* The SET payload of ev for issuer (aud may be NULL: then no aud claim), iat = now.
 * New reference; NULL only when out of memory. */
json_t *rev_event_to_set(const rev_event *ev, const char *issuer, const char *aud, int64_t now);

/* Reads a verified SET payload (signature, typ and iss already checked by the caller) into *ev.
 * ev->subject points into payload (valid while payload lives). Checks: exactly one member in
 * `events`, a known type URI, sub_id of the format that kind needs whose iss equals issuer,
 * jti "rev-<digits>", integer event_timestamp and until (until >= event_timestamp), token_epoch a
 * non-negative integer for REV_USER_*. IDP_ERR_INVALID with the reason otherwise. A single
 * event of a type that is none of ours is IDP_ERR_NOT_FOUND (a receiver skips that SET: RFC 8417
 * §2.2 lets a recipient ignore events it does not understand). */
idp_err rev_event_from_set(const json_t *payload, const char *issuer, rev_event *ev,
                           idp_error *err);

#endif
