/* Fuzz target: private_key_jwt verification (proto/client_assertion.c) at a fixed time against
 * a fixed client JWKS (the public halves of the RFC 7515 A.3 P-256 key and the RFC 8037 A.1
 * Ed25519 key). The first byte selects:
 *   'K': the rest is the client's JWKS JSON, checked with a fixed valid assertion;
 *   else: the rest is the assertion (also given to client_assertion_peek_iss). */
#include "proto/client_assertion.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

static const char jwks_json[] = "{\"keys\":["
                                "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec1\","
                                "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                                "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
                                "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\","
                                "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

/* ES256 by "ec1": iss=sub="c_fuzz", aud=token endpoint, exp=NOW+60, jti="j1" (corpus ok_es256). */
static const char valid_assertion[] =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6ImVjMSIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJjX2Z1enoiLCJzdWIiOiJjX2Z1enoiLCJhdWQiOiJodHRwczovL2lkcC5leGFtcGxlL3Rv"
    "a2VuIiwiZXhwIjoxNzAwMDAwMDYwLCJpYXQiOjE3MDAwMDAwMDAsImp0aSI6ImoxIn0."
    "xMbJsiEFaoMzywTkuwiMLjZemqswLy96xjgfsV9QBMjZ07jLwzbg4RmLmp8_XA-wVij0Rnz6G5_P1fFzBpKz0w";

static const char *const auds[] = {"https://idp.example/token", "https://idp.example"};

static void check(const char *assertion, const char *keys)
{
    client_assertion_result r;
    char iss[CLIENT_ASSERTION_MAX_ID + 1];
    idp_err rc = client_assertion_verify(assertion, keys, NULL, auds, 2, NOW, 30, 600, &r, NULL);
    if (rc != IDP_OK) {
        if (r.client_id[0] || r.jti[0] || r.exp) abort(); /* zeroed on failure */
        return;
    }
    size_t n = strlen(r.client_id), j = strlen(r.jti);
    if (n == 0 || n > CLIENT_ASSERTION_MAX_ID || j == 0 || j > CLIENT_ASSERTION_MAX_JTI) abort();
    if (r.exp <= NOW - 30 || r.exp > NOW + 600) abort();
    /* a verified assertion's unverified iss is the same client */
    if (client_assertion_peek_iss(assertion, iss, NULL) != IDP_OK || strcmp(iss, r.client_id) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 64 * 1024) return 0;
    char *s = malloc(size); /* size - 1 bytes of input + NUL */
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] == 'K') {
        check(valid_assertion, s);
    } else {
        check(s, jwks_json);
        char iss[CLIENT_ASSERTION_MAX_ID + 1];
        if (client_assertion_peek_iss(s, iss, NULL) == IDP_OK &&
            (iss[0] == '\0' || strlen(iss) > CLIENT_ASSERTION_MAX_ID))
            abort();
    }
    free(s);
    return 0;
}
