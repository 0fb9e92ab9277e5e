/* token_policy — what the active policy lets a token carry (issue "permission management" item 4,
 * DESIGN §7): the scopes the subject holds and every audience accepts (RFC 6749 §3.3: the others
 * are dropped, and the response's `scope` says what was granted) and the namespaced custom claims
 * (roles, permissions) the granted scopes release.
 *
 * The protocol scopes `openid` and `offline_access` are not permissions: they pass through
 * unevaluated (what they unlock is decided by the grant). Every other scope must be defined by
 * the policy. An audience that is the issuer itself (no resource) is not filtered; every other
 * audience must be a declared resource accepting the scope. With no active policy the scope
 * passes unchanged and no claim is added. */
#ifndef IDPD_OAUTH_TOKEN_POLICY_H
#define IDPD_OAUTH_TOKEN_POLICY_H

#include "core/buf.h"
#include "core/err.h"
#include "policy/policy.h"

#include <stddef.h>

/* scope: the space-separated scope already limited to the client's registration. Appends the
 * granted scope to scope_out and the claims (",\"<ns>roles\":[...]"...) to claims_out. */
idp_err token_policy_apply(const policy *p, const policy_subject *s, const char *scope,
                           const char *const *aud, size_t naud, const char *issuer,
                           idp_buf *scope_out, idp_buf *claims_out, idp_error *err);

#endif
