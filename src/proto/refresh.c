#include "proto/refresh.h"

#include "core/b64url.h"
#include "core/mem.h"
#include "core/rand.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

void refresh_new(char out[44])
{
    unsigned char r[32];
    rand_bytes(r, sizeof r);
    b64url_encode_to(out, r, sizeof r);
    mem_wipe(r, sizeof r);
}

void refresh_successor(const unsigned char key[32], const char *tok, char out[44])
{
    unsigned char mac[32];
    unsigned int n = sizeof mac;
    HMAC(EVP_sha256(), key, 32, (const unsigned char *)tok, strlen(tok), mac, &n);
    b64url_encode_to(out, mac, sizeof mac);
    mem_wipe(mac, sizeof mac);
}

void opaque_hash(const char *tok, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(tok, strlen(tok), out, &n, EVP_sha256(), NULL);
}

void refresh_family_new(char out[23])
{
    unsigned char r[16];
    rand_bytes(r, sizeof r);
    b64url_encode_to(out, r, sizeof r);
}
