/* Unit tests for src/cli: the commands run in-process (cli_*_main) against a temporary data
 * directory; stdout/stderr are captured; results are checked in the store itself. */
#include "testutil.h"

#include "cli/cli.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "keys/kek.h"
#include "keys/keyset.h"
#include "creds/client_secret.h"
#include "store/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


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
    /* two fast algorithms keep init quick; no other IDPD_* may leak in */
    unsetenv("IDPD_MASTER_KEY");
    unsetenv("IDPD_ISSUER");
    unsetenv("IDPD_DATA_DIR");
    setenv("IDPD_ALGS", "ES256 EdDSA", 1);
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

static void init_dir(fixture *f)
{
    run_out r = RUN(cli_init_main, "init", "--data-dir", f->dir, "--issuer", "https://id.test");
    if (r.rc) fail_msg("init failed: %s", r.err);
    run_free(&r);
}

static store *open_store(fixture *f)
{
    char *p = cli_path(f->dir, "idpd.db");
    store *st = NULL;
    assert_int_equal(store_open(p, false, &st, NULL), IDP_OK);
    free(p);
    return st;
}

static void init_creates_and_refuses(void **state)
{
    fixture *f = *state;
    run_out r = RUN(cli_init_main, "init", "--json", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    json_t *j = parse_json(r.out);
    assert_string_equal(json_string_value(json_object_get(j, "issuer")), "http://127.0.0.1:8080");
    assert_string_equal(json_string_value(json_object_get(j, "data_dir")), f->dir);
    assert_int_equal(json_array_size(json_object_get(j, "keys")), 4); /* current+next x 2 algs */
    json_decref(j);
    run_free(&r);

    struct stat st;
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char *mk = cli_path(f->dir, "master.key");
    assert_int_equal(stat(mk, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    store *s = open_store(f);
    char *iss = NULL;
    assert_int_equal(store_meta_get(s, "issuer", &iss, NULL), IDP_OK);
    assert_string_equal(iss, "http://127.0.0.1:8080");
    free(iss);
    store_close(s);

    r = RUN(cli_init_main, "init", "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "idpd init: "));
    assert_non_null(strstr(r.err, "already initialised"));
    run_free(&r);

    /* a master key alone is refused as well */
    char *db = cli_path(f->dir, "idpd.db");
    unlink(db);
    r = RUN(cli_init_main, "init", "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "master.key already exists"));
    run_free(&r);
    free(db);
    free(mk);
}

static void usage_errors_exit_2(void **state)
{
    fixture *f = *state;
    static const char *const cases[][8] = {
        {"init", NULL},
        {"init", "--data-dir", NULL},
        {"init", "--bogus", NULL},
        {"init", "--data-dir", "/nonexistent-idpd-test/x", "extra", NULL},
        {"init", "--data-dir", "/nonexistent-idpd-test/x", "--issuer", "https://x/", NULL},
        {"serve", "--data-dir", "/nonexistent-idpd-test/x", "--listen", "nohost", NULL},
        {"client", NULL},
        {"client", "frob", NULL},
        {"client", "show", "--data-dir", "/nonexistent-idpd-test/x", NULL},
        {"key", "list", "--force", NULL},
        {"key", "spin", NULL},
        {"verify", "--issuer", "https://i", "--audience", "a", "tok", NULL},
        {"verify", "--jwks", "f", "--issuer", "https://i", "tok", NULL},
        {"verify", "--jwks", "f", "--audience", "a", "tok", NULL},
        {"verify", "--jwks", "f", "--issuer", "https://i", "--audience", "a", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cmd_fn fn = !strcmp(cases[i][0], "init")     ? cli_init_main
                    : !strcmp(cases[i][0], "serve")  ? cli_serve_main
                    : !strcmp(cases[i][0], "client") ? cli_client_main
                    : !strcmp(cases[i][0], "key")    ? cli_key_main
                                                     : cli_verify_main;
        run_out r = run_argv(fn, cases[i]);
        if (r.rc != 2)
            fail_msg("case %zu (%s %s): rc %d, stderr %s", i, cases[i][0],
                     cases[i][1] ? cases[i][1] : "", r.rc, r.err);
        assert_non_null(strstr(r.err, "idpd "));
        run_free(&r);
    }
    /* nothing was created by a usage error */
    struct stat st;
    (void)f;
    assert_int_not_equal(stat("/nonexistent-idpd-test", &st), 0);
}

static void help_everywhere(void **state)
{
    cmd_fn fns[] = {cli_init_main, cli_serve_main, cli_verify_main};
    const char *names[] = {"init", "serve", "verify"};
    for (size_t i = 0; i < 3; i++) {
        run_out r = RUN(fns[i], names[i], "--help");
        assert_int_equal(r.rc, 0);
        assert_non_null(strstr(r.out, "Usage: idpd "));
        run_free(&r);
    }
    const char *subs[][2] = {{"client", "create"},
                             {"client", "list"},
                             {"client", "rotate-secret"},
                             {"key", "list"},
                             {"key", "rotate"}};
    for (size_t i = 0; i < 5; i++) {
        run_out r = RUN(subs[i][0][0] == 'c' ? cli_client_main : cli_key_main, subs[i][0],
                        subs[i][1], "--help");
        assert_int_equal(r.rc, 0);
        assert_non_null(strstr(r.out, "Usage: idpd "));
        run_free(&r);
    }
}

/* The stored hash equals HMAC(pepper, secret) with the pepper derived from the master key. */
static bool secret_matches(fixture *f, store *st, const char *id, const char *secret)
{
    char *mk = cli_path(f->dir, "master.key");
    kek *k = NULL;
    unsigned char pepper[32];
    store_client row;
    memset(&row, 0, sizeof row);
    assert_int_equal(kek_load(mk, &k, NULL), IDP_OK);
    assert_int_equal(kek_derive(k, CLIENT_SECRET_PEPPER_LABEL, pepper, NULL), IDP_OK);
    assert_int_equal(store_client_get(st, id, &row, NULL), IDP_OK);
    bool ok =
        row.has_secret && client_secret_verify(pepper, secret, strlen(secret), row.secret_hash);
    store_client_clear(&row);
    kek_free(k);
    free(mk);
    return ok;
}

static void client_lifecycle(void **state)
{
    fixture *f = *state;
    init_dir(f);
    run_out r = RUN(cli_client_main, "client", "create", "--name", "svc", "--grant-types",
                    "client_credentials", "--scope", "api:read  api:write", "--audience",
                    "https://api.test", "--audience", "urn:example:res", "--token-alg", "EdDSA",
                    "--token-ttl", "10m", "--json", "--data-dir", f->dir);
    if (r.rc) fail_msg("create: %s", r.err);
    json_t *j = parse_json(r.out);
    char *id = strdup(json_string_value(json_object_get(j, "client_id")));
    char *secret = strdup(json_string_value(json_object_get(j, "client_secret")));
    assert_int_equal(strlen(id), 24);
    assert_memory_equal(id, "c_", 2);
    assert_int_equal(strlen(secret), 43);
    assert_string_equal(json_string_value(json_object_get(j, "scope")), "api:read api:write");
    assert_int_equal(json_array_size(json_object_get(j, "audiences")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "token_ttl")), 600);
    assert_string_equal(json_string_value(json_object_get(j, "token_alg")), "EdDSA");
    json_decref(j);
    run_free(&r);

    store *st = open_store(f);
    assert_true(secret_matches(f, st, id, secret));
    store_client row;
    memset(&row, 0, sizeof row);
    assert_int_equal(store_client_get(st, id, &row, NULL), IDP_OK);
    assert_string_equal(row.audiences, "https://api.test urn:example:res");
    assert_string_equal(row.grant_types, "client_credentials");
    store_client_clear(&row);

    /* list and show never reveal the secret or its hash */
    r = RUN(cli_client_main, "client", "list", "--json", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    j = parse_json(r.out);
    assert_int_equal(json_array_size(j), 1);
    assert_null(strstr(r.out, secret));
    assert_null(strstr(r.out, "secret\""));
    json_decref(j);
    run_free(&r);
    r = RUN(cli_client_main, "client", "show", id, "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "svc"));
    assert_null(strstr(r.out, secret));
    run_free(&r);

    /* rotate-secret: a new secret, the old one no longer matches */
    r = RUN(cli_client_main, "client", "rotate-secret", id, "--json", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    j = parse_json(r.out);
    const char *s2 = json_string_value(json_object_get(j, "client_secret"));
    assert_non_null(s2);
    assert_string_not_equal(s2, secret);
    assert_true(secret_matches(f, st, id, s2));
    assert_false(secret_matches(f, st, id, secret));
    json_decref(j);
    run_free(&r);

    r = RUN(cli_client_main, "client", "delete", id, "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    run_free(&r);
    r = RUN(cli_client_main, "client", "show", id, "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "idpd client show: no client"));
    run_free(&r);
    r = RUN(cli_client_main, "client", "rotate-secret", "c_missing", "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    run_free(&r);
    /* every change is audited with actor cli, never with the secret (DESIGN §9) */
    store_audit *ev = NULL;
    size_t nev = 0;
    assert_int_equal(st->ops->audit_last(st, 10, &ev, &nev, NULL), IDP_OK);
    const char *want[] = {"client.create", "client.rotate_secret", "client.delete"};
    size_t found = 0;
    for (size_t i = 0; i < nev; i++) {
        assert_string_equal(ev[i].actor, "cli");
        for (size_t k = 0; k < 3; k++)
            if (!strcmp(ev[i].action, want[k]) && !strcmp(ev[i].target_id, id)) found |= 1u << k;
        assert_true(!ev[i].detail || !strstr(ev[i].detail, secret));
    }
    assert_int_equal(found, 7);
    store_audit_list_free(ev, nev);
    store_close(st);
    free(id);
    mem_free_secret(secret);
}

static void client_create_rejections(void **state)
{
    fixture *f = *state;
    init_dir(f);
    static const char *const bad[][2] = {
        {"--scope", "a\"b"},                     /* %x22 is not a scope-token character */
        {"--scope", "a\\b"},                     /* nor %x5C */
        {"--scope", "caf\xc3\xa9"},              /* nor non-ASCII */
        {"--scope", "a a"},                      /* duplicate */
        {"--grant-types", "authorization_code"}, /* needs a --redirect-uri */
        {"--grant-types", "password"},           /* RFC 9700 §2.4: never */
        {"--grant-types", ""},
        {"--audience", "api.test"},               /* not absolute */
        {"--audience", "https://api.test/#frag"}, /* RFC 8707 §2: no fragment */
        {"--audience", "https://a b"},
        {"--token-alg", "HS256"},
        {"--token-alg", "RS256"}, /* valid, but not in algs (ES256 EdDSA) */
        {"--token-ttl", "2h"},    /* > max_token_ttl (1h) */
        {"--token-ttl", "soon"},
        {"--name", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        run_out r = RUN(cli_client_main, "client", "create", "--name", "n", bad[i][0], bad[i][1],
                        "--data-dir", f->dir);
        if (r.rc != 2) fail_msg("case %zu (%s): rc %d %s", i, bad[i][0], r.rc, r.err);
        assert_non_null(strstr(r.err, bad[i][0]));
        run_free(&r);
    }
    store *st = open_store(f);
    store_client *rows = NULL;
    size_t n = 9;
    assert_int_equal(store_client_list(st, &rows, &n, NULL), IDP_OK);
    assert_int_equal(n, 0);
    store_client_list_free(rows, n);
    store_close(st);
}

static void client_create_signin(void **state)
{
    fixture *f = *state;
    init_dir(f);
    char jwks_path[600];
    snprintf(jwks_path, sizeof jwks_path, "%s/client.jwks", f->dir);
    FILE *fp = fopen(jwks_path, "w");
    fputs("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
          "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}", fp);
    fclose(fp);
    /* a confidential web app */
    run_out r = RUN(cli_client_main, "client", "create", "--name", "Web", "--grant-types",
                    "authorization_code,refresh_token", "--scope", "openid offline_access",
                    "--redirect-uri", "https://app.test/cb", "--redirect-uri", "http://127.0.0.1:3000/cb",
                    "--post-logout-redirect-uri", "https://app.test/bye",
                    "--backchannel-logout-uri", "https://app.test/bc", "--json", "--data-dir", f->dir);
    if (r.rc) fail_msg("create: %s", r.err);
    json_t *j = parse_json(r.out);
    assert_non_null(json_object_get(j, "client_secret"));
    assert_false(json_is_true(json_object_get(j, "public")));
    assert_int_equal(json_array_size(json_object_get(j, "redirect_uris")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "backchannel_logout_uri")), "https://app.test/bc");
    json_decref(j);
    run_free(&r);
    /* a public client: no secret printed */
    r = RUN(cli_client_main, "client", "create", "--name", "SPA", "--grant-types", "authorization_code",
            "--redirect-uri", "com.example.app:/cb", "--public", "--json", "--data-dir", f->dir);
    if (r.rc) fail_msg("create public: %s", r.err);
    j = parse_json(r.out);
    assert_null(json_object_get(j, "client_secret"));
    assert_true(json_is_true(json_object_get(j, "public")));
    assert_string_equal(json_string_value(json_object_get(j, "auth_method")), "none");
    json_decref(j);
    run_free(&r);
    /* private_key_jwt: the JWKS is stored, no secret */
    r = RUN(cli_client_main, "client", "create", "--name", "PKJ", "--grant-types", "authorization_code",
            "--redirect-uri", "https://pkj.test/cb", "--auth-method", "private_key_jwt", "--jwks",
            jwks_path, "--json", "--data-dir", f->dir);
    if (r.rc) fail_msg("create pkj: %s", r.err);
    j = parse_json(r.out);
    assert_null(json_object_get(j, "client_secret"));
    assert_string_equal(json_string_value(json_object_get(j, "auth_method")), "private_key_jwt");
    char *pid = strdup(json_string_value(json_object_get(j, "client_id")));
    json_decref(j);
    run_free(&r);
    store *st = open_store(f);
    store_client row;
    memset(&row, 0, sizeof row);
    assert_int_equal(store_client_get(st, pid, &row, NULL), IDP_OK);
    assert_non_null(strstr(row.jwks, "Ed25519"));
    assert_false(row.has_secret);
    store_client_clear(&row);
    store_close(st);
    free(pid);
    /* rejections, each naming its option */
    static const char *const bad[][10] = {
        {"--grant-types", "authorization_code", "--redirect-uri", "http://evil.test/cb", NULL},
        {"--grant-types", "authorization_code", "--redirect-uri", "https://a.test/cb#x", NULL},
        {"--grant-types", "authorization_code", "--redirect-uri", "https://a.test/cb", "--redirect-uri", "https://a.test/cb", NULL},
        {"--grant-types", "refresh_token", NULL},
        {"--redirect-uri", "https://a.test/cb", NULL},
        {"--grant-types", "client_credentials", "--public", NULL},
        {"--grant-types", "authorization_code", "--redirect-uri", "https://a.test/cb", "--auth-method", "private_key_jwt", NULL},
        {"--grant-types", "authorization_code", "--redirect-uri", "https://a.test/cb", "--auth-method", "magic", NULL},
        {"--grant-types", "authorization_code", "--redirect-uri", "https://a.test/cb", "--public", "--jwks", "x", NULL},
        {"--grant-types", "authorization_code", "--redirect-uri", "https://a.test/cb", "--auth-method", "private_key_jwt", "--jwks", "/nonexistent", NULL},
        {"--grant-types", "authorization_code", "--redirect-uri", "https://a.test/cb", "--backchannel-logout-uri", "ftp://x/y", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *argv[20] = {"client", "create", "--name", "n"};
        int k = 4;
        for (int m = 0; bad[i][m]; m++) argv[k++] = bad[i][m];
        argv[k++] = "--data-dir";
        argv[k++] = f->dir;
        argv[k] = NULL;
        run_out b = run_argv(cli_client_main, argv);
        if (b.rc != 2) fail_msg("case %zu: rc %d %s", i, b.rc, b.err);
        assert_non_null(strstr(b.err, "--"));
        run_free(&b);
    }
}

static size_t count_state(store *st, const char *alg, key_state s)
{
    store_key *rows = NULL;
    size_t n = 0, c = 0;
    assert_int_equal(store_key_list(st, &rows, &n, NULL), IDP_OK);
    for (size_t i = 0; i < n; i++)
        c += !strcmp(rows[i].alg, alg) && rows[i].state == s;
    store_key_list_free(rows, n);
    return c;
}

static void key_list_and_rotate(void **state)
{
    fixture *f = *state;
    init_dir(f);
    run_out r = RUN(cli_key_main, "key", "list", "--json", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    json_t *j = parse_json(r.out);
    assert_int_equal(json_array_size(j), 4);
    json_t *k0 = json_array_get(j, 0);
    assert_non_null(json_string_value(json_object_get(k0, "kid")));
    assert_true(json_is_integer(json_object_get(k0, "created_at")));
    assert_non_null(json_object_get(k0, "retired_at"));
    json_decref(j);
    run_free(&r);

    /* the next key is younger than publish_ahead: refused without --force */
    r = RUN(cli_key_main, "key", "rotate", "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "idpd key rotate: "));
    run_free(&r);
    store *st = open_store(f);
    assert_int_equal(count_state(st, "ES256", KEY_RETIRED), 0);

    r = RUN(cli_key_main, "key", "rotate", "--alg", "ES256", "--force", "--json", "--data-dir",
            f->dir);
    assert_int_equal(r.rc, 0);
    j = parse_json(r.out);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "rotated"), 0)),
                        "ES256");
    json_decref(j);
    run_free(&r);
    assert_int_equal(count_state(st, "ES256", KEY_RETIRED), 1);
    assert_int_equal(count_state(st, "ES256", KEY_CURRENT), 1);
    assert_int_equal(count_state(st, "ES256", KEY_NEXT), 1);
    assert_int_equal(count_state(st, "EdDSA", KEY_RETIRED), 0);
    store_close(st);

    r = RUN(cli_key_main, "key", "rotate", "--alg", "PS256", "--data-dir", f->dir);
    assert_int_equal(r.rc, 2); /* not in algs */
    run_free(&r);
}

static void serve_check(void **state)
{
    fixture *f = *state;
    init_dir(f);
    run_out r = RUN(cli_serve_main, "serve", "--check", "--data-dir", f->dir);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "configuration ok\n");
    run_free(&r);

    char *cf = cli_path(f->tmp, "idpd.yaml");
    FILE *fp = fopen(cf, "w");
    fputs("listen: 127.0.0.1:0\n\njwks_max_age: 2d\n", fp);
    fclose(fp);
    r = RUN(cli_serve_main, "serve", "--check", "--config", cf, "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.err, "idpd serve: jwks_max_age: longer than publish_ahead\n");
    run_free(&r);

    /* a rotation_period that could keep more keys than the JWKS bound (docs/SECURITY.md) */
    fp = fopen(cf, "w");
    fputs("listen: 127.0.0.1:0\nrotation_period: 2m\npublish_ahead: 1m\njwks_max_age: 1m\n", fp);
    fclose(fp);
    r = RUN(cli_serve_main, "serve", "--check", "--config", cf, "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "idpd serve: rotation_period: 120 s is too short"));
    assert_non_null(strstr(r.err, "use at least 124 s"));
    run_free(&r);

    fp = fopen(cf, "w");
    fputs("listen: 127.0.0.1:0\n\ntoken_tll: 5m\n", fp);
    fclose(fp);
    r = RUN(cli_serve_main, "serve", "--check", "--config", cf, "--data-dir", f->dir);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, ":3: token_tll: unknown option"));
    run_free(&r);

    /* a data dir that was never initialised */
    r = RUN(cli_serve_main, "serve", "--check", "--data-dir", f->tmp);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "no idpd.db"));
    run_free(&r);
    free(cf);
}

/* Signs claims with the store's current ES256 key; token owned. */
static char *sign_token(store *st, kek *k, json_t *claims)
{
    keyset *ks = NULL;
    idp_buf out;
    buf_init(&out, 0);
    char *payload = json_dumps(claims, JSON_COMPACT);
    assert_int_equal(keyset_load(st, k, &ks, NULL), IDP_OK);
    assert_int_equal(keyset_sign(ks, JWS_ES256, "at+jwt", payload, strlen(payload), &out, NULL),
                     IDP_OK);
    keyset_unref(ks);
    free(payload);
    json_decref(claims);
    return buf_steal(&out);
}

static void verify_tokens(void **state)
{
    fixture *f = *state;
    init_dir(f);
    store *st = open_store(f);
    char *mk = cli_path(f->dir, "master.key");
    kek *k = NULL;
    assert_int_equal(kek_load(mk, &k, NULL), IDP_OK);
    /* the JWKS as the server publishes it */
    keyset *ks = NULL;
    assert_int_equal(keyset_load(st, k, &ks, NULL), IDP_OK);
    size_t len = 0;
    const char *body = keyset_jwks_body(ks, &len);
    char *jf = cli_path(f->tmp, "jwks.json");
    FILE *fp = fopen(jf, "w");
    fwrite(body, 1, len, fp);
    fclose(fp);
    keyset_unref(ks);

    int64_t now = time_now();
    char *good =
        sign_token(st, k,
                   json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", "https://id.test", "sub",
                             "c_1", "aud", "https://api", "exp", (json_int_t)(now + 300), "iat",
                             (json_int_t)now, "scope", "a"));
    char *expired = sign_token(st, k,
                               json_pack("{s:s, s:s, s:I}", "iss", "https://id.test", "aud",
                                         "https://api", "exp", (json_int_t)(now - 600)));
    run_out r = RUN(cli_verify_main, "verify", "--jwks", jf, "--issuer", "https://id.test",
                    "--audience", "https://api", good);
    if (r.rc) fail_msg("verify: %s", r.err);
    json_t *j = parse_json(r.out);
    assert_string_equal(json_string_value(json_object_get(j, "sub")), "c_1");
    json_decref(j);
    run_free(&r);

    static const struct {
        const char *aud, *iss, *typ, *algs;
        int which; /* 0 good, 1 expired, 2 tampered */
        const char *reason;
    } cases[] = {
        {"https://other", "https://id.test", NULL, NULL, 0, "audience mismatch"},
        {"https://api", "https://evil.test", NULL, NULL, 0, "issuer mismatch"},
        {"https://api", "https://id.test", "JWT", NULL, 0, "typ mismatch"},
        {"https://api", "https://id.test", NULL, "RS256,EdDSA", 0, "algorithm not allowed"},
        {"https://api", "https://id.test", NULL, NULL, 1, "token expired"},
        {"https://api", "https://id.test", NULL, NULL, 2, "signature did not verify"},
    };
    char *tampered = strdup(good);
    char *sig = strrchr(tampered, '.') + 1;
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *tok = cases[i].which == 0 ? good : cases[i].which == 1 ? expired : tampered;
        r = RUN(cli_verify_main, "verify", "--jwks", jf, "--issuer", cases[i].iss, "--audience",
                cases[i].aud, "--typ", cases[i].typ ? cases[i].typ : "at+jwt", "--alg",
                cases[i].algs ? cases[i].algs : "ES256", tok);
        if (r.rc != 1 || !strstr(r.err, cases[i].reason))
            fail_msg("case %zu: rc %d, stderr %s", i, r.rc, r.err);
        assert_memory_equal(r.err, "idpd verify: ", 13);
        assert_null(strstr(r.err, tok)); /* the token is never printed */
        assert_string_equal(r.out, "");
        run_free(&r);
    }
    /* --typ '' disables the typ check */
    r = RUN(cli_verify_main, "verify", "--jwks", jf, "--issuer", "https://id.test", "--audience",
            "https://api", "--typ", "", good);
    assert_int_equal(r.rc, 0);
    run_free(&r);
    /* unreadable JWKS */
    r = RUN(cli_verify_main, "verify", "--jwks", "/nonexistent.json", "--issuer", "https://id.test",
            "--audience", "https://api", good);
    assert_int_equal(r.rc, 1);
    assert_non_null(strstr(r.err, "cannot open /nonexistent.json"));
    run_free(&r);

    free(tampered);
    free(good);
    free(expired);
    free(jf);
    free(mk);
    kek_free(k);
    store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(init_creates_and_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(usage_errors_exit_2, setup, teardown),
        cmocka_unit_test_setup_teardown(help_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(client_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(client_create_signin, setup, teardown),
        cmocka_unit_test_setup_teardown(client_create_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(key_list_and_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(serve_check, setup, teardown),
        cmocka_unit_test_setup_teardown(verify_tokens, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
