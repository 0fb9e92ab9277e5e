/* backchannel — OIDC Back-Channel Logout 1.0: when a session ends, every client that received
 * tokens in it and registered a backchannel_logout_uri gets a POST of a signed logout token
 * (§2.4: typ logout+jwt; iss, aud, iat, exp, jti, sub, sid, events; never a nonce). Sent from a
 * background thread through fetch (5 s timeout each, no redirects): a slow client never holds a
 * request thread (DESIGN §2). Failures are logged without the token. */
#ifndef IDPD_OAUTH_BACKCHANNEL_H
#define IDPD_OAUTH_BACKCHANNEL_H

#include "core/err.h"
#include "http/request.h"
#include "store/store.h"

struct app;

#define BACKCHANNEL_TIMEOUT_S 5
#define BACKCHANNEL_TOKEN_TTL 120

void backchannel_notify(struct app *a, const http_request *rq, const store_session *s);
/* The logout token's claims (tested without HTTP); owned JSON text. */
char *backchannel_claims(const char *issuer, const char *client_id, const char *sub,
                         const char *sid, int64_t now);

#endif
