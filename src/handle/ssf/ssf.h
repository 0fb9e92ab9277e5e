/* ssf — the transmitter side of idpd's revocation feed (issue 14, docs/REVOCATION_FEED.md), in
 * the handle library:
 *  - ssf_poll_handle: POST /ssf/poll, the RFC 8936 poll of the store's revocation events as SETs
 *    (RFC 8417) signed with the current signing key; the wire form is verify/set_feed.h.
 *  - deny_sync_*: the background task of every node that tails the same events into the node's
 *    own denylist (app->deny), so /forward-auth answers from memory (deny_sync.c).
 * Rows in server/router.c (the route) and server/app.c (the tasks) call them. */
#ifndef IDPD_HANDLE_SSF_SSF_H
#define IDPD_HANDLE_SSF_SSF_H

#include "core/err.h"
#include "http/request.h"
#include "http/response.h"
#include "store/store.h"
#include "verify/rev_event.h"

struct app;

/* The realm of the feed's RFC 6750 challenges. */
#define SSF_REALM "idpd-ssf"

/* POST /ssf/poll (poll.c). Its errors are rendered here, in the RFC 8936 §2.6 / RFC 8935 §2.3
 * shape {"err": code, "description": text} (status from the idp_err table like every other
 * endpoint; 5xx with a generic description, the detail logged): err is authentication_failed
 * (401), access_denied (403), invalid_request (400, 413, 415), slow_down (429),
 * temporarily_unavailable (503, the store could not be read) or server_error (500). */
idp_err ssf_poll_handle(struct app *a, http_request *rq, http_response *rs, idp_error *err);

/* deny_sync.c: the revocation events of the store tailed into a->deny, on the background thread
 * only (a->deny_sync holds the position).
 *  - deny_sync_start (app_init, before the server takes requests): records the server's
 *    access-token bounds in the store (rev_bound_raise: max_token_ttl, leeway) and reads every
 *    retained event from the oldest, so a node never answers from an empty list. A store that
 *    cannot be read fails the start. One that cannot be written (a full disk) does not: the
 *    bounds are then retried on every tick until recorded, logged once; meanwhile no event can
 *    be written either (the same store), so none gets an until computed from a lower bound.
 *  - deny_sync_tick (every wake-up): applies the events after the last one applied, at most
 *    DENY_SYNC_MAX_PAGES pages of DENY_SYNC_PAGE per call. A full denylist (denylist_apply
 *    IDP_ERR_TOO_LARGE) leaves it overflowed, i.e. failing closed (DENY_UNKNOWN for every token),
 *    logged once; the event is retried on each tick, and once every event up to the newest is
 *    recorded the overflow is reset (denylist.h). A store error is logged and retried next tick
 *    (a->deny_sync.synced_ms then stops advancing: a consumer may refuse a stale list).
 *  - deny_sync_prune (the prune interval): drops expired entries (denylist_prune), deletes
 *    expired events from the store (rev_prune) and raises the stored bounds again. */
#define DENY_SYNC_PAGE 1000
#define DENY_SYNC_MAX_PAGES 20
/* A stored event as verify/rev_event.h's event (borrows row->subject): the one mapping the feed
 * and the node's tail share. */
rev_event ssf_rev_event(const store_rev_event *row);

idp_err deny_sync_start(struct app *a, idp_error *err);
void deny_sync_tick(struct app *a);
void deny_sync_prune(struct app *a);

#endif
