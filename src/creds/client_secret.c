#include "creds/client_secret.h"

#include "core/mem.h"
#include "core/rand.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

char *client_secret_generate(void)
{
    return rand_token(32);
}

void client_secret_hash(const unsigned char pepper[32], const char *secret, size_t n,
                        unsigned char out[32])
{
    unsigned int len = 32;
    if (!HMAC(EVP_sha256(), pepper, 32, (const unsigned char *)secret, n, out, &len)) abort();
}

bool client_secret_verify(const unsigned char pepper[32], const char *secret, size_t n,
                          const unsigned char hash[32])
{
    if (n == 0 || n > CLIENT_SECRET_MAX_LEN) return false;
    unsigned char mac[32];
    client_secret_hash(pepper, secret, n, mac);
    bool ok = CRYPTO_memcmp(mac, hash, 32) == 0;
    mem_wipe(mac, sizeof mac);
    return ok;
}
