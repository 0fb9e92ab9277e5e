/* store — backend selection and the row helpers shared by every backend. */
#include "store/store.h"

#include "core/mem.h"
#include "store/internal.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define STORE_SQLITE_PREFIX "sqlite:"

idp_err store_open(const char *spec, bool create, store **out, idp_error *err)
{
    *out = NULL;
    if (!spec || !*spec) return IDP_FAIL(err, IDP_ERR_CONFIG, "store: empty location");
    size_t plen = strlen(STORE_SQLITE_PREFIX);
    if (strncmp(spec, STORE_SQLITE_PREFIX, plen) == 0)
        return store_sqlite_open(spec + plen, create, out, err);
    /* A scheme we do not (yet) implement must not be mistaken for a file name. */
    if (strncmp(spec, "postgres:", 9) == 0 || strncmp(spec, "postgresql:", 11) == 0)
        return IDP_FAIL(err, IDP_ERR_CONFIG, "store: the PostgreSQL backend is not available");
    return store_sqlite_open(spec, create, out, err);
}

void store_close(store *st)
{
    if (st) st->ops->close(st);
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
