/* Unit tests for deny_sync (src/handle/ssf/deny_sync.c): a node's tail of the store's revocation
 * events into its denylist, on a real SQLite store — the start reads every retained event from
 * the oldest, each tick applies what is new, a full list fails closed and keeps its place until a
 * prune makes room, then every missed event is recorded and the overflow cleared. */
#include "testutil.h"

#include "core/cfg.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "handle/ssf/ssf.h"
#include "store/store.h"
#include "verify/denylist.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fixture {
    char *dir;
    cfg c;
    struct app a;
} fixture;

static fixture *fx_new(size_t max_jti)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/idpd.db", f->dir);
    assert_int_equal(store_open(path, true, &f->a.st, NULL), IDP_OK);
    /* a 1 s lifetime and leeway: a jti's event ends 1 s after the token's exp */
    f->c.max_token_ttl = 1;
    f->c.leeway = 1;
    f->a.cfg = &f->c;
    f->a.deny = denylist_new(max_jti, 4);
    assert_non_null(f->a.deny);
    return f;
}

static void fx_free(fixture *f)
{
    denylist_free(f->a.deny);
    store_close(f->a.st);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
}

static void revoke_jti(fixture *f, const char *jti, int64_t exp)
{
    assert_int_equal(store_jti_revoke(f->a.st, jti, exp, NULL), IDP_OK);
}

static deny_result check(fixture *f, const char *jti)
{
    return denylist_check(f->a.deny, jti, "someone", time_now(), time_now());
}

static void start_reads_everything_then_ticks_follow(void **state)
{
    (void)state;
    fixture *f = fx_new(0);
    int64_t now = time_now();
    /* events retained before this node starts: more than one page is not needed to show the
     * start reads from the oldest */
    revoke_jti(f, "t1", now + 600);
    revoke_jti(f, "t2", now + 600);
    revoke_jti(f, "t3", now + 600);
    assert_int_equal(deny_sync_start(&f->a, NULL), IDP_OK);
    assert_int_equal(f->a.deny_sync.seq, 3);
    assert_int_equal(atomic_load(&f->a.deny_sync.applied), 3);
    assert_true(atomic_load(&f->a.deny_sync.synced_ms) > 0);
    assert_int_equal(check(f, "t1"), DENY_REVOKED);
    assert_int_equal(check(f, "t3"), DENY_REVOKED);
    assert_int_equal(check(f, "t4"), DENY_OK);
    /* nothing new: a tick changes nothing */
    deny_sync_tick(&f->a);
    assert_int_equal(f->a.deny_sync.seq, 3);
    /* a revocation made later (by any node or the CLI) is seen on the next tick */
    revoke_jti(f, "t4", now + 600);
    deny_sync_tick(&f->a);
    assert_int_equal(f->a.deny_sync.seq, 4);
    assert_int_equal(check(f, "t4"), DENY_REVOKED);
    assert_int_equal(atomic_load(&f->a.deny_sync.applied), 4);
    /* the start recorded this server's bounds: a new jti event ends at exp + leeway (1 s) */
    store_rev_event *rows = NULL;
    size_t n = 0;
    assert_int_equal(f->a.st->ops->rev_list(f->a.st, 3, 10, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].until, now + 601);
    store_rev_event_list_free(rows, n);
    fx_free(f);
}

static void overflow_fails_closed_until_room(void **state)
{
    (void)state;
    fixture *f = fx_new(2);                                 /* room for two revoked jtis */
    assert_int_equal(deny_sync_start(&f->a, NULL), IDP_OK); /* empty store; raises the bounds */
    int64_t now = time_now();
    revoke_jti(f, "short-1", now + 1); /* until now + 2 */
    revoke_jti(f, "short-2", now + 1);
    revoke_jti(f, "long", now + 600);
    deny_sync_tick(&f->a);
    /* the third could not be recorded: every token is refused, the place is kept */
    assert_true(denylist_overflowed(f->a.deny));
    assert_int_equal(check(f, "unrelated"), DENY_UNKNOWN);
    assert_int_equal(f->a.deny_sync.seq, 2);
    assert_true(f->a.deny_sync.overflow_logged);
    int64_t synced = atomic_load(&f->a.deny_sync.synced_ms);
    /* still full on the next tick: still failing closed, still at the same place */
    deny_sync_tick(&f->a);
    assert_int_equal(f->a.deny_sync.seq, 2);
    assert_int_equal(check(f, "unrelated"), DENY_UNKNOWN);
    assert_int_equal(atomic_load(&f->a.deny_sync.synced_ms), synced);
    /* once the short ones are past their until, the prune makes room (and deletes their events
     * from the store); the next tick records the missed event and clears the overflow */
    while (time_now() <= now + 2)
        usleep(100 * 1000);
    deny_sync_prune(&f->a);
    store_rev_event *rows = NULL;
    size_t n = 0;
    assert_int_equal(f->a.st->ops->rev_list(f->a.st, 0, 10, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 1); /* only "long" is retained */
    assert_string_equal(rows[0].subject, "long");
    store_rev_event_list_free(rows, n);
    deny_sync_tick(&f->a);
    assert_false(denylist_overflowed(f->a.deny));
    assert_false(f->a.deny_sync.overflow_logged);
    assert_int_equal(f->a.deny_sync.seq, 3);
    assert_int_equal(check(f, "long"), DENY_REVOKED);
    assert_int_equal(check(f, "unrelated"), DENY_OK);
    assert_true(atomic_load(&f->a.deny_sync.synced_ms) >= synced);
    fx_free(f);
}

static void start_on_a_full_list_keeps_failing_closed(void **state)
{
    (void)state;
    fixture *f = fx_new(1);
    int64_t now = time_now();
    revoke_jti(f, "a", now + 600);
    revoke_jti(f, "b", now + 600);
    /* the start does not loop forever on a list that cannot take the events */
    assert_int_equal(deny_sync_start(&f->a, NULL), IDP_OK);
    assert_true(denylist_overflowed(f->a.deny));
    assert_int_equal(check(f, "c"), DENY_UNKNOWN);
    assert_int_equal(f->a.deny_sync.seq, 1);
    assert_int_equal(atomic_load(&f->a.deny_sync.synced_ms), 0);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(start_reads_everything_then_ticks_follow),
        cmocka_unit_test(overflow_fails_closed_until_room),
        cmocka_unit_test(start_on_a_full_list_keeps_failing_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
