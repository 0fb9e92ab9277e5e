#include "proto/resource.h"

#include <stdbool.h>
#include <string.h>

idp_err resource_select(const char *const *req, size_t nreq, char *const *allowed,
                        size_t nallowed, const char *issuer, const char **aud, size_t *naud,
                        idp_error *err)
{
    *naud = 0;
    if (nreq == 0) {
        aud[(*naud)++] = nallowed ? allowed[0] : issuer;
        return IDP_OK;
    }
    if (nreq > RESOURCE_MAX)
        return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_TARGET, "too many resource parameters");
    for (size_t i = 0; i < nreq; i++) {
        const char *match = NULL;
        for (size_t j = 0; j < nallowed && !match; j++)
            if (strcmp(req[i], allowed[j]) == 0) match = allowed[j];
        if (!match)
            return IDP_FAIL(err, IDP_ERR_OAUTH_INVALID_TARGET,
                            "resource is not an audience this client may target (RFC 8707)");
        bool dup = false;
        for (size_t k = 0; k < *naud; k++) dup = dup || aud[k] == match;
        if (!dup) aud[(*naud)++] = match;
    }
    return IDP_OK;
}
