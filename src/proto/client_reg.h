/* client_reg — validation of a client registration (the options of `idpd client create` and the
 * body of POST /admin/v1/clients) into a store row: grant types, scopes (RFC 6749 §3.3),
 * audiences (RFC 8707 §2), redirect URIs (RFC 9700 §4.1, RFC 8252), the authentication method
 * and its JWK Set, token algorithm and lifetime, and whose tokens it may introspect (RFC 7662
 * §4). Messages name the CLI option ("--scope: ..."). */
#ifndef IDPD_OAUTH_CLIENT_REG_H
#define IDPD_OAUTH_CLIENT_REG_H

#include "core/cfg.h"
#include "core/err.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

#define CLIENT_REG_MAX_AUDIENCES 16
#define CLIENT_REG_MAX_URIS 16

typedef struct client_reg {
    const char *name, *grant_types, *scope, *token_alg, *token_ttl;
    const char *aud[CLIENT_REG_MAX_AUDIENCES];
    size_t naud;
    const char *redirect[CLIENT_REG_MAX_URIS];
    size_t nredirect;
    const char *post_logout[CLIENT_REG_MAX_URIS];
    size_t npost_logout;
    bool is_public;
    const char *auth_method; /* NULL = client_secret_basic */
    const char *jwks;        /* JSON text of the public JWK Set (private_key_jwt) */
    const char *backchannel;
    const char *introspect;  /* NULL/"none", "audience" (needs an audience) or "any" */
} client_reg;

/* Fills row (owned strings; client_id, secret and times are the caller's) from a; IDP_ERR_INVALID
 * with the reason. row may hold partial data on failure (store_client_clear it). */
idp_err client_reg_build(const client_reg *a, const cfg *conf, store_client *row, idp_error *err);
/* True when the client may hold a secret (not public, not private_key_jwt). */
bool client_reg_has_secret(const store_client *row);

#endif
