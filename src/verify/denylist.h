/* denylist — the in-memory revocation state a verifier holds (issue 14): revoked access-token
 * jtis and users whose older tokens are revoked, filled from rev_events (the revocation feed in
 * libidpd-verify; the store's event table on each idpd node for /forward-auth). Applies the
 * receiver rule of verify/rev_event.h. Depends on core only.
 *
 * Bounded: at most max_jti jti entries and max_sub subject entries. An entry is forgotten after
 * its `until` (denylist_prune, also done on the way by denylist_apply). When an event cannot be
 * recorded because the list is full, denylist_apply returns IDP_ERR_TOO_LARGE and the list turns
 * *overflowed*: denylist_check then answers DENY_UNKNOWN for every token (fail closed: a
 * revocation we could not record must not let its token through) until a prune brings it back
 * under its bounds AND denylist_reset_overflow is called by the feed owner after it re-read the
 * events it missed.
 *
 * Thread safety: any number of threads call denylist_check concurrently with one writer calling
 * denylist_apply / denylist_prune (a reader-writer lock that prefers the writer, so a stream of
 * checks cannot hold a revocation back; checks never allocate). */
#ifndef IDPD_VERIFY_DENYLIST_H
#define IDPD_VERIFY_DENYLIST_H

#include "core/err.h"
#include "verify/rev_event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct denylist denylist;

#define DENYLIST_DEFAULT_MAX_JTI 100000
#define DENYLIST_DEFAULT_MAX_SUB 100000

/* 0 for either bound takes the default. NULL when out of memory. */
denylist *denylist_new(size_t max_jti, size_t max_sub);
void denylist_free(denylist *d); /* accepts NULL */

/* Records ev (copies the subject). Events of one subject merge monotonically: a user keeps the
 * highest epoch, the latest `at` and the latest `until` seen. An event whose until <= now is
 * ignored (IDP_OK). IDP_ERR_TOO_LARGE when full (see above); IDP_ERR_NOMEM. */
idp_err denylist_apply(denylist *d, const rev_event *ev, int64_t now, idp_error *err);

typedef enum deny_result {
    DENY_OK = 0,      /* not revoked as far as this list knows */
    DENY_REVOKED,     /* revoked: its jti, or its user's older tokens */
    DENY_UNKNOWN,     /* the list overflowed: cannot tell (fail closed) */
} deny_result;

/* The receiver rule for one verified access token: jti and sub from its claims (either may be
 * NULL), iat its issued-at (s, 0 when absent). A jti of the form "<random>.<epoch>" (idpd's user
 * tokens) is compared by epoch, any other token of a listed user by iat <= event at. */
deny_result denylist_check(denylist *d, const char *jti, const char *sub, int64_t iat, int64_t now);

/* Drops every entry whose until <= now. Returns how many were dropped. */
size_t denylist_prune(denylist *d, int64_t now);
void denylist_reset_overflow(denylist *d);
bool denylist_overflowed(denylist *d);
/* Forgets every entry and turns the list overflowed (DENY_UNKNOWN for every token), so that a
 * re-read from the start never has a window in which a revoked token passes: the owner calls
 * denylist_reset_overflow once it has applied the events again. */
void denylist_clear(denylist *d);
/* Current entry counts (for metrics and tests). */
void denylist_size(denylist *d, size_t *njti, size_t *nsub);

/* The token_epoch in a user access token's jti "<random>.<epoch>" (idpd's form, see
 * handle/oauth/user_tokens.h): true and *epoch when jti has that form. The one parser of it. */
bool denylist_jti_epoch(const char *jti, int64_t *epoch);

#endif
