/* own_token — token_verify behind the verified-token cache; see own_token.h. */
#include "handle/oauth/own_token.h"

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

idp_err own_token_verify(struct app *a, const http_request *rq, const char *tok, size_t len,
                         json_t **claims, idp_error *err)
{
    *claims = NULL;
    const jwks *keys = rq->keys ? keyset_public(rq->keys) : NULL;
    int64_t now = time_now();
    /* longer than any JWS we accept: token_verify refuses it without hashing it first */
    bool cacheable = a->vcache && tok && len <= JWS_MAX_LEN;
    unsigned char ck[VERIFY_CACHE_KEY_LEN];
    if (cacheable) {
        verify_cache_key(tok, len, ck); /* once, for the lookup and the insert */
        json_t *hit = keys ? verify_cache_get_key(a->vcache, ck, now, verify_cache_kid_in_jwks,
                                                  (void *)keys)
                           : NULL;
        if (hit) {
            *claims = hit;
            return IDP_OK;
        }
    }
    const jwk *used = NULL; /* the key that verified: its kid keys the entry */
    token_verify_opts vo = token_verify_access(keys, a->cfg->issuer, 0);
    vo.key_out = &used;
    json_t *c = NULL;
    idp_err rc = token_verify(tok, len, &vo, &c, err);
    if (rc != IDP_OK) return rc;
    int64_t exp = 0;
    if (cacheable && used && jsonx_int(c, "exp", &exp))
        verify_cache_put_key(a->vcache, ck, c, jwk_kid(used), exp, now);
    *claims = c;
    return IDP_OK;
}
