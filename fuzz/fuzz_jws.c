/* fuzz_jws — jws_verify on arbitrary input, all algorithms allowed, a fixed key set (the
 * RFC 7515 A.2 RSA key, the A.3 P-256 key, the RFC 8037 Ed25519 key), with and without
 * payload_json and a typ check. Seeds: fuzz/corpus/jws/. */
#include "jose/jwk.h"
#include "jose/jws.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char keys_json[] =
    "{\"keys\":["
    "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"e\":\"AQAB\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8"
    "W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGz"
    "jb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh"
    "9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

static jwks *keys;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!keys && jwks_from_json(keys_json, sizeof keys_json - 1, &keys, NULL) != IDP_OK) abort();
    char *tok = malloc(size + 1); /* exact-size copy so ASan sees any overread */
    if (!tok) return 0;
    memcpy(tok, data, size);
    tok[size] = '\0';
    jws_verify_opts o = {.allowed_algs = ~0u, .keys = keys, .payload_json = size % 2};
    jws_verified v;
    idp_error e;
    if (jws_verify(tok, size, &o, &v, &e) == IDP_OK && (!v.key || !v.header)) abort();
    jws_verified_clear(&v);
    o.typ = "at+jwt";
    o.max_len = 4096;
    (void)jws_verify(tok, size, &o, &v, NULL);
    jws_verified_clear(&v);
    free(tok);
    return 0;
}
