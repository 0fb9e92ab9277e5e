#include "oauth/token_policy.h"

#include <stdbool.h>
#include <string.h>

static bool protocol_scope(const char *s, size_t n)
{
    return (n == 6 && !memcmp(s, "openid", 6)) || (n == 14 && !memcmp(s, "offline_access", 14));
}

static bool granted_in(const policy_grant *g, const char *s, size_t n)
{
    for (size_t i = 0; i < g->nscopes; i++)
        if (strlen(g->scopes[i]) == n && !memcmp(g->scopes[i], s, n)) return true;
    return false;
}

#define TP_MAX_AUD 16

idp_err token_policy_apply(const policy *p, const policy_subject *s, const char *scope,
                           const char *const *aud, size_t naud, const char *issuer,
                           idp_buf *scope_out, idp_buf *claims_out, idp_error *err)
{
    if (!scope) scope = "";
    if (!p) {
        if (buf_puts(scope_out, scope)) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "scope too long");
        return IDP_OK;
    }
    policy_grant g[TP_MAX_AUD + 1];
    memset(g, 0, sizeof g);
    size_t ng = 0;
    idp_err rc = IDP_OK;
    for (size_t i = 0; i < naud && ng < TP_MAX_AUD && rc == IDP_OK; i++) {
        if (issuer && strcmp(aud[i], issuer) == 0) continue;
        rc = policy_evaluate(p, s, scope, aud[i], &g[ng++], err);
    }
    if (rc == IDP_OK && ng == 0) rc = policy_evaluate(p, s, scope, NULL, &g[ng++], err);
    if (rc != IDP_OK) goto out;
    /* in request order: protocol scopes pass; others must be granted for every audience */
    for (const char *q = scope; *q;) {
        while (*q == ' ') q++;
        size_t n = strcspn(q, " ");
        if (!n) break;
        bool ok = protocol_scope(q, n);
        if (!ok) {
            ok = true;
            for (size_t k = 0; k < ng && ok; k++) ok = granted_in(&g[k], q, n);
        }
        if (ok && ((scope_out->len && buf_putc(scope_out, ' ')) || buf_append(scope_out, q, n))) {
            rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "scope too long");
            goto out;
        }
        q += n;
    }
    rc = policy_claims_json(p, &g[0], claims_out, err);
out:
    for (size_t k = 0; k < ng; k++) policy_grant_clear(&g[k]);
    return rc;
}
