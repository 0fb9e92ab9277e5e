/* test_store_fed — the SQLite side of the federation ops (store_sqlite_fed.c) that the contract
 * suite (store_contract.c) cannot see: writes fail under fault injection (IDPD_FAULT_STORE_FULL)
 * with nothing written, and just-in-time provisioning races across two store handles on one
 * file (as two nodes would). The backend-neutral cases are in store_contract.c. */
#include "testutil.h"

#include "store_sut.h"

#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ISS "https://upstream.example"

typedef struct fx {
    char *dir;
    char db[512], flag[512];
    store *st;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    snprintf(f->db, sizeof f->db, "%s/idpd.db", f->dir);
    snprintf(f->flag, sizeof f->flag, "%s/full", f->dir);
    /* read at open: this test's stores fail every write while f->flag exists */
    setenv("IDPD_FAULT_STORE_FULL", f->flag, 1);
    idp_error e = {0};
    sut_reset();
    if (store_open(sut_spec(f->db), true, &f->st, &e)) fail_msg("store_open: %s", e.msg);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    unlink(f->flag);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void full(const fx *f, bool on)
{
    if (on) {
        FILE *fp = fopen(f->flag, "w");
        assert_non_null(fp);
        fclose(fp);
    } else {
        unlink(f->flag);
    }
}

static void fault_injection_fails_writes(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    char *uid = NULL;
    bool created = true;
    store_user u = {.id = "u1", .user_name = "alice", .active = true, .doc = "{}"};
    assert_int_equal(st->ops->user_create(st, &u, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "old", 100, 10, 0, &e), IDP_OK);
    store_fed_jwks j = {.issuer = ISS, .body = "{\"keys\":[]}", .fetched_at = 1, .max_age = 5};
    assert_int_equal(st->ops->fed_jwks_put(st, &j, &e), IDP_OK);

    full(f, true);
    assert_int_equal(st->ops->fed_link_add(st, ISS, "s1", "u1", 1, &e), IDP_ERR_STORE);
    assert_int_equal(st->ops->fed_provision(st, ISS, "s2", "bob", NULL, 1, &uid, &created, &e),
                     IDP_ERR_STORE);
    assert_null(uid);
    assert_false(created);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "j1", 100, 10, 0, &e), IDP_ERR_STORE);
    /* replacing an expired id: the delete fails, the old row stays */
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "old", 900, 200, 0, &e), IDP_ERR_STORE);
    store_fed_jwks j2 = {.issuer = ISS, .body = "{\"keys\":[1]}", .fetched_at = 2};
    assert_int_equal(st->ops->fed_jwks_put(st, &j2, &e), IDP_ERR_STORE);
    assert_int_equal(st->ops->oidc_prune(st, 1000000, &e), IDP_ERR_STORE);
    /* reads still work and show nothing of the failed writes */
    assert_int_equal(st->ops->fed_link_get(st, ISS, "s1", &uid, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->fed_link_get(st, ISS, "s2", &uid, &e), IDP_ERR_NOT_FOUND);
    store_user got;
    assert_int_equal(st->ops->user_get_by_name(st, "bob", &got, &e), IDP_ERR_NOT_FOUND);
    store_fed_jwks g;
    assert_int_equal(st->ops->fed_jwks_get(st, ISS, &g, &e), IDP_OK);
    assert_string_equal(g.body, "{\"keys\":[]}");
    store_fed_jwks_clear(&g);

    full(f, false);
    /* j1 was not recorded; "old" (exp 100) is still there: at now 50 it is a replay */
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "old", 900, 50, 0, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "j1", 100, 10, 0, &e), IDP_OK);
    assert_int_equal(st->ops->fed_provision(st, ISS, "s2", "bob", NULL, 1, &uid, &created, &e),
                     IDP_OK);
    assert_true(created);
    free(uid);
}

/* The bound is counted, not scanned: many ids written in one transaction, then the bound holds
 * with a small max_rows and prune keeps the count right. */
static void jti_bound_counts(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    char jti[32];
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    for (int i = 0; i < 2000; i++) {
        snprintf(jti, sizeof jti, "j%d", i);
        assert_int_equal(st->ops->fed_jti_use(st, ISS, jti, i < 1000 ? 100 : 5000, 10, 0, &e),
                         IDP_OK);
    }
    assert_int_equal(store_tx_commit(st, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "x", 5000, 10, 2000, &e), IDP_ERR_UNAVAILABLE);
    /* at now 200 the first 1000 have expired: dropped to make room */
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "x", 5000, 200, 2000, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "y", 5000, 200, 1001, &e), IDP_ERR_UNAVAILABLE);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "y", 5000, 200, 1002, &e), IDP_OK);
    /* prune (exp < now - grace) removes every row; the count follows */
    assert_int_equal(st->ops->oidc_prune(st, 5000 + STORE_PRUNE_GRACE + 1, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "z", 99999, 9000, 1, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "w", 99999, 9000, 1, &e), IDP_ERR_UNAVAILABLE);
}

#define NODES 2
#define ROUNDS 20
typedef struct node {
    store *st;
    char *uid[ROUNDS];
    int created;
} node;

static void *node_run(void *p)
{
    node *n = p;
    char sub[16];
    for (int i = 0; i < ROUNDS; i++) {
        bool c = false;
        idp_error e = {0};
        snprintf(sub, sizeof sub, "s%d", i);
        char name[16];
        snprintf(name, sizeof name, "user%d", i);
        if (n->st->ops->fed_provision(n->st, ISS, sub, name, NULL, 1, &n->uid[i], &c, &e))
            return (void *)1;
        n->created += c;
    }
    return NULL;
}

static void jit_race_two_handles(void **state)
{
    fx *f = *state;
    node n[NODES] = {{.st = f->st}};
    idp_error e = {0};
    assert_int_equal(store_open(sut_spec(f->db), false, &n[1].st, &e), IDP_OK);
    pthread_t t[NODES];
    for (int i = 0; i < NODES; i++)
        assert_int_equal(pthread_create(&t[i], NULL, node_run, &n[i]), 0);
    for (int i = 0; i < NODES; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_int_equal(n[0].created + n[1].created, ROUNDS);
    for (int i = 0; i < ROUNDS; i++) {
        assert_string_equal(n[0].uid[i], n[1].uid[i]);
        int64_t c = 0;
        assert_int_equal(f->st->ops->fed_link_count(f->st, n[0].uid[i], &c, &e), IDP_OK);
        assert_int_equal(c, 1);
        free(n[0].uid[i]);
        free(n[1].uid[i]);
    }
    store_close(n[1].st);
}

int main(void)
{
    SUT_MAIN();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fault_injection_fails_writes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(jti_bound_counts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(jit_race_two_handles, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
