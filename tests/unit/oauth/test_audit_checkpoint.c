/* Unit tests for src/oauth/audit_checkpoint: pruning behind a checkpoint, and the checkpoint's
 * MAC (a forged or altered checkpoint, or one checked with another master key, is refused). */
#include "testutil.h"

#include "keys/kek.h"
#include "oauth/audit_checkpoint.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx {
    char *dir;
    store *st;
    kek *k, *other;
} fx;

static kek *new_kek(const char *dir, const char *name)
{
    char p[4096];
    kek *k = NULL;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(kek_create_file(p, NULL), IDP_OK);
    assert_int_equal(kek_load(p, &k, NULL), IDP_OK);
    return k;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    char p[4096];
    f->dir = tu_tmpdir();
    snprintf(p, sizeof p, "%s/idpd.db", f->dir);
    assert_int_equal(store_open(p, true, &f->st, NULL), IDP_OK);
    f->k = new_kek(f->dir, "master.key");
    f->other = new_kek(f->dir, "other.key");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    kek_free(f->k);
    kek_free(f->other);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void append(store *st, int64_t time_ms, const char *action, unsigned char hash[32])
{
    store_audit ev = {.time_ms = time_ms, .actor = "test", .action = (char *)action};
    assert_int_equal(st->ops->audit_append(st, &ev, NULL), IDP_OK);
    if (hash) memcpy(hash, ev.hash, 32);
}

static void prune_and_check(void **state)
{
    fx *f = *state;
    unsigned char h3[32], head[32];
    for (int i = 1; i <= 5; i++)
        append(f->st, 1000 * i, "e", i == 3 ? h3 : NULL);
    audit_prune_result r;
    /* nothing is older than the retention and the count is below the bound */
    assert_int_equal(audit_checkpoint_prune(f->st, f->k, 10000, 100, 100, &r, NULL), IDP_OK);
    assert_int_equal(r.pruned, 0);
    assert_int_equal(r.checkpoint_seq, 0);
    /* at most 2 events kept: 1..3 go, the checkpoint is seq 6 */
    assert_int_equal(audit_checkpoint_prune(f->st, f->k, 10000, 100, 2, &r, NULL), IDP_OK);
    assert_int_equal(r.pruned, 3);
    assert_int_equal(r.through, 3);
    assert_int_equal(r.checkpoint_seq, 6);
    store_audit *rows = NULL;
    size_t n = 0;
    assert_int_equal(f->st->ops->audit_list(f->st, 0, 10, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].seq, 4);
    assert_memory_equal(rows[0].prev_hash, h3, 32);
    store_audit *ck = &rows[2];
    assert_string_equal(ck->action, AUDIT_CHECKPOINT_ACTION);
    int64_t through = 0;
    assert_int_equal(audit_checkpoint_check(f->k, ck, &through, head, NULL), IDP_OK);
    assert_int_equal(through, 3);
    assert_memory_equal(head, h3, 32);
    /* another master key, another seq or time, an altered detail: refused */
    assert_int_equal(audit_checkpoint_check(f->other, ck, &through, head, NULL), IDP_ERR_INVALID);
    ck->seq++;
    assert_int_equal(audit_checkpoint_check(f->k, ck, &through, head, NULL), IDP_ERR_INVALID);
    ck->seq--;
    ck->time_ms++;
    assert_int_equal(audit_checkpoint_check(f->k, ck, &through, head, NULL), IDP_ERR_INVALID);
    ck->time_ms--;
    char *orig = ck->detail, forged[512];
    snprintf(forged, sizeof forged, "%s", orig);
    char *p = strstr(forged, "\"pruned_through\":3,\"pruned_events\":3");
    assert_non_null(p);
    memcpy(p, "\"pruned_through\":4,\"pruned_events\":4", 36);
    ck->detail = forged;
    assert_int_equal(audit_checkpoint_check(f->k, ck, &through, head, NULL), IDP_ERR_INVALID);
    const char *bad[] = {
        "",
        "{}",
        "[]",
        "{\"pruned_through\":3}",
        "{\"pruned_through\":3,\"pruned_events\":3,\"pruned_head\":\"00\",\"mac\":\"x\"}",
        "{\"pruned_through\":9,\"pruned_events\":9,\"pruned_head\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\","
        "\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck->detail = (char *)bad[i];
        assert_int_equal(audit_checkpoint_check(f->k, ck, &through, head, NULL), IDP_ERR_INVALID);
    }
    ck->detail = orig;
    store_audit_list_free(rows, n);
    /* by age: everything older than 1 s before 7000 ms (seq 4, 5) goes, not the head (6) */
    assert_int_equal(audit_checkpoint_prune(f->st, f->k, 7000, 1, 0, &r, NULL), IDP_OK);
    assert_int_equal(r.through, 5);
    assert_int_equal(r.checkpoint_seq, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(prune_and_check, setup, teardown)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
