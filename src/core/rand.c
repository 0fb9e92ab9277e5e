#include "core/rand.h"

#include "core/b64url.h"
#include "core/mem.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

void rand_bytes(void *p, size_t n)
{
    if (n > 0x7fffffff || RAND_bytes(p, (int)n) != 1) {
        fputs("idpd: RAND_bytes failed\n", stderr);
        abort();
    }
}

char *rand_token(size_t nbytes)
{
    unsigned char tmp[128];
    if (nbytes > sizeof tmp) abort();
    rand_bytes(tmp, nbytes);
    char *s = b64url_encode(tmp, nbytes);
    mem_wipe(tmp, sizeof tmp);
    return s;
}

void rand_uuid(char out[37])
{
    unsigned char b[16];
    rand_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}
