#include "proto/csrf.h"

#include "core/b64url.h"
#include "core/mem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

void csrf_token(const unsigned char key[32], const char *session_binding, char out[44])
{
    const char *b = session_binding ? session_binding : "";
    unsigned char mac[32];
    unsigned int len = sizeof mac;
    /* HMAC cannot fail with valid arguments; without it there is no safe answer. */
    if (!HMAC(EVP_sha256(), key, 32, (const unsigned char *)b, strlen(b), mac, &len) || len != 32)
        abort();
    b64url_encode_to(out, mac, sizeof mac);
    mem_wipe(mac, sizeof mac);
}

bool csrf_check(const unsigned char key[32], const char *session_binding, const char *token)
{
    if (!token || strnlen(token, CSRF_TOKEN_LEN + 1) != CSRF_TOKEN_LEN) return false;
    char want[44];
    csrf_token(key, session_binding, want);
    bool ok = CRYPTO_memcmp(want, token, CSRF_TOKEN_LEN) == 0;
    mem_wipe(want, sizeof want);
    return ok;
}
