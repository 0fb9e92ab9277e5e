/* store contract suite, revocation events (issue 14; store.h rev_list / rev_bound_raise /
 * rev_prune): each trigger fires with the right kind, subject, epoch and until; nothing is
 * written by a change that rolls back; seqs are gapless and in commit order under concurrent
 * writers; the bounds only grow; prune drops what passed its until. Through the ops table only,
 * so every backend runs the same cases (store_contract_run calls store_contract_rev_run). */
#include "store_contract.h"

#include "core/timeutil.h"
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const store_contract_backend *backend;

typedef struct fx {
    store *st;
    void *ctx;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f || !(f->st = backend->open(&f->ctx))) fail_msg("%s: open failed", backend->name);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    backend->close(f->st, f->ctx);
    free(f);
    return 0;
}

static void user(store *st, const char *id, const char *name)
{
    store_user u = {.id = (char *)id, .user_name = (char *)name, .active = true, .doc = "{}"};
    idp_error e = {0};
    if (st->ops->user_create(st, &u, &e)) fail_msg("user_create: %s", e.msg);
}

/* Every retained event after seq (fails the case on a store error). */
static store_rev_event *events(store *st, int64_t after, size_t *n)
{
    store_rev_event *rows = NULL;
    idp_error e = {0};
    if (st->ops->rev_list(st, after, STORE_REV_LIST_MAX, &rows, n, &e))
        fail_msg("rev_list: %s", e.msg);
    return rows;
}

static size_t count(store *st)
{
    size_t n = 0;
    store_rev_event_list_free(events(st, 0, &n), n);
    return n;
}

static void c_rev_triggers(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    assert_int_equal(st->ops->rev_bound_raise(st, 3600, 30, &e), IDP_OK);
    user(st, "u1", "alice");
    user(st, "u2", "bob");
    assert_int_equal(count(st), 0); /* creating users is no revocation */
    int64_t t0 = time_now();
    /* a revoked jti: REV_TOKEN_REVOKED, until = exp + leeway */
    assert_int_equal(store_jti_revoke(st, "jti-1", t0 + 300, &e), IDP_OK);
    assert_int_equal(store_jti_revoke(st, "jti-1", t0 + 300, &e), IDP_OK); /* again: no event */
    /* deactivation bumps the epoch: REV_USER_DISABLED */
    store_user u = {.id = "u1", .user_name = "alice", .active = false, .doc = "{}"};
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK);
    /* a replace that leaves the epoch alone writes nothing */
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK);
    /* a new password moves the epoch of an active user: REV_USER_CHANGED */
    store_user v = {.id = "u2", .user_name = "bob", .active = true, .doc = "{}",
                    .password_hash = "$argon2id$x"};
    assert_int_equal(st->ops->user_replace(st, &v, 0, &e), IDP_OK);
    /* leaving a group: REV_USER_CHANGED */
    store_group g = {.id = "g1", .display_name = "G", .doc = "{}"};
    scim_delta d = {0};
    scim_delta_add(&d, "u2");
    assert_int_equal(st->ops->group_create(st, &g, &d, &e), IDP_OK);
    scim_delta_clear(&d);
    scim_delta_remove(&d, "u2");
    assert_int_equal(st->ops->group_replace(st, &g, &d, 0, &e), IDP_OK);
    scim_delta_clear(&d);
    /* deletion: REV_USER_DELETED with the epoch after it (the old one + 1) */
    store_user cur;
    assert_int_equal(st->ops->user_get(st, "u2", &cur, &e), IDP_OK);
    int64_t old = cur.token_epoch;
    store_user_clear(&cur);
    assert_int_equal(st->ops->user_delete(st, "u2", 0, &e), IDP_OK);
    int64_t t1 = time_now();

    size_t n = 0;
    store_rev_event *r = events(st, 0, &n);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        if (i) assert_int_equal(r[i].seq, r[i - 1].seq + 1); /* gapless, in order */
        assert_true(r[i].at >= t0 && r[i].at <= t1);
    }
    assert_int_equal(r[0].kind, 1);
    assert_string_equal(r[0].subject, "jti-1");
    assert_int_equal(r[0].epoch, 0);
    assert_int_equal(r[0].until, t0 + 300 + 30);
    assert_int_equal(r[1].kind, 2);
    assert_string_equal(r[1].subject, "u1");
    assert_int_equal(r[1].epoch, 1);
    assert_int_equal(r[1].until, r[1].at + 3600 + 30);
    assert_int_equal(r[2].kind, 4);
    assert_string_equal(r[2].subject, "u2");
    assert_int_equal(r[2].epoch, 1);
    assert_int_equal(r[3].kind, 4);
    assert_string_equal(r[3].subject, "u2");
    assert_int_equal(r[3].epoch, 2);
    assert_int_equal(r[4].kind, 3);
    assert_string_equal(r[4].subject, "u2");
    assert_int_equal(r[4].epoch, old + 1);
    assert_int_equal(r[4].until, r[4].at + 3600 + 30);
    int64_t s2 = r[1].seq;
    store_rev_event_list_free(r, n);
    /* after a seq, with a limit */
    store_rev_event *rows = NULL;
    assert_int_equal(st->ops->rev_list(st, s2, 2, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].seq, s2 + 1);
    store_rev_event_list_free(rows, n);
    assert_int_equal(st->ops->rev_list(st, s2 + 3, 10, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 0);
    store_rev_event_list_free(rows, n);
}

/* A change that rolls back leaves no event, and the next event takes the next seq. */
static void c_rev_rollback(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    user(st, "u1", "alice");
    assert_int_equal(store_jti_revoke(st, "a", time_now() + 60, &e), IDP_OK);
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    assert_int_equal(store_jti_revoke(st, "b", time_now() + 60, &e), IDP_OK);
    assert_int_equal(st->ops->user_delete(st, "u1", 0, &e), IDP_OK);
    store_tx_rollback(st);
    assert_int_equal(count(st), 1);
    /* an op that fails inside its own atomic write (the version check) writes none either */
    assert_int_equal(st->ops->user_delete(st, "u1", 99, &e), IDP_ERR_PRECONDITION);
    assert_int_equal(count(st), 1);
    assert_int_equal(st->ops->user_delete(st, "u1", 0, &e), IDP_OK);
    size_t n = 0;
    store_rev_event *r = events(st, 0, &n);
    assert_int_equal(n, 2);
    assert_int_equal(r[1].seq, r[0].seq + 1);
    assert_int_equal(r[1].kind, 3);
    store_rev_event_list_free(r, n);
}

/* Without a recorded bound the configuration's caps stand in; recorded bounds only grow. */
static void c_rev_bound(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    user(st, "u1", "alice");
    assert_int_equal(st->ops->user_epoch_bump(st, "u1", &e), IDP_OK);
    assert_int_equal(st->ops->rev_bound_raise(st, 600, 10, &e), IDP_OK);
    assert_int_equal(st->ops->user_epoch_bump(st, "u1", &e), IDP_OK);
    assert_int_equal(st->ops->rev_bound_raise(st, 60, 0, &e), IDP_OK); /* lower: kept */
    assert_int_equal(st->ops->user_epoch_bump(st, "u1", &e), IDP_OK);
    assert_int_equal(st->ops->rev_bound_raise(st, 900, 5, &e), IDP_OK); /* ttl up, leeway kept */
    assert_int_equal(st->ops->user_epoch_bump(st, "u1", &e), IDP_OK);
    assert_int_equal(st->ops->rev_bound_raise(st, -1, 0, &e), IDP_ERR_INVALID);
    size_t n = 0;
    store_rev_event *r = events(st, 0, &n);
    assert_int_equal(n, 4);
    assert_int_equal(r[0].until - r[0].at, 30 * 86400 + 3600);
    assert_int_equal(r[1].until - r[1].at, 610);
    assert_int_equal(r[2].until - r[2].at, 610);
    assert_int_equal(r[3].until - r[3].at, 910);
    assert_int_equal(r[3].epoch, 4);
    store_rev_event_list_free(r, n);
}

static void c_rev_prune(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    int64_t now = time_now();
    assert_int_equal(st->ops->rev_bound_raise(st, 100, 0, &e), IDP_OK);
    user(st, "u1", "alice");
    assert_int_equal(store_jti_revoke(st, "old", now - 1000, &e), IDP_OK); /* already expired */
    assert_int_equal(store_jti_revoke(st, "soon", now + 50, &e), IDP_OK);
    assert_int_equal(st->ops->user_epoch_bump(st, "u1", &e), IDP_OK);
    size_t n = 0;
    store_rev_event *r = events(st, 0, &n);
    assert_int_equal(n, 3);
    assert_true(r[0].until >= r[0].at); /* until never before the event */
    assert_true(r[0].until <= now + 5);
    store_rev_event_list_free(r, n);
    int64_t pruned = -1;
    assert_int_equal(st->ops->rev_prune(st, now + 10, &pruned, &e), IDP_OK);
    assert_int_equal(pruned, 1);
    assert_int_equal(st->ops->rev_prune(st, now + 60, &pruned, &e), IDP_OK);
    assert_int_equal(pruned, 1);
    r = events(st, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].kind, 4);
    int64_t last = r[0].seq;
    store_rev_event_list_free(r, n);
    assert_int_equal(st->ops->rev_prune(st, now + 1000, NULL, &e), IDP_OK);
    assert_int_equal(count(st), 0);
    /* seqs are never reused after the newest events were pruned */
    assert_int_equal(store_jti_revoke(st, "next", now + 50, &e), IDP_OK);
    r = events(st, 0, &n);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].seq, last + 1);
    store_rev_event_list_free(r, n);
}

/* Writers on several threads while a reader tails from its last seq: the reader sees every
 * event exactly once, each the one after the previous (a seq that committed later than a
 * higher one would show up as a gap here). */
enum { RW_THREADS = 4, RW_EACH = 25 };

typedef struct rw_ctx {
    store *st;
    int id;
    _Atomic int done;
    int failures;
} rw_ctx;

static void *rw_writer(void *arg)
{
    rw_ctx *c = arg;
    for (int i = 0; i < RW_EACH; i++) {
        char jti[32];
        snprintf(jti, sizeof jti, "w%d-%d", c->id, i);
        idp_error e = {0};
        if (store_jti_revoke(c->st, jti, time_now() + 60, &e)) c->failures++;
    }
    return NULL;
}

static void c_rev_concurrent(void **state)
{
    store *st = ((fx *)*state)->st;
    pthread_t t[RW_THREADS];
    rw_ctx c[RW_THREADS];
    for (int i = 0; i < RW_THREADS; i++) {
        c[i] = (rw_ctx){.st = st, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, rw_writer, &c[i]), 0);
    }
    int64_t cursor = 0, seen = 0, gaps = 0;
    for (int rounds = 0; seen < RW_THREADS * RW_EACH && rounds < 100000; rounds++) {
        size_t n = 0;
        store_rev_event *r = NULL;
        idp_error e = {0};
        if (st->ops->rev_list(st, cursor, 7, &r, &n, &e)) fail_msg("rev_list: %s", e.msg);
        for (size_t i = 0; i < n; i++) {
            if (r[i].seq != cursor + 1) gaps++;
            cursor = r[i].seq;
            seen++;
        }
        store_rev_event_list_free(r, n);
    }
    int failures = 0;
    for (int i = 0; i < RW_THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += c[i].failures;
    }
    assert_int_equal(failures, 0);
    assert_int_equal(gaps, 0);
    assert_int_equal(seen, RW_THREADS * RW_EACH);
    assert_int_equal(count(st), RW_THREADS * RW_EACH);
}

int store_contract_rev_run(const store_contract_backend *b)
{
    backend = b;
    char name[128];
    snprintf(name, sizeof name, "%s_rev", b->name);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(c_rev_triggers, setup, teardown),
        cmocka_unit_test_setup_teardown(c_rev_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(c_rev_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(c_rev_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(c_rev_concurrent, setup, teardown),
    };
    return _cmocka_run_group_tests(name, tests, sizeof tests / sizeof *tests, NULL, NULL);
}
