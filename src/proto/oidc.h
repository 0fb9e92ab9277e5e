/* oidc — small OpenID Connect Core 1.0 helpers: the at_hash / c_hash of an ID token, and the
 * consent-page wording of the standard scopes. Plain inputs, no state, thread-safe. */
#ifndef IDPD_OAUTH_OIDC_H
#define IDPD_OAUTH_OIDC_H

#include "core/err.h"

/* OIDC Core §3.1.3.6 (at_hash) and §3.3.2.11 (c_hash): base64url of the left-most half of the
 * hash of the ASCII token, the hash being the one of the ID token's alg: SHA-256 for ES256,
 * RS256 and PS256 (22 characters); for EdDSA (alg "EdDSA", or "Ed25519" as the fully-specified
 * name of RFC 9864) SHA-512 (43 characters) — Ed25519 hashes with SHA-512 internally, which is
 * what other providers and client libraries (e.g. panva/openid-client) use; Ed448 (SHAKE256) is
 * not supported. out receives the NUL-terminated value. IDP_ERR_JOSE_ALG for another alg,
 * IDP_ERR_INVALID for a NULL/empty token, IDP_ERR_CRYPTO when the digest fails. */
idp_err oidc_at_hash(const char *alg, const char *token, char out[64], idp_error *err);

/* Consent wording of a standard scope ("openid" -> "Confirm your identity", "profile",
 * "email", "offline_access", "groups"); static. NULL for any other scope (and NULL), so the
 * caller can fall back to a policy description or "Access to <scope>". Case-sensitive
 * (RFC 6749 §3.3). */
const char *oidc_scope_words(const char *scope);

#endif
