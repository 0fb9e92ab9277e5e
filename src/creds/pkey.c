/* pkey — provisioning keys (see pkey.h). */
#include "creds/pkey.h"

#include "proto/bearer.h"

#include "proto/scope.h"

#include "core/b64url.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rand.h"
#include "creds/client_secret.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const known_scopes[] = {PKEY_SCOPE_SCIM_READ, PKEY_SCOPE_SCIM_WRITE,
                                           PKEY_SCOPE_ADMIN, PKEY_SCOPE_EVENTS_READ};
#define NSCOPES (sizeof known_scopes / sizeof *known_scopes)

static idp_err auth_fail(idp_error *err, int line)
{
    return idp_error_set(err, IDP_ERR_UNAUTHORIZED, "pkey_authenticate", line, "%s",
                         PKEY_AUTH_FAILED_MSG);
}

idp_err pkey_pepper(const kek *k, unsigned char out[32], idp_error *err)
{
    return kek_derive(k, PKEY_PEPPER_LABEL, out, err);
}

void pkey_generate(const unsigned char pepper[32], char **id, char **key, unsigned char hash[32])
{
    /* The id is a command-line argument (`provisioning-key revoke ID`): never let it start with
     * '-', or getopt would take it for an option. Redrawing costs < 1 bit of the 128. */
    char *rid = rand_token(16);
    while (rid[0] == '-') {
        free(rid);
        rid = rand_token(16);
    }
    char *secret = rand_token(32);
    if (strlen(rid) != PKEY_ID_LEN || strlen(secret) != PKEY_SECRET_LEN) abort(); /* bug */
    char *k = xmalloc(PKEY_KEY_LEN + 1);
    memcpy(k, PKEY_PREFIX, PKEY_PREFIX_LEN);
    memcpy(k + PKEY_PREFIX_LEN, rid, PKEY_ID_LEN);
    k[PKEY_PREFIX_LEN + PKEY_ID_LEN] = '.';
    memcpy(k + PKEY_PREFIX_LEN + PKEY_ID_LEN + 1, secret, PKEY_SECRET_LEN + 1);
    client_secret_hash(pepper, secret, PKEY_SECRET_LEN, hash);
    mem_free_secret(secret);
    *id = rid;
    *key = k;
}

/* s[0..n) is strict base64url of exactly bytes bytes. */
static bool b64_exact(const char *s, size_t n, size_t bytes)
{
    unsigned char tmp[48]; /* >= b64url_decoded_max(43) */
    size_t got = 0;
    if (b64url_decoded_max(n) > sizeof tmp) return false;
    bool ok = b64url_decode_to(s, n, tmp, sizeof tmp, &got) == IDP_OK && got == bytes;
    mem_wipe(tmp, sizeof tmp);
    return ok;
}

idp_err pkey_parse(const char *key, size_t n, char id_out[PKEY_ID_LEN + 1], const char **secret,
                   idp_error *err)
{
    if (!key || n != PKEY_KEY_LEN || memcmp(key, PKEY_PREFIX, PKEY_PREFIX_LEN) != 0)
        return auth_fail(err, __LINE__);
    const char *id = key + PKEY_PREFIX_LEN;
    const char *sec = id + PKEY_ID_LEN + 1;
    if (id[PKEY_ID_LEN] != '.' || !b64_exact(id, PKEY_ID_LEN, 16) ||
        !b64_exact(sec, PKEY_SECRET_LEN, 32))
        return auth_fail(err, __LINE__);
    memcpy(id_out, id, PKEY_ID_LEN);
    id_out[PKEY_ID_LEN] = '\0';
    *secret = sec;
    return IDP_OK;
}

idp_err pkey_bearer(const char *header, const char **token, size_t *n, idp_error *err)
{
    /* one Bearer syntax for every endpoint (oauth/bearer.h); the key format is pkey_parse's */
    if (bearer_parse(header, token, n, NULL) != IDP_OK) return auth_fail(err, __LINE__);
    return IDP_OK;
}

static int scope_index(const char *s, size_t n)
{
    for (size_t i = 0; i < NSCOPES; i++)
        if (strlen(known_scopes[i]) == n && !memcmp(known_scopes[i], s, n)) return (int)i;
    return -1;
}

idp_err pkey_scopes_normalize(const char *list, char **out, idp_error *err)
{
    bool seen[NSCOPES] = {false};
    size_t count = 0;
    *out = NULL;
    for (const char *p = list ? list : ""; *p;) {
        p += strspn(p, " ,");
        size_t l = strcspn(p, " ,");
        if (!l) break;
        int i = scope_index(p, l);
        if (i < 0)
            return IDP_FAIL(err, IDP_ERR_INVALID,
                            "unknown scope (valid: scim:read, scim:write, admin, events:read)");
        if (seen[i])
            return IDP_FAIL(err, IDP_ERR_INVALID, "scope %s listed twice", known_scopes[i]);
        seen[i] = true;
        count++;
        p += l;
    }
    if (!count) return IDP_FAIL(err, IDP_ERR_INVALID, "at least one scope is required");
    idp_buf b;
    buf_init(&b, 256);
    for (size_t i = 0; i < NSCOPES; i++)
        if (seen[i] && ((b.len && buf_putc(&b, ' ')) || buf_puts(&b, known_scopes[i]))) abort();
    *out = buf_steal(&b);
    return IDP_OK;
}

bool pkey_has_scope(const char *scopes, const char *scope)
{
    return scope_has(scopes, scope);
}

bool pkey_is_active(const store_pkey *k, int64_t now)
{
    if (k->revoked_at != 0) return false;
    return k->expires_at == 0 || now < k->expires_at;
}

int64_t pkey_rotate_expiry(int64_t old_expires, int64_t now, int64_t overlap)
{
    if (overlap < 0) overlap = 0;
    int64_t end = now > INT64_MAX - overlap ? INT64_MAX : now + overlap;
    if (old_expires != 0 && old_expires < end) return old_expires;
    return end;
}

int64_t pkey_successor_expiry(const store_pkey *old, int64_t now)
{
    if (old->expires_at == 0) return 0;
    int64_t life = old->expires_at - old->created_at;
    if (life <= 0) life = 1;
    return now > INT64_MAX - life ? INT64_MAX : now + life;
}

/* A fixed hash no secret maps to in practice: the comparison target for unknown ids, so an
 * unknown id costs the same HMAC and compare as a wrong secret. */
static const unsigned char dummy_hash[32] = {
    0x5a, 0x1d, 0x3c, 0x7e, 0x91, 0x02, 0xb4, 0x6f, 0x88, 0x2e, 0xd9, 0x47, 0x13, 0xa0, 0xc5, 0x36,
    0xfe, 0x0b, 0x64, 0x9d, 0x27, 0x5c, 0xe1, 0x70, 0x4a, 0xb3, 0x18, 0x8f, 0xc2, 0x69, 0x05, 0xda,
};

static void touch_if_due(store *st, const store_pkey *k, int64_t now)
{
    if (k->last_used_at != 0 && now - k->last_used_at < PKEY_TOUCH_INTERVAL &&
        now >= k->last_used_at)
        return;
    idp_error e = {0};
    if (st->ops->pkey_touch(st, k->id, now, &e) != IDP_OK)
        log_msg(LOG_WARN, "provisioning key %s: last_used_at not recorded: %s", k->id,
                e.msg[0] ? e.msg : idp_err_name(e.code));
}

idp_err pkey_authenticate(store *st, const unsigned char pepper[32],
                          const char *authorization_header, const char *required_scope, int64_t now,
                          store_pkey *out, idp_error *err)
{
    store_pkey row;
    const char *token = NULL, *secret = NULL;
    size_t tlen = 0;
    char id[PKEY_ID_LEN + 1];
    idp_err rc;
    memset(&row, 0, sizeof row);
    if (out) memset(out, 0, sizeof *out);
    if ((rc = pkey_bearer(authorization_header, &token, &tlen, err)) != IDP_OK) return rc;
    if ((rc = pkey_parse(token, tlen, id, &secret, err)) != IDP_OK) return rc;
    rc = st->ops->pkey_get(st, id, &row, err);
    if (rc == IDP_ERR_NOT_FOUND) {
        (void)client_secret_verify(pepper, secret, PKEY_SECRET_LEN, dummy_hash);
        rc = auth_fail(err, __LINE__);
        goto out;
    }
    if (rc) goto out;
    /* verify the secret before looking at the row's state: every failure costs the same */
    bool good = client_secret_verify(pepper, secret, PKEY_SECRET_LEN, row.hash);
    if (!good || !pkey_is_active(&row, now)) {
        rc = auth_fail(err, __LINE__);
        goto out;
    }
    if (required_scope && !pkey_has_scope(row.scopes, required_scope)) {
        rc = IDP_FAIL(err, IDP_ERR_FORBIDDEN, "the provisioning key lacks the scope %s",
                      required_scope);
        goto out;
    }
    touch_if_due(st, &row, now);
    if (out) {
        *out = row;
        memset(&row, 0, sizeof row);
    }
out:
    store_pkey_clear(&row);
    return rc;
}
