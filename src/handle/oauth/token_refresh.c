/* grant_type=refresh_token (RFC 6749 §6, RFC 9700 §4.14.2, DESIGN §5): rotation on every use,
 * the same successor for a duplicate within cfg refresh_grace (two tabs refreshing at once),
 * reuse after that revokes the whole family. The user must still be active with the token_epoch
 * the family was issued under (deactivation, deletion or group removal end it at once). The
 * scope may only shrink (§6). */
#include "handle/oauth/token_grant.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "proto/authz_request.h"
#include "proto/refresh.h"
#include "proto/scope.h"
#include "handle/oauth/user_tokens.h"

#include <stdlib.h>
#include <string.h>

static const char bad_refresh[] = "the refresh token is invalid, expired or revoked";

idp_err token_refresh(struct app *a, const http_request *rq, const form *f,
                      const client_entry *ce, http_response *rs, idp_error *err)
{
    const char *tok = form_get(f, "refresh_token"), *want = form_get(f, "scope");
    if (!tok) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_REQUEST, "refresh_token is required");
    if (strlen(tok) != REFRESH_TOKEN_LEN) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, bad_refresh);
    store_refresh old = {0}, cur = {0};
    store_user u = {0};
    idp_buf scope;
    buf_init(&scope, 2 * SCOPE_MAX_LEN);
    char succ[44];
    unsigned char h[32];
    opaque_hash(tok, h);
    int64_t now = time_now();
    idp_err rc = a->st->ops->refresh_get(a->st, h, &old, err);
    if (rc == IDP_ERR_NOT_FOUND) return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, bad_refresh);
    if (rc != IDP_OK) return rc;
    if (strcmp(old.client_id, ce->client_id) != 0 || old.revoked_at != 0 || now >= old.expires_at) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, bad_refresh);
        goto out;
    }
    refresh_successor(a->refresh_key, tok, succ);
    if (old.rotated_at != 0 && now - old.rotated_at > a->cfg->refresh_grace) {
        /* reuse after the grace window: someone else holds this family (RFC 9700 §4.14.2) */
        a->st->ops->refresh_revoke_family(a->st, old.family_id, now, NULL);
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, bad_refresh);
        goto out;
    }
    bool live = false;
    if ((rc = user_tokens_user_live(a, old.user_id, old.user_epoch, &u, &live, err)) != IDP_OK) goto out;
    if (!live) {
        a->st->ops->refresh_revoke_family(a->st, old.family_id, now, NULL);
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, "the user can no longer sign in");
        goto out;
    }
    if (want) {
        if (!scope_subset(want, old.scope)) {
            rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_SCOPE, "scope may not exceed the original grant");
            goto out;
        }
        buf_puts(&scope, want);
    } else {
        buf_puts(&scope, old.scope);
    }
    if (old.rotated_at == 0) {
        store_refresh s = old;
        opaque_hash(succ, s.hash);
        s.created_at = now;
        s.rotated_at = 0;
        s.revoked_at = 0;
        bool raced = false;
        if ((rc = a->st->ops->refresh_rotate(a->st, h, &s, now, &raced, err)) != IDP_OK) goto out;
        /* raced: another request rotated it a moment ago: it made the same successor */
    }
    /* the successor must still be live (a rotated-in-grace token whose successor was revoked or
     * rotated further is not revived) */
    unsigned char sh[32];
    opaque_hash(succ, sh);
    rc = a->st->ops->refresh_get(a->st, sh, &cur, err);
    if (rc == IDP_ERR_NOT_FOUND || (rc == IDP_OK && (cur.revoked_at != 0 || cur.rotated_at != 0))) {
        rc = IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_GRANT, bad_refresh);
        goto out;
    }
    if (rc != IDP_OK) goto out;
    user_grant g = {.ce = ce, .u = &u, .scope = buf_cstr(&scope), .resource = old.resource,
                    .nonce = NULL, .auth_time = old.auth_time, .amr = old.amr,
                    .sid = old.session_id, .refresh = succ};
    char jti[USER_JTI_MAX];
    int64_t exp = 0;
    rc = user_tokens_respond(a, rq, &g, rs, jti, &exp, err);
out:
    mem_wipe(succ, sizeof succ);
    store_refresh_clear(&old);
    store_refresh_clear(&cur);
    store_user_clear(&u);
    buf_free(&scope);
    return rc;
}
