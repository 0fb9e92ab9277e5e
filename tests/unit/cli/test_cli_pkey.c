/* Unit tests for `idpd provisioning-key` and `idpd audit tail` (src/cli/pkey.c, audit.c): the
 * commands run in-process against a temporary data directory (as in test_cli.c); results are
 * checked in the store and with pkey_authenticate; the audit chain is tampered with through the
 * SQLite API to check that --verify notices. */
#include "testutil.h"

#include "cli/cli.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "keys/kek.h"
#include "creds/pkey.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PK(...) RUN(cli_pkey_main, "provisioning-key", __VA_ARGS__)
#define AUDIT(...) RUN(cli_audit_main, "audit", __VA_ARGS__)

static json_t *parse_json(const char *s)
{
    json_error_t je;
    json_t *v = json_loads(s, 0, &je);
    if (!v) fail_msg("not JSON (%s): %s", je.text, s);
    return v;
}

typedef struct fixture {
    char *tmp, *dir;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->tmp = tu_tmpdir();
    size_t n = strlen(f->tmp) + 8;
    f->dir = malloc(n);
    snprintf(f->dir, n, "%s/data", f->tmp);
    unsetenv("IDPD_MASTER_KEY");
    unsetenv("IDPD_ISSUER");
    unsetenv("IDPD_DATA_DIR");
    setenv("IDPD_ALGS", "ES256", 1);
    run_out r = RUN(cli_init_main, "init", "--data-dir", f->dir, "--issuer", "https://id.test");
    if (r.rc) fail_msg("init failed: %s", r.err);
    run_free(&r);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rmtree(f->tmp);
    free(f->tmp);
    free(f->dir);
    free(f);
    unsetenv("IDPD_ALGS");
    return 0;
}

static store *open_store(const fixture *f)
{
    char *p = cli_path(f->dir, "idpd.db");
    store *st = NULL;
    assert_int_equal(store_open(p, false, &st, NULL), IDP_OK);
    free(p);
    return st;
}

/* pkey_authenticate of key at time now with the data dir's pepper. */
static idp_err auth_at(const fixture *f, const char *key, const char *scope, int64_t now)
{
    char *mk = cli_path(f->dir, "master.key");
    kek *k = NULL;
    unsigned char pepper[32];
    assert_int_equal(kek_load(mk, &k, NULL), IDP_OK);
    assert_int_equal(pkey_pepper(k, pepper, NULL), IDP_OK);
    store *st = open_store(f);
    size_t n = strlen(key) + 8;
    char *h = malloc(n);
    snprintf(h, n, "Bearer %s", key);
    idp_err rc = pkey_authenticate(st, pepper, h, scope, now, NULL, NULL);
    free(h);
    store_close(st);
    kek_free(k);
    free(mk);
    return rc;
}

static void get_row(const fixture *f, const char *id, store_pkey *row)
{
    store *st = open_store(f);
    memset(row, 0, sizeof *row);
    assert_int_equal(st->ops->pkey_get(st, id, row, NULL), IDP_OK);
    store_close(st);
}

/* The audit events, oldest first (owned; store_audit_list_free). */
static store_audit *events(const fixture *f, size_t *n)
{
    store *st = open_store(f);
    store_audit *rows = NULL;
    assert_int_equal(st->ops->audit_list(st, 0, 1000, &rows, n, NULL), IDP_OK);
    store_close(st);
    return rows;
}

/* create --json; returns the parsed document (owned). */
static json_t *create_key(const fixture *f, const char *name, const char *scopes,
                          const char *expires)
{
    run_out r =
        expires ? PK("create", "--name", name, "--scopes", scopes, "--expires", expires, "--json",
                     "--data-dir", f->dir)
                : PK("create", "--name", name, "--scopes", scopes, "--json", "--data-dir", f->dir);
    if (r.rc) fail_msg("create: %s", r.err);
    json_t *j = parse_json(r.out);
    run_free(&r);
    return j;
}

static void create_list_key_shown_once(void **state)
{
    fixture *f = *state;
    int64_t t0 = time_now();
    json_t *j = create_key(f, "okta", "scim:write,scim:read", "90d");
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *key = json_string_value(json_object_get(j, "key"));
    assert_int_equal(strlen(id), PKEY_ID_LEN);
    assert_int_equal(strlen(key), PKEY_KEY_LEN);
    assert_memory_equal(key, "idpd_pk_", 8);
    assert_memory_equal(key + 8, id, PKEY_ID_LEN);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "okta");
    json_t *sc = json_object_get(j, "scopes");
    assert_int_equal(json_array_size(sc), 2);
    assert_string_equal(json_string_value(json_array_get(sc, 0)), "scim:read");
    json_int_t exp = json_integer_value(json_object_get(j, "expires_at"));
    assert_true(exp >= t0 + 90 * 86400 && exp <= time_now() + 90 * 86400);
    assert_int_equal(json_object_size(j), 5);

    /* the key works (scim:read and scim:write), the store holds only its HMAC */
    assert_int_equal(auth_at(f, key, "scim:write", time_now()), IDP_OK);
    assert_int_equal(auth_at(f, key, "admin", time_now()), IDP_ERR_FORBIDDEN);
    assert_int_equal(auth_at(f, key, NULL, exp), IDP_ERR_UNAUTHORIZED);

    /* list: never the key nor the hash */
    run_out r = PK("list", "--json", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    json_t *l = parse_json(r.out);
    assert_int_equal(json_array_size(l), 1);
    json_t *e0 = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(e0, "id")), id);
    assert_true(json_is_null(json_object_get(e0, "revoked_at")));
    assert_true(json_is_null(json_object_get(e0, "last_used_at")) ||
                json_is_integer(json_object_get(e0, "last_used_at")));
    assert_true(json_is_true(json_object_get(e0, "active")));
    assert_null(json_object_get(e0, "hash"));
    assert_null(json_object_get(e0, "key"));
    assert_null(strstr(r.out, key + 8 + PKEY_ID_LEN + 1));
    json_decref(l);
    run_free(&r);
    r = PK("list", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, id));
    assert_non_null(strstr(r.out, "active"));
    assert_null(strstr(r.out, key + 8 + PKEY_ID_LEN + 1));
    run_free(&r);

    /* one audit event with name and scopes, never the key */
    size_t n = 0;
    store_audit *ev = events(f, &n);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].actor, "cli");
    assert_string_equal(ev[0].action, "pkey.create");
    assert_string_equal(ev[0].target_type, "ProvisioningKey");
    assert_string_equal(ev[0].target_id, id);
    assert_non_null(strstr(ev[0].detail, "\"okta\""));
    assert_non_null(strstr(ev[0].detail, "scim:write"));
    assert_null(strstr(ev[0].detail, key + 8 + PKEY_ID_LEN + 1));
    store_audit_list_free(ev, n);
    json_decref(j);

    /* text output also prints the key once, with no expiry by default */
    r = PK("create", "--name", "entra", "--scopes", "admin", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "key:        idpd_pk_"));
    assert_non_null(strstr(r.out, "expires_at: never"));
    assert_non_null(strstr(r.err, "cannot show it again"));
    run_free(&r);
}

static void create_rejections(void **state)
{
    fixture *f = *state;
    static const char *const bad[][6] = {
        {"--name", "n", "--scopes", "scim:delete", NULL},
        {"--name", "n", "--scopes", "scim:read,scim:read", NULL},
        {"--name", "n", "--scopes", "", NULL},
        {"--name", "n", NULL}, /* --scopes is required */
        {"--name", "", "--scopes", "admin", NULL},
        {"--name", "n", "--scopes", "admin", "--expires", "soon"},
        {"--name", "n", "--scopes", "admin", "--expires", "0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *argv[16] = {"provisioning-key", "create"};
        int k = 2;
        for (int m = 0; m < 6 && bad[i][m]; m++)
            argv[k++] = bad[i][m];
        argv[k++] = "--data-dir";
        argv[k++] = f->dir;
        argv[k] = NULL;
        run_out r = run_argv(cli_pkey_main, argv);
        if (r.rc != 2) fail_msg("case %zu: rc %d %s", i, r.rc, r.err);
        assert_non_null(strstr(r.err, "idpd provisioning-key create: "));
        run_free(&r);
    }
    run_out r = PK("list", "--json", "--data-dir", f->dir);
    assert_string_equal(r.out, "[]\n");
    run_free(&r);
    size_t n = 9;
    store_audit *ev = events(f, &n);
    assert_int_equal(n, 0);
    store_audit_list_free(ev, n);
}

/* The provisioning contract is `create --scopes LIST --json`: --name is optional and defaults to
 * "key-<id>". */
static void create_without_name(void **state)
{
    fixture *f = *state;
    run_out r = PK("create", "--scopes", "scim:read,scim:write", "--json", "--data-dir", f->dir);
    if (r.rc) fail_msg("create without --name: rc %d %s", r.rc, r.err);
    json_t *j = parse_json(r.out);
    run_free(&r);
    const char *id = json_string_value(json_object_get(j, "id"));
    char want[64];
    snprintf(want, sizeof want, "key-%s", id);
    assert_string_equal(json_string_value(json_object_get(j, "name")), want);
    json_decref(j);
}

static void revoke_stops_key(void **state)
{
    fixture *f = *state;
    json_t *j = create_key(f, "svc", "scim:read", NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *key = json_string_value(json_object_get(j, "key"));
    assert_true(json_is_null(json_object_get(j, "expires_at")));
    assert_int_equal(auth_at(f, key, "scim:read", time_now()), IDP_OK);

    run_out r = PK("revoke", id, "--json", "--data-dir", f->dir);
    if (r.rc != 0) fail_msg("revoke rc %d: %s", r.rc, r.err);
    json_t *o = parse_json(r.out);
    assert_true(json_is_true(json_object_get(o, "revoked")));
    json_decref(o);
    run_free(&r);
    assert_int_equal(auth_at(f, key, "scim:read", time_now()), IDP_ERR_UNAUTHORIZED);
    store_pkey row;
    get_row(f, id, &row);
    assert_true(row.revoked_at > 0);
    store_pkey_clear(&row);

    /* again: no change, no second event */
    r = PK("revoke", id, "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "already revoked"));
    run_free(&r);
    size_t n = 0;
    store_audit *ev = events(f, &n);
    assert_int_equal(n, 2);
    assert_string_equal(ev[1].action, "pkey.revoke");
    assert_string_equal(ev[1].target_id, id);
    assert_true(ev[1].seq > ev[0].seq);
    store_audit_list_free(ev, n);

    r = PK("revoke", "AAAAAAAAAAAAAAAAAAAAAA", "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "no provisioning key AAAAAAAAAAAAAAAAAAAAAA"));
    run_free(&r);
    r = PK("revoke", "--data-dir", f->dir);
    assert_int_equal(r.rc, 2);
    run_free(&r);
    json_decref(j);
}

static void rotate_with_overlap(void **state)
{
    fixture *f = *state;
    json_t *j = create_key(f, "okta", "scim:read,scim:write", "30d");
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *key = json_string_value(json_object_get(j, "key"));
    int64_t t0 = time_now();
    run_out r = PK("rotate", id, "--overlap", "1h", "--json", "--data-dir", f->dir);
    if (r.rc) fail_msg("rotate: %s", r.err);
    json_t *n = parse_json(r.out);
    run_free(&r);
    const char *nid = json_string_value(json_object_get(n, "id"));
    const char *nkey = json_string_value(json_object_get(n, "key"));
    assert_string_not_equal(nid, id);
    assert_string_equal(json_string_value(json_object_get(n, "name")), "okta");
    assert_int_equal(json_array_size(json_object_get(n, "scopes")), 2);
    /* same lifetime policy: 30 days from now */
    json_int_t nexp = json_integer_value(json_object_get(n, "expires_at"));
    assert_true(nexp >= t0 + 30 * 86400 && nexp <= time_now() + 30 * 86400);

    /* the old key: expires_at lowered to now + 1h, replaced_by the new one */
    store_pkey old;
    get_row(f, id, &old);
    assert_true(old.expires_at >= t0 + 3600 && old.expires_at <= time_now() + 3600);
    assert_string_equal(old.replaced_by, nid);
    int64_t oexp = old.expires_at;
    store_pkey_clear(&old);
    assert_int_equal(auth_at(f, key, "scim:write", oexp - 1), IDP_OK);
    assert_int_equal(auth_at(f, key, "scim:write", oexp), IDP_ERR_UNAUTHORIZED);
    assert_int_equal(auth_at(f, nkey, "scim:write", oexp), IDP_OK);

    /* rotating the old one again, or an unknown or revoked key, fails */
    r = PK("rotate", id, "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "already rotated"));
    run_free(&r);
    r = PK("rotate", "AAAAAAAAAAAAAAAAAAAAAA", "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    run_free(&r);
    r = PK("rotate", nid, "--overlap", "later", "--data-dir", f->dir);
    assert_int_equal(r.rc, 2);
    run_free(&r);

    /* --overlap 0: the old key stops at once; a key that never expires keeps never expiring */
    json_t *k2 = create_key(f, "forever", "admin", NULL);
    const char *id2 = json_string_value(json_object_get(k2, "id"));
    r = PK("rotate", id2, "--overlap", "0", "--json", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    json_t *n2 = parse_json(r.out);
    assert_true(json_is_null(json_object_get(n2, "expires_at")));
    run_free(&r);
    assert_int_equal(auth_at(f, json_string_value(json_object_get(k2, "key")), NULL, time_now()),
                     IDP_ERR_UNAUTHORIZED);

    size_t cnt = 0;
    store_audit *ev = events(f, &cnt);
    assert_int_equal(cnt, 4); /* create, rotate, create, rotate */
    assert_string_equal(ev[1].action, "pkey.rotate");
    assert_string_equal(ev[1].target_id, id);
    assert_non_null(strstr(ev[1].detail, nid));
    assert_null(strstr(ev[1].detail, nkey + 8 + PKEY_ID_LEN + 1));
    store_audit_list_free(ev, cnt);
    json_decref(n2);
    json_decref(k2);
    json_decref(n);
    json_decref(j);
}

/* Runs SQL on the data dir's database directly (the tamperer's view). */
static void exec_sql(const fixture *f, const char *sql)
{
    char *p = cli_path(f->dir, "idpd.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);
    free(p);
}

static void make_events(const fixture *f, int count)
{
    for (int i = 0; i < count; i++) {
        char name[16];
        snprintf(name, sizeof name, "k%d", i);
        json_decref(create_key(f, name, "scim:read", NULL));
    }
}

static void audit_tail_shapes(void **state)
{
    fixture *f = *state;
    make_events(f, 3);
    run_out r = AUDIT("tail", "-n", "2", "--json", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    json_t *a = parse_json(r.out);
    assert_int_equal(json_array_size(a), 2);
    json_t *e0 = json_array_get(a, 0), *e1 = json_array_get(a, 1);
    assert_int_equal(json_integer_value(json_object_get(e0, "seq")), 2); /* oldest first */
    assert_int_equal(json_integer_value(json_object_get(e1, "seq")), 3);
    const char *t = json_string_value(json_object_get(e0, "time"));
    assert_int_equal(strlen(t), 24); /* 2026-01-01T00:00:00.000Z */
    assert_int_equal(t[10], 'T');
    assert_int_equal(t[23], 'Z');
    assert_string_equal(json_string_value(json_object_get(e0, "actor")), "cli");
    assert_string_equal(json_string_value(json_object_get(e0, "action")), "pkey.create");
    assert_string_equal(json_string_value(json_object_get(e0, "target_type")), "ProvisioningKey");
    assert_true(json_is_string(json_object_get(e0, "target_id")));
    assert_true(json_is_integer(json_object_get(e0, "before_version")));
    assert_true(json_is_integer(json_object_get(e0, "after_version")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(e0, "detail"), "name")),
                        "k1"); /* detail is parsed JSON, not a string */
    assert_int_equal(strlen(json_string_value(json_object_get(e0, "hash"))), 64);
    json_decref(a);
    run_free(&r);

    r = AUDIT("tail", "--data-dir", f->dir); /* default 20: all three, as text */
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "pkey.create"));
    assert_non_null(strstr(r.out, "\"k0\""));
    run_free(&r);

    static const char *const bad[][3] = {{"-n", "0", NULL},       {"-n", "10001", NULL},
                                         {"-n", "abc", NULL},     {"-n", "-3", NULL},
                                         {"--bogus", NULL, NULL}, {"extra", NULL, NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *argv[8] = {"audit", "tail", bad[i][0]};
        int k = 3;
        if (bad[i][1]) argv[k++] = bad[i][1];
        argv[k++] = "--data-dir";
        argv[k++] = f->dir;
        argv[k] = NULL;
        run_out x = run_argv(cli_audit_main, argv);
        if (x.rc != 2) fail_msg("case %zu: rc %d %s", i, x.rc, x.err);
        run_free(&x);
    }
    r = AUDIT("frob", "--data-dir", f->dir);
    assert_int_equal(r.rc, 2);
    run_free(&r);
}

static void audit_verify_detects_tampering(void **state)
{
    fixture *f = *state;
    run_out r = AUDIT("tail", "--verify", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "audit chain ok (0 events)\n");
    run_free(&r);
    make_events(f, 4);
    r = AUDIT("tail", "--verify", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "audit chain ok (4 events)\n");
    run_free(&r);

    exec_sql(f, "UPDATE audit_events SET detail = '{\"name\":\"evil\"}' WHERE seq = 3");
    r = AUDIT("tail", "--verify", "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "broken at seq 3"));
    run_free(&r);
    r = AUDIT("tail", "--verify", "--json", "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    json_t *o = parse_json(r.out);
    assert_true(json_is_false(json_object_get(o, "ok")));
    assert_int_equal(json_integer_value(json_object_get(o, "broken_seq")), 3);
    json_decref(o);
    run_free(&r);
}

static void audit_verify_detects_deletion(void **state)
{
    fixture *f = *state;
    make_events(f, 3);
    exec_sql(f, "DELETE FROM audit_events WHERE seq = 2");
    run_out r = AUDIT("tail", "--verify", "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "broken at seq 3"));
    run_free(&r);
}

static void usage_and_help(void **state)
{
    (void)state;
    run_out r = RUN(cli_pkey_main, "provisioning-key");
    assert_int_equal(r.rc, 2);
    run_free(&r);
    r = PK("frob");
    assert_int_equal(r.rc, 2);
    assert_non_null(strstr(r.err, "unknown subcommand"));
    run_free(&r);
    r = PK("list", "extra", "--data-dir", "/nonexistent-idpd-test/x");
    assert_int_equal(r.rc, 2);
    run_free(&r);
    r = PK("rotate", "a", "b", "--data-dir", "/nonexistent-idpd-test/x");
    assert_int_equal(r.rc, 2);
    run_free(&r);
    static const char *const subs[] = {"create", "list", "revoke", "rotate"};
    for (size_t i = 0; i < 4; i++) {
        r = PK(subs[i], "--help");
        assert_int_equal(r.rc, 0);
        assert_non_null(strstr(r.out, "Usage: idpd provisioning-key "));
        run_free(&r);
    }
    r = AUDIT("tail", "--help");
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "Usage: idpd audit tail"));
    run_free(&r);
    r = RUN(cli_audit_main, "audit");
    assert_int_equal(r.rc, 2);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_list_key_shown_once, setup, teardown),
        cmocka_unit_test_setup_teardown(create_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(create_without_name, setup, teardown),
        cmocka_unit_test_setup_teardown(revoke_stops_key, setup, teardown),
        cmocka_unit_test_setup_teardown(rotate_with_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_tail_shapes, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_verify_detects_tampering, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_verify_detects_deletion, setup, teardown),
        cmocka_unit_test(usage_and_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
