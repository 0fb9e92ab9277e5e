/* user_tokens — the token response for an end user (authorization_code and refresh_token
 * grants): a JWT access token (RFC 9068) for the user, an ID token (OIDC Core §2, §3.1.3.6) when
 * the scope has openid, and the refresh token the grant made. Also the user's standard claims by
 * scope (OIDC Core §5.4), shared with UserInfo.
 *
 * Revocation reach (DESIGN §5): a user access token's jti is "<random>.<token_epoch>", so
 * introspection and UserInfo can tell a token issued before the user was deactivated, deleted or
 * removed from a group (each bumps token_epoch) without any per-token state. The one parser of
 * that jti form is denylist_jti_epoch (verify/denylist.h). */
#ifndef IDPD_OAUTH_USER_TOKENS_H
#define IDPD_OAUTH_USER_TOKENS_H

#include "core/err.h"
#include "http/request.h"
#include "http/response.h"
#include "oauth/client_cache.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct app;

#define USER_JTI_MAX 48

typedef struct user_grant {
    const client_entry *ce;
    const store_user *u;
    const char *scope;      /* granted, space-separated */
    const char *resource;   /* audience asked for (RFC 8707), or NULL */
    const char *nonce;      /* for the ID token, or NULL */
    int64_t auth_time;
    const char *amr;        /* space-separated */
    const char *sid;        /* session id, or NULL */
    const char *refresh;    /* refresh token to return, or NULL */
} user_grant;

/* Writes the RFC 6749 §5.1 response into rs. jti_out/exp_out receive the access token's jti and
 * exp (for code replay revocation). */
idp_err user_tokens_respond(struct app *a, const http_request *rq, const user_grant *g,
                            http_response *rs, char jti_out[USER_JTI_MAX], int64_t *exp_out,
                            idp_error *err);
/* Adds to claims the standard claims of u released by scope (profile, email, phone, groups). */
void user_tokens_claims(struct app *a, const store_user *u, const char *scope, json_t *claims);
/* The revocation rule (DESIGN §5) in one place: loads user_id into *u and sets *live when the
 * user exists, is active and still has token_epoch epoch (deactivation, deletion and group
 * removal bump it). A missing user is IDP_OK with *live false; other store errors are returned. */
idp_err user_tokens_user_live(struct app *a, const char *user_id, int64_t epoch, store_user *u,
                              bool *live, idp_error *err);
/* Why a verified access token of ours is or is not active (DESIGN §5). */
typedef enum user_tokens_state {
    USER_TOKENS_ACTIVE = 0,
    USER_TOKENS_CLIENT_GONE, /* its client is not in this request's client snapshot */
    USER_TOKENS_REVOKED,     /* its jti is deny-listed (RFC 7009) */
    USER_TOKENS_USER_ENDED,  /* a user token whose user is gone, inactive or at another epoch */
} user_tokens_state;

/* The revocation rules of an access token of ours that token_verify accepted, in one place for
 * introspection, UserInfo and token exchange: its client still exists (the request's snapshot, no
 * database access), its jti is not revoked, and a user token (jti "<random>.<epoch>") has a user
 * that is active with that token_epoch. *is_user / *epoch say whether it is a user token and its
 * epoch; the user is loaded into *u (zeroed otherwise; store_user_clear either way). Store
 * errors are returned; *state is then not meaningful. */
idp_err user_tokens_access_state(struct app *a, const http_request *rq, const json_t *claims,
                                 user_tokens_state *state, bool *is_user, int64_t *epoch,
                                 store_user *u, idp_error *err);
/* ID token signing algorithm: RS256 (the OIDC default when the client registered none,
 * OIDC Registration §2) when RS256 keys are kept, else the server default. */
int user_tokens_id_alg(const struct app *a);

#endif
