/* Unit tests for the SCIM part of src/store: users, groups, memberships, list queries (filter ->
 * SQL, scim_sql.c), provisioning keys and the audit chain, beyond the backend-neutral cases of
 * the contract suite (store_contract.c: users and groups CRUD and versions, the token_epoch
 * rules).
 *
 * Contract style: everything goes through the ops table (store.h), so another backend reuses it
 * by changing tst_open(). The few SQLite specifics (EXPLAIN QUERY PLAN, tampering with the audit
 * table) open the file directly. The 100,000-user timing run is bench/bench_store.c. */
#include "testutil.h"

#include "store_sut.h"

#include "core/err.h"
#include "core/timeutil.h"
#include "scim/filter.h"
#include "scim/schema.h"
#include "store/sqlite/scim_sql.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx {
    char *dir;
    char *path;
    store *st;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir();
    size_t n = strlen(f->dir) + 32;
    f->path = malloc(n);
    snprintf(f->path, n, "%s/idpd.db", f->dir);
    idp_error e = {0};
    sut_reset();
    if (store_open(sut_spec(f->path), true, &f->st, &e)) fail_msg("store_open: %s", e.msg);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static idp_err mk_user_full(store *st, const char *id, const char *name, const char *ext,
                            bool active, const char *doc, int64_t created)
{
    store_user u = {.id = (char *)id,
                    .user_name = (char *)name,
                    .external_id = (char *)ext,
                    .active = active,
                    .doc = (char *)doc,
                    .created_at = created};
    idp_error e = {0};
    return st->ops->user_create(st, &u, &e);
}

static void mk_user(store *st, const char *id, const char *name)
{
    assert_int_equal(mk_user_full(st, id, name, NULL, true, "{}", 0), IDP_OK);
}

static int64_t epoch_of(store *st, const char *id)
{
    store_user u;
    idp_error e = {0};
    assert_int_equal(st->ops->user_get(st, id, &u, &e), IDP_OK);
    int64_t v = u.token_epoch;
    store_user_clear(&u);
    return v;
}

static int64_t group_version(store *st, const char *id)
{
    store_group g;
    idp_error e = {0};
    assert_int_equal(st->ops->group_get(st, id, &g, &e), IDP_OK);
    int64_t v = g.version;
    store_group_clear(&g);
    return v;
}

/* Member ids of a group joined with ',' in insertion order. Owned. */
static char *members_str(store *st, const char *gid)
{
    store_ref *r = NULL;
    size_t n = 0;
    idp_error e = {0};
    assert_int_equal(st->ops->group_members(st, gid, &r, &n, &e), IDP_OK);
    size_t cap = 64 * n + 1, off = 0;
    char *s = calloc(1, cap);
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(s + off, cap - off, "%s%s", i ? "," : "", r[i].id);
    store_ref_list_free(r, n);
    return s;
}

static void assert_members(store *st, const char *gid, const char *want)
{
    char *got = members_str(st, gid);
    assert_string_equal(got, want);
    free(got);
}

static scim_delta *delta(bool replace_all, const char *add, const char *remove)
{
    scim_delta *d = calloc(1, sizeof *d);
    d->replace_all = replace_all;
    for (int pass = 0; pass < 2; pass++) {
        const char *p = pass ? remove : add;
        char ***v = pass ? &d->remove : &d->add;
        size_t *n = pass ? &d->nremove : &d->nadd;
        while (p && *p) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            *v = realloc(*v, (*n + 1) * sizeof **v);
            (*v)[(*n)++] = strndup(p, len);
            p = end ? end + 1 : NULL;
        }
    }
    return d;
}

static void delta_free(scim_delta *d)
{
    for (size_t i = 0; i < d->nadd; i++)
        free(d->add[i]);
    for (size_t i = 0; i < d->nremove; i++)
        free(d->remove[i]);
    free(d->add);
    free(d->remove);
    free(d);
}

static idp_err mk_group(store *st, const char *id, const char *name, const char *members)
{
    store_group g = {.id = (char *)id, .display_name = (char *)name, .doc = "{}"};
    scim_delta *d = members ? delta(true, members, NULL) : NULL;
    idp_error e = {0};
    idp_err rc = st->ops->group_create(st, &g, d, &e);
    if (d) delta_free(d);
    return rc;
}

static idp_err group_update(store *st, const char *id, bool replace_all, const char *add,
                            const char *remove, int64_t expect)
{
    store_group g = {.id = (char *)id, .display_name = "G", .doc = "{}"};
    scim_delta *d = delta(replace_all, add, remove);
    idp_error e = {0};
    idp_err rc = st->ops->group_replace(st, &g, d, expect, &e);
    delta_free(d);
    return rc;
}

/* ---- users ---------------------------------------------------------------------------------- */

static void test_user_invalid(void **state)
{
    fx *f = *state;
    idp_error e = {0};
    store_user u = {.id = "u1", .user_name = "", .doc = "{}"};
    assert_int_equal(f->st->ops->user_create(f->st, &u, &e), IDP_ERR_INVALID);
    u.user_name = "x";
    u.id = NULL;
    assert_int_equal(f->st->ops->user_create(f->st, &u, &e), IDP_ERR_INVALID);
    u.id = "u1";
    u.doc = "{not json";
    assert_int_not_equal(f->st->ops->user_create(f->st, &u, &e), IDP_OK);
}

static void test_user_unique_case_insensitive(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    mk_user(st, "u1", "alice");
    assert_int_equal(mk_user_full(st, "u2", "ALICE", NULL, true, "{}", 0), IDP_ERR_CONFLICT);
    assert_int_equal(mk_user_full(st, "u1", "other", NULL, true, "{}", 0), IDP_ERR_CONFLICT);
    mk_user(st, "u2", "bob");
    store_user u = {.id = "u2", .user_name = "Alice", .doc = "{}"};
    assert_int_equal(st->ops->user_replace(st, &u, 0, &e), IDP_ERR_CONFLICT);
    /* Look-alikes (scim/username.h, NFKC + case folding) conflict too, beyond ASCII: */
    mk_user(st, "u3", "\xc3\x84nne");                                                   /* Änne */
    assert_int_equal(mk_user_full(st, "u4", "\xc3\xa4nne", NULL, true, "{}", 0), IDP_ERR_CONFLICT); /* änne */
    assert_int_equal(mk_user_full(st, "u4", "A\xcc\x88nne", NULL, true, "{}", 0), IDP_ERR_CONFLICT); /* A + U+0308 */
    assert_int_equal(mk_user_full(st, "u4", "\xef\xbd\x81lice", NULL, true, "{}", 0), IDP_ERR_CONFLICT); /* ａlice */
    /* a replace that keeps its own name is no conflict with itself */
    store_user me = {.id = "u3", .user_name = "\xc3\xa4nne", .doc = "{}", .active = true};
    assert_int_equal(st->ops->user_replace(st, &me, 0, &e), IDP_OK);
}

/* token_epoch only goes up, even when a replace carries an older value. */
/* ---- groups and memberships ----------------------------------------------------------------- */

static void test_group_members(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    mk_user(st, "u1", "one");
    mk_user(st, "u2", "two");
    mk_user(st, "u3", "three");
    assert_int_equal(mk_group(st, "g1", "Admins", "u2,u1"), IDP_OK);
    assert_members(st, "g1", "u2,u1"); /* insertion order */
    store_ref *r = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->group_members(st, "g1", &r, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(r[0].display, "two");
    store_ref_list_free(r, n);
    assert_int_equal(st->ops->user_groups(st, "u1", &r, &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].id, "g1");
    assert_string_equal(r[0].display, "Admins");
    store_ref_list_free(r, n);

    int64_t e1 = epoch_of(st, "u1"), e2 = epoch_of(st, "u2"), e3 = epoch_of(st, "u3");
    assert_int_equal(group_update(st, "g1", false, "u3", "u1", 1), IDP_OK);
    assert_members(st, "g1", "u2,u3");
    assert_int_equal(epoch_of(st, "u1"), e1 + 1); /* removed: tokens die (DESIGN §5) */
    assert_int_equal(epoch_of(st, "u2"), e2);
    assert_int_equal(epoch_of(st, "u3"), e3);
    assert_int_equal(group_version(st, "g1"), 2);
    /* Adding an existing member is a no-op (INSERT OR IGNORE) and keeps its position. */
    assert_int_equal(group_update(st, "g1", false, "u2", NULL, 2), IDP_OK);
    assert_members(st, "g1", "u2,u3");
    /* Removing a non-member bumps nobody. */
    assert_int_equal(group_update(st, "g1", false, NULL, "u1", 0), IDP_OK);
    assert_int_equal(epoch_of(st, "u1"), e1 + 1);

    /* replace_all: u2 leaves (bumped); u3 stays where it was; u1 is appended. */
    assert_int_equal(group_update(st, "g1", true, "u1,u3", NULL, 0), IDP_OK);
    assert_members(st, "g1", "u3,u1");
    assert_int_equal(epoch_of(st, "u2"), e2 + 1);
    assert_int_equal(epoch_of(st, "u3"), e3);

    /* members NULL keeps the membership. */
    store_group g = {.id = "g1", .display_name = "Renamed", .doc = "{}"};
    assert_int_equal(st->ops->group_replace(st, &g, NULL, 0, &e), IDP_OK);
    assert_members(st, "g1", "u3,u1");
    /* replace_all with nothing empties it. */
    assert_int_equal(group_update(st, "g1", true, NULL, NULL, 0), IDP_OK);
    assert_members(st, "g1", "");
}

static void test_group_invalid_members(void **state)
{
    fx *f = *state;
    store *st = f->st;
    mk_user(st, "u1", "one");
    assert_int_equal(mk_group(st, "g1", "G", "u1"), IDP_OK);
    int64_t v = group_version(st, "g1");
    /* Unknown user id -> invalidValue, and nothing written (not even the other add/remove). */
    assert_int_equal(group_update(st, "g1", false, "u-missing", "u1", 0),
                     IDP_ERR_SCIM_INVALID_VALUE);
    assert_members(st, "g1", "u1");
    assert_int_equal(group_version(st, "g1"), v);
    assert_int_equal(epoch_of(st, "u1"), 0);
    /* A group id is not a user id (only User members are supported). */
    assert_int_equal(mk_group(st, "g2", "G2", NULL), IDP_OK);
    assert_int_equal(group_update(st, "g1", false, "g2", NULL, 0), IDP_ERR_SCIM_INVALID_VALUE);
    char *empty = "";
    scim_delta d = {.add = &empty, .nadd = 1};
    store_group g1 = {.id = "g1", .display_name = "G", .doc = "{}"};
    idp_error e1 = {0};
    assert_int_equal(st->ops->group_replace(st, &g1, &d, 0, &e1), IDP_ERR_SCIM_INVALID_VALUE);
    /* create with a bad member creates nothing */
    assert_int_equal(mk_group(st, "g3", "G3", "u1,nope"), IDP_ERR_SCIM_INVALID_VALUE);
    store_group g;
    idp_error e = {0};
    assert_int_equal(st->ops->group_get(st, "g3", &g, &e), IDP_ERR_NOT_FOUND);
    store_ref *r = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->user_groups(st, "u1", &r, &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    store_ref_list_free(r, n);
}

static void test_delete_cascades(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    mk_user(st, "u1", "one");
    mk_user(st, "u2", "two");
    assert_int_equal(mk_group(st, "g1", "G1", "u1,u2"), IDP_OK);
    assert_int_equal(mk_group(st, "g2", "G2", "u2"), IDP_OK);
    assert_int_equal(st->ops->user_delete(st, "u1", 0, &e), IDP_OK);
    assert_members(st, "g1", "u2");
    /* Deleting a group removes its members from it: their tokens die too. */
    assert_int_equal(st->ops->group_delete(st, "g1", 0, &e), IDP_OK);
    assert_int_equal(epoch_of(st, "u2"), 1);
    store_ref *r = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->user_groups(st, "u2", &r, &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].id, "g2");
    store_ref_list_free(r, n);
    assert_members(st, "g1", "");
}

/* Ops inside the caller's transaction: they join it (the HTTP layer wraps change + audit). */
static void test_ops_in_caller_tx(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    mk_user(st, "u1", "one");
    store_audit ev = {.actor = "cli",
                      .action = "user.create",
                      .target_type = "User",
                      .target_id = "u1",
                      .after_version = 1};
    assert_int_equal(st->ops->audit_append(st, &ev, &e), IDP_OK);
    store_tx_rollback(st);
    store_user u;
    assert_int_equal(st->ops->user_get(st, "u1", &u, &e), IDP_ERR_NOT_FOUND);
    store_audit *rows = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->audit_last(st, 10, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 0);
    store_audit_list_free(rows, n);

    /* A failing op inside the transaction undoes only itself (savepoint). */
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    mk_user(st, "u1", "one");
    assert_int_equal(mk_group(st, "g1", "G", "u1,missing"), IDP_ERR_SCIM_INVALID_VALUE);
    assert_int_equal(mk_group(st, "g2", "G2", "u1"), IDP_OK);
    assert_int_equal(store_tx_commit(st, &e), IDP_OK);
    assert_int_equal(st->ops->user_get(st, "u1", &u, &e), IDP_OK);
    store_user_clear(&u);
    store_group g;
    assert_int_equal(st->ops->group_get(st, "g1", &g, &e), IDP_ERR_NOT_FOUND);
    assert_members(st, "g2", "u1");
}

/* 10,000 members added in batches; one more member is one row, not a rewrite. */
static void test_big_group(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    enum { N = 10000, BATCH = 1000 };
    char id[32], name[32];
    assert_int_equal(store_tx_begin(st, &e), IDP_OK);
    for (int i = 0; i <= N; i++) {
        snprintf(id, sizeof id, "u%05d", i);
        snprintf(name, sizeof name, "user%05d", i);
        mk_user(st, id, name);
    }
    assert_int_equal(store_tx_commit(st, &e), IDP_OK);
    assert_int_equal(mk_group(st, "big", "Big", NULL), IDP_OK);
    for (int b = 0; b < N / BATCH; b++) {
        scim_delta d = {0};
        d.add = calloc(BATCH, sizeof *d.add);
        for (int i = 0; i < BATCH; i++) {
            snprintf(id, sizeof id, "u%05d", b * BATCH + i);
            d.add[d.nadd++] = strdup(id);
        }
        store_group g = {.id = "big", .display_name = "Big", .doc = "{}"};
        assert_int_equal(st->ops->group_replace(st, &g, &d, 0, &e), IDP_OK);
        for (size_t i = 0; i < d.nadd; i++)
            free(d.add[i]);
        free(d.add);
    }
    int64_t t0 = time_mono_us();
    assert_int_equal(group_update(st, "big", false, "u10000", NULL, 0), IDP_OK);
    int64_t dt = time_mono_us() - t0;
    print_message("big group: adding member 10,001 took %lld us\n", (long long)dt);
    store_ref *r = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->group_members(st, "big", &r, &n, &e), IDP_OK);
    assert_int_equal(n, N + 1);
    assert_string_equal(r[0].id, "u00000");
    assert_string_equal(r[N].id, "u10000");
    store_ref_list_free(r, n);
}

/* ---- list queries --------------------------------------------------------------------------- */

#define DAY_MS 86400000LL
#define T0 1704067200000LL /* 2024-01-01T00:00:00Z */

static void seed(store *st)
{
    assert_int_equal(
        mk_user_full(
            st, "u1", "alice", "EXT-1", true,
            "{\"name\":{\"familyName\":\"Liddell\",\"givenName\":\"Alice\"},"
            "\"emails\":[{\"value\":\"alice@example.com\",\"type\":\"work\",\"primary\":true},"
            "{\"value\":\"alice@home.org\",\"type\":\"home\"}],\"title\":\"Engineer\","
            "\"" SCIM_URN_ENTERPRISE "\":{\"employeeNumber\":\"42\"}}",
            T0),
        IDP_OK);
    assert_int_equal(mk_user_full(st, "u2", "bob", "ext-2", false,
                                  "{\"name\":{\"familyName\":\"Smith\"},\"emails\":[{\"value\":"
                                  "\"bob@example.org\",\"type\":\"home\"}]}",
                                  T0 + DAY_MS),
                     IDP_OK);
    assert_int_equal(mk_user_full(st, "u3", "carol", NULL, true,
                                  "{\"name\":{\"familyName\":\"smith\"},\"emails\":[{\"value\":"
                                  "\"carol@example.com\",\"type\":\"work\"}]}",
                                  T0 + 2 * DAY_MS),
                     IDP_OK);
    assert_int_equal(mk_user_full(st, "u4", "da%ve_x", NULL, true, "{}", T0 + 3 * DAY_MS), IDP_OK);
    assert_int_equal(mk_user_full(st, "u5", "x' OR 1=1 --", NULL, true, "{}", T0 + 4 * DAY_MS),
                     IDP_OK);
    assert_int_equal(mk_group(st, "g1", "Admins", "u1,u2"), IDP_OK);
    assert_int_equal(mk_group(st, "g2", "Staff", "u3"), IDP_OK);
    assert_int_equal(mk_group(st, "g3", "Empty", NULL), IDP_OK);
}

/* Runs a query (the filter resolved into a plan first, as the SCIM list endpoint does); returns
 * the ids joined with ',' or "ERR:<code name>". Owned. */
static char *qids(store *st, const scim_resource_type *rt, const char *filter, const char *sort,
                  bool desc, int64_t start, int64_t count, int64_t *total)
{
    sf_node *f = NULL;
    scim_plan *plan = NULL;
    idp_error e = {0};
    char *out = calloc(1, 1024);
    if (filter && scim_filter_parse(filter, strlen(filter), &f, &e))
        fail_msg("filter did not parse: %s: %s", filter, e.msg);
    idp_err rc = f ? scim_plan_build(rt, f, &plan, &e) : IDP_OK;
    scim_filter_free(f);
    if (rc) {
        snprintf(out, 1024, "ERR:%s", idp_err_name(rc));
        return out;
    }
    store_query q = {.rt = rt,
                     .plan = plan,
                     .sort_by = sort,
                     .descending = desc,
                     .start_index = start,
                     .count = count};
    int64_t tot = -1;
    size_t n = 0, off = 0;
    if (rt == &scim_rt_user) {
        store_user *rows = NULL;
        rc = st->ops->user_query(st, &q, &rows, &n, &tot, &e);
        for (size_t i = 0; !rc && i < n; i++)
            off += (size_t)snprintf(out + off, 1024 - off, "%s%s", i ? "," : "", rows[i].id);
        store_user_list_free(rows, n);
    } else {
        store_group *rows = NULL;
        rc = st->ops->group_query(st, &q, &rows, &n, &tot, &e);
        for (size_t i = 0; !rc && i < n; i++)
            off += (size_t)snprintf(out + off, 1024 - off, "%s%s", i ? "," : "", rows[i].id);
        store_group_list_free(rows, n);
    }
    if (rc) snprintf(out, 1024, "ERR:%s", idp_err_name(rc));
    if (total) *total = tot;
    scim_plan_free(plan);
    return out;
}

static void check(store *st, const scim_resource_type *rt, const char *filter, const char *want)
{
    char got[1024];
    char *s = qids(st, rt, filter, NULL, false, 1, 100, NULL);
    snprintf(got, sizeof got, "%s", s);
    free(s);
    if (strcmp(got, want) != 0) fail_msg("filter %s: got '%s', want '%s'", filter, got, want);
}

static void check_sort(store *st, const char *sort, bool desc, const char *want)
{
    char got[1024];
    char *s = qids(st, &scim_rt_user, NULL, sort, desc, 1, 100, NULL);
    snprintf(got, sizeof got, "%s", s);
    free(s);
    if (strcmp(got, want) != 0) fail_msg("sortBy %s: got '%s', want '%s'", sort, got, want);
}

static void test_query_operators(void **state)
{
    fx *f = *state;
    store *st = f->st;
    const scim_resource_type *U = &scim_rt_user;
    seed(st);
    check(st, U, "userName eq \"ALICE\"", "u1");
    check(st, U, "USERNAME Eq \"alice\"", "u1");
    check(st, U, "userName ne \"alice\"", "u2,u3,u4,u5");
    check(st, U, "userName co \"O\"", "u2,u3,u5");
    check(st, U, "userName sw \"AL\"", "u1");
    check(st, U, "userName ew \"OL\"", "u3");
    check(st, U, "userName gt \"c\"", "u3,u4,u5");
    check(st, U, "userName ge \"carol\"", "u3,u4,u5");
    check(st, U, "userName lt \"bob\"", "u1");
    check(st, U, "userName le \"BOB\"", "u1,u2");
    check(st, U, "userName pr", "u1,u2,u3,u4,u5");
    /* LIKE wildcards in values are literal */
    check(st, U, "userName co \"%\"", "u4");
    check(st, U, "userName co \"_\"", "u4");
    check(st, U, "userName sw \"d%v\"", "");
    check(st, U, "userName co \"a%v\"", "u4");
    /* SQL-looking values are values */
    check(st, U, "userName eq \"x' OR 1=1 --\"", "u5");
    check(st, U, "userName eq \"nobody' OR '1'='1\"", "");
    check(st, U, "userName co \"'\"", "u5");
    check(st, U, "id eq \"u3\"", "u3");
    check(st, U, "externalId eq \"EXT-1\"", "u1");
    check(st, U, "externalId eq \"ext-1\"", ""); /* caseExact (RFC 7643 §3.1) */
    check(st, U, "externalId sw \"ext\"", "u2");
    check(st, U, "externalId pr", "u1,u2");
    check(st, U, "active eq false", "u2");
    check(st, U, "active eq true", "u1,u3,u4,u5");
    check(st, U, "active ne true", "u2");
    check(st, U, "name.familyName eq \"SMITH\"", "u2,u3");
    check(st, U, "name.givenName pr", "u1");
    check(st, U, "name pr", "u1,u2,u3");
    check(st, U, "title eq \"engineer\"", "u1");
    check(st, U, "emails co \"example.com\"", "u1,u3");
    check(st, U, "emails.value ew \".ORG\"", "u1,u2");
    check(st, U, "emails.type eq \"work\"", "u1,u3");
    check(st, U, "emails[type eq \"work\" and value co \"alice\"]", "u1");
    check(st, U, "emails[type eq \"home\"]", "u1,u2");
    check(st, U, "emails[type eq \"home\" and value co \"carol\"]", "");
    check(st, U, "emails pr", "u1,u2,u3");
    check(st, U, "emails[primary eq true]", "u1");
    check(st, U, "emails[not (type eq \"work\")]", "u1,u2");
    check(st, U, SCIM_URN_ENTERPRISE ":employeeNumber eq \"42\"", "u1");
    check(st, U, "meta.created gt \"2024-01-02T00:00:00Z\"", "u3,u4,u5");
    check(st, U, "meta.created ge \"2024-01-02T00:00:00Z\"", "u2,u3,u4,u5");
    check(st, U, "meta.created lt \"2024-01-02T01:00:00+02:00\"", "u1");
    check(st, U, "meta.lastModified le \"2024-01-01T00:00:00.000Z\"", "u1");
    check(st, U, "meta.resourceType eq \"User\"", "u1,u2,u3,u4,u5");
    check(st, U, "groups[display eq \"ADMINS\"]", "u1,u2");
    check(st, U, "groups.value eq \"g2\"", "u3");
    check(st, U, "groups pr", "u1,u2,u3");
}

static void test_query_logic(void **state)
{
    fx *f = *state;
    store *st = f->st;
    const scim_resource_type *U = &scim_rt_user;
    seed(st);
    check(st, U, "(userName eq \"alice\" or userName eq \"bob\") and active eq true", "u1");
    check(st, U, "userName eq \"alice\" or userName eq \"bob\" and active eq true", "u1");
    check(st, U, "not (userName eq \"alice\")", "u2,u3,u4,u5");
    /* a missing attribute is "not equal", so not(eq) includes it */
    check(st, U, "not (title eq \"Engineer\")", "u2,u3,u4,u5");
    check(st, U, "title ne \"Engineer\"", "u2,u3,u4,u5");
    check(st, U, "not (emails co \"example\") and userName pr", "u4,u5");
    check(st, U, "emails[type eq \"work\"] and not (active eq false)", "u1,u3");
}

static void test_query_groups(void **state)
{
    fx *f = *state;
    store *st = f->st;
    const scim_resource_type *G = &scim_rt_group;
    seed(st);
    check(st, G, "displayName eq \"admins\"", "g1");
    check(st, G, "displayName sw \"st\"", "g2");
    check(st, G, "members[value eq \"u3\"]", "g2");
    check(st, G, "members.display eq \"BOB\"", "g1");
    check(st, G, "members eq \"u1\"", "g1");
    check(st, G, "members pr", "g1,g2");
    check(st, G, "not (members pr)", "g3");
    check(st, G, "meta.resourceType eq \"Group\"", "g1,g2,g3");
    check(st, G, "userName eq \"alice\"", "ERR:invalid_filter");
}

static void test_query_rejects(void **state)
{
    fx *f = *state;
    store *st = f->st;
    const scim_resource_type *U = &scim_rt_user;
    seed(st);
    const char *bad[] = {
        "foo eq \"x\"",           /* unknown attribute */
        "name.nickname eq \"x\"", /* unknown sub-attribute */
        "password eq \"secret\"", /* returned: never -> not an oracle */
        "password pr",
        "active gt true", /* ordering on booleans (RFC 7644 §3.4.2.2) */
        "active co \"t\"",
        "active eq \"true\"", /* wrong value type */
        "userName eq 12",
        "userName eq true",
        "meta.created gt \"yesterday\"", /* not RFC 3339 */
        "meta.created co \"2024\"",
        "meta.location eq \"x\"",
        "meta.version eq \"W/\\\"1\\\"\"",
        "emails[foo eq \"x\"]",
        "emails[value.x eq \"x\"]",
        "name[givenName eq \"x\"]", /* value filter on a singular attribute */
        "userName gt null",
        "urn:example:nope:userName eq \"x\"",
        "groups.$ref eq \"x\"",
        "x509Certificates co \"x\"", /* binary */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sf_node *fl = NULL;
        idp_error e = {0};
        if (scim_filter_parse(bad[i], strlen(bad[i]), &fl, &e)) continue; /* parser said no */
        scim_filter_free(fl);
        char *got = qids(st, U, bad[i], NULL, false, 1, 10, NULL);
        if (strcmp(got, "ERR:invalid_filter") != 0) fail_msg("%s: got %s", bad[i], got);
        free(got);
    }
    check(st, U, "userName eq null", "");
    check(st, U, "externalId eq null", "u3,u4,u5");
}

static void test_query_sort_and_pages(void **state)
{
    fx *f = *state;
    store *st = f->st;
    seed(st);
    check_sort(st, "userName", false, "u1,u2,u3,u4,u5");
    check_sort(st, "USERNAME", true, "u5,u4,u3,u2,u1");
    check_sort(st, "name.familyName", false, "u1,u2,u3,u4,u5");
    check_sort(st, "name.familyName", true, "u3,u2,u1,u5,u4"); /* unassigned last */
    check_sort(st, "meta.created", true, "u5,u4,u3,u2,u1");
    check_sort(st, "emails", true, "u3,u2,u1,u5,u4"); /* primary (or first) value */
    check_sort(st, "emails.type", false, "u2,u1,u3,u4,u5");
    check_sort(st, "active", false, "u2,u1,u3,u4,u5");
    check_sort(st, SCIM_URN_ENTERPRISE ":employeeNumber", false, "u1,u2,u3,u4,u5");
    check_sort(st, "nope", false, "ERR:invalid_path");
    check_sort(st, "password", false, "ERR:invalid_path");
    check_sort(st, "groups", false, "ERR:invalid_path");
    check_sort(st, "name", false, "ERR:invalid_path");
    check_sort(st, "", false, "ERR:invalid_path");

    int64_t total = 0;
    char *got = qids(st, &scim_rt_user, NULL, "userName", false, 2, 2, &total);
    assert_string_equal(got, "u2,u3");
    assert_int_equal(total, 5);
    free(got);
    got = qids(st, &scim_rt_user, NULL, NULL, false, 0, 0, &total); /* count 0: total only */
    assert_string_equal(got, "");
    assert_int_equal(total, 5);
    free(got);
    got = qids(st, &scim_rt_user, NULL, NULL, false, 10, 5, &total);
    assert_string_equal(got, "");
    assert_int_equal(total, 5);
    free(got);
    got = qids(st, &scim_rt_user, "active eq true", "userName", true, 2, 2, &total);
    assert_string_equal(got, "u4,u3");
    assert_int_equal(total, 4);
    free(got);
    got = qids(st, &scim_rt_user, NULL, NULL, false, -3, -1, &total); /* negative: clamped */
    assert_string_equal(got, "");
    free(got);
}

/* Filter translation without the parser: a hand-built tree. */
static void test_query_hand_built(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    seed(st);
    sf_node cmp = {.kind = SF_COMPARE,
                   .path = {.attr = "emails", .sub = "value"},
                   .op = SF_SW,
                   .vtype = SF_V_STRING,
                   .str = "BOB@"};
    sf_node inner = {.kind = SF_COMPARE,
                     .path = {.attr = "type"},
                     .op = SF_EQ,
                     .vtype = SF_V_STRING,
                     .str = "work"};
    sf_node vp = {.kind = SF_VALUEPATH, .path = {.attr = "emails"}, .left = &inner};
    sf_node either = {.kind = SF_OR, .left = &cmp, .right = &vp};
    scim_plan *pl = NULL;
    assert_int_equal(scim_plan_build(&scim_rt_user, &either, &pl, &e), IDP_OK);
    store_query q = {.rt = &scim_rt_user, .plan = pl, .sort_by = "userName", .count = 10};
    store_user *rows = NULL;
    size_t n = 0;
    int64_t total = 0;
    assert_int_equal(st->ops->user_query(st, &q, &rows, &n, &total, &e), IDP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(rows[0].id, "u1");
    assert_string_equal(rows[1].id, "u2");
    assert_string_equal(rows[2].id, "u3");
    assert_int_equal(total, 3);
    store_user_list_free(rows, n);
    scim_plan_free(pl);
}

/* ---- scim_sql specifics (SQLite) ------------------------------------------------------------ */

/* EXPLAIN QUERY PLAN of "SELECT id FROM <table> WHERE <filter> ORDER BY <sort>", details joined. */
static char *plan(const char *dbpath, const scim_resource_type *rt, const char *filter,
                  const char *sort)
{
    sf_node *f = NULL;
    scim_plan *pl = NULL;
    idp_error e = {0};
    scim_sql s;
    if (filter) assert_int_equal(scim_filter_parse(filter, strlen(filter), &f, &e), IDP_OK);
    if (f) assert_int_equal(scim_plan_build(rt, f, &pl, &e), IDP_OK);
    assert_int_equal(scim_sql_build(rt, pl, sort, false, &s, &e), IDP_OK);
    char sql[4096];
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN SELECT id FROM %s WHERE %s ORDER BY %s LIMIT 10",
             s.table, buf_cstr(&s.where), buf_cstr(&s.order));
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    for (size_t i = 0; i < s.nparams; i++) {
        if (s.params[i].type == SCIM_SQL_TEXT)
            sqlite3_bind_text(q, (int)i + 1, s.params[i].s, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(q, (int)i + 1, s.params[i].i);
    }
    char *out = calloc(1, 4096);
    size_t off = 0;
    while (sqlite3_step(q) == SQLITE_ROW)
        off += (size_t)snprintf(out + off, 4096 - off, "%s|", sqlite3_column_text(q, 3));
    sqlite3_finalize(q);
    sqlite3_close(db);
    scim_sql_clear(&s);
    scim_plan_free(pl);
    scim_filter_free(f);
    return out;
}

static void test_sql_query_plans(void **state)
{
    SUT_SQLITE_ONLY(); /* reads the SQLite file directly */
    fx *f = *state;
    seed(f->st);
    char *p = plan(f->path, &scim_rt_user, "userName eq \"Alice\"", NULL);
    if (!strstr(p, "INDEX users_user_name (user_name=?)")) fail_msg("userName eq plan: %s", p);
    free(p);
    p = plan(f->path, &scim_rt_user, "externalId eq \"x\"", NULL);
    if (!strstr(p, "INDEX users_external_id")) fail_msg("externalId eq plan: %s", p);
    free(p);
    p = plan(f->path, &scim_rt_group, "displayName eq \"x\"", NULL);
    if (!strstr(p, "INDEX groups_display_name")) fail_msg("displayName eq plan: %s", p);
    free(p);
    /* sorted pages walk an index instead of sorting the table */
    const char *sorts[] = {"userName", "meta.created", "meta.lastModified", NULL};
    for (int i = 0; i < 4; i++) {
        p = plan(f->path, &scim_rt_user, NULL, sorts[i]);
        if (strstr(p, "TEMP B-TREE") || !strstr(p, "INDEX users_"))
            fail_msg("sortBy %s plan: %s", sorts[i] ? sorts[i] : "(default)", p);
        free(p);
    }
}

/* emails co/sw/ew through the trigram index (0005_emails_trigram.sql): the plan uses it, and the
 * index follows every create, update and delete exactly (no stale or missing candidate). */
static void test_emails_trigram(void **state)
{
    SUT_SQLITE_ONLY(); /* reads the SQLite file directly */
    fx *f = *state;
    seed(f->st);
    char *p = plan(f->path, &scim_rt_user, "emails co \"example.co\"", NULL);
    if (!strstr(p, "user_emails_trgm")) fail_msg("emails co plan: %s", p);
    free(p);
    struct {
        const char *filter, *want;
    } cases[] = {
        {"emails co \"example.co\"", "u1,u3"},
        {"emails co \"EXAMPLE.CO\"", "u1,u3"},           /* caseExact false */
        {"emails.value co \"home.org\"", "u1"},
        {"emails sw \"bob@\"", "u2"},
        {"emails ew \".org\"", "u1,u2"},
        {"emails co \"@e\"", "u1,u2,u3"},                 /* 2 characters: no prefilter */
        {"emails co \"zzz\"", ""},
        {"emails co \"a\\\"b\"", ""},                      /* a quote inside the phrase */
        {"emails co \"example\" and userName eq \"bob\"", "u2"},
        {"not (emails co \"example.com\")", "u2,u4,u5"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *got = qids(f->st, &scim_rt_user, cases[i].filter, NULL, false, 1, 100, NULL);
        if (strcmp(got, cases[i].want)) fail_msg("%s: got %s, want %s", cases[i].filter, got, cases[i].want);
        free(got);
    }
    /* replace: the old address is gone from the index, the new one is there */
    store_user u = {0};
    idp_error e = {0};
    assert_int_equal(f->st->ops->user_get(f->st, "u3", &u, &e), IDP_OK);
    free(u.doc);
    u.doc = strdup("{\"emails\":[{\"value\":\"carol@new.example\"}]}");
    assert_int_equal(f->st->ops->user_replace(f->st, &u, 0, &e), IDP_OK);
    store_user_clear(&u);
    char *got = qids(f->st, &scim_rt_user, "emails co \"example.com\"", NULL, false, 1, 100, NULL);
    assert_string_equal(got, "u1");
    free(got);
    got = qids(f->st, &scim_rt_user, "emails co \"new.exam\"", NULL, false, 1, 100, NULL);
    assert_string_equal(got, "u3");
    free(got);
    /* delete: gone */
    assert_int_equal(f->st->ops->user_delete(f->st, "u1", 0, &e), IDP_OK);
    got = qids(f->st, &scim_rt_user, "emails co \"alice\"", NULL, false, 1, 100, NULL);
    assert_string_equal(got, "");
    free(got);
}

/* Values never reach the SQL text (injection safety by construction). */
static void test_sql_values_bound(void **state)
{
    (void)state;
    const char *v = "x' OR 1=1 --";
    sf_node n = {.kind = SF_COMPARE,
                 .path = {.attr = "name", .sub = "familyName"},
                 .op = SF_CO,
                 .vtype = SF_V_STRING,
                 .str = (char *)"a%b_c\\d"};
    sf_node m = {.kind = SF_COMPARE,
                 .path = {.attr = "userName"},
                 .op = SF_EQ,
                 .vtype = SF_V_STRING,
                 .str = (char *)v};
    sf_node both = {.kind = SF_AND, .left = &m, .right = &n};
    scim_plan *pl = NULL;
    scim_sql s;
    idp_error e = {0};
    assert_int_equal(scim_plan_build(&scim_rt_user, &both, &pl, &e), IDP_OK);
    assert_int_equal(scim_sql_build(&scim_rt_user, pl, NULL, false, &s, &e), IDP_OK);
    assert_null(strstr(buf_cstr(&s.where), "OR 1=1"));
    assert_null(strstr(buf_cstr(&s.where), "a%b"));
    assert_int_equal(s.nparams, 2);
    assert_string_equal(s.params[0].s, v);
    assert_string_equal(s.params[1].s, "%a\\%b\\_c\\\\d%");
    assert_string_equal(buf_cstr(&s.where),
                        "((users.user_name = ?1 COLLATE NOCASE) AND "
                        "(json_extract(users.doc, '$.\"name\".\"familyName\"') LIKE ?2 "
                        "ESCAPE '\\'))");
    scim_sql_clear(&s);
    scim_sql_clear(NULL);
    scim_plan_free(pl);
}

/* ---- provisioning keys ---------------------------------------------------------------------- */

static void test_pkeys(void **state)
{
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    int64_t g0 = 0, g1 = 0, g2 = 0, g3 = 0;
    assert_int_equal(store_generation(st, &g0, &e), IDP_OK);
    store_pkey k = {.id = "k1",
                    .name = "entra",
                    .scopes = "scim:read scim:write",
                    .created_at = 100,
                    .expires_at = 1000};
    memset(k.hash, 0xab, sizeof k.hash);
    assert_int_equal(st->ops->pkey_insert(st, &k, &e), IDP_OK);
    assert_int_equal(st->ops->pkey_insert(st, &k, &e), IDP_ERR_CONFLICT);
    assert_int_equal(store_generation(st, &g1, &e), IDP_OK);
    assert_true(g1 > g0); /* a running server sees new keys */
    store_pkey got;
    assert_int_equal(st->ops->pkey_get(st, "k1", &got, &e), IDP_OK);
    assert_string_equal(got.name, "entra");
    assert_string_equal(got.scopes, "scim:read scim:write");
    assert_memory_equal(got.hash, k.hash, 32);
    assert_int_equal(got.expires_at, 1000);
    assert_int_equal(got.revoked_at, 0);
    assert_null(got.replaced_by);
    store_pkey_clear(&got);
    assert_int_equal(st->ops->pkey_get(st, "nope", &got, &e), IDP_ERR_NOT_FOUND);

    assert_int_equal(st->ops->pkey_touch(st, "k1", 500, &e), IDP_OK);
    assert_int_equal(st->ops->pkey_touch(st, "k1", 400, &e), IDP_OK); /* never backwards */
    assert_int_equal(st->ops->pkey_touch(st, "nope", 400, &e), IDP_ERR_NOT_FOUND);
    assert_int_equal(store_generation(st, &g2, &e), IDP_OK);
    assert_int_equal(g2, g1); /* last_used_at does not churn the generation */

    store_pkey k2 = {.id = "k2", .name = "entra", .scopes = "scim:read", .created_at = 200};
    memset(k2.hash, 0xcd, sizeof k2.hash);
    assert_int_equal(st->ops->pkey_insert(st, &k2, &e), IDP_OK);
    k.expires_at = 600;
    k.revoked_at = 650;
    k.replaced_by = "k2";
    assert_int_equal(st->ops->pkey_update(st, &k, &e), IDP_OK);
    assert_int_equal(store_generation(st, &g3, &e), IDP_OK);
    assert_true(g3 > g2);
    store_pkey bad = {.id = "nope"};
    assert_int_equal(st->ops->pkey_update(st, &bad, &e), IDP_ERR_NOT_FOUND);

    store_pkey *rows = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->pkey_list(st, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].id, "k1");
    assert_int_equal(rows[0].last_used_at, 500);
    assert_int_equal(rows[0].expires_at, 600);
    assert_int_equal(rows[0].revoked_at, 650);
    assert_string_equal(rows[0].replaced_by, "k2");
    assert_string_equal(rows[1].id, "k2");
    store_pkey_list_free(rows, n);
}

/* ---- audit chain ---------------------------------------------------------------------------- */

/* Recomputes the chain; returns the first broken seq or 0. */
static int64_t verify_chain(store *st)
{
    store_audit *rows = NULL;
    size_t n = 0;
    idp_error e = {0};
    unsigned char prev[32] = {0}, h[32];
    int64_t broken = 0;
    assert_int_equal(st->ops->audit_list(st, 0, 1000, &rows, &n, &e), IDP_OK);
    for (size_t i = 0; i < n && !broken; i++) {
        store_audit ev = rows[i];
        memcpy(ev.prev_hash, prev, 32);
        store_audit_hash(&ev, h);
        if (memcmp(rows[i].prev_hash, prev, 32) != 0 || memcmp(h, rows[i].hash, 32) != 0 ||
            rows[i].seq != (int64_t)i + 1)
            broken = rows[i].seq;
        memcpy(prev, rows[i].hash, 32);
    }
    store_audit_list_free(rows, n);
    return broken;
}

static void test_audit_chain(void **state)
{
    SUT_SQLITE_ONLY(); /* reads the SQLite file directly */
    fx *f = *state;
    store *st = f->st;
    idp_error e = {0};
    const char *actions[] = {"user.create", "user.patch", "pkey.revoke"};
    unsigned char last[32] = {0};
    for (int i = 0; i < 3; i++) {
        store_audit ev = {.time_ms = 1000 + i,
                          .actor = "pkey:abc",
                          .action = (char *)actions[i],
                          .target_type = "User",
                          .target_id = "u1",
                          .before_version = i,
                          .after_version = i + 1,
                          .detail = i == 2 ? NULL : "{\"changed\":[\"active\"]}"};
        assert_int_equal(st->ops->audit_append(st, &ev, &e), IDP_OK);
        assert_int_equal(ev.seq, i + 1);
        assert_memory_equal(ev.prev_hash, last, 32);
        memcpy(last, ev.hash, 32);
    }
    store_audit bad = {.action = "x"};
    assert_int_equal(st->ops->audit_append(st, &bad, &e), IDP_ERR_INVALID);
    assert_int_equal(verify_chain(st), 0);

    store_audit *rows = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->audit_last(st, 2, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(rows[0].seq, 2); /* oldest first */
    assert_int_equal(rows[1].seq, 3);
    assert_null(rows[1].detail);
    assert_string_equal(rows[0].action, "user.patch");
    store_audit_list_free(rows, n);
    assert_int_equal(st->ops->audit_list(st, 2, 10, &rows, &n, &e), IDP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].seq, 3);
    store_audit_list_free(rows, n);

    /* The encoding distinguishes NULL from "" and moves between fields. */
    store_audit a = {.seq = 1, .actor = "ab", .action = "c"},
                b = {.seq = 1, .actor = "a", .action = "bc"};
    unsigned char ha[32], hb[32];
    store_audit_hash(&a, ha);
    store_audit_hash(&b, hb);
    assert_memory_not_equal(ha, hb, 32);
    a.detail = "";
    store_audit_hash(&a, hb);
    assert_memory_not_equal(ha, hb, 32);

    /* Tampering with a stored event is detected by recomputing. */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE audit_events SET actor = 'cli' WHERE seq = 2", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(verify_chain(st), 2);
}

int main(void)
{
    SUT_MAIN();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_invalid, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_user_unique_case_insensitive, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_group_members, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_group_invalid_members, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_delete_cascades, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ops_in_caller_tx, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_big_group, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_operators, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_logic, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_groups, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_rejects, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_sort_and_pages, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_query_hand_built, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sql_query_plans, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_emails_trigram, fx_setup, fx_teardown),
        cmocka_unit_test(test_sql_values_bound),
        cmocka_unit_test_setup_teardown(test_pkeys, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_chain, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
