/* store — backend selection and the row helpers shared by every backend. */
#include "store/store.h"

#include "core/mem.h"
#include "store/internal.h"

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
    mem_wipe(c->secret_hash, sizeof c->secret_hash);
    memset(c, 0, sizeof *c);
}

void store_client_list_free(store_client *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) store_client_clear(&rows[i]);
    free(rows);
}
