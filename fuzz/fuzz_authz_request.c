/* Fuzz target: the authorization request (proto/authz_request.c). The input goes (1) to
 * authz_request_open as the form field an attacker controls, (2) sealed under the test master key
 * as if it were a decrypted plaintext, so the JSON reading behind the GCM tag is exercised too,
 * and (3) split at NUL bytes into the parameters of authz_request_validate. Opened and validated
 * requests must satisfy the invariants. */
#include "core/b64url.h"
#include "keys/kek.h"
#include "proto/authz_request.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kek *k;

static void check(const authz_request *r)
{
    if (!r->client_id || !r->redirect_uri || !r->scope || r->expires_at <= 1) abort();
}

/* (3): the NUL-separated pieces of s[0..n) are the parameters, in authz_params order. */
static void validate(const char *s, size_t n)
{
    static char *scopes[] = {"openid", "email"};
    static char *auds[] = {"https://api.example"};
    const authz_client c = {.client_id = "c_1",
                            .redirect_uris = "https://app.example/cb http://127.0.0.1/cb",
                            .code_flow = true,
                            .scopes = scopes,
                            .nscopes = 2,
                            .audiences = auds,
                            .naudiences = 1};
#define P(m) offsetof(authz_params, m)
    static const size_t fields[] = {P(client_id),     P(redirect_uri),   P(state),
                                    P(response_type), P(response_mode),  P(scope),
                                    P(nonce),         P(code_challenge), P(code_challenge_method),
                                    P(prompt),        P(max_age),        P(login_hint),
                                    P(resource),      P(request),        P(request_uri)};
#undef P
    authz_params p = {0};
    size_t nf = 0;
    for (size_t i = 0; i <= n && nf < sizeof fields / sizeof *fields; nf++) {
        const char *piece = s[i] ? s + i : NULL; /* empty = absent, as the handler reads it */
        memcpy((char *)&p + fields[nf], &piece, sizeof piece);
        i += strlen(s + i) + 1;
    }
    authz_request r;
    bool redirect = false;
    idp_error e = {0};
    idp_err rc =
        authz_request_validate(&p, p.client_id ? &c : NULL, "https://idp", 1, &r, &redirect, &e);
    if (rc == IDP_OK && (!r.client_id || !r.redirect_uri || !r.scope || r.expires_at <= 1)) abort();
    if (rc != IDP_OK && (!e.msg[0] || (redirect != (r.redirect_uri != NULL)))) abort();
    authz_request_clear(&r);
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
    validate(s, size);
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
