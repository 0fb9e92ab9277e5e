/* Fuzz target: userName rules (scim/username.c) and the strict UTF-8 check (core/utf8.c). The
 * input is one name. Properties: username_check never accepts what utf8_check rejects; an
 * accepted name has a key; the key is a fixed point (folding twice changes nothing), so two
 * names conflict exactly when their keys are equal. */
#include "core/utf8.h"
#include "scim/username.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4 * USERNAME_MAX_BYTES) return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    size_t n = strlen(s); /* up to the first NUL */
    bool valid = utf8_check((const unsigned char *)s, n) == n;
    if (username_check(s, NULL) == IDP_OK) {
        if (!valid || n == 0 || n > USERNAME_MAX_BYTES) abort();
        char *k = username_key(s);
        if (!k) abort();
        char *k2 = username_key(k);
        if (!k2 || strcmp(k, k2) != 0) abort();
        free(k2);
        free(k);
    }
    free(username_key(s)); /* any input: no crash, no leak */
    free(s);
    return 0;
}
