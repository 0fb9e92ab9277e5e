/* Unit tests for src/verify/denylist.c: the receiver rule of verify/rev_event.h, monotonic
 * merging, expiry and prune, the bounds and fail-closed overflow, the jti epoch parser, and
 * concurrent readers with one writer. */
#include "testutil.h"

#include "verify/denylist.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NOW 1700000000

static rev_event ev(rev_kind kind, const char *subject, int64_t epoch, int64_t at, int64_t until)
{
    return (rev_event){
        .seq = 1, .kind = kind, .subject = subject, .epoch = epoch, .at = at, .until = until};
}

static void apply_ok(denylist *d, rev_event e)
{
    idp_error err = {0};
    idp_err rc = denylist_apply(d, &e, NOW, &err);
    if (rc) fail_msg("apply: %s", err.msg);
}

static void jti_epoch_parser(void **state)
{
    (void)state;
    int64_t e = -1;
    assert_true(denylist_jti_epoch("abc.0", &e));
    assert_int_equal(e, 0);
    assert_true(denylist_jti_epoch("Xy_-9.42", &e));
    assert_int_equal(e, 42);
    assert_true(denylist_jti_epoch("abc.999999999999999999", &e));
    assert_int_equal(e, 999999999999999999ll);
    assert_false(denylist_jti_epoch("abc.9999999999999999999", &e)); /* would overflow */
    assert_false(denylist_jti_epoch("abcdef", &e));                  /* a client token's jti */
    assert_false(denylist_jti_epoch("abc.", &e));
    assert_false(denylist_jti_epoch(".5", &e));
    assert_false(denylist_jti_epoch("abc.4x", &e));
    assert_false(denylist_jti_epoch("abc.-1", &e));
    assert_false(denylist_jti_epoch("abc.+1", &e));
    assert_false(denylist_jti_epoch("abc. 1", &e));
    assert_false(denylist_jti_epoch("a.b.1", &e));
    assert_false(denylist_jti_epoch(NULL, &e));
    assert_false(denylist_jti_epoch("", &e));
}

static void token_revoked(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    assert_non_null(d);
    assert_int_equal(denylist_check(d, "j1", "u1", NOW - 10, NOW), DENY_OK);
    apply_ok(d, ev(REV_TOKEN_REVOKED, "j1", 0, NOW - 5, NOW + 100));
    assert_int_equal(denylist_check(d, "j1", "u1", NOW - 10, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "j1", NULL, 0, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "j2", "u1", NOW - 10, NOW), DENY_OK);
    assert_int_equal(denylist_check(d, NULL, NULL, 0, NOW), DENY_OK);
    /* an entry past its until no longer counts, even before a prune */
    assert_int_equal(denylist_check(d, "j1", NULL, 0, NOW + 100), DENY_OK);
    size_t nj = 9, ns = 9;
    denylist_size(d, &nj, &ns);
    assert_int_equal(nj, 1);
    assert_int_equal(ns, 0);
    denylist_free(d);
}

static void user_rule_by_epoch(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    apply_ok(d, ev(REV_USER_CHANGED, "u1", 3, NOW - 5, NOW + 100));
    /* idpd's tokens: exact by epoch, whatever their iat */
    assert_int_equal(denylist_check(d, "rnd.2", "u1", NOW + 50, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "rnd.3", "u1", NOW - 50, NOW), DENY_OK);
    assert_int_equal(denylist_check(d, "rnd.4", "u1", NOW - 50, NOW), DENY_OK);
    /* another user's token */
    assert_int_equal(denylist_check(d, "rnd.0", "u2", NOW - 50, NOW), DENY_OK);
    denylist_free(d);
}

static void user_rule_by_iat(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    apply_ok(d, ev(REV_USER_DISABLED, "u1", 3, NOW - 5, NOW + 100));
    /* a jti without an epoch: iat <= at is revoked */
    assert_int_equal(denylist_check(d, "opaque", "u1", NOW - 6, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "opaque", "u1", NOW - 5, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "opaque", "u1", NOW - 4, NOW), DENY_OK);
    assert_int_equal(denylist_check(d, NULL, "u1", NOW - 4, NOW), DENY_OK);
    assert_int_equal(denylist_check(d, NULL, "u1", 0, NOW), DENY_REVOKED); /* no iat */
    denylist_free(d);
}

static void merge_is_monotonic(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    apply_ok(d, ev(REV_USER_CHANGED, "u1", 5, NOW - 5, NOW + 100));
    /* an older event arriving late lowers nothing */
    apply_ok(d, ev(REV_USER_DISABLED, "u1", 2, NOW - 50, NOW + 10));
    assert_int_equal(denylist_check(d, "r.4", "u1", 0, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "o", "u1", NOW - 6, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "r.4", "u1", 0, NOW + 50), DENY_REVOKED); /* until kept */
    /* a newer one raises epoch, at and until */
    apply_ok(d, ev(REV_USER_DELETED, "u1", 7, NOW + 1, NOW + 200));
    assert_int_equal(denylist_check(d, "r.6", "u1", 0, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "r.7", "u1", 0, NOW), DENY_OK);
    assert_int_equal(denylist_check(d, "o", "u1", NOW + 1, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "o", "u1", NOW, NOW + 150), DENY_REVOKED);
    size_t ns = 0;
    denylist_size(d, NULL, &ns);
    assert_int_equal(ns, 1);
    /* applying the same event again is harmless */
    apply_ok(d, ev(REV_USER_DELETED, "u1", 7, NOW + 1, NOW + 200));
    denylist_size(d, NULL, &ns);
    assert_int_equal(ns, 1);
    denylist_free(d);
}

static void expired_event_ignored_and_prune(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    apply_ok(d, ev(REV_TOKEN_REVOKED, "old", 0, NOW - 100, NOW)); /* until <= now: ignored */
    size_t nj = 9, ns = 9;
    denylist_size(d, &nj, &ns);
    assert_int_equal(nj, 0);
    apply_ok(d, ev(REV_TOKEN_REVOKED, "a", 0, NOW, NOW + 10));
    apply_ok(d, ev(REV_TOKEN_REVOKED, "b", 0, NOW, NOW + 20));
    apply_ok(d, ev(REV_USER_CHANGED, "u", 1, NOW, NOW + 10));
    assert_int_equal(denylist_prune(d, NOW + 5), 0);
    assert_int_equal(denylist_prune(d, NOW + 10), 2);
    denylist_size(d, &nj, &ns);
    assert_int_equal(nj, 1);
    assert_int_equal(ns, 0);
    assert_int_equal(denylist_check(d, "b", NULL, 0, NOW + 10), DENY_REVOKED);
    denylist_clear(d);
    denylist_size(d, &nj, &ns);
    assert_int_equal(nj + ns, 0);
    assert_int_equal(denylist_check(d, "b", NULL, 0, NOW + 10), DENY_UNKNOWN); /* closed */
    denylist_free(d);
}

static void bad_events(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    idp_error err = {0};
    rev_event e = ev(REV_TOKEN_REVOKED, NULL, 0, NOW, NOW + 10);
    assert_int_equal(denylist_apply(d, &e, NOW, &err), IDP_ERR_INVALID);
    e.subject = "";
    assert_int_equal(denylist_apply(d, &e, NOW, &err), IDP_ERR_INVALID);
    e = ev((rev_kind)99, "x", 0, NOW, NOW + 10);
    assert_int_equal(denylist_apply(d, &e, NOW, &err), IDP_ERR_INVALID);
    assert_false(denylist_overflowed(d));
    /* a subject too long to record: fail closed like a full list */
    char big[2048];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    e = ev(REV_TOKEN_REVOKED, big, 0, NOW, NOW + 10);
    assert_int_equal(denylist_apply(d, &e, NOW, &err), IDP_ERR_TOO_LARGE);
    assert_true(denylist_overflowed(d));
    assert_int_equal(denylist_check(d, "other", NULL, 0, NOW), DENY_UNKNOWN);
    denylist_free(d);
}

static void overflow_fails_closed(void **state)
{
    (void)state;
    denylist *d = denylist_new(3, 2);
    idp_error err = {0};
    apply_ok(d, ev(REV_TOKEN_REVOKED, "a", 0, NOW, NOW + 10));
    apply_ok(d, ev(REV_TOKEN_REVOKED, "b", 0, NOW, NOW + 100));
    apply_ok(d, ev(REV_TOKEN_REVOKED, "c", 0, NOW, NOW + 100));
    apply_ok(d, ev(REV_TOKEN_REVOKED, "a", 0, NOW, NOW + 20)); /* merge: no new slot */
    rev_event e = ev(REV_TOKEN_REVOKED, "d", 0, NOW, NOW + 100);
    assert_int_equal(denylist_apply(d, &e, NOW, &err), IDP_ERR_TOO_LARGE);
    assert_true(denylist_overflowed(d));
    assert_int_equal(denylist_check(d, "zzz", "u", NOW, NOW), DENY_UNKNOWN);
    assert_int_equal(denylist_check(d, NULL, NULL, 0, NOW), DENY_UNKNOWN);
    /* the sub table is bounded on its own */
    apply_ok(d, ev(REV_USER_CHANGED, "u1", 1, NOW, NOW + 100));
    apply_ok(d, ev(REV_USER_CHANGED, "u2", 1, NOW, NOW + 100));
    e = ev(REV_USER_CHANGED, "u3", 1, NOW, NOW + 100);
    assert_int_equal(denylist_apply(d, &e, NOW, &err), IDP_ERR_TOO_LARGE);
    /* once "a" has expired, the apply prunes it on the way and makes room */
    e = ev(REV_TOKEN_REVOKED, "d", 0, NOW, NOW + 100);
    assert_int_equal(denylist_apply(d, &e, NOW + 20, &err), IDP_OK);
    /* still overflowed until the owner re-read what it missed and says so */
    assert_int_equal(denylist_check(d, "zzz", NULL, 0, NOW + 20), DENY_UNKNOWN);
    denylist_reset_overflow(d);
    assert_false(denylist_overflowed(d));
    assert_int_equal(denylist_check(d, "zzz", NULL, 0, NOW + 20), DENY_OK);
    assert_int_equal(denylist_check(d, "d", NULL, 0, NOW + 20), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "a", NULL, 0, NOW + 20), DENY_OK);
    /* clear does not end the overflow: it empties the list and keeps it closed until the
     * owner has re-read the events (a re-read must not open a window for revoked tokens) */
    e = ev(REV_TOKEN_REVOKED, "e", 0, NOW, NOW + 100);
    assert_int_equal(denylist_apply(d, &e, NOW + 20, &err), IDP_ERR_TOO_LARGE);
    assert_true(denylist_overflowed(d));
    denylist_clear(d);
    assert_true(denylist_overflowed(d));
    assert_int_equal(denylist_check(d, "a", NULL, 0, NOW + 20), DENY_UNKNOWN);
    apply_ok(d, e);
    denylist_reset_overflow(d);
    assert_false(denylist_overflowed(d));
    assert_int_equal(denylist_check(d, "e", NULL, 0, NOW + 20), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "a", NULL, 0, NOW + 20), DENY_OK);
    denylist_free(d);
}

static void many_entries(void **state)
{
    (void)state;
    denylist *d = denylist_new(5000, 5000);
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "jti-%d", i);
        apply_ok(d, ev(REV_TOKEN_REVOKED, k, 0, NOW, NOW + 1 + i));
        snprintf(k, sizeof k, "user-%d", i);
        apply_ok(d, ev(REV_USER_CHANGED, k, i, NOW, NOW + 1 + i));
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "jti-%d", i);
        assert_int_equal(denylist_check(d, k, NULL, 0, NOW), DENY_REVOKED);
    }
    assert_int_equal(denylist_check(d, "jti-5000", NULL, 0, NOW), DENY_OK);
    assert_int_equal(denylist_check(d, "r.0", "user-1", 0, NOW), DENY_REVOKED);
    assert_int_equal(denylist_check(d, "r.1", "user-1", 0, NOW), DENY_OK);
    assert_int_equal(denylist_prune(d, NOW + 2500), 2 * 2500);
    size_t nj = 0, ns = 0;
    denylist_size(d, &nj, &ns);
    assert_int_equal(nj, 2500);
    assert_int_equal(ns, 2500);
    denylist_free(d);
}

/* Readers run denylist_check while one writer applies and prunes (run under TSan/ASan). */
typedef struct {
    denylist *d;
    int revoked;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    for (int i = 0; i < 20000; i++)
        if (denylist_check(a->d, "fixed", "u", NOW, NOW) == DENY_REVOKED) a->revoked++;
    return NULL;
}

static void concurrent_readers(void **state)
{
    (void)state;
    denylist *d = denylist_new(0, 0);
    apply_ok(d, ev(REV_TOKEN_REVOKED, "fixed", 0, NOW, NOW + 1000));
    pthread_t t[4];
    reader_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (reader_arg){.d = d};
        assert_int_equal(pthread_create(&t[i], NULL, reader, &args[i]), 0);
    }
    char k[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "w-%d", i);
        apply_ok(d, ev(REV_TOKEN_REVOKED, k, 0, NOW, NOW + 1 + i % 7));
        if (i % 500 == 0) denylist_prune(d, NOW + 3);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].revoked, 20000); /* never lost while the table grew */
    }
    denylist_free(d);
}

/* Fail closed under concurrency: 4 readers check a revoked jti and a revoked user's old token
 * while one writer fills a small list past its bound (overflow), prunes and resets over and
 * over. Whatever the interleaving a reader never sees DENY_OK for either: only DENY_REVOKED
 * or, while overflowed, DENY_UNKNOWN (run under ASan). */
typedef struct {
    denylist *d;
    _Atomic int *stop;
    int ok, unknown, revoked;
} closed_arg;

static void *closed_reader(void *p)
{
    closed_arg *a = p;
    /* at least 2000 rounds each, so every reader overlaps the writer whatever the scheduling */
    for (int n = 0; n < 2000 || !*a->stop; n++) {
        deny_result r[3] = {denylist_check(a->d, "fixed", NULL, 0, NOW),
                            denylist_check(a->d, "x.1", "user", 0, NOW),
                            denylist_check(a->d, NULL, "user", NOW - 1, NOW)};
        for (int i = 0; i < 3; i++) {
            if (r[i] == DENY_OK) a->ok++;
            else if (r[i] == DENY_UNKNOWN) a->unknown++;
            else a->revoked++;
        }
        size_t nj = 0, ns = 0;
        denylist_size(a->d, &nj, &ns);
        if (nj > 32 || ns > 4) a->ok++; /* a bound broken counts as a failure too */
    }
    return NULL;
}

static void concurrent_overflow_fails_closed(void **state)
{
    (void)state;
    denylist *d = denylist_new(32, 4);
    _Atomic int stop = 0;
    /* the two long-lived revocations every reader checks */
    rev_event fixed = ev(REV_TOKEN_REVOKED, "fixed", 0, NOW, NOW + 100000);
    rev_event user = ev(REV_USER_CHANGED, "user", 2, NOW, NOW + 100000);
    apply_ok(d, fixed);
    apply_ok(d, user);
    pthread_t t[4];
    closed_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (closed_arg){.d = d, .stop = &stop};
        assert_int_equal(pthread_create(&t[i], NULL, closed_reader, &args[i]), 0);
    }
    char k[32];
    idp_error err = {0};
    int overflows = 0;
    for (int round = 0; round < 50; round++) {
        /* short-lived entries until the list is full and overflows */
        for (int i = 0; i < 40; i++) {
            snprintf(k, sizeof k, "r%d-%d", round, i);
            rev_event e = ev(REV_TOKEN_REVOKED, k, 0, NOW, NOW + 5);
            if (denylist_apply(d, &e, NOW, &err) == IDP_ERR_TOO_LARGE) {
                overflows++;
                break;
            }
        }
        denylist_prune(d, NOW + 5); /* the short ones go; fixed and user stay */
        denylist_reset_overflow(d);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].ok, 0); /* never fail open */
        assert_true(args[i].revoked > 0);
    }
    assert_int_equal(overflows, 50);
    denylist_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jti_epoch_parser),   cmocka_unit_test(token_revoked),
        cmocka_unit_test(user_rule_by_epoch), cmocka_unit_test(user_rule_by_iat),
        cmocka_unit_test(merge_is_monotonic), cmocka_unit_test(expired_event_ignored_and_prune),
        cmocka_unit_test(bad_events),         cmocka_unit_test(overflow_fails_closed),
        cmocka_unit_test(many_entries),       cmocka_unit_test(concurrent_readers),
        cmocka_unit_test(concurrent_overflow_fails_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
