/* Unit tests for src/creds/pkey: key format round trip and every parse rejection, bearer header
 * parsing, scope lists, expiry/rotation arithmetic, and pkey_authenticate against a real store
 * (good key, wrong secret, unknown id, expired, revoked, wrong scope, lowercase scheme, missing
 * header; every failure with the same message; last_used_at throttling). */
#include "testutil.h"

#include "core/mem.h"
#include "proto/bearer.h"
#include "creds/client_secret.h"
#include "creds/pkey.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char pepper[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

static void generate_parse_round_trip(void **state)
{
    (void)state;
    /* 2,000 draws: an id starting with '-' (1 in 64 per draw before the fix) would be taken for
     * an option by `idpd provisioning-key revoke ID`. */
    for (int i = 0; i < 2000; i++) {
        char *id = NULL, *key = NULL, pid[PKEY_ID_LEN + 1];
        unsigned char hash[32];
        const char *secret = NULL;
        pkey_generate(pepper, &id, &key, hash);
        assert_int_equal(strlen(id), PKEY_ID_LEN);
        assert_true(id[0] != '-');
        assert_int_equal(strlen(key), PKEY_KEY_LEN);
        assert_memory_equal(key, "idpd_pk_", 8);
        assert_memory_equal(key + 8, id, PKEY_ID_LEN);
        assert_int_equal(pkey_parse(key, strlen(key), pid, &secret, NULL), IDP_OK);
        assert_string_equal(pid, id);
        assert_ptr_equal(secret, key + 8 + PKEY_ID_LEN + 1);
        assert_true(client_secret_verify(pepper, secret, PKEY_SECRET_LEN, hash));
        unsigned char other[32] = {9};
        assert_false(client_secret_verify(other, secret, PKEY_SECRET_LEN, hash));
        free(id);
        mem_free_secret(key);
    }
}

/* A syntactically valid key (16 zero bytes id, 32 zero bytes secret). */
#define ZID "AAAAAAAAAAAAAAAAAAAAAA"
#define ZSEC "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static void parse_rejections(void **state)
{
    (void)state;
    char id[PKEY_ID_LEN + 1];
    const char *secret = NULL;
    idp_error e = {0};
    assert_int_equal(pkey_parse("idpd_pk_" ZID "." ZSEC, PKEY_KEY_LEN, id, &secret, NULL), IDP_OK);
    static const char *const bad[] = {
        "",
        "idpd_pk_",
        "idpd_pk_" ZID "." ZSEC "A", /* too long */
        "idpd_pk_" ZID "."
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* secret too short */
        "idpd_pk_"
        "AAAAAAAAAAAAAAAAAAAAA"
        "." ZSEC "A",            /* id 21, secret 44 */
        "IDPD_PK_" ZID "." ZSEC, /* prefix is case-sensitive */
        "idpd_pkx" ZID "." ZSEC, /* wrong prefix */
        "idpd_pk_" ZID "_" ZSEC, /* separator */
        "idpd_pk_"
        "AAAAAAAAAAAAAAAAAAAAA+"
        "." ZSEC, /* '+' is not base64url */
        "idpd_pk_"
        "AAAAAAAAAAAAAAAAAAAAA="
        "." ZSEC, /* padding */
        "idpd_pk_"
        "AAAAAAAAAAAAAAAAAAAAAB"
        "." ZSEC, /* non-zero trailing bits (strict) */
        "idpd_pk_" ZID "."
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", /* same in secret */
        "idpd_pk_" ZID "."
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
        "idpd_pk_" ZID "."
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA A",
        "xidpd_pk_" ZID "."
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&e, 0, sizeof e);
        if (pkey_parse(bad[i], strlen(bad[i]), id, &secret, &e) != IDP_ERR_UNAUTHORIZED)
            fail_msg("case %zu accepted", i);
        assert_string_equal(e.msg, PKEY_AUTH_FAILED_MSG);
    }
    /* an embedded NUL: the length says 74 but the content stops early */
    char nul[PKEY_KEY_LEN + 1];
    memcpy(nul, "idpd_pk_" ZID "." ZSEC, PKEY_KEY_LEN + 1);
    nul[40] = '\0';
    assert_int_equal(pkey_parse(nul, PKEY_KEY_LEN, id, &secret, NULL), IDP_ERR_UNAUTHORIZED);
    assert_int_equal(pkey_parse(NULL, 0, id, &secret, NULL), IDP_ERR_UNAUTHORIZED);
}

static void bearer_header(void **state)
{
    (void)state;
    const char *t = NULL, *secret = NULL;
    char id[PKEY_ID_LEN + 1];
    size_t n = 0;
    static const char *const good[] = {"Bearer abc", "bearer abc", "BEARER abc", "Bearer   abc"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(pkey_bearer(good[i], &t, &n, NULL), IDP_OK);
        assert_int_equal(n, 3);
        assert_memory_equal(t, "abc", 3);
    }
    static const char *const bad[] = {
        "",
        "Bearer",
        "Bearer ",
        "Bearer    ",
        "Basic abc",
        "Bearerabc",
        "Bearer\tabc",
        "Bearer abc def",
        "Bearer abc ",
        "Bearer abc\t",
        " Bearer abc",
        "Token abc",
    };
    idp_error e = {0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&e, 0, sizeof e);
        if (pkey_bearer(bad[i], &t, &n, &e) != IDP_ERR_UNAUTHORIZED)
            fail_msg("case %zu (%s) accepted", i, bad[i]);
        assert_string_equal(e.msg, PKEY_AUTH_FAILED_MSG);
    }
    assert_int_equal(pkey_bearer(NULL, &t, &n, NULL), IDP_ERR_UNAUTHORIZED);
    static char big[7 + BEARER_MAX_TOKEN + 2];
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', sizeof big - 8);
    big[sizeof big - 1] = '\0';
    assert_int_equal(pkey_bearer(big, &t, &n, NULL), IDP_ERR_UNAUTHORIZED); /* over the cap */
    big[7 + 1100] = '\0'; /* longer than a key, within the cap: the key parser refuses it */
    assert_int_equal(pkey_bearer(big, &t, &n, NULL), IDP_OK);
    assert_int_equal(pkey_parse(t, n, id, &secret, NULL), IDP_ERR_UNAUTHORIZED);
}

static void scope_lists(void **state)
{
    (void)state;
    char *s = NULL;
    assert_int_equal(pkey_scopes_normalize("scim:write,scim:read", &s, NULL), IDP_OK);
    assert_string_equal(s, "scim:read scim:write");
    free(s);
    assert_int_equal(pkey_scopes_normalize(" admin , scim:read ", &s, NULL), IDP_OK);
    assert_string_equal(s, "scim:read admin");
    free(s);
    assert_int_equal(pkey_scopes_normalize("events:read,scim:write", &s, NULL), IDP_OK);
    assert_string_equal(s, "scim:write events:read");
    free(s);
    static const char *const bad[] = {
        "", " , ", "scim:read,scim:read", "scim:delete", "SCIM:READ", "scim:read;admin", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        idp_error e = {0};
        s = (char *)"x";
        if (pkey_scopes_normalize(bad[i], &s, &e) != IDP_ERR_INVALID)
            fail_msg("case %zu accepted", i);
        assert_null(s);
        assert_true(e.msg[0] != '\0');
    }
    assert_true(pkey_has_scope("scim:read scim:write", "scim:write"));
    assert_true(pkey_has_scope("scim:read scim:write", "scim:read"));
    assert_false(pkey_has_scope("scim:read", "scim:write"));
    assert_false(pkey_has_scope("admin", "scim:read")); /* admin implies nothing */
    assert_false(pkey_has_scope("admin scim:read scim:write", "events:read"));
    assert_false(pkey_has_scope("scim:reader", "scim:read"));
    assert_false(pkey_has_scope("scim:rea", "scim:read"));
    assert_false(pkey_has_scope(NULL, "scim:read"));
    assert_false(pkey_has_scope("scim:read", ""));
}

static void expiry_arithmetic(void **state)
{
    (void)state;
    store_pkey k;
    memset(&k, 0, sizeof k);
    assert_true(pkey_is_active(&k, 1000));
    k.expires_at = 2000;
    assert_true(pkey_is_active(&k, 1999));
    assert_false(pkey_is_active(&k, 2000));
    k.expires_at = 0;
    k.revoked_at = 5;
    assert_false(pkey_is_active(&k, 1));

    /* rotation: the old key lives until now + overlap, never longer than it would have */
    assert_int_equal(pkey_rotate_expiry(0, 1000, 86400), 1000 + 86400);
    assert_int_equal(pkey_rotate_expiry(5000, 1000, 86400), 5000);
    assert_int_equal(pkey_rotate_expiry(900000, 1000, 86400), 1000 + 86400);
    assert_int_equal(pkey_rotate_expiry(0, 1000, 0), 1000); /* overlap 0: dead at once */
    assert_int_equal(pkey_rotate_expiry(0, 1000, -5), 1000);
    assert_int_equal(pkey_rotate_expiry(0, INT64_MAX - 1, 10), INT64_MAX);

    /* successor keeps the lifetime policy */
    k.created_at = 100;
    k.expires_at = 0;
    assert_int_equal(pkey_successor_expiry(&k, 5000), 0);
    k.expires_at = 100 + 90 * 86400;
    assert_int_equal(pkey_successor_expiry(&k, 5000), 5000 + 90 * 86400);
}

/* ---- against a store ----------------------------------------------------------------- */

typedef struct fixture {
    char *tmp;
    store *st;
    char *id, *key; /* a good key with scim:read */
} fixture;

static void insert_key(store *st, const char *id, const unsigned char hash[32], const char *scopes,
                       int64_t expires, int64_t revoked)
{
    store_pkey row;
    memset(&row, 0, sizeof row);
    row.id = (char *)id;
    row.name = (char *)"test";
    memcpy(row.hash, hash, 32);
    row.scopes = (char *)scopes;
    row.created_at = 1000;
    row.expires_at = expires;
    row.revoked_at = revoked;
    assert_int_equal(st->ops->pkey_insert(st, &row, NULL), IDP_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->tmp = tu_tmpdir();
    size_t n = strlen(f->tmp) + 10;
    char *db = malloc(n);
    snprintf(db, n, "%s/idpd.db", f->tmp);
    assert_int_equal(store_open(db, true, &f->st, NULL), IDP_OK);
    free(db);
    unsigned char hash[32];
    pkey_generate(pepper, &f->id, &f->key, hash);
    insert_key(f->st, f->id, hash, "scim:read", 0, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_close(f->st);
    tu_rmtree(f->tmp);
    free(f->tmp);
    free(f->id);
    mem_free_secret(f->key);
    free(f);
    return 0;
}

static char *header_for(const char *scheme, const char *key)
{
    size_t n = strlen(scheme) + strlen(key) + 2;
    char *h = malloc(n);
    snprintf(h, n, "%s %s", scheme, key);
    return h;
}

static void authenticate_good_and_forbidden(void **state)
{
    fixture *f = *state;
    char *h = header_for("Bearer", f->key);
    store_pkey out;
    assert_int_equal(pkey_authenticate(f->st, pepper, h, "scim:read", 5000, &out, NULL), IDP_OK);
    assert_string_equal(out.id, f->id);
    assert_string_equal(out.scopes, "scim:read");
    store_pkey_clear(&out);
    /* RFC 6750 §2.1 via RFC 9110 §11.1: the scheme is case-insensitive */
    char *lh = header_for("bearer", f->key);
    assert_int_equal(pkey_authenticate(f->st, pepper, lh, NULL, 5000, NULL, NULL), IDP_OK);
    /* a valid key without the scope: 403, not 401 */
    idp_error e = {0};
    assert_int_equal(pkey_authenticate(f->st, pepper, h, "scim:write", 5000, &out, &e),
                     IDP_ERR_FORBIDDEN);
    assert_null(out.id);
    assert_int_equal(pkey_authenticate(f->st, pepper, h, "admin", 5000, NULL, NULL),
                     IDP_ERR_FORBIDDEN);
    free(h);
    free(lh);
}

/* Every authentication failure: IDP_ERR_UNAUTHORIZED and the very same message. */
static void authenticate_failures_identical(void **state)
{
    fixture *f = *state;
    unsigned char hash[32];
    char *eid = NULL, *ekey = NULL, *rid = NULL, *rkey = NULL, *uid = NULL, *ukey = NULL;
    pkey_generate(pepper, &eid, &ekey, hash);
    insert_key(f->st, eid, hash, "scim:read", 4000, 0); /* expired at 4000 */
    pkey_generate(pepper, &rid, &rkey, hash);
    insert_key(f->st, rid, hash, "scim:read", 0, 3000); /* revoked */
    pkey_generate(pepper, &uid, &ukey, hash);           /* never stored: unknown id */

    char wrong[PKEY_KEY_LEN + 1];
    memcpy(wrong, f->key, sizeof wrong);
    wrong[PKEY_KEY_LEN - 2] = wrong[PKEY_KEY_LEN - 2] == 'A' ? 'B' : 'A'; /* other secret */
    char *h_wrong = header_for("Bearer", wrong), *h_exp = header_for("Bearer", ekey),
         *h_rev = header_for("Bearer", rkey), *h_unk = header_for("Bearer", ukey),
         *h_basic = header_for("Basic", f->key), *h_mal = header_for("Bearer", "idpd_pk_x.y");
    const char *headers[] = {h_wrong, h_exp, h_rev, h_unk, h_basic, h_mal, NULL, ""};
    for (size_t i = 0; i < sizeof headers / sizeof *headers; i++) {
        idp_error e = {0};
        store_pkey out;
        idp_err rc = pkey_authenticate(f->st, pepper, headers[i], NULL, 5000, &out, &e);
        if (rc != IDP_ERR_UNAUTHORIZED) fail_msg("case %zu: %d", i, rc);
        assert_string_equal(e.msg, PKEY_AUTH_FAILED_MSG);
        assert_null(out.id);
    }
    /* the expired key worked before its expiry; the wrong pepper never works */
    assert_int_equal(pkey_authenticate(f->st, pepper, h_exp, "scim:read", 3999, NULL, NULL),
                     IDP_OK);
    unsigned char other[32] = {7};
    char *h_good = header_for("Bearer", f->key);
    assert_int_equal(pkey_authenticate(f->st, other, h_good, NULL, 5000, NULL, NULL),
                     IDP_ERR_UNAUTHORIZED);
    free(h_good);
    free(h_wrong);
    free(h_exp);
    free(h_rev);
    free(h_unk);
    free(h_basic);
    free(h_mal);
    free(eid);
    free(rid);
    free(uid);
    mem_free_secret(ekey);
    mem_free_secret(rkey);
    mem_free_secret(ukey);
}

static int64_t last_used(store *st, const char *id)
{
    store_pkey row;
    memset(&row, 0, sizeof row);
    assert_int_equal(st->ops->pkey_get(st, id, &row, NULL), IDP_OK);
    int64_t t = row.last_used_at;
    store_pkey_clear(&row);
    return t;
}

static void last_used_throttled(void **state)
{
    fixture *f = *state;
    char *h = header_for("Bearer", f->key);
    assert_int_equal(last_used(f->st, f->id), 0);
    assert_int_equal(pkey_authenticate(f->st, pepper, h, NULL, 10000, NULL, NULL), IDP_OK);
    assert_int_equal(last_used(f->st, f->id), 10000);
    assert_int_equal(pkey_authenticate(f->st, pepper, h, NULL, 10059, NULL, NULL), IDP_OK);
    assert_int_equal(last_used(f->st, f->id), 10000); /* within 60 s: no write */
    assert_int_equal(pkey_authenticate(f->st, pepper, h, NULL, 10060, NULL, NULL), IDP_OK);
    assert_int_equal(last_used(f->st, f->id), 10060);
    /* failures never touch */
    assert_int_equal(pkey_authenticate(f->st, pepper, h, "admin", 20000, NULL, NULL),
                     IDP_ERR_FORBIDDEN);
    assert_int_equal(last_used(f->st, f->id), 10060);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generate_parse_round_trip),
        cmocka_unit_test(parse_rejections),
        cmocka_unit_test(bearer_header),
        cmocka_unit_test(scope_lists),
        cmocka_unit_test(expiry_arithmetic),
        cmocka_unit_test_setup_teardown(authenticate_good_and_forbidden, setup, teardown),
        cmocka_unit_test_setup_teardown(authenticate_failures_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(last_used_throttled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
