#include "proto/token_claims.h"

#include "core/b64url.h"
#include "core/rand.h"
#include "core/jsonw.h"

#include <string.h>

void token_claims_new_jti(char out[23])
{
    unsigned char r[TOKEN_JTI_BYTES];
    rand_bytes(r, sizeof r);
    b64url_encode_to(out, r, sizeof r);
}

idp_err token_claims_build(const token_claims *tc, idp_buf *out, idp_error *err)
{
    if (tc->naud == 0) return IDP_FAIL(err, IDP_ERR_INVALID, "token without audience");
    int bad = buf_putc(out, '{');
    bad |= jsonw_member_str(out, 1, "iss", tc->iss);
    bad |= jsonw_member_str(out, 0, "sub", tc->sub);
    if (tc->naud == 1) {
        bad |= jsonw_member_str(out, 0, "aud", tc->aud[0]);
    } else {
        bad |= buf_puts(out, ",\"aud\":[");
        for (size_t i = 0; i < tc->naud; i++) {
            if (i) bad |= buf_putc(out, ',');
            bad |= jsonw_str(out, tc->aud[i], strlen(tc->aud[i]));
        }
        bad |= buf_putc(out, ']');
    }
    bad |= jsonw_member_int(out, 0, "exp", tc->exp);
    bad |= jsonw_member_int(out, 0, "iat", tc->iat);
    bad |= jsonw_member_int(out, 0, "nbf", tc->iat);
    bad |= jsonw_member_str(out, 0, "jti", tc->jti);
    bad |= jsonw_member_str(out, 0, "client_id", tc->client_id);
    if (tc->scope && tc->scope[0]) bad |= jsonw_member_str(out, 0, "scope", tc->scope);
    if (tc->extra) bad |= buf_puts(out, tc->extra);
    bad |= buf_putc(out, '}');
    if (bad) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "token claims too large");
    return IDP_OK;
}
