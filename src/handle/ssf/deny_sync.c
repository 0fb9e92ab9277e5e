/* deny_sync — every node's own tail of the store's revocation events into its denylist (ssf.h
 * has the contract). The same events POST /ssf/poll serves, read from the store directly (no
 * HTTP, no signatures: the store is this node's own), so /forward-auth on any node sees a
 * revocation made through any node within one background wake-up (poll_interval_ms, or at once
 * on a PostgreSQL NOTIFY). The store's seqs are gapless and in commit order (store.h rev_list),
 * so remembering the last seq applied misses nothing. */
#include "handle/ssf/ssf.h"

#include "core/log.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "verify/denylist.h"
#include "verify/rev_event.h"

#include <stdatomic.h>

/* Applies one page; *n_read rows were read, *stalled when an event could not be recorded. */
rev_event ssf_rev_event(const store_rev_event *row)
{
    return (rev_event){.seq = row->seq,
                       .kind = (rev_kind)row->kind,
                       .subject = row->subject,
                       .epoch = row->epoch,
                       .at = row->at,
                       .until = row->until};
}

static idp_err tail_page(struct app *a, int64_t now, size_t *n_read, bool *stalled, idp_error *err)
{
    store_rev_event *rows = NULL;
    size_t n = 0;
    *n_read = 0;
    *stalled = false;
    idp_err rc = a->st->ops->rev_list(a->st, a->deny_sync.seq, DENY_SYNC_PAGE, &rows, &n, err);
    if (rc != IDP_OK) return rc;
    *n_read = n;
    for (size_t i = 0; i < n; i++) {
        rev_event ev = ssf_rev_event(&rows[i]);
        idp_error e = {0};
        idp_err r = denylist_apply(a->deny, &ev, now, &e);
        if (r == IDP_ERR_TOO_LARGE || r == IDP_ERR_NOMEM) {
            /* the list is overflowed (failing closed); retry this event next time */
            if (!a->deny_sync.overflow_logged)
                log_msg(LOG_ERROR,
                        "revocation list: event %lld not recorded (%s): every token is refused "
                        "by /forward-auth until the list has room again",
                        (long long)ev.seq, e.msg);
            a->deny_sync.overflow_logged = true;
            *stalled = true;
            break;
        }
        if (r != IDP_OK) /* an event no list can hold (the store's CHECKs make it impossible) */
            log_msg(LOG_ERROR, "revocation event %lld skipped: %s", (long long)ev.seq, e.msg);
        else
            atomic_fetch_add_explicit(&a->deny_sync.applied, 1, memory_order_relaxed);
        a->deny_sync.seq = ev.seq;
    }
    store_rev_event_list_free(rows, n);
    return IDP_OK;
}

/* Up to max_pages pages; *caught_up when the newest event was reached with every event
 * recorded. */
static idp_err tail(struct app *a, size_t max_pages, bool *caught_up, idp_error *err)
{
    *caught_up = false;
    for (size_t p = 0; p < max_pages; p++) {
        size_t n = 0;
        bool stalled = false;
        idp_err rc = tail_page(a, time_now(), &n, &stalled, err);
        if (rc != IDP_OK || stalled) return rc;
        if (n < DENY_SYNC_PAGE) {
            *caught_up = true;
            break;
        }
    }
    if (*caught_up) {
        atomic_store(&a->deny_sync.synced_ms, time_now_ms());
        /* every event missed while full is recorded now (denylist.h: the owner resets) */
        if (denylist_overflowed(a->deny)) {
            denylist_reset_overflow(a->deny);
            log_msg(LOG_INFO, "revocation list: every event recorded again, overflow cleared");
        }
        a->deny_sync.overflow_logged = false;
    }
    return IDP_OK;
}

/* Records this server's token bounds (store.h rev_bound_raise). */
static void bound_raise(struct app *a)
{
    idp_error e = {0};
    bool ok =
        a->st->ops->rev_bound_raise(a->st, a->cfg->max_token_ttl, a->cfg->leeway, &e) == IDP_OK;
    if (!ok && !a->deny_sync.bound_pending)
        log_msg(LOG_ERROR, "revocation bounds not recorded (retrying): %s", e.msg);
    else if (ok && a->deny_sync.bound_pending)
        log_msg(LOG_INFO, "revocation bounds recorded");
    a->deny_sync.bound_pending = !ok;
}

idp_err deny_sync_start(struct app *a, idp_error *err)
{
    idp_err rc = IDP_OK;
    a->deny_sync.bound_pending = false;
    bound_raise(a);
    a->deny_sync.seq = 0; /* from the oldest retained event: the complete state (rev_event.h) */
    bool caught_up = false;
    /* no page limit: the store bounds the events by their until, and the list by its size */
    while (!caught_up) {
        int64_t before = a->deny_sync.seq;
        if ((rc = tail(a, DENY_SYNC_MAX_PAGES, &caught_up, err)) != IDP_OK) return rc;
        if (!caught_up && a->deny_sync.seq == before) break; /* overflowed: logged, fail closed */
    }
    return IDP_OK;
}

void deny_sync_tick(struct app *a)
{
    idp_error e = {0};
    bool caught_up = false;
    if (a->deny_sync.bound_pending) bound_raise(a);
    if (tail(a, DENY_SYNC_MAX_PAGES, &caught_up, &e) != IDP_OK)
        log_msg(LOG_ERROR, "revocation events: %s", e.msg);
}

void deny_sync_prune(struct app *a)
{
    idp_error e = {0};
    int64_t now = time_now(), n = 0;
    denylist_prune(a->deny, now);
    if (a->st->ops->rev_prune(a->st, now, &n, &e) != IDP_OK)
        log_msg(LOG_ERROR, "revocation events prune: %s", e.msg);
    else if (n)
        log_msg(LOG_INFO, "revocation events: pruned %lld expired", (long long)n);
    /* the bounds only grow (store.h); again here in case another node's start raced ours */
    bound_raise(a);
}
