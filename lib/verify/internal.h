/* lib/verify internal — shared by the files of libidpd-verify (verify.c: the verifier and the
 * public API; vsrc.c: where the JWKS comes from; vfeed.c: the revocation feed). Not installed.
 *
 * Locking: every jwks_cache_tick and every feed poll runs with v->tick_mu held (the background
 * thread, idpd_verify_tick, or the inline refetch of a tick-driven verifier), so the source and
 * feed state below that is marked "tick_mu" is never touched by two threads at once. */
#ifndef IDPD_LIB_VERIFY_INTERNAL_H
#define IDPD_LIB_VERIFY_INTERNAL_H

#include "idpd/verify.h"

#include "core/buf.h"
#include "core/err.h"
#include "fetch/fetch.h"
#include "jose/jwks_cache.h"
#include "verify/denylist.h"
#include "verify/set_feed.h"
#include "verify/verify_cache.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The JWKS source (vsrc.c). */
typedef struct vsrc {
    char *issuer, *jwks_uri, *jwks_file; /* owned; jwks_uri/jwks_file NULL when not the source */
    bool loopback;
    /* tick_mu: */
    char disc_jwks_uri[FETCH_URL_MAX + 1]; /* from discovery; "" until known */
    bool last_failed;                     /* the last attempt failed: read discovery again */
} vsrc;

/* The revocation feed (vfeed.c); on = false when no feed_url was configured. */
typedef struct vfeed {
    bool on;
    char *url;   /* owned */
    char *authz; /* owned "Bearer <feed_token>"; a secret: wiped on free, never logged */
    int64_t interval_ms, stale_ms;
    denylist *deny;
    /* tick_mu: */
    char cursor[SET_FEED_CURSOR_MAX];
    int64_t next_ms;
    /* read by verifying threads: */
    _Atomic int64_t synced_at_ms; /* last poll that reached the end of the feed; 0 none */
    _Atomic bool ever_synced;
    _Atomic uint64_t applied, polls, failures;
    pthread_mutex_t smu; /* guards last_error and the cursor copy below (stats) */
    char last_error[240];
    char cursor_copy[SET_FEED_CURSOR_MAX];
} vfeed;

struct idpd_verify {
    char *issuer;
    char **auds;
    size_t naud;
    unsigned algs;
    char *typ; /* NULL: not checked */
    int64_t leeway_s;
    bool exp_only;
    int64_t fetch_timeout_ms;
    idpd_verify_skip_fn on_skip;
    void *ctx;
    vsrc src;
    vfeed feed;
    jwks_cache *keys;
    verify_cache *cache; /* NULL when cache_size is 0 */

    pthread_mutex_t tick_mu;
    _Atomic int64_t next_deadline_ms; /* 0 before the first tick */
    /* the background thread */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    bool thr_wake, thr_stop;
    _Atomic bool thr_running;
    pthread_t thr;
};

/* vsrc.c */
/* jwks_cache's fetch hook for v's source. */
idp_err vsrc_fetch(void *ctx, long timeout_ms, idp_buf *body, long *status, int64_t *max_age_s,
                   idp_error *err);
void vsrc_clear(vsrc *s);

/* vfeed.c */
/* One feed round, with tick_mu held: polls when due (several pages when the transmitter has more,
 * bounded per round), applies the SETs, prunes. Returns the ms until it is due again. */
int64_t vfeed_tick(idpd_verify *v, int64_t now_ms);
/* The feed's answer for a verified token: IDPD_VERIFY_OK, or the error (revoked, stale,
 * overflow) in err. */
idpd_verify_code vfeed_check(idpd_verify *v, const json_t *claims, int64_t now_s,
                             idpd_verify_error *err);
/* Before the signature work: UNAVAILABLE when the feed is configured and not fresh. */
idpd_verify_code vfeed_gate(idpd_verify *v, int64_t now_ms, idpd_verify_error *err);
void vfeed_clear(vfeed *f);

static const char *const vfail_names[] = {"", "invalid_token", "invalid_request",
                                          "temporarily_unavailable"};

/* Fills *err (may be NULL) with code, its RFC 6750 name and the reason; returns code. */
static inline __attribute__((format(printf, 3, 4))) idpd_verify_code
vfail(idpd_verify_error *err, idpd_verify_code code, const char *fmt, ...)
{
    if (!err) return code;
    err->code = code;
    err->error = vfail_names[code];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof err->reason, fmt, ap);
    va_end(ap);
    return code;
}

#endif
