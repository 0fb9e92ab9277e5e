/* store contract suite — see store_contract.h. Every case talks to the store through store.h
 * only (no SQL, no file access), so a second backend passes or fails the same assertions. */
#include "store_contract.h"

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

/* ---- helpers -------------------------------------------------------------------------------- */

static void user(store *st, const char *id, const char *name)
{
    store_user u = {.id = (char *)id, .user_name = (char *)name, .active = true, .doc = "{}"};
    idp_error e = {0};
    if (st->ops->user_create(st, &u, &e)) fail_msg("user_create: %s", e.msg);
}

static void client(store *st, const char *id)
{
    store_client c = {.client_id = (char *)id, .created_at = 1};
    idp_error e = {0};
    if (store_client_insert(st, &c, &e)) fail_msg("client_insert: %s", e.msg);
}

static void seed(store *st)
{
    user(st, "u1", "alice");
    user(st, "u2", "bob");
    client(st, "c1");
}

static int64_t epoch(store *st, const char *id)
{
    store_user u;
    assert_int_equal(st->ops->user_get(st, id, &u, NULL), IDP_OK);
    int64_t v = u.token_epoch;
    store_user_clear(&u);
    return v;
}

static int64_t gen(store *st)
{
    int64_t g = -1;
    assert_int_equal(store_generation(st, &g, NULL), IDP_OK);
    return g;
}

static void H(unsigned char h[32], int s)
{
    for (int i = 0; i < 32; i++)
        h[i] = (unsigned char)(s * 37 + i);
}

static store_refresh rt(int s, const char *family, const char *sid)
{
    store_refresh r = {.family_id = (char *)family,
                       .client_id = "c1",
                       .user_id = "u1",
                       .scope = "openid",
                       .session_id = (char *)sid,
                       .user_epoch = 0,
                       .created_at = 1000,
                       .expires_at = 100000};
    H(r.hash, s);
    return r;
}

static int64_t rt_state(store *st, int s, int64_t *rotated)
{
    unsigned char h[32];
    store_refresh r;
    H(h, s);
    assert_int_equal(st->ops->refresh_get(st, h, &r, NULL), IDP_OK);
    int64_t v = r.revoked_at;
    if (rotated) *rotated = r.rotated_at;
    store_refresh_clear(&r);
    return v;
}

/* ---- users and groups ----------------------------------------------------------------------- */

static void c_user_crud(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    store_user u = {.id = "u1",
                    .user_name = "Alice",
                    .external_id = "x1",
                    .active = true,
                    .doc = "{\"displayName\":\"A\"}",
                    .password_hash = "$argon2id$x",
                    .created_at = 1000,
                    .modified_at = 1000};
    assert_int_equal(st->ops->user_create(st, &u, &e), IDP_OK);
    assert_int_equal(st->ops->user_create(st, &u, &e), IDP_ERR_CONFLICT); /* the id */
    store_user u2 = {.id = "u2", .user_name = "ALICE", .active = true, .doc = "{}"};
    assert_int_equal(st->ops->user_create(st, &u2, &e), IDP_ERR_CONFLICT); /* case-insensitive */
    store_user got;
    assert_int_equal(st->ops->user_get_by_name(st, "alice", &got, &e), IDP_OK);
    assert_string_equal(got.id, "u1");
    assert_string_equal(got.user_name, "Alice");
    assert_string_equal(got.external_id, "x1");
    assert_string_equal(got.password_hash, "$argon2id$x");
    assert_true(got.active);
    assert_int_equal(got.version, 1);
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.modified_at, 1000);
    store_user_clear(&got);
    assert_int_equal(st->ops->user_get(st, "nope", &got, &e), IDP_ERR_NOT_FOUND);
    store_user now = {.id = "u3", .user_name = "carol", .active = true, .doc = "{}"};
    assert_int_equal(st->ops->user_create(st, &now, &e), IDP_OK);
    assert_int_equal(st->ops->user_get(st, "u3", &got, &e), IDP_OK);
    assert_true(got.created_at > 0 && got.modified_at == got.created_at); /* 0 = now */
    store_user_clear(&got);

    u.user_name = "alice2";
    u.modified_at = 2000;
    assert_int_equal(st->ops->user_replace(st, &u, 2, &e), IDP_ERR_PRECONDITION);
    assert_int_equal(st->ops->user_replace(st, &u, 1, &e), IDP_OK);
    assert_int_equal(st->ops->user_get(st, "u1", &got, &e), IDP_OK);
    assert_string_equal(got.user_name, "alice2");
    assert_int_equal(got.version, 2);
    assert_int_equal(got.created_at, 1000);
    assert_int_equal(got.modified_at, 2000);
    store_user_clear(&got);
    assert_int_equal(st->ops->user_get_by_name(st, "alice", &got, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK); /* 0 = unconditional */

    store_user ghost = {.id = "nope", .user_name = "g", .active = true, .doc = "{}"};
    assert_int_equal(st->ops->user_replace(st, &ghost, 1, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->user_replace(st, &ghost, 0, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->user_delete(st, "u1", 1, &e), IDP_ERR_PRECONDITION);
    assert_int_equal(st->ops->user_delete(st, "u1", 3, &e), IDP_OK);
    assert_int_equal(st->ops->user_get(st, "u1", &got, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->user_delete(st, "u1", 0, &e), IDP_ERR_NOT_FOUND);
}

static idp_err members(store *st, const char *gid, bool all, const char *add, const char *rm)
{
    scim_delta d = {.replace_all = all};
    if (add) scim_delta_add(&d, add);
    if (rm) scim_delta_remove(&d, rm);
    store_group g = {.id = (char *)gid, .display_name = "G", .doc = "{}"};
    idp_error e = {0};
    idp_err rc = st->ops->group_replace(st, &g, &d, 0, &e);
    scim_delta_clear(&d);
    return rc;
}

static size_t nmembers(store *st, const char *gid)
{
    store_ref *r = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->group_members(st, gid, &r, &n, NULL), IDP_OK);
    store_ref_list_free(r, n);
    return n;
}

static void c_group_crud(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    seed(st);
    scim_delta d = {0};
    scim_delta_add(&d, "u1");
    store_group g = {.id = "g1", .display_name = "Admins", .doc = "{}"};
    assert_int_equal(st->ops->group_create(st, &g, &d, &e), IDP_OK);
    scim_delta_clear(&d);
    assert_int_equal(st->ops->group_create(st, &g, NULL, &e), IDP_ERR_CONFLICT);
    store_group bad = {.id = "g2", .display_name = "", .doc = "{}"};
    assert_int_equal(st->ops->group_create(st, &bad, NULL, &e), IDP_ERR_INVALID);
    store_group got;
    assert_int_equal(st->ops->group_get(st, "g1", &got, &e), IDP_OK);
    assert_string_equal(got.display_name, "Admins");
    assert_string_equal(got.doc, "{}");
    assert_int_equal(got.version, 1);
    store_group_clear(&got);
    assert_int_equal(nmembers(st, "g1"), 1);
    store_ref *r = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->user_groups(st, "u1", &r, &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].display, "Admins");
    store_ref_list_free(r, n);

    store_group up = {.id = "g1", .display_name = "Ops", .external_id = "x", .doc = "{\"a\":1}"};
    assert_int_equal(st->ops->group_replace(st, &up, NULL, 7, &e), IDP_ERR_PRECONDITION);
    assert_int_equal(st->ops->group_replace(st, &up, NULL, 1, &e), IDP_OK); /* members kept */
    assert_int_equal(nmembers(st, "g1"), 1);
    assert_int_equal(st->ops->group_get(st, "g1", &got, &e), IDP_OK);
    assert_string_equal(got.display_name, "Ops");
    assert_string_equal(got.external_id, "x");
    assert_string_equal(got.doc, "{\"a\":1}");
    assert_int_equal(got.version, 2);
    store_group_clear(&got);
    up.id = "nope";
    assert_int_equal(st->ops->group_replace(st, &up, NULL, 0, &e), IDP_ERR_NOT_FOUND);

    assert_int_equal(members(st, "g1", false, "nobody", NULL), IDP_ERR_SCIM_INVALID_VALUE);
    assert_int_equal(nmembers(st, "g1"), 1); /* nothing written */
    assert_int_equal(members(st, "g1", false, "u2", NULL), IDP_OK);
    assert_int_equal(nmembers(st, "g1"), 2);
    assert_int_equal(st->ops->group_delete(st, "g1", 2, &e), IDP_ERR_PRECONDITION);
    assert_int_equal(st->ops->group_delete(st, "g1", 3, &e), IDP_OK);
    assert_int_equal(st->ops->group_delete(st, "g1", 0, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->group_get(st, "g1", &got, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->user_groups(st, "u1", &r, &n, &e), IDP_OK);
    assert_int_equal(n, 0);
    store_ref_list_free(r, n);
}

/* DESIGN §5: token_epoch never goes down and moves on deactivation, on leaving a group and on
 * the group's deletion; a user's deletion removes the memberships. */
static void c_epoch_rules(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    store_user u = {.id = "u1", .user_name = "a", .active = true, .doc = "{}", .token_epoch = 5};
    assert_int_equal(st->ops->user_create(st, &u, &e), IDP_OK);
    user(st, "u2", "b");
    u.token_epoch = 3;
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK);
    assert_int_equal(epoch(st, "u1"), 5);
    u.token_epoch = 6;
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK);
    assert_int_equal(epoch(st, "u1"), 6);
    u.active = false;
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK);
    assert_int_equal(epoch(st, "u1"), 7);
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK);
    assert_int_equal(epoch(st, "u1"), 7);
    u.active = true;
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK);
    assert_int_equal(epoch(st, "u1"), 7);
    u.password_hash = "$argon2id$new"; /* a new password */
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK);
    assert_int_equal(epoch(st, "u1"), 8);
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK); /* the same hash: none */
    assert_int_equal(epoch(st, "u1"), 8);
    u.password_hash = NULL;
    u.token_epoch = 7;

    store_group g = {.id = "g1", .display_name = "G", .doc = "{}"};
    scim_delta d = {0};
    scim_delta_add(&d, "u1");
    scim_delta_add(&d, "u2");
    assert_int_equal(st->ops->group_create(st, &g, &d, &e), IDP_OK);
    scim_delta_clear(&d);
    assert_int_equal(epoch(st, "u1"), 8); /* joining does not bump */
    assert_int_equal(members(st, "g1", false, NULL, "u1"), IDP_OK);
    assert_int_equal(epoch(st, "u1"), 9);
    assert_int_equal(members(st, "g1", false, NULL, "u1"), IDP_OK); /* not a member: no bump */
    assert_int_equal(epoch(st, "u1"), 9);
    assert_int_equal(members(st, "g1", true, "u1", NULL), IDP_OK); /* u2 leaves */
    assert_int_equal(epoch(st, "u2"), 1);
    assert_int_equal(epoch(st, "u1"), 9);
    assert_int_equal(st->ops->group_delete(st, "g1", 0, &e), IDP_OK);
    assert_int_equal(epoch(st, "u1"), 10);
    assert_int_equal(epoch(st, "u2"), 1);
}

/* ---- transactions --------------------------------------------------------------------------- */

static void c_tx(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    assert_int_equal(store_tx_begin(st, &e), IDP_ERR_INTERNAL); /* nesting is a bug */
    user(st, "u1", "a");
    store_tx_rollback(st);
    store_user got;
    assert_int_equal(st->ops->user_get(st, "u1", &got, &e), IDP_ERR_NOT_FOUND);
    store_tx_rollback(st); /* without a transaction: no-op */
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    user(st, "u1", "a");
    client(st, "c1");
    assert_int_equal(store_tx_commit(st, &e), IDP_OK);
    assert_int_equal(epoch(st, "u1"), 0);
}

/* ---- sign-in artefacts ---------------------------------------------------------------------- */

static void c_codes_single_use(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    seed(st);
    store_auth_code c = {.client_id = "c1",
                         .user_id = "u1",
                         .redirect_uri = "https://a/cb",
                         .scope = "openid",
                         .user_epoch = 0,
                         .created_at = 1000,
                         .expires_at = 1060};
    H(c.hash, 1);
    assert_int_equal(st->ops->code_insert(st, &c, &e), IDP_OK);
    assert_int_equal(st->ops->code_insert(st, &c, &e), IDP_ERR_CONFLICT);
    store_auth_code out;
    bool replayed = true;
    assert_int_equal(st->ops->code_consume(st, c.hash, 0, &out, &replayed, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->code_consume(st, c.hash, 1010, &out, &replayed, &e), IDP_OK);
    assert_false(replayed);
    assert_int_equal(out.used_at, 1010);
    assert_string_equal(out.redirect_uri, "https://a/cb");
    store_auth_code_clear(&out);
    assert_int_equal(st->ops->code_set_issued(st, c.hash, "fam", "jti1", 2000, &e), IDP_OK);
    assert_int_equal(st->ops->code_consume(st, c.hash, 1020, &out, &replayed, &e), IDP_OK);
    assert_true(replayed);
    assert_int_equal(out.used_at, 1010); /* unchanged by the replay */
    assert_string_equal(out.family_id, "fam");
    assert_string_equal(out.access_jti, "jti1");
    assert_int_equal(out.access_exp, 2000);
    store_auth_code_clear(&out);
    unsigned char other[32];
    H(other, 2);
    assert_int_equal(st->ops->code_consume(st, other, 1010, &out, &replayed, &e),
                     IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->code_set_issued(st, other, NULL, NULL, 0, &e), IDP_ERR_NOT_FOUND);
}

static void c_refresh_rotation(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    seed(st);
    store_refresh a = rt(1, "F", "s1"), b = rt(2, "F", "s1"), c = rt(3, "F", "s1");
    assert_int_equal(st->ops->refresh_insert(st, &a, &e), IDP_OK);
    bool raced = true;
    assert_int_equal(st->ops->refresh_rotate(st, a.hash, &b, 1100, &raced, &e), IDP_OK);
    assert_false(raced);
    int64_t rot = 0;
    assert_int_equal(rt_state(st, 1, &rot), 0);
    assert_int_equal(rot, 1100);
    assert_int_equal(rt_state(st, 2, &rot), 0);
    assert_int_equal(rot, 0);
    /* A second exchange of a: raced, nothing written (the caller applies the grace window). */
    assert_int_equal(st->ops->refresh_rotate(st, a.hash, &c, 1101, &raced, &e), IDP_OK);
    assert_true(raced);
    assert_int_equal(st->ops->refresh_get(st, c.hash, &(store_refresh){0}, &e), IDP_ERR_NOT_FOUND);
    store_refresh other = rt(4, "G", NULL);
    assert_int_equal(st->ops->refresh_rotate(st, b.hash, &other, 1102, &raced, &e) != IDP_OK,
                     true); /* another family */
    unsigned char none[32];
    H(none, 9);
    assert_int_equal(st->ops->refresh_rotate(st, none, &c, 1102, &raced, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->refresh_rotate(st, b.hash, &c, 0, &raced, &e), IDP_ERR_INVALID);
}

static void c_refresh_revocation(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    seed(st);
    store_refresh a = rt(1, "F", "s1"), b = rt(2, "F", "s1"), g = rt(3, "G", "s2"),
                  h = rt(4, "H", NULL);
    h.user_id = "u2";
    assert_int_equal(st->ops->refresh_insert(st, &a, &e), IDP_OK);
    bool raced;
    assert_int_equal(st->ops->refresh_rotate(st, a.hash, &b, 1100, &raced, &e), IDP_OK);
    assert_int_equal(st->ops->refresh_insert(st, &g, &e), IDP_OK);
    assert_int_equal(st->ops->refresh_insert(st, &h, &e), IDP_OK);

    /* revoke_one takes the whole family with it (RFC 9700 §4.14.2). */
    assert_int_equal(st->ops->refresh_revoke_one(st, a.hash, 1200, &e), IDP_OK);
    assert_int_equal(rt_state(st, 1, NULL), 1200);
    assert_int_equal(rt_state(st, 2, NULL), 1200);
    assert_int_equal(rt_state(st, 3, NULL), 0);
    assert_int_equal(st->ops->refresh_revoke_family(st, "F", 1300, &e), IDP_OK);
    assert_int_equal(rt_state(st, 1, NULL), 1200); /* already revoked: kept */
    unsigned char none[32];
    H(none, 9);
    assert_int_equal(st->ops->refresh_revoke_one(st, none, 1200, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->refresh_revoke_family(st, "nope", 1200, &e), IDP_OK);

    size_t n = 99;
    assert_int_equal(st->ops->refresh_revoke_session(st, "s2", 1400, &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rt_state(st, 3, NULL), 1400);
    assert_int_equal(st->ops->refresh_revoke_user(st, "u2", 1500, &e), IDP_OK);
    assert_int_equal(rt_state(st, 4, NULL), 1500);
    assert_int_equal(st->ops->refresh_revoke_user(st, "u2", 0, &e), IDP_ERR_INVALID);
}

static void c_sessions(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    seed(st);
    store_session s = {.sid = "sid1",
                       .user_id = "u1",
                       .auth_time = 900,
                       .amr = "pwd",
                       .created_at = 1000,
                       .expires_at = 5000};
    H(s.hash, 1);
    assert_int_equal(st->ops->session_insert(st, &s, &e), IDP_OK);
    assert_int_equal(st->ops->session_insert(st, &s, &e), IDP_ERR_CONFLICT);
    store_session got;
    assert_int_equal(st->ops->session_get(st, s.hash, &got, &e), IDP_OK);
    assert_int_equal(got.last_seen, 1000);
    assert_string_equal(got.clients, "");
    store_session_clear(&got);
    assert_int_equal(st->ops->session_touch(st, s.hash, 1500, &e), IDP_OK);
    assert_int_equal(st->ops->session_touch(st, s.hash, 1200, &e), IDP_OK); /* never back */
    assert_int_equal(st->ops->session_add_client(st, s.hash, "c1", &e), IDP_OK);
    assert_int_equal(st->ops->session_add_client(st, s.hash, "c1", &e), IDP_OK);
    assert_int_equal(st->ops->session_add_client(st, s.hash, "c2", &e), IDP_OK);
    assert_int_equal(st->ops->session_get_by_sid(st, "sid1", &got, &e), IDP_OK);
    assert_int_equal(got.last_seen, 1500);
    assert_string_equal(got.clients, "c1 c2");
    store_session_clear(&got);

    store_session s2 = {.sid = "sid2", .user_id = "u1", .created_at = 1100, .expires_at = 5000};
    H(s2.hash, 2);
    assert_int_equal(st->ops->session_insert(st, &s2, &e), IDP_OK);
    store_session *rows = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->session_list_user(st, "u1", &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].sid, "sid1"); /* oldest first */
    store_session_list_free(rows, n);
    assert_int_equal(st->ops->session_delete(st, s.hash, &e), IDP_OK);
    assert_int_equal(st->ops->session_delete(st, s.hash, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->session_delete_user(st, "u1", &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st->ops->session_get_by_sid(st, "sid2", &got, &e), IDP_ERR_NOT_FOUND);
}

static void c_login_throttle(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    int64_t fails = -1, last = -1;
    assert_int_equal(st->ops->login_fail_get(st, "user:a", &fails, &last, &e), IDP_OK);
    assert_int_equal(fails, 0);
    assert_int_equal(last, 0);
    assert_int_equal(st->ops->login_fail(st, "user:a", 100, NULL, &fails, &e), IDP_OK);
    assert_int_equal(fails, 1);
    assert_int_equal(st->ops->login_fail(st, "user:a", 101, NULL, &fails, &e), IDP_OK);
    assert_int_equal(fails, 2);
    assert_int_equal(st->ops->login_fail_get(st, "user:a", &fails, &last, &e), IDP_OK);
    assert_int_equal(fails, 2);
    assert_int_equal(last, 101);
    /* The cap: a new key evicts an evictable counter, else nothing is written. */
    store_login_cap cap = {.max_keys = 1, .fails_below = 2, .idle_before = 0};
    assert_int_equal(st->ops->login_fail(st, "ip:1", 102, &cap, &fails, &e), IDP_ERR_TOO_LARGE);
    cap.fails_below = 3;
    assert_int_equal(st->ops->login_fail(st, "ip:1", 102, &cap, &fails, &e), IDP_OK);
    assert_int_equal(fails, 1);
    assert_int_equal(st->ops->login_fail_get(st, "user:a", &fails, NULL, &e), IDP_OK);
    assert_int_equal(fails, 0);
    assert_int_equal(st->ops->login_fail_reset(st, "ip:1", &e), IDP_OK);
    assert_int_equal(st->ops->login_fail_get(st, "ip:1", &fails, NULL, &e), IDP_OK);
    assert_int_equal(fails, 0);
}

static void c_consent_and_jti(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    seed(st);
    char *scope = NULL;
    assert_int_equal(st->ops->consent_get(st, "u1", "c1", &scope, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->consent_set(st, "u1", "c1", "openid", 10, &e), IDP_OK);
    assert_int_equal(st->ops->consent_set(st, "u1", "c1", "openid email", 11, &e), IDP_OK);
    assert_int_equal(st->ops->consent_get(st, "u1", "c1", &scope, &e), IDP_OK);
    assert_string_equal(scope, "openid email");
    free(scope);

    /* RFC 7523 §3 item 7: a client assertion's jti is accepted once. */
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "j1", 2000, &e), IDP_OK);
    assert_int_equal(st->ops->assertion_jti_use(st, "c1", "j1", 2000, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->assertion_jti_use(st, "c2", "j1", 2000, &e), IDP_OK);

    /* RFC 7009 deny-list until exp. */
    bool revoked = true;
    assert_int_equal(store_jti_is_revoked(st, "a1", &revoked, &e), IDP_OK);
    assert_false(revoked);
    assert_int_equal(store_jti_revoke(st, "a1", 500, &e), IDP_OK);
    assert_int_equal(store_jti_is_revoked(st, "a1", &revoked, &e), IDP_OK);
    assert_true(revoked);
    assert_int_equal(store_jti_prune(st, 500, &e), IDP_OK); /* exp < now only */
    assert_int_equal(store_jti_is_revoked(st, "a1", &revoked, &e), IDP_OK);
    assert_true(revoked);
    assert_int_equal(store_jti_prune(st, 501, &e), IDP_OK);
    assert_int_equal(store_jti_is_revoked(st, "a1", &revoked, &e), IDP_OK);
    assert_false(revoked);
}

/* ---- audit ---------------------------------------------------------------------------------- */

static void c_audit_chain(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    for (int i = 1; i <= 4; i++) {
        store_audit ev = {.time_ms = 1000 * i,
                          .actor = "cli",
                          .action = "user.create",
                          .target_type = "User",
                          .target_id = "u1",
                          .after_version = i,
                          .detail = i == 2 ? "{\"k\":1}" : NULL};
        assert_int_equal(st->ops->audit_append(st, &ev, &e), IDP_OK);
        assert_int_equal(ev.seq, i);
    }
    store_audit bad = {.action = "x"};
    assert_int_equal(st->ops->audit_append(st, &bad, &e), IDP_ERR_INVALID);
    store_audit *rows = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->audit_list(st, 0, 100, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 4);
    unsigned char prev[32] = {0}, h[32];
    for (size_t i = 0; i < n; i++) {
        assert_memory_equal(rows[i].prev_hash, prev, 32);
        store_audit_hash(&rows[i], h);
        assert_memory_equal(rows[i].hash, h, 32);
        memcpy(prev, h, 32);
    }
    store_audit_list_free(rows, n);
    assert_int_equal(st->ops->audit_last(st, 2, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].seq + rows[1].seq, 7);
    store_audit_list_free(rows, n);

    /* Pruning behind a checkpoint: the chain continues from the deleted events' hash. */
    int64_t seq = -1, deleted = -1;
    assert_int_equal(st->ops->audit_seq_before(st, 2500, &seq, &e), IDP_OK);
    assert_int_equal(seq, 2);
    assert_int_equal(st->ops->audit_seq_before(st, 1000, &seq, &e), IDP_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(st->ops->audit_delete_through(st, 2, &deleted, &e), IDP_OK);
    assert_int_equal(deleted, 2);
    store_audit ev = {.time_ms = 5000, .actor = "cli", .action = "group.create"};
    assert_int_equal(st->ops->audit_append(st, &ev, &e), IDP_OK);
    assert_int_equal(ev.seq, 5);
    assert_int_equal(st->ops->audit_list(st, 2, 100, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].seq, 3);
    assert_memory_equal(rows[2].prev_hash, rows[1].hash, 32);
    store_audit_list_free(rows, n);
    char *v = NULL;
    assert_int_equal(store_meta_get(st, "audit.checkpoint.test", &v, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(store_meta_set(st, "audit.checkpoint.test", "2:abc", &e), IDP_OK);
    assert_int_equal(store_meta_get(st, "audit.checkpoint.test", &v, &e), IDP_OK);
    assert_string_equal(v, "2:abc");
    free(v);
}

/* Concurrent writers (one at a time within tx_begin, store.h): appenders from several threads
 * form one unbroken chain, and group removals racing a replace that carries a stale epoch all
 * count. */
enum { NTHREADS = 4, NAPPEND = 20 };

static void *appender(void *arg)
{
    store *st = arg;
    for (int i = 0; i < NAPPEND; i++) {
        store_audit ev = {.actor = "cli", .action = "x.y"};
        idp_error e = {0};
        if (st->ops->audit_append(st, &ev, &e)) return (void *)1;
    }
    return NULL;
}

typedef struct leaver {
    store *st;
    char gid[8];
} leaver;

static void *leave(void *arg)
{
    leaver *l = arg;
    return members(l->st, l->gid, false, NULL, "u1") ? (void *)1 : NULL;
}

static void c_concurrent_writers(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, appender, st), 0);
    for (int i = 0; i < NTHREADS; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    store_audit *rows = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->audit_list(st, 0, 1000, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, NTHREADS * NAPPEND);
    unsigned char prev[32] = {0}, h[32];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].seq, (int64_t)i + 1);
        assert_memory_equal(rows[i].prev_hash, prev, 32);
        store_audit_hash(&rows[i], h);
        assert_memory_equal(rows[i].hash, h, 32);
        memcpy(prev, h, 32);
    }
    store_audit_list_free(rows, n);

    user(st, "u1", "a");
    leaver l[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        l[i].st = st;
        snprintf(l[i].gid, sizeof l[i].gid, "g%d", i);
        store_group g = {.id = l[i].gid, .display_name = l[i].gid, .doc = "{}"};
        scim_delta d = {0};
        scim_delta_add(&d, "u1");
        assert_int_equal(st->ops->group_create(st, &g, &d, &e), IDP_OK);
        scim_delta_clear(&d);
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, leave, &l[i]), 0);
    store_user u = {.id = "u1", .user_name = "a", .active = false, .doc = "{}", .token_epoch = 0};
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_OK);
    for (int i = 0; i < NTHREADS; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        assert_null(r);
    }
    assert_int_equal(epoch(st, "u1"), NTHREADS + 1);
}

/* ---- policy, keys, clients, provisioning keys and the generation ---------------------------- */

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static void c_policy_versions(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    int64_t g0 = gen(st), active = -1;
    assert_int_equal(st->ops->policy_active(st, &active, &e), IDP_OK);
    assert_int_equal(active, 0);
    store_policy p = {.sha256 = SHA_A, .document = "rules: []\n", .actor = "cli"};
    assert_int_equal(st->ops->policy_insert(st, &p, &e), IDP_OK);
    assert_int_equal(p.version, 1);
    assert_true(gen(st) > g0);
    store_policy q = {.sha256 = "short", .document = "x"};
    assert_int_equal(st->ops->policy_insert(st, &q, &e), IDP_ERR_INVALID);
    q.sha256 = SHA_A;
    assert_int_equal(st->ops->policy_insert(st, &q, &e), IDP_OK);
    assert_int_equal(q.version, 2);
    int64_t g1 = gen(st);
    assert_int_equal(st->ops->policy_activate(st, 9, 100, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->policy_activate(st, 1, 100, &e), IDP_OK);
    assert_int_equal(st->ops->policy_activate(st, 1, 101, &e), IDP_OK);
    assert_true(gen(st) > g1);
    assert_int_equal(st->ops->policy_active(st, &active, &e), IDP_OK);
    assert_int_equal(active, 1);
    store_policy_activation *acts = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->policy_activations(st, &acts, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(acts[0].activated_at, 101); /* newest first */
    store_policy_activation_list_free(acts, n);
    store_policy *rows = NULL;
    assert_int_equal(st->ops->policy_list(st, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].version, 2);
    assert_null(rows[0].document);
    assert_int_equal(rows[1].activated_at, 101);
    store_policy_list_free(rows, n);
    store_policy got;
    assert_int_equal(st->ops->policy_get(st, 1, &got, &e), IDP_OK);
    assert_string_equal(got.document, "rules: []\n");
    store_policy_clear(&got);
    assert_int_equal(st->ops->policy_get(st, 3, &got, &e), IDP_ERR_NOT_FOUND);
}

static void c_keys_clients_generation(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    int64_t g = gen(st);
    unsigned char sealed[4] = {1, 2, 3, 4};
    store_key k = {.kid = "k1",
                   .alg = "ES256",
                   .state = KEY_NEXT,
                   .created_at = 10,
                   .enc_private = sealed,
                   .enc_private_len = 4,
                   .public_jwk = "{}"};
    assert_int_equal(store_key_insert(st, &k, &e), IDP_OK);
    assert_true(gen(st) > g);
    g = gen(st);
    assert_int_equal(store_key_update_state(st, "k1", KEY_CURRENT, 20, 0, &e), IDP_OK);
    assert_true(gen(st) > g);
    store_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(store_key_list(st, &keys, &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(keys[0].state, KEY_CURRENT);
    assert_int_equal(keys[0].activated_at, 20);
    assert_memory_equal(keys[0].enc_private, sealed, 4);
    store_key_list_free(keys, n);
    assert_int_equal(store_key_delete(st, "k1", &e), IDP_OK);

    g = gen(st);
    store_client c = {.client_id = "c1",
                      .name = "App",
                      .grant_types = "client_credentials",
                      .scope = "read",
                      .created_at = 5};
    assert_int_equal(store_client_insert(st, &c, &e), IDP_OK);
    assert_int_equal(store_client_insert(st, &c, &e), IDP_ERR_CONFLICT);
    assert_true(gen(st) > g);
    unsigned char hash[32];
    H(hash, 3);
    assert_int_equal(store_client_set_secret(st, "c1", hash, 50, &e), IDP_OK);
    c.scope = "read write";
    c.introspect = "bogus";
    assert_int_equal(store_client_update(st, &c, &e), IDP_ERR_INVALID);
    c.introspect = "any";
    assert_int_equal(store_client_update(st, &c, &e), IDP_OK);
    store_client got;
    assert_int_equal(store_client_get(st, "c1", &got, &e), IDP_OK);
    assert_true(got.has_secret);
    assert_memory_equal(got.secret_hash, hash, 32);
    assert_int_equal(got.secret_rotated_at, 50);
    assert_string_equal(got.scope, "read write");
    assert_string_equal(got.auth_method, "client_secret_basic");
    store_client_clear(&got);
    assert_int_equal(store_client_set_secret(st, "c1", NULL, 60, &e), IDP_OK);
    assert_int_equal(store_client_get(st, "c1", &got, &e), IDP_OK);
    assert_false(got.has_secret);
    store_client_clear(&got);
    assert_int_equal(store_client_delete(st, "c1", &e), IDP_OK);
    assert_int_equal(store_client_delete(st, "c1", &e), IDP_ERR_NOT_FOUND);

    /* Provisioning keys bump the generation, their use (pkey_touch) does not. */
    store_pkey pk = {.id = "p1", .name = "ci", .scopes = "scim:read", .created_at = 1};
    H(pk.hash, 4);
    g = gen(st);
    assert_int_equal(st->ops->pkey_insert(st, &pk, &e), IDP_OK);
    assert_true(gen(st) > g);
    g = gen(st);
    assert_int_equal(st->ops->pkey_touch(st, "p1", 99, &e), IDP_OK);
    assert_int_equal(gen(st), g);
    pk.revoked_at = 100;
    assert_int_equal(st->ops->pkey_update(st, &pk, &e), IDP_OK);
    assert_true(gen(st) > g);
    store_pkey pg;
    assert_int_equal(st->ops->pkey_get(st, "p1", &pg, &e), IDP_OK);
    assert_int_equal(pg.last_used_at, 99);
    assert_int_equal(pg.revoked_at, 100);
    store_pkey_clear(&pg);
}

/* ---- federation (issue 12) ------------------------------------------------------------------ */

#define ISS "https://upstream.example"

static void c_fed_links(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    char *uid = NULL;
    int64_t n = -1;
    seed(st);
    assert_int_equal(st->ops->fed_link_get(st, ISS, "s1", &uid, &e), IDP_ERR_NOT_FOUND);
    assert_null(uid);
    assert_int_equal(st->ops->fed_link_add(st, ISS, "s1", "u1", 100, &e), IDP_OK);
    assert_int_equal(st->ops->fed_link_add(st, ISS, "s1", "u1", 101, &e), IDP_OK); /* same user */
    assert_int_equal(st->ops->fed_link_add(st, ISS, "s1", "u2", 102, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->fed_link_add(st, ISS, "s2", "nobody", 103, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->fed_link_add(st, "", "s2", "u1", 103, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->fed_link_add(st, "https://other.example", "s1", "u2", 104, &e),
                     IDP_OK); /* the pair is (issuer, subject) */
    assert_int_equal(st->ops->fed_link_add(st, ISS, "S1", "u2", 105, &e), IDP_OK); /* exact */
    assert_int_equal(st->ops->fed_link_get(st, ISS, "s1", &uid, &e), IDP_OK);
    assert_string_equal(uid, "u1");
    free(uid);
    assert_int_equal(st->ops->fed_link_count(st, "u1", &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st->ops->fed_link_count(st, "u2", &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    /* links go with the user */
    assert_int_equal(st->ops->user_delete(st, "u1", 0, &e), IDP_OK);
    assert_int_equal(st->ops->fed_link_get(st, ISS, "s1", &uid, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->fed_link_count(st, "u1", &n, &e), IDP_OK);
    assert_int_equal(n, 0);
}

static void c_fed_external_id(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    store_user got;
    store_user a = {.id = "u1", .user_name = "a", .external_id = "X-1", .active = true, .doc = "{}"};
    store_user b = {.id = "u2", .user_name = "b", .external_id = "dup", .active = true, .doc = "{}"};
    store_user c = {.id = "u3", .user_name = "c", .external_id = "dup", .active = true, .doc = "{}"};
    assert_int_equal(st->ops->user_create(st, &a, &e), IDP_OK);
    assert_int_equal(st->ops->user_create(st, &b, &e), IDP_OK);
    assert_int_equal(st->ops->user_get_by_external_id(st, "X-1", &got, &e), IDP_OK);
    assert_string_equal(got.id, "u1");
    store_user_clear(&got);
    assert_int_equal(st->ops->user_get_by_external_id(st, "x-1", &got, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->user_get_by_external_id(st, "none", &got, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->user_get_by_external_id(st, "dup", &got, &e), IDP_OK);
    store_user_clear(&got);
    assert_int_equal(st->ops->user_create(st, &c, &e), IDP_OK);
    assert_int_equal(st->ops->user_get_by_external_id(st, "dup", &got, &e), IDP_ERR_CONFLICT);
    assert_null(got.id);
}

static void c_fed_provision(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    char *uid = NULL, *uid2 = NULL;
    bool created = false;
    store_user got;
    const char *doc = "{\"name\":{\"givenName\":\"Ann\"},\"displayName\":\"Ann\","
                      "\"emails\":[{\"value\":\"ann@example.com\"}],\"externalId\":\"up-1\","
                      "\"password\":\"never-kept\",\"userName\":\"ignored\"}";
    assert_int_equal(st->ops->fed_provision(st, ISS, "s1", "ann", doc, 100, &uid, &created, &e),
                     IDP_OK);
    assert_true(created);
    assert_non_null(uid);
    assert_int_equal(st->ops->user_get(st, uid, &got, &e), IDP_OK);
    assert_string_equal(got.user_name, "ann");
    assert_string_equal(got.external_id, "up-1");
    assert_true(got.active);
    assert_null(got.password_hash);
    assert_int_equal(got.version, 1);
    assert_true(got.created_at > 0);
    assert_non_null(strstr(got.doc, "ann@example.com"));
    assert_null(strstr(got.doc, "never-kept"));
    store_user_clear(&got);
    /* SCIM-visible: by name and by externalId */
    assert_int_equal(st->ops->user_get_by_name(st, "ANN", &got, &e), IDP_OK);
    assert_string_equal(got.id, uid);
    store_user_clear(&got);
    /* linked already: the same user, nothing created */
    assert_int_equal(st->ops->fed_provision(st, ISS, "s1", "other", NULL, 101, &uid2, &created, &e),
                     IDP_OK);
    assert_false(created);
    assert_string_equal(uid2, uid);
    free(uid2);
    uid2 = NULL;
    /* another subject wanting a taken or look-alike userName: CONFLICT, nothing written */
    assert_int_equal(st->ops->fed_provision(st, ISS, "s2", "Ann", NULL, 102, &uid2, &created, &e),
                     IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->fed_provision(st, ISS, "s2", "\xef\xbd\x81nn", NULL, 102, &uid2,
                                            &created, &e),
                     IDP_ERR_CONFLICT); /* full-width a */
    assert_null(uid2);
    assert_false(created);
    assert_int_equal(st->ops->fed_link_get(st, ISS, "s2", &uid2, &e), IDP_ERR_NOT_FOUND);
    /* documents POST /Users would refuse */
    assert_int_equal(st->ops->fed_provision(st, ISS, "s3", "bob", "[1]", 103, &uid2, &created, &e),
                     IDP_ERR_SCIM_INVALID_SYNTAX);
    assert_int_equal(st->ops->fed_provision(st, ISS, "s3", "bob", "{\"active\":7}", 103, &uid2,
                                            &created, &e),
                     IDP_ERR_SCIM_INVALID_VALUE);
    assert_int_equal(st->ops->fed_provision(st, ISS, "s3", "", NULL, 103, &uid2, &created, &e),
                     IDP_ERR_SCIM_INVALID_VALUE);
    assert_int_equal(st->ops->user_get_by_name(st, "bob", &got, &e), IDP_ERR_NOT_FOUND);
    /* inside the caller's transaction: a rollback drops user and link */
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    assert_int_equal(st->ops->fed_provision(st, ISS, "s4", "carl", NULL, 104, &uid2, &created, &e),
                     IDP_OK);
    assert_true(created);
    store_tx_rollback(st);
    free(uid2);
    uid2 = NULL;
    assert_int_equal(st->ops->user_get_by_name(st, "carl", &got, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(st->ops->fed_link_get(st, ISS, "s4", &uid2, &e), IDP_ERR_NOT_FOUND);
    free(uid);
}

#define JIT_THREADS 4
typedef struct jit_arg {
    store *st;
    char *uid;
    bool created;
    idp_err rc;
} jit_arg;

static void *jit_run(void *p)
{
    jit_arg *a = p;
    idp_error e = {0};
    a->rc = a->st->ops->fed_provision(a->st, ISS, "race", "racer", NULL, 200, &a->uid,
                                      &a->created, &e);
    return NULL;
}

static void c_fed_provision_race(void **state)
{
    store *st = ((fx *)*state)->st;
    pthread_t t[JIT_THREADS];
    jit_arg a[JIT_THREADS];
    int made = 0;
    for (int i = 0; i < JIT_THREADS; i++) {
        a[i] = (jit_arg){.st = st};
        assert_int_equal(pthread_create(&t[i], NULL, jit_run, &a[i]), 0);
    }
    for (int i = 0; i < JIT_THREADS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < JIT_THREADS; i++) {
        assert_int_equal(a[i].rc, IDP_OK);
        assert_string_equal(a[i].uid, a[0].uid);
        made += a[i].created;
    }
    assert_int_equal(made, 1);
    int64_t n = 0;
    assert_int_equal(st->ops->fed_link_count(st, a[0].uid, &n, NULL), IDP_OK);
    assert_int_equal(n, 1);
    store_user u;
    assert_int_equal(st->ops->user_get_by_name(st, "racer", &u, NULL), IDP_OK);
    assert_string_equal(u.id, a[0].uid);
    store_user_clear(&u);
    for (int i = 0; i < JIT_THREADS; i++) free(a[i].uid);
}

static void c_fed_jti(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "j1", 1000, 500, 0, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "j1", 1000, 600, 0, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "j1", 1000, 999, 0, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->fed_jti_use(st, "https://other.example", "j1", 1000, 600, 0, &e),
                     IDP_OK); /* per issuer */
    /* expired (exp <= now): replaced, and single use again from then on */
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "j1", 3000, 1000, 0, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "j1", 3000, 2000, 0, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "", 3000, 2000, 0, &e), IDP_ERR_INVALID);
    assert_int_equal(st->ops->fed_jti_use(st, "", "j2", 3000, 2000, 0, &e), IDP_ERR_INVALID);
    char *big = malloc(STORE_JTI_MAX + 2);
    memset(big, 'j', STORE_JTI_MAX + 1);
    big[STORE_JTI_MAX + 1] = '\0';
    assert_int_equal(st->ops->fed_jti_use(st, ISS, big, 3000, 2000, 0, &e), IDP_ERR_INVALID);
    free(big);
    /* prune keeps ids until exp + STORE_PRUNE_GRACE, then forgets them */
    assert_int_equal(st->ops->oidc_prune(st, 3000 + STORE_PRUNE_GRACE - 1, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "j1", 9000, 2999, 0, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->oidc_prune(st, 3000 + STORE_PRUNE_GRACE + 1, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "j1", 9000, 2999, 0, &e), IDP_OK);
}

static void c_fed_jti_bound(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    /* a bound of 3: three live ids fill it, the fourth is refused (fail closed) */
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "a", 100, 10, 3, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "b", 200, 10, 3, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "c", 300, 10, 3, &e), IDP_OK);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "d", 400, 10, 3, &e), IDP_ERR_UNAVAILABLE);
    /* nothing was written: d is new once there is room */
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "d", 400, 150, 3, &e), IDP_OK); /* a expired */
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "d", 400, 150, 3, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "b", 200, 150, 3, &e), IDP_ERR_CONFLICT);
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "e", 500, 150, 3, &e), IDP_ERR_UNAVAILABLE);
    /* replacing an expired id does not need room */
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "b", 900, 250, 3, &e), IDP_OK);
    /* a bound <= 0 is STORE_FED_JTI_MAX */
    assert_int_equal(st->ops->fed_jti_use(st, ISS, "e", 500, 250, 0, &e), IDP_OK);
}

static void c_fed_status(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    store_fed_status got;
    assert_int_equal(st->ops->fed_status_get(st, ISS, &got, &e), IDP_ERR_NOT_FOUND);
    assert_null(got.name);
    int64_t g0 = 0, g1 = 0;
    assert_int_equal(store_generation(st, &g0, &e), IDP_OK);
    store_fed_status s = {.issuer = ISS, .name = "partner", .state = "ok", .last_success = 10,
                          .last_attempt = 10, .next_refresh = 70, .kids = "[\"k1\",\"k2\"]"};
    assert_int_equal(st->ops->fed_status_put(st, &s, &e), IDP_OK);
    /* a server's row does not move the generation */
    assert_int_equal(store_generation(st, &g1, &e), IDP_OK);
    assert_int_equal(g1, g0);
    assert_int_equal(st->ops->fed_status_get(st, ISS, &got, &e), IDP_OK);
    assert_string_equal(got.issuer, ISS);
    assert_string_equal(got.name, "partner");
    assert_string_equal(got.state, "ok");
    assert_string_equal(got.last_error, "");
    assert_string_equal(got.kids, "[\"k1\",\"k2\"]");
    assert_int_equal(got.last_success, 10);
    assert_int_equal(got.last_attempt, 10);
    assert_int_equal(got.next_refresh, 70);
    store_fed_status_clear(&got);
    /* upsert; the CLI's row (notify) bumps the generation */
    s.state = "stale";
    s.last_attempt = 20;
    s.last_error = "HTTP status 500";
    s.kids = NULL;
    s.notify = true;
    assert_int_equal(st->ops->fed_status_put(st, &s, &e), IDP_OK);
    assert_int_equal(store_generation(st, &g1, &e), IDP_OK);
    assert_true(g1 > g0);
    assert_int_equal(st->ops->fed_status_get(st, ISS, &got, &e), IDP_OK);
    assert_string_equal(got.state, "stale");
    assert_string_equal(got.last_error, "HTTP status 500");
    assert_string_equal(got.kids, "[]");
    assert_int_equal(got.last_success, 10);
    store_fed_status_clear(&got);
    /* refused */
    store_fed_status bad = s;
    bad.state = "great";
    assert_int_equal(st->ops->fed_status_put(st, &bad, &e), IDP_ERR_INVALID);
    bad = s;
    bad.kids = "{\"k\":1}";
    assert_int_equal(st->ops->fed_status_put(st, &bad, &e), IDP_ERR_INVALID);
    bad = s;
    bad.name = NULL;
    assert_int_equal(st->ops->fed_status_put(st, &bad, &e), IDP_ERR_INVALID);
    char longerr[STORE_FED_ERROR_MAX + 2];
    memset(longerr, 'x', sizeof longerr - 1);
    longerr[sizeof longerr - 1] = '\0';
    bad = s;
    bad.last_error = longerr;
    assert_int_equal(st->ops->fed_status_put(st, &bad, &e), IDP_ERR_INVALID);
    longerr[STORE_FED_ERROR_MAX] = '\0';
    assert_int_equal(st->ops->fed_status_put(st, &bad, &e), IDP_OK);
    /* list, by issuer */
    store_fed_status t = {.issuer = "https://a.example", .name = "a", .state = "unfetched"};
    assert_int_equal(st->ops->fed_status_put(st, &t, &e), IDP_OK);
    store_fed_status *rows = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->fed_status_list(st, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_true(strcmp(rows[0].issuer, rows[1].issuer) < 0);
    store_fed_status_list_free(rows, n);
}

static void c_fed_jwks(void **state)
{
    store *st = ((fx *)*state)->st;
    idp_error e = {0};
    store_fed_jwks got;
    assert_int_equal(st->ops->fed_jwks_get(st, ISS, &got, &e), IDP_ERR_NOT_FOUND);
    assert_null(got.body);
    store_fed_jwks j = {.issuer = ISS, .body = "{\"keys\":[]}", .fetched_at = 1000, .max_age = 60};
    assert_int_equal(st->ops->fed_jwks_put(st, &j, &e), IDP_OK);
    j.body = "{\"keys\":[{\"kty\":\"EC\"}]}";
    j.fetched_at = 2000;
    j.max_age = 0;
    assert_int_equal(st->ops->fed_jwks_put(st, &j, &e), IDP_OK); /* upsert */
    assert_int_equal(st->ops->fed_jwks_get(st, ISS, &got, &e), IDP_OK);
    assert_string_equal(got.issuer, ISS);
    assert_string_equal(got.body, "{\"keys\":[{\"kty\":\"EC\"}]}");
    assert_int_equal(got.fetched_at, 2000);
    assert_int_equal(got.max_age, 0);
    store_fed_jwks_clear(&got);
    j.body = "not json";
    assert_int_equal(st->ops->fed_jwks_put(st, &j, &e), IDP_ERR_INVALID);
    char *big = malloc(STORE_FED_JWKS_MAX + 2);
    memset(big, ' ', STORE_FED_JWKS_MAX + 1);
    big[0] = '{';
    big[STORE_FED_JWKS_MAX - 1] = '}';
    big[STORE_FED_JWKS_MAX + 1] = '\0';
    j.body = big;
    assert_int_equal(st->ops->fed_jwks_put(st, &j, &e), IDP_ERR_TOO_LARGE);
    big[STORE_FED_JWKS_MAX] = '\0'; /* exactly the bound: accepted */
    assert_int_equal(st->ops->fed_jwks_put(st, &j, &e), IDP_OK);
    free(big);
    assert_int_equal(st->ops->fed_jwks_get(st, ISS, &got, &e), IDP_OK);
    assert_int_equal(strlen(got.body), STORE_FED_JWKS_MAX);
    store_fed_jwks_clear(&got);
}

int store_contract_run(const store_contract_backend *b)
{
    backend = b;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(c_user_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(c_group_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(c_epoch_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(c_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(c_codes_single_use, setup, teardown),
        cmocka_unit_test_setup_teardown(c_refresh_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(c_refresh_revocation, setup, teardown),
        cmocka_unit_test_setup_teardown(c_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(c_login_throttle, setup, teardown),
        cmocka_unit_test_setup_teardown(c_consent_and_jti, setup, teardown),
        cmocka_unit_test_setup_teardown(c_audit_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(c_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(c_policy_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(c_keys_clients_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(c_fed_links, setup, teardown),
        cmocka_unit_test_setup_teardown(c_fed_external_id, setup, teardown),
        cmocka_unit_test_setup_teardown(c_fed_provision, setup, teardown),
        cmocka_unit_test_setup_teardown(c_fed_provision_race, setup, teardown),
        cmocka_unit_test_setup_teardown(c_fed_jti, setup, teardown),
        cmocka_unit_test_setup_teardown(c_fed_jti_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(c_fed_jwks, setup, teardown),
        cmocka_unit_test_setup_teardown(c_fed_status, setup, teardown),
    };
    int failed = _cmocka_run_group_tests(b->name, tests, sizeof tests / sizeof *tests, NULL, NULL);
    return failed + store_contract_rev_run(b);
}
