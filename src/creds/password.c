#include "creds/password.h"

#include "core/mem.h"
#include "core/rand.h"

#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

idp_err password_hash(const password_params *pp, const char *pw, size_t n, char **encoded,
                      idp_error *err)
{
    unsigned char salt[PASSWORD_SALT];
    rand_bytes(salt, sizeof salt);
    size_t len = argon2_encodedlen(pp->t, pp->m_kib, pp->p, sizeof salt, PASSWORD_TAG, Argon2_id);
    char *enc = xmalloc(len);
    int r = argon2id_hash_encoded(pp->t, pp->m_kib, pp->p, pw, n, salt, sizeof salt, PASSWORD_TAG,
                                  enc, len);
    if (r != ARGON2_OK) {
        free(enc);
        *encoded = NULL;
        return IDP_FAIL(err, IDP_ERR_CRYPTO, "argon2id: %s", argon2_error_message(r));
    }
    *encoded = enc;
    return IDP_OK;
}

bool password_verify(const char *encoded, const char *pw, size_t n)
{
    if (!encoded || strncmp(encoded, "$argon2id$", 10) != 0) return false;
    return argon2id_verify(encoded, pw, n) == ARGON2_OK;
}

bool password_needs_rehash(const char *encoded, const password_params *pp)
{
    char want[80];
    snprintf(want, sizeof want, "$argon2id$v=%d$m=%u,t=%u,p=%u$", ARGON2_VERSION_NUMBER,
             (unsigned)pp->m_kib, (unsigned)pp->t, (unsigned)pp->p);
    return !encoded || strncmp(encoded, want, strlen(want)) != 0;
}
