/* store — the backend-neutral front: backend selection, the rules every backend shares
 * (token_epoch on replace and on leaving a group, the userName look-alike check,
 * refresh-family revocation, the audit hash chain, just-in-time provisioning) composed from the
 * backend's storage ops inside the caller's transaction, and the row helpers.
 *
 * store_open gives the backend's store a copy of the backend's ops table in which the rule ops
 * are the front's; the copy remembers the backend's table, so a front op calls the backend's
 * storage op on the same store. A composition that reads then writes runs in the caller's
 * store_tx_begin transaction, or in its own when there is none: one writer at a time (store.h),
 * so what it read cannot change before it writes. */
#include "store/store.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/rand.h"
#include "core/timeutil.h"
#include "scim/patch.h"
#include "scim/urn.h"
#include "scim/username.h"
#include "store/pg/internal.h"
#include "store/sqlite/internal.h"
#include "store_migrations_pg.h"     /* STORE_PG_MIGRATION_NAMES (the SQL text is not used here) */
#include "store_migrations_sqlite.h" /* STORE_SQLITE_MIGRATION_NAMES */

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define STORE_SQLITE_PREFIX "sqlite:"

typedef struct front_ops {
    store_ops ops;       /* first: st->ops points here */
    const store_ops *be; /* the backend's own table */
} front_ops;

static const store_ops *be_of(store *st)
{
    return ((const front_ops *)(const void *)st->ops)->be;
}

/* Joins the caller's transaction or begins one; *own says which. */
static idp_err fr_begin(store *st, bool *own, idp_error *err)
{
    const store_ops *be = be_of(st);
    *own = !be->tx_active(st);
    return *own ? be->tx_begin(st, err) : IDP_OK;
}

/* Ends what fr_begin began: commit when rc is IDP_OK, else roll back. Returns rc or the commit
 * error. Inside the caller's transaction nothing is ended (the caller commits or rolls back). */
static idp_err fr_end(store *st, bool own, idp_err rc, idp_error *err)
{
    const store_ops *be = be_of(st);
    if (!own) return rc;
    if (rc) {
        be->tx_rollback(st);
        return rc;
    }
    return be->tx_commit(st, err);
}

int64_t store_user_epoch_next(const store_user *stored, const store_user *u)
{
    int64_t e = stored->token_epoch > u->token_epoch ? stored->token_epoch : u->token_epoch;
    if (stored->active && !u->active) e++;
    if (u->password_hash &&
        (!stored->password_hash || strcmp(stored->password_hash, u->password_hash) != 0))
        e++;
    return e;
}

/* A userName whose comparison key (scim/username.h) another user's name shares is a look-alike:
 * CONFLICT. Called inside the write (fr_begin), so no other writer claims the key meanwhile. A
 * user without id or userName is left to the backend, which refuses it (IDP_ERR_INVALID). */
static idp_err fr_name_key_claim(store *st, const store_user *u, idp_error *err)
{
    if (!u->id || !*u->id || !u->user_name || !*u->user_name) return IDP_OK;
    char *key = username_key(u->user_name);
    if (!key) return IDP_FAIL(err, IDP_ERR_INVALID, "store: userName is not valid UTF-8");
    bool taken = false;
    idp_err rc = be_of(st)->user_name_key_taken(st, key, u->id, &taken, err);
    free(key);
    if (!rc && taken)
        rc = IDP_FAIL(err, IDP_ERR_CONFLICT, "store: user_name: a look-alike already exists");
    return rc;
}

static idp_err fr_user_create(store *st, const store_user *u, idp_error *err)
{
    bool own = false;
    idp_err rc = fr_begin(st, &own, err);
    if (rc) return rc;
    if (!(rc = fr_name_key_claim(st, u, err))) rc = be_of(st)->user_create(st, u, err);
    return fr_end(st, own, rc, err);
}

static idp_err fr_user_replace(store *st, const store_user *u, int64_t expect_version,
                               idp_error *err)
{
    const store_ops *be = be_of(st);
    store_user cur = {0}, w = *u;
    bool own = false;
    idp_err rc = fr_begin(st, &own, err);
    if (rc || (rc = fr_name_key_claim(st, u, err))) return fr_end(st, own, rc, err);
    /* No stored row (or no id): the backend's replace reports it, in its order of checks. */
    if (u->id && !(rc = be->user_get(st, u->id, &cur, err)))
        w.token_epoch = store_user_epoch_next(&cur, u);
    else if (!u->id || rc == IDP_ERR_NOT_FOUND)
        rc = IDP_OK;
    store_user_clear(&cur);
    if (!rc) rc = be->user_replace(st, &w, expect_version, err);
    return fr_end(st, own, rc, err);
}

/* DESIGN §5: a user who leaves a group loses the tokens issued while a member (token_epoch + 1),
 * in the same transaction as the membership change. */
static idp_err fr_bump_left(store *st, const store_ids *left, idp_error *err)
{
    idp_err rc = IDP_OK;
    for (size_t i = 0; !rc && i < left->n; i++)
        rc = be_of(st)->user_epoch_bump(st, left->v[i], err);
    return rc;
}

static idp_err fr_group_replace(store *st, const store_group *g, const scim_delta *members,
                                int64_t expect_version, idp_error *err)
{
    store_ids left = {0};
    bool own = false;
    idp_err rc = fr_begin(st, &own, err);
    if (rc) return rc;
    if (!(rc = be_of(st)->group_update(st, g, members, expect_version, &left, err)))
        rc = fr_bump_left(st, &left, err);
    store_ids_clear(&left);
    return fr_end(st, own, rc, err);
}

static idp_err fr_group_delete(store *st, const char *id, int64_t expect_version, idp_error *err)
{
    store_ids left = {0};
    bool own = false;
    idp_err rc = fr_begin(st, &own, err);
    if (rc) return rc;
    if (!(rc = be_of(st)->group_remove(st, id, expect_version, &left, err)))
        rc = fr_bump_left(st, &left, err);
    store_ids_clear(&left);
    return fr_end(st, own, rc, err);
}

/* RFC 7009 §2.1: revoking a refresh token MAY revoke the grant's other tokens; we revoke the
 * family (RFC 9700 §4.14.2). A token's family never changes, so no transaction is needed. */
static idp_err fr_refresh_revoke_one(store *st, const unsigned char hash[32], int64_t now,
                                     idp_error *err)
{
    const store_ops *be = be_of(st);
    store_refresh r = {0};
    if (now <= 0)
        return IDP_FAIL(err, IDP_ERR_INVALID, "store: refresh_revoke_one: time must be > 0");
    idp_err rc = be->refresh_get(st, hash, &r, err);
    if (!rc) rc = be->refresh_revoke_family(st, r.family_id, now, err);
    store_refresh_clear(&r);
    return rc;
}

static bool audit_field_ok(const char *s)
{
    return !s || strnlen(s, STORE_AUDIT_FIELD_MAX + 1) <= STORE_AUDIT_FIELD_MAX;
}

/* Assigns ev->seq (last + 1), ev->prev_hash (the last hash, zeros first) and ev->hash, under the
 * write lock, so concurrent appenders cannot fork the chain. time_ms 0 = now. */
static idp_err fr_audit_append(store *st, store_audit *ev, idp_error *err)
{
    const store_ops *be = be_of(st);
    unsigned char last[32];
    int64_t seq = 0;
    bool own = false;
    if (!ev->actor || !ev->action || !audit_field_ok(ev->actor) || !audit_field_ok(ev->action) ||
        !audit_field_ok(ev->target_type) || !audit_field_ok(ev->target_id) ||
        !audit_field_ok(ev->detail))
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "store: audit event without actor/action or too long");
    idp_err rc = fr_begin(st, &own, err);
    if (rc) return rc;
    if (!(rc = be->audit_tail(st, &seq, last, err))) {
        if (ev->time_ms <= 0) ev->time_ms = time_now_ms();
        store_audit_link(seq, last, ev);
        rc = be->audit_insert(st, ev, err);
    }
    return fr_end(st, own, rc, err);
}

/* The user a just-in-time provisioning creates, as SCIM POST /Users would (handle/scim/
 * http_users.c): doc normalised for the User resource type (schemas added when absent), userName
 * = user_name, no password, active a boolean (default true), a new id, version 1, now. Fills *u;
 * the strings it points to are in *id (37 bytes) and *text (owned). */
static idp_err fed_user_build(const char *user_name, const char *doc, store_user *u, char id[37],
                              char **text, idp_error *err)
{
    json_t *in = NULL, *out = NULL;
    idp_error ne = {0};
    *text = NULL;
    if (username_check(user_name, &ne) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "%s", ne.msg);
    const char *d = doc ? doc : "{}";
    if (jsonx_parse(d, strlen(d), 0, 0, true, &in, NULL) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_SYNTAX,
                        "store: fed_provision: doc is not a "
                        "JSON object");
    json_object_set_new(in, "userName", json_string(user_name));
    if (!json_object_get(in, "schemas")) {
        json_t *sc = json_array();
        json_array_append_new(sc, json_string(SCIM_URN_USER));
        json_object_set_new(in, "schemas", sc);
    }
    idp_err rc = scim_resource_normalize(&scim_rt_user, in, &out, NULL, err);
    json_decref(in);
    if (rc) return rc;
    json_object_del(out, "password"); /* signs in upstream: no local password */
    json_t *a = json_object_get(out, "active");
    bool active = !json_is_boolean(a) || json_is_true(a);
    json_object_set_new(out, "active", json_boolean(active));
    const char *name = jsonx_str(out, "userName"), *ext = jsonx_str(out, "externalId");
    rand_uuid(id);
    *text = jsonx_dump(out);
    memset(u, 0, sizeof *u);
    u->id = id;
    u->user_name = xstrdup(name ? name : user_name);
    u->external_id = ext ? xstrdup(ext) : NULL;
    u->active = active;
    u->doc = *text;
    u->version = 1;
    u->created_at = u->modified_at = time_now_ms();
    json_decref(out);
    return IDP_OK;
}

/* Looks the pair up and, when it is not linked, creates the user and links it, all under one
 * write lock (fr_begin): a concurrent call for the same pair waits, then finds the link. */
static idp_err fr_fed_provision(store *st, const char *issuer, const char *subject,
                                const char *user_name, const char *doc, int64_t now, char **user_id,
                                bool *created, idp_error *err)
{
    const store_ops *be = be_of(st);
    store_user u = {0};
    char id[37] = {0}, *text = NULL;
    bool own = false;
    *user_id = NULL;
    *created = false;
    if (!user_name || !*user_name)
        return IDP_FAIL(err, IDP_ERR_SCIM_INVALID_VALUE, "userName is required");
    idp_err rc = fr_begin(st, &own, err);
    if (rc) return rc;
    rc = be->fed_link_get(st, issuer, subject, user_id, err);
    if (rc == IDP_ERR_NOT_FOUND && !(rc = fed_user_build(user_name, doc, &u, id, &text, err)) &&
        !(rc = fr_user_create(st, &u, err)) &&
        !(rc = be->fed_link_add(st, issuer, subject, id, now, err))) {
        *user_id = xstrdup(id);
        *created = true;
    }
    free(u.user_name);
    free(u.external_id);
    free(text);
    rc = fr_end(st, own, rc, err);
    if (rc) {
        free(*user_id);
        *user_id = NULL;
        *created = false;
    }
    return rc;
}

/* Gives the freshly opened backend store the front's table (see the top of this file). */
idp_err store_front_install(store *st, idp_error *err)
{
    front_ops *f = calloc(1, sizeof *f);
    if (!f) return IDP_FAIL(err, IDP_ERR_INTERNAL, "store: out of memory");
    f->be = st->ops;
    f->ops = *st->ops;
    f->ops.user_create = fr_user_create;
    f->ops.user_replace = fr_user_replace;
    f->ops.group_replace = fr_group_replace;
    f->ops.group_delete = fr_group_delete;
    f->ops.refresh_revoke_one = fr_refresh_revoke_one;
    f->ops.audit_append = fr_audit_append;
    f->ops.fed_provision = fr_fed_provision;
    st->ops = &f->ops;
    return IDP_OK;
}

/* Which backend spec names: *pg true for PostgreSQL (*loc = spec), false for SQLite (*loc = the
 * file name without the "sqlite:" prefix). IDP_ERR_CONFIG for a malformed spec. */
static idp_err spec_backend(const char *spec, bool *pg, const char **loc, idp_error *err)
{
    size_t plen = strlen(STORE_SQLITE_PREFIX);
    if (!spec || !*spec) return IDP_FAIL(err, IDP_ERR_CONFIG, "store: empty location");
    *pg = strncmp(spec, "postgres:", 9) == 0 || strncmp(spec, "postgresql:", 11) == 0;
    if (!*pg) {
        *loc = strncmp(spec, STORE_SQLITE_PREFIX, plen) == 0 ? spec + plen : spec;
        return IDP_OK;
    }
    if (strncmp(spec, "postgres://", 11) != 0 && strncmp(spec, "postgresql://", 13) != 0)
        return IDP_FAIL(err, IDP_ERR_CONFIG,
                        "store: a PostgreSQL store is a URI postgresql://USER@HOST:PORT/DB");
    /* a backend with an op left NULL is never reachable */
    if (!store_pg_complete())
        return IDP_FAIL(err, IDP_ERR_CONFIG, "store: the PostgreSQL backend is not available");
    *loc = spec;
    return IDP_OK;
}

idp_err store_schema_version(const char *spec, int64_t *version, int64_t *known, idp_error *err)
{
    const char *loc = NULL;
    bool pg = false;
    *version = *known = 0;
    idp_err rc = spec_backend(spec, &pg, &loc, err);
    if (rc) return rc;
    return pg ? store_pg_schema_version(loc, version, known, err)
              : store_sqlite_schema_version(loc, version, known, err);
}

const char *store_schema_migration_name(const char *spec, int64_t version)
{
    static const char *const sq_names[] = {STORE_SQLITE_MIGRATION_NAMES};
    static const char *const pg_names[] = {STORE_PG_MIGRATION_NAMES};
    _Static_assert(sizeof sq_names / sizeof *sq_names == STORE_SQLITE_MIGRATION_COUNT, "names");
    _Static_assert(sizeof pg_names / sizeof *pg_names == STORE_PG_MIGRATION_COUNT, "names");
    const char *loc = NULL;
    bool pg = false;
    if (spec_backend(spec, &pg, &loc, NULL) != IDP_OK || version < 1) return NULL;
    if (pg) return version <= STORE_PG_MIGRATION_COUNT ? pg_names[version - 1] : NULL;
    return version <= STORE_SQLITE_MIGRATION_COUNT ? sq_names[version - 1] : NULL;
}

idp_err store_open_pool(const char *spec, bool create, int pool, store **out, idp_error *err)
{
    const char *loc = NULL;
    bool pg = false;
    *out = NULL;
    idp_err rc = spec_backend(spec, &pg, &loc, err);
    if (rc) return rc;
    rc = pg ? store_pg_open(loc, pool, create, out, err) : store_sqlite_open(loc, create, out, err);
    if (!rc && (rc = store_front_install(*out, err))) {
        (*out)->ops->close(*out);
        *out = NULL;
    }
    return rc;
}

idp_err store_open(const char *spec, bool create, store **out, idp_error *err)
{
    return store_open_pool(spec, create, 0, out, err);
}

void store_close(store *st)
{
    if (!st) return;
    front_ops *f = (front_ops *)(void *)st->ops;
    st->ops = f->be;
    st->ops->close(st);
    free(f);
}

void store_key_clear(store_key *k)
{
    if (!k) return;
    free(k->kid);
    free(k->alg);
    if (k->enc_private) mem_wipe(k->enc_private, k->enc_private_len);
    free(k->enc_private);
    free(k->public_jwk);
    memset(k, 0, sizeof *k);
}

void store_key_list_free(store_key *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) store_key_clear(&rows[i]);
    free(rows);
}

void store_client_clear(store_client *c)
{
    if (!c) return;
    free(c->client_id);
    free(c->name);
    free(c->grant_types);
    free(c->scope);
    free(c->audiences);
    free(c->token_alg);
    free(c->auth_method);
    free(c->redirect_uris);
    free(c->post_logout_redirect_uris);
    free(c->jwks);
    free(c->backchannel_logout_uri);
    free(c->introspect);
    mem_wipe(c->secret_hash, sizeof c->secret_hash);
    memset(c, 0, sizeof *c);
}

void store_client_list_free(store_client *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) store_client_clear(&rows[i]);
    free(rows);
}

void store_auth_code_clear(store_auth_code *c)
{
    if (!c) return;
    free(c->client_id);
    free(c->user_id);
    free(c->redirect_uri);
    free(c->scope);
    free(c->resource);
    free(c->nonce);
    free(c->code_challenge);
    free(c->session_id);
    free(c->amr);
    free(c->family_id);
    free(c->access_jti);
    memset(c, 0, sizeof *c);
}

void store_refresh_clear(store_refresh *r)
{
    if (!r) return;
    free(r->family_id);
    free(r->client_id);
    free(r->user_id);
    free(r->scope);
    free(r->resource);
    free(r->session_id);
    free(r->amr);
    free(r->nonce);
    memset(r, 0, sizeof *r);
}

void store_session_clear(store_session *s)
{
    if (!s) return;
    free(s->sid);
    free(s->user_id);
    free(s->amr);
    free(s->clients);
    memset(s, 0, sizeof *s);
}

void store_session_list_free(store_session *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) store_session_clear(&rows[i]);
    free(rows);
}

void store_policy_clear(store_policy *p)
{
    if (!p) return;
    free(p->sha256);
    free(p->document);
    free(p->actor);
    free(p->comment);
    memset(p, 0, sizeof *p);
}

void store_policy_list_free(store_policy *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) store_policy_clear(&rows[i]);
    free(rows);
}

void store_policy_activation_list_free(store_policy_activation *rows, size_t n)
{
    (void)n;
    free(rows);
}

void store_user_clear(store_user *u)
{
    if (!u) return;
    free(u->id);
    free(u->user_name);
    free(u->external_id);
    free(u->doc);
    if (u->password_hash) mem_wipe(u->password_hash, strlen(u->password_hash));
    free(u->password_hash);
    memset(u, 0, sizeof *u);
}

void store_user_list_free(store_user *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) store_user_clear(&rows[i]);
    free(rows);
}

void store_group_clear(store_group *g)
{
    if (!g) return;
    free(g->id);
    free(g->display_name);
    free(g->external_id);
    free(g->doc);
    memset(g, 0, sizeof *g);
}

void store_group_list_free(store_group *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) store_group_clear(&rows[i]);
    free(rows);
}

void store_fed_status_clear(store_fed_status *s)
{
    if (!s) return;
    free(s->issuer);
    free(s->name);
    free(s->state);
    free(s->last_error);
    free(s->kids);
    memset(s, 0, sizeof *s);
}

void store_fed_status_list_free(store_fed_status *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) store_fed_status_clear(&rows[i]);
    free(rows);
}

void store_rev_event_list_free(store_rev_event *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) free(rows[i].subject);
    free(rows);
}

void store_fed_jwks_clear(store_fed_jwks *j)
{
    if (!j) return;
    free(j->issuer);
    free(j->body);
    memset(j, 0, sizeof *j);
}

void store_ids_add(store_ids *l, const char *id)
{
    if ((l->n & (l->n - 1)) == 0) /* 0, 1, 2, 4, ...: double the room */
        l->v = xrealloc(l->v, (l->n ? 2 * l->n : 1) * sizeof *l->v);
    l->v[l->n++] = xstrdup(id);
}

void store_ids_clear(store_ids *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void store_ref_list_free(store_ref *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) {
        free(rows[i].id);
        free(rows[i].display);
    }
    free(rows);
}

void store_pkey_clear(store_pkey *k)
{
    if (!k) return;
    free(k->id);
    free(k->name);
    free(k->scopes);
    free(k->replaced_by);
    mem_wipe(k->hash, sizeof k->hash);
    memset(k, 0, sizeof *k);
}

void store_pkey_list_free(store_pkey *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) store_pkey_clear(&rows[i]);
    free(rows);
}

void store_audit_clear(store_audit *a)
{
    if (!a) return;
    free(a->actor);
    free(a->action);
    free(a->target_type);
    free(a->target_id);
    free(a->detail);
    memset(a, 0, sizeof *a);
}

void store_audit_list_free(store_audit *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) store_audit_clear(&rows[i]);
    free(rows);
}

/* ---- the audit hash chain ------------------------------------------------------------------- */

static void ah_i64(EVP_MD_CTX *md, int64_t v)
{
    unsigned char b[8];
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8) b[i] = (unsigned char)(u & 0xff);
    EVP_DigestUpdate(md, b, sizeof b);
}

static void ah_str(EVP_MD_CTX *md, const char *s)
{
    uint32_t n = s ? (uint32_t)strnlen(s, STORE_AUDIT_FIELD_MAX) : 0xffffffffu;
    unsigned char b[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                          (unsigned char)(n >> 8), (unsigned char)n};
    EVP_DigestUpdate(md, b, sizeof b);
    if (s) EVP_DigestUpdate(md, s, n);
}

/* See store.h for the encoding. */
void store_audit_hash(const store_audit *ev, unsigned char out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int len = 0;
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) abort(); /* out of memory */
    EVP_DigestUpdate(md, ev->prev_hash, 32);
    ah_i64(md, ev->seq);
    ah_i64(md, ev->time_ms);
    ah_str(md, ev->actor);
    ah_str(md, ev->action);
    ah_str(md, ev->target_type);
    ah_str(md, ev->target_id);
    ah_i64(md, ev->before_version);
    ah_i64(md, ev->after_version);
    ah_str(md, ev->detail);
    if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 32) abort();
    EVP_MD_CTX_free(md);
}

void store_audit_link(int64_t last_seq, const unsigned char last_hash[32], store_audit *ev)
{
    ev->seq = last_seq + 1;
    memcpy(ev->prev_hash, last_hash, 32);
    store_audit_hash(ev, ev->hash);
}
