/* fuzz_set_feed — set_feed_apply, the revocation feed's receiver, on arbitrary poll-response
 * bodies with a fixed issuer key set (the seeds in corpus/set_feed are signed with its private
 * half: good SETs of each kind, an unknown event type, a wrong typ, a name that is not the jti,
 * a bad signature, malformed bodies). Checks the contract: on an error the cursor is left as it
 * was given; on success every SET was applied or skipped and the list stays within its bounds. */
#include "jose/jwk.h"
#include "verify/denylist.h"
#include "verify/set_feed.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ISS "https://idp.example"
#define NOW 1700000000
static const char keys_json[] =
    "{\"keys\":[{\"kty\":\"EC\",\"x\":\"Y_N0vvyA1COqFp7AKxZn68VII2AH5fXcvTLH2lpRctA\",\"y\":"
    "\"aAwOtkkCxgxtMex5i5GEknEebYSMG3_Sp_pw-BKmZuE\",\"crv\":\"P-256\",\"kid\":\"fuzz-1\",\"alg\":"
    "\"ES256\",\"use\":\"sig\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static jwks *keys;
    if (!keys && jwks_from_json(keys_json, strlen(keys_json), &keys, NULL) != IDP_OK) abort();
    denylist *d = denylist_new(8, 8);
    if (!d) abort();
    set_feed_result r;
    memset(&r, 0, sizeof r);
    memcpy(r.cursor, "start", sizeof "start");
    /* half the inputs with an audience the seeds do not carry (every SET then fails) */
    const char *aud = size % 2 ? "https://rs.example" : NULL;
    idp_err rc = set_feed_apply((const char *)data, size, keys, JWS_ALG_BIT(JWS_ES256), ISS, aud, d,
                                NOW, &r, NULL);
    if (rc != IDP_OK && strcmp(r.cursor, "start") != 0) abort(); /* all or nothing */
    if (rc == IDP_OK &&
        (r.applied + r.skipped > SET_FEED_MAX_EVENTS || !memchr(r.cursor, 0, sizeof r.cursor)))
        abort();
    size_t nj = 0, ns = 0;
    denylist_size(d, &nj, &ns);
    if (nj > 8 || ns > 8) abort();
    (void)denylist_check(d, "tok-1", "alice", NOW, NOW);
    denylist_free(d);
    return 0;
}
