/* fetch — the one outgoing HTTP client of idpd (libcurl): `idpd verify --jwks URL`, back-channel
 * logout notifications, and later the JWKS caches of federation and libidpd-verify.
 *
 * Every request is capped: the body kept is at most the caller's buffer cap (a larger body fails;
 * libcurl refuses a larger Content-Length before reading it), the whole transfer has a deadline,
 * redirects are followed only when the caller asks (and only to allowed schemes), only https://
 * is allowed unless the caller allows http:// too, and TLS peers are verified (host and chain).
 * Nothing is ever sent to stderr; no signal is used for timeouts, so any thread may call it.
 * Links core and libcurl only (no store, no HTTP server). */
#ifndef IDPD_FETCH_FETCH_H
#define IDPD_FETCH_FETCH_H

#include "core/buf.h"
#include "core/err.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FETCH_URL_MAX 2048 /* the longest URL fetch_url_allowed accepts */

/* Whether url may be fetched from an outside party's metadata (federation's upstreams,
 * libidpd-verify's issuer): https://, or http:// when allow_http_loopback and the host is
 * 127.0.0.0/8, [::1] or localhost (core/netaddr_host_loopback); no userinfo, no fragment,
 * printable ASCII, 1 to FETCH_URL_MAX bytes. IDP_ERR_INVALID with the reason (the URL is not in
 * the message). Pure. */
idp_err fetch_url_allowed(const char *url, bool allow_http_loopback, idp_error *err);

typedef struct fetch_opts {
    long timeout_ms;         /* the whole transfer, connecting included; must be > 0 */
    long connect_timeout_ms; /* 0: only timeout_ms bounds the connection */
    long max_redirects;      /* 0: no redirect is followed (a 3xx is the answer) */
    bool allow_http;         /* http:// as well as https:// (redirect targets too) */
    const char *user_agent;  /* NULL: no User-Agent header */
    /* The whole Authorization header value (e.g. "Basic ..." for RFC 6749 §2.3.1
     * client_secret_basic; fetch_basic_auth builds one); NULL: none. A credential: never logged,
     * and not sent again after a redirect to another host (libcurl's rule for custom headers
     * is not relied on: with this set, redirects are not followed at all). */
    const char *authorization;
} fetch_opts;

typedef struct fetch_resp {
    long status; /* HTTP status of the last response; 0 when none arrived */
    /* Cache-Control max-age of the last response in seconds (fetch_max_age over its
     * Cache-Control fields in order, the first max-age wins); -1 when it has none. */
    int64_t max_age;
} fetch_resp;

/* Once per process before any other thread runs (libcurl's global state); fetch_cleanup at
 * exit. Without it libcurl initialises itself on first use. */
idp_err fetch_init(idp_error *e);
void fetch_cleanup(void);

/* GET url. The response body is appended to body up to body->max bytes (body NULL: read and
 * discarded). Returns IDP_OK when a response arrived, whatever its status (r->status says);
 * IDP_ERR_TOO_LARGE when the body exceeds body->max; IDP_ERR_IO when no response arrived (bad
 * or disallowed URL, DNS, connection, TLS, timeout; e->msg is libcurl's reason); IDP_ERR_NOMEM.
 * *r is filled in every case (status 0, max_age -1 when unknown). */
idp_err fetch_get(const char *url, const fetch_opts *o, idp_buf *body, fetch_resp *r, idp_error *e);
/* POST url with form (already application/x-www-form-urlencoded) as the body and that
 * Content-Type; otherwise as fetch_get. */
idp_err fetch_post_form(const char *url, const char *form, const fetch_opts *o, idp_buf *body,
                        fetch_resp *r, idp_error *e);

/* "Basic " + base64(form-urlencode(id) ":" form-urlencode(secret)) (RFC 6749 §2.3.1: the
 * client id and secret are application/x-www-form-urlencoded before Basic encoding) into a new
 * string (owned; wipe it with mem_free_secret). NULL when id is NULL or contains no byte. */
char *fetch_basic_auth(const char *id, const char *secret);

/* The max-age directive (RFC 9111 §5.2.2.1) of one Cache-Control field value v[0..n)
 * (RFC 9111 §5.2: comma-separated directives, names case-insensitive, arguments as token or
 * quoted-string). Returns its delta-seconds (§1.2.2: values past 2^31 count as 2147483648), 0
 * when the first max-age has no valid argument (the response is then stale, §4.2.1), -1 when
 * the field has no max-age or stops being a directive list before one. Pure. */
int64_t fetch_max_age(const char *v, size_t n);

/* OpenID Connect Discovery 1.0 §4, shared by federation's upstreams and libidpd-verify: GETs
 * <issuer>/.well-known/openid-configuration (one '/' between them) with o, after
 * fetch_url_allowed(allow_http_loopback); the answer must be 200, at most
 * FETCH_DISCOVERY_MAX_BODY bytes of strict JSON, whose `issuer` equals issuer byte for byte (§4.3).
 * *doc is then owned by the caller (json_decref). IDP_ERR_INVALID for an answer refused,
 * IDP_ERR_IO when none arrived, IDP_ERR_NOMEM; every message starts with "discovery: ". */
#define FETCH_DISCOVERY_MAX_BODY (64u * 1024u)
idp_err fetch_discovery(const char *issuer, bool allow_http_loopback, const fetch_opts *o,
                        json_t **doc, idp_error *err);
/* The URL member key of a discovery document into out (at most FETCH_URL_MAX bytes + NUL): it
 * must be a string that passes fetch_url_allowed. Absent: out = "" and IDP_OK unless required.
 * IDP_ERR_INVALID with the reason otherwise. */
idp_err fetch_discovery_url(const json_t *doc, const char *key, bool required,
                            bool allow_http_loopback, char *out, idp_error *err);

#endif
