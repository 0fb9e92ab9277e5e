/* fuzz_jwk — jwk_from_json on the parsed input (when it is JSON) and jwks_from_json on the raw
 * bytes; accepted keys are exported, thumbprinted and re-imported, which must give the same
 * kid. Seeds: fuzz/corpus/jwk/. */
#include "core/jsonx.h"
#include "jose/jwk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const jwk *k)
{
    char tp[44];
    if (jwk_thumbprint(k, tp, NULL) != IDP_OK) abort();
    json_t *pub = jwk_to_public_json(k);
    jwk *back = NULL;
    if (jwk_from_json(pub, &back, NULL) != IDP_OK || strcmp(jwk_kid(back), jwk_kid(k)) != 0) abort();
    jwk_unref(back);
    json_decref(pub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    if (jsonx_parse((const char *)data, size, 1u << 20, 0, false, &v, NULL) == IDP_OK) {
        jwk *k = NULL;
        if (jwk_from_json(v, &k, NULL) == IDP_OK) roundtrip(k);
        jwk_unref(k);
        json_decref(v);
    }
    jwks *s = NULL;
    if (jwks_from_json((const char *)data, size, &s, NULL) == IDP_OK) {
        for (size_t i = 0; i < jwks_count(s); i++) roundtrip(jwks_at(s, i));
        json_decref(jwks_to_public_json(s));
    }
    jwks_unref(s);
    return 0;
}
