/* Fuzz target: the provisioning-key parsers of untrusted input (creds/pkey.c): the
 * Authorization header (pkey_bearer), the key format (pkey_parse) and scope lists
 * (pkey_scopes_normalize). The input is one NUL-terminated string fed to all three; accepted
 * results are checked against the format's invariants. */
#include "creds/pkey.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024) return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    const char *tok = NULL, *secret = NULL;
    size_t n = 0;
    char id[PKEY_ID_LEN + 1];
    if (pkey_bearer(s, &tok, &n, NULL) == IDP_OK) {
        if (n == 0 || tok < s || tok + n > s + strlen(s) || memchr(tok, ' ', n)) abort();
        if (pkey_parse(tok, n, id, &secret, NULL) == IDP_OK && n != PKEY_KEY_LEN) abort();
    }
    if (pkey_parse(s, size, id, &secret, NULL) == IDP_OK) {
        if (size != PKEY_KEY_LEN || strlen(id) != PKEY_ID_LEN ||
            secret != s + size - PKEY_SECRET_LEN)
            abort();
    }
    char *norm = NULL;
    if (pkey_scopes_normalize(s, &norm, NULL) == IDP_OK) {
        char *again = NULL;
        if (pkey_scopes_normalize(norm, &again, NULL) != IDP_OK || strcmp(norm, again)) abort();
        free(again);
    } else if (norm) {
        abort();
    }
    free(norm);
    free(s);
    return 0;
}
