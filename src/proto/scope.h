/* scope — the scope a token is granted (RFC 6749 §3.3). */
#ifndef IDPD_OAUTH_SCOPE_H
#define IDPD_OAUTH_SCOPE_H

#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define SCOPE_MAX_LEN 4096

/* Resolves the granted scope into out (space-separated, in request order, duplicates removed).
 * requested NULL (parameter absent) -> every allowed scope (our documented default, §3.3).
 * Otherwise requested must be scope-token *( SP scope-token ) with scope-token =
 * 1*( %x21 / %x23-5B / %x5D-7E ) and at most SCOPE_MAX_LEN bytes, and every token must be one of
 * allowed[0..nallowed) -> IDP_ERR_OAUTH_INVALID_SCOPE otherwise. */
idp_err scope_resolve(const char *requested, char *const *allowed, size_t nallowed, idp_buf *out,
                      idp_error *err);
/* Whole-word membership of word in a space-separated list (scopes, grant types, prompt values);
 * false for NULL or an empty word. */
bool scope_has(const char *list, const char *word);
/* True when every word of want (space-separated; NULL = none) is in have. */
bool scope_subset(const char *want, const char *have);
/* True when s[0..n) is a syntactically valid scope-token. */
bool scope_token_valid(const char *s, size_t n);

#endif
