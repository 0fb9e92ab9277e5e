/* client_cache — an immutable snapshot of every client (DESIGN §2), so the token endpoint never
 * touches the database: a hash table by client_id with grant types, scopes and audiences split
 * once at build time. Rebuilt by the server's background thread when the store generation changes
 * and published through a snap_slot. */
#ifndef IDPD_OAUTH_CLIENT_CACHE_H
#define IDPD_OAUTH_CLIENT_CACHE_H

#include "core/err.h"
#include "core/snap.h"
#include "jose/jwk.h"
#include "store/store.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENT_CACHE_MAX_ITEMS 64 /* scopes / audiences / grant types kept per client */

/* How a client authenticates at the token, introspection and revocation endpoints
 * (store_client.auth_method, RFC 7591 §2 token_endpoint_auth_method): the only method accepted
 * from it. */
typedef enum client_auth_method {
    CLIENT_AUTH_SECRET_BASIC = 0, /* client_secret_basic (also NULL or an unknown name) */
    CLIENT_AUTH_SECRET_POST,  /* client_secret_post */
    CLIENT_AUTH_PRIVATE_KEY_JWT, /* RFC 7523 §2.2 assertion signed with a key of its jwks */
    CLIENT_AUTH_NONE,         /* public client: client_id only */
} client_auth_method;

/* Whose access tokens a client may see at introspection besides its own (store_client.introspect,
 * RFC 7662 §4). */
typedef enum client_introspect {
    CLIENT_INTROSPECT_NONE = 0, /* only tokens issued to it (client_id claim = the caller) */
    CLIENT_INTROSPECT_AUDIENCE, /* also tokens whose aud names one of its audiences */
    CLIENT_INTROSPECT_ANY,      /* every token */
} client_introspect;

typedef struct client_entry {
    char *client_id;
    size_t id_len;
    bool has_secret;
    unsigned char secret_hash[32];
    char *grants[CLIENT_CACHE_MAX_ITEMS];
    size_t ngrants;
    char *scopes[CLIENT_CACHE_MAX_ITEMS];
    size_t nscopes;
    char *audiences[CLIENT_CACHE_MAX_ITEMS]; /* the first is the default audience */
    size_t naudiences;
    jws_alg alg;       /* JWS_ALG_INVALID = the server's default_alg */
    int64_t token_ttl; /* 0 = the server's token_ttl */
    char *name;        /* display name for the consent page (never NULL) */
    client_auth_method auth_method;
    bool is_public;    /* no secret; PKCE required (RFC 9700 §2.1.1) */
    char *redirect_uris;             /* space-separated, matched exactly; NULL = none */
    char *post_logout_redirect_uris; /* space-separated; NULL = none */
    char *backchannel_logout_uri;    /* or NULL */
    jwks *jwks;        /* private_key_jwt: the client's public keys (owned ref), or NULL */
    client_introspect introspect;
} client_entry;

typedef struct client_cache {
    snap_obj obj; /* first member: (snap_obj *)cc */
    client_entry *entries;
    size_t n;
    size_t *slots; /* open addressing: index + 1 into entries, 0 = empty */
    size_t nslots; /* power of two >= 2n */
} client_cache;

/* Builds a snapshot (refs = 1) from rows (borrowed; copied). A row whose lists have more than
 * CLIENT_CACHE_MAX_ITEMS items or whose token_alg is unknown fails the build
 * (IDP_ERR_INVALID naming the client). *out owned (client_cache_unref). */
idp_err client_cache_build(const store_client *rows, size_t n, client_cache **out, idp_error *err);
void client_cache_unref(client_cache *cc); /* accepts NULL */
/* Borrowed entry for id[0..len), NULL when unknown. */
const client_entry *client_cache_find(const client_cache *cc, const char *id, size_t len);
bool client_entry_has_grant(const client_entry *ce, const char *grant);
/* May caller learn that an access token with these claims is active (RFC 7662 §4)? Yes when
 * client_id (the token's client_id claim) is the caller, or the caller's introspect right is
 * "any", or it is "audience" and aud (the token's aud claim: a string or an array of strings,
 * borrowed, may be NULL) names one of the caller's registered audiences, compared exactly. */
bool client_entry_may_introspect(const client_entry *caller, const char *client_id,
                                 const json_t *aud);
/* Splits s on runs of spaces into at most max items (owned copies appended to items[*n]).
 * IDP_ERR_INVALID when there are more. */
idp_err client_cache_split(const char *s, char **items, size_t max, size_t *n);

#endif
