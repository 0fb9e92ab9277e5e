/* Fuzz target: the sealed authorization request carried by the login and consent forms
 * (oauth/authz_request.c). The input goes (1) to authz_request_open as the form field an attacker
 * controls, and (2) sealed under the test master key as if it were a decrypted plaintext, so the
 * JSON reading behind the GCM tag is exercised too. Opened requests must satisfy the invariants. */
#include "core/b64url.h"
#include "keys/kek.h"
#include "oauth/authz_request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kek *k;

static void check(const authz_request *r)
{
    if (!r->client_id || !r->redirect_uri || !r->scope || r->expires_at <= 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 32 * 1024) return 0;
    if (!k) {
        /* a fixed test key: 32 bytes of 0x01, base64url */
        setenv("IDPD_MASTER_KEY", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", 1);
        if (kek_load("/nonexistent", &k, NULL) != IDP_OK) abort();
    }
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    authz_request r;
    if (authz_request_open(k, s, 1, &r, NULL) == IDP_OK) check(&r);
    authz_request_clear(&r);
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    if (kek_seal(k, AUTHZ_REQUEST_AAD, data, size, &ct, &ctlen, NULL) == IDP_OK) {
        char *enc = b64url_encode(ct, ctlen);
        if (authz_request_open(k, enc, 1, &r, NULL) == IDP_OK) {
            check(&r);
            char *again = NULL;
            if (authz_request_seal(k, &r, &again, NULL) == IDP_OK) {
                authz_request r2;
                if (authz_request_open(k, again, 1, &r2, NULL) != IDP_OK) abort();
                if (strcmp(r2.client_id, r.client_id) || strcmp(r2.scope, r.scope)) abort();
                authz_request_clear(&r2);
                free(again);
            }
        }
        authz_request_clear(&r);
        free(enc);
        free(ct);
    }
    free(s);
    return 0;
}
