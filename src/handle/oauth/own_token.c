/* own_token — token_verify behind the verified-token cache; see own_token.h. */
#include "handle/oauth/own_token.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/timeutil.h"
#include "handle/app.h"
#include "jose/jws.h"
#include "keys/keyset.h"
#include "verify/token_verify.h"
#include "verify/verify_cache.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* verify_cache_kid_fn: is kid published in the request's key snapshot (ctx: its jwks)? */
static bool kid_published(void *ctx, const char *kid)
{
    return ctx && kid && *kid && jwks_find(ctx, kid) != NULL;
}

/* The kid of a token that token_verify just accepted (its header is a strict JSON object by
 * then), into out[cap]; false when it has none or it does not fit (the token is not cached). */
static bool header_kid(const char *tok, size_t len, char *out, size_t cap)
{
    const char *dot = memchr(tok, '.', len);
    if (!dot) return false;
    unsigned char *raw = NULL;
    size_t n = 0;
    json_t *h = NULL;
    bool ok = false;
    if (b64url_decode(tok, (size_t)(dot - tok), &raw, &n) != IDP_OK) goto out;
    if (jsonx_parse((const char *)raw, n, JWS_MAX_LEN, 0, true, &h, NULL) != IDP_OK) goto out;
    const char *kid = jsonx_str(h, "kid");
    size_t kl = kid ? strlen(kid) : 0;
    if (kl && kl < cap) {
        memcpy(out, kid, kl + 1);
        ok = true;
    }
out:
    json_decref(h);
    free(raw);
    return ok;
}

idp_err own_token_verify(struct app *a, const http_request *rq, const char *tok, size_t len,
                         json_t **claims, idp_error *err)
{
    *claims = NULL;
    const jwks *keys = rq->keys ? keyset_public(rq->keys) : NULL;
    int64_t now = time_now();
    /* longer than any JWS we accept: token_verify refuses it without hashing it first */
    bool cacheable = tok && len <= JWS_MAX_LEN;
    if (cacheable && keys) {
        json_t *hit = verify_cache_get(a->vcache, tok, len, now, kid_published, (void *)keys);
        if (hit) {
            *claims = hit;
            return IDP_OK;
        }
    }
    token_verify_opts vo = token_verify_access(keys, a->cfg->issuer, 0);
    json_t *c = NULL;
    idp_err rc = token_verify(tok, len, &vo, &c, err);
    if (rc != IDP_OK) return rc;
    char kid[128];
    int64_t exp = 0;
    if (cacheable && jsonx_int(c, "exp", &exp) && header_kid(tok, len, kid, sizeof kid))
        verify_cache_put(a->vcache, tok, len, c, kid, exp, now);
    *claims = c;
    return IDP_OK;
}
