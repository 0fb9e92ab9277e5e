/* vsrc — where libidpd-verify's JWKS comes from (include/idpd/verify.h "The issuer's JWKS"): a
 * local file, an explicit jwks_uri, or issuer discovery (OpenID Connect Discovery 1.0 §4: GET
 * <issuer>/.well-known/openid-configuration, whose `issuer` must equal ours, §4.3). This is
 * jwks_cache's fetch hook; the cache (src/jose/jwks_cache.c) owns every timing rule.
 *
 * Rules (the same as federation's, src/federation/fed_registry.c, which lives above the store
 * and so cannot be linked into the library):
 *  - URLs pass fetch_url_allowed (fetch/fetch.h, the rule federation uses); discovery's jwks_uri too;
 *  - no redirect is followed (a 3xx is the answer: the cache counts it as http_status); TLS peers
 *    verified (fetch.h); bodies capped (JWKS_CACHE_MAX_BODY, discovery FETCH_DISCOVERY_MAX_BODY);
 *  - discovery is read once and again after a failed attempt (the jwks_uri may have moved);
 *  - a file is read at every refresh, answered as a 200 without max-age; a missing or unreadable
 *    file is a network-class failure (the last good set stays in use). */
#include "internal.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/netaddr.h"
#include "fetch/fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fetch_opts opts_of(const vsrc *s, long timeout_ms)
{
    return (fetch_opts){.timeout_ms = timeout_ms,
                        .max_redirects = 0,
                        .allow_http = s->loopback,
                        .user_agent = "libidpd-verify/" IDPD_VERIFY_VERSION};
}

/* GET discovery (fetch_discovery: the rules federation uses); on success s->disc_jwks_uri is its
 * (allowed) jwks_uri. IDP_ERR_INVALID for an answer we refuse, IDP_ERR_IO when none arrived. */
static idp_err discover(vsrc *s, long timeout_ms, idp_error *err)
{
    fetch_opts fo = opts_of(s, timeout_ms);
    json_t *doc = NULL;
    idp_err rc = fetch_discovery(s->issuer, s->loopback, &fo, &doc, err);
    if (rc == IDP_OK)
        rc = fetch_discovery_url(doc, "jwks_uri", true, s->loopback, s->disc_jwks_uri, err);
    json_decref(doc);
    return rc;
}

static idp_err read_file(const char *path, idp_buf *body, long *status, idp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return IDP_FAIL(err, IDP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char chunk[8192];
    size_t n;
    idp_err rc = IDP_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_append(body, chunk, n)) {
            rc = IDP_FAIL(err, IDP_ERR_TOO_LARGE, "JWKS file over %zu bytes", body->max);
            break;
        }
    if (!rc && ferror(f)) rc = IDP_FAIL(err, IDP_ERR_IO, "cannot read %s", path);
    fclose(f);
    if (!rc) *status = 200;
    return rc;
}

idp_err vsrc_fetch(void *ctx, long timeout_ms, idp_buf *body, long *status, int64_t *max_age_s,
                   idp_error *err)
{
    vsrc *s = &((idpd_verify *)ctx)->src;
    *status = 0;
    *max_age_s = -1;
    if (s->jwks_file) return read_file(s->jwks_file, body, status, err);
    const char *url = s->jwks_uri;
    if (!url) {
        if (s->last_failed || !s->disc_jwks_uri[0]) {
            s->disc_jwks_uri[0] = '\0';
            s->last_failed = true; /* until a good set */
            idp_err rc = discover(s, timeout_ms, err);
            if (rc != IDP_OK) return rc;
        }
        url = s->disc_jwks_uri;
    }
    s->last_failed = true; /* cleared by on_good (verify.c) */
    fetch_opts fo = opts_of(s, timeout_ms);
    fetch_resp fr;
    idp_err rc = fetch_get(url, &fo, body, &fr, err);
    *status = fr.status;
    *max_age_s = fr.max_age;
    return rc;
}

void vsrc_clear(vsrc *s)
{
    free(s->issuer);
    free(s->jwks_uri);
    free(s->jwks_file);
    memset(s, 0, sizeof *s);
}
