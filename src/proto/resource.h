/* resource — the audience of an access token from RFC 8707 resource indicators. */
#ifndef IDPD_OAUTH_RESOURCE_H
#define IDPD_OAUTH_RESOURCE_H

#include "core/err.h"

#include <stddef.h>

#define RESOURCE_MAX 16 /* resource parameters accepted in one request */

/* Selects the audiences into aud (capacity RESOURCE_MAX; pointers borrowed from the inputs):
 *  - requested resources (nreq > 0): each must be exactly one of allowed[0..nallowed)
 *    (RFC 8707 §2: the server decides which resources a client may target) ->
 *    IDP_ERR_OAUTH_INVALID_TARGET otherwise; duplicates collapse; more than RESOURCE_MAX ->
 *    IDP_ERR_OAUTH_INVALID_TARGET;
 *  - none requested: the client's first audience, else the issuer. */
idp_err resource_select(const char *const *req, size_t nreq, char *const *allowed,
                        size_t nallowed, const char *issuer, const char **aud, size_t *naud,
                        idp_error *err);

#endif
