/* fetch — the one capped libcurl client (fetch.h). */
#include "fetch/fetch.h"

#include "core/jsonx.h"
#include "core/mem.h"
#include "core/netaddr.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DELTA_SECONDS_MAX 2147483648 /* RFC 9111 §1.2.2 */

/* ---- Cache-Control (pure) ------------------------------------------------------------- */

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t skip_ows(const char *v, size_t n, size_t i)
{
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    return i;
}

/* The argument of a directive being read, as delta-seconds (RFC 9111 §1.2.2). */
typedef struct delta {
    int64_t v;
    size_t digits;
    bool bad; /* a character that is not a digit */
} delta;

static void delta_add(delta *d, char c)
{
    if (c < '0' || c > '9') {
        d->bad = true;
        return;
    }
    d->digits++;
    if (d->v < DELTA_SECONDS_MAX) d->v = d->v * 10 + (c - '0');
    if (d->v > DELTA_SECONDS_MAX) d->v = DELTA_SECONDS_MAX;
}

int64_t fetch_max_age(const char *v, size_t n)
{
    size_t i = 0;
    for (;;) {
        while (i < n && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i >= n) return -1;
        size_t name = i;
        while (i < n && is_tchar((unsigned char)v[i]))
            i++;
        if (i == name) return -1; /* not a directive list */
        bool max_age = i - name == 7 && !strncasecmp(v + name, "max-age", 7);
        delta d = {0};
        if (i < n && v[i] == '=') {
            i++;
            if (i < n && v[i] == '"') { /* quoted-string, RFC 9110 §5.6.4 */
                for (i++;; i++) {
                    if (i >= n) return max_age ? 0 : -1; /* unterminated */
                    char c = v[i];
                    if (c == '"') break;
                    if (c == '\\') { /* quoted-pair */
                        if (++i >= n) return max_age ? 0 : -1;
                        c = v[i];
                    }
                    delta_add(&d, c);
                }
                i++;
            } else {
                for (; i < n && is_tchar((unsigned char)v[i]); i++)
                    delta_add(&d, v[i]);
            }
        }
        if (max_age) return d.bad || !d.digits ? 0 : d.v;
        i = skip_ows(v, n, i);
        if (i < n && v[i] != ',') return -1;
    }
}

/* ---- transfers ------------------------------------------------------------------------ */

typedef struct xfer {
    idp_buf *body; /* NULL: discard */
    bool too_large;
    int64_t max_age;
    bool max_age_seen; /* in the current response's header */
} xfer;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (!x->body) return n;
    if (buf_append(x->body, p, n) == 0) return n;
    x->too_large = true;
    return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
}

/* One header line (with its CRLF). A status line starts a new response (after a redirect or a
 * 1xx): what the previous one said no longer applies. */
static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
    xfer *x = ud;
    size_t n = size * nitems;
    static const char cc[] = "cache-control:";
    if (n >= 5 && !memcmp(p, "HTTP/", 5)) {
        x->max_age = -1;
        x->max_age_seen = false;
    } else if (!x->max_age_seen && n >= sizeof cc - 1 && !strncasecmp(p, cc, sizeof cc - 1)) {
        size_t len = n;
        while (len > sizeof cc - 1 && (p[len - 1] == '\r' || p[len - 1] == '\n'))
            len--;
        int64_t m = fetch_max_age(p + sizeof cc - 1, len - (sizeof cc - 1));
        if (m >= 0) {
            x->max_age = m;
            x->max_age_seen = true;
        }
    }
    return n;
}

idp_err fetch_init(idp_error *e)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return IDP_FAIL(e, IDP_ERR_NOMEM, "curl_global_init failed");
    return IDP_OK;
}

void fetch_cleanup(void)
{
    curl_global_cleanup();
}

static idp_err perform(const char *url, const char *form, const fetch_opts *o, idp_buf *body,
                       fetch_resp *r, idp_error *e)
{
    idp_err rc = IDP_OK;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdrs = NULL;
    xfer x = {.body = body, .max_age = -1};
    const char *schemes = o->allow_http ? "http,https" : "https";
    r->status = 0;
    r->max_age = -1;
    CURL *h = curl_easy_init();
    if (!h) return IDP_FAIL(e, IDP_ERR_NOMEM, "curl_easy_init failed");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, schemes);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, schemes);
    /* a credential is never carried across a redirect */
    bool follow = o->max_redirects > 0 && !o->authorization;
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    if (follow) curl_easy_setopt(h, CURLOPT_MAXREDIRS, o->max_redirects);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->connect_timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (body) curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body->max);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    if (o->user_agent) curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent);
    if (form) {
        hdrs = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
        if (!hdrs) {
            rc = IDP_FAIL(e, IDP_ERR_NOMEM, "curl_slist_append failed");
            goto out;
        }
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    }
    if (o->authorization) {
        size_t n = strlen(o->authorization) + sizeof "Authorization: ";
        char *line = malloc(n);
        if (!line) {
            rc = IDP_FAIL(e, IDP_ERR_NOMEM, "out of memory");
            goto out;
        }
        snprintf(line, n, "Authorization: %s", o->authorization);
        struct curl_slist *nh = curl_slist_append(hdrs, line); /* copies line */
        mem_free_secret(line);
        if (!nh) {
            rc = IDP_FAIL(e, IDP_ERR_NOMEM, "curl_slist_append failed");
            goto out;
        }
        hdrs = nh;
    }
    if (hdrs) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (x.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
        rc = IDP_FAIL(e, IDP_ERR_TOO_LARGE, "response body larger than %zu bytes",
                      body ? body->max : 0);
    } else if (cc != CURLE_OK) {
        rc = IDP_FAIL(e, IDP_ERR_IO, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else {
        r->max_age = x.max_age;
    }
out:
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

idp_err fetch_get(const char *url, const fetch_opts *o, idp_buf *body, fetch_resp *r, idp_error *e)
{
    return perform(url, NULL, o, body, r, e);
}

idp_err fetch_post_form(const char *url, const char *form, const fetch_opts *o, idp_buf *body,
                        fetch_resp *r, idp_error *e)
{
    return perform(url, form, o, body, r, e);
}

/* application/x-www-form-urlencoded of one string (RFC 6749 Appendix B) into out (3n+1). */
static void form_encode(const char *s, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '*' || c == '-' || c == '.' || c == '_') {
            *out++ = (char)c;
        } else if (c == ' ') {
            *out++ = '+';
        } else {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        }
    }
    *out = '\0';
}

char *fetch_basic_auth(const char *id, const char *secret)
{
    if (!id || !*id) return NULL;
    if (!secret) secret = "";
    size_t ni = strlen(id), ns = strlen(secret);
    size_t n = 3 * ni + 1 + 3 * ns + 1;
    char *pair = malloc(n);
    if (!pair) return NULL;
    form_encode(id, pair);
    size_t l = strlen(pair);
    pair[l++] = ':';
    form_encode(secret, pair + l);
    l = strlen(pair);
    size_t enc = 4 * ((l + 2) / 3);
    char *out = malloc(sizeof "Basic " + enc);
    if (out) {
        memcpy(out, "Basic ", 6);
        EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)pair, (int)l);
    }
    mem_wipe(pair, n);
    free(pair);
    return out;
}

idp_err fetch_url_allowed(const char *url, bool allow_http_loopback, idp_error *err)
{
    size_t n = url ? strnlen(url, FETCH_URL_MAX + 1) : 0;
    if (n == 0 || n > FETCH_URL_MAX)
        return IDP_FAIL(err, IDP_ERR_INVALID, "URL must be 1 to %d bytes", FETCH_URL_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '<' || ch == '>')
            return IDP_FAIL(err, IDP_ERR_INVALID, "URL holds a character a URL may not hold");
    }
    bool https = !strncmp(url, "https://", 8), http = !strncmp(url, "http://", 7);
    if (!https && !http) return IDP_FAIL(err, IDP_ERR_INVALID, "URL is not https://");
    const char *h = url + (https ? 8 : 7);
    size_t hl = strcspn(h, "/?#");
    if (memchr(h, '@', hl)) return IDP_FAIL(err, IDP_ERR_INVALID, "URL has userinfo");
    if (strchr(url, '#')) return IDP_FAIL(err, IDP_ERR_INVALID, "URL has a fragment");
    size_t hostlen = hl;
    if (hl && h[0] == '[') {
        const char *rb = memchr(h, ']', hl);
        if (!rb) return IDP_FAIL(err, IDP_ERR_INVALID, "URL has a malformed IPv6 host");
        hostlen = (size_t)(rb - h) + 1;
    } else {
        const char *colon = memchr(h, ':', hl);
        if (colon) hostlen = (size_t)(colon - h);
    }
    if (hostlen == 0) return IDP_FAIL(err, IDP_ERR_INVALID, "URL has no host");
    if (http && !allow_http_loopback)
        return IDP_FAIL(err, IDP_ERR_INVALID, "URL is http:// (https:// required)");
    if (http && !netaddr_host_loopback(h, hostlen))
        return IDP_FAIL(err, IDP_ERR_INVALID,
                        "URL is http:// but its host is not a loopback address");
    return IDP_OK;
}

idp_err fetch_discovery(const char *issuer, bool allow_http_loopback, const fetch_opts *o,
                        json_t **doc, idp_error *err)
{
    *doc = NULL;
    static const char wk[] = ".well-known/openid-configuration";
    size_t il = strlen(issuer);
    char *url = xmalloc(il + sizeof wk + 1);
    memcpy(url, issuer, il);
    if (!il || issuer[il - 1] != '/') url[il++] = '/';
    memcpy(url + il, wk, sizeof wk);
    idp_error e = {0};
    idp_err rc = fetch_url_allowed(url, allow_http_loopback, &e);
    if (rc != IDP_OK) {
        free(url);
        return IDP_FAIL(err, IDP_ERR_INVALID, "discovery: %s", e.msg);
    }
    idp_buf b;
    buf_init(&b, FETCH_DISCOVERY_MAX_BODY);
    fetch_resp fr;
    rc = fetch_get(url, o, &b, &fr, &e);
    free(url);
    if (rc == IDP_ERR_TOO_LARGE) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "discovery: document over %u bytes",
                      FETCH_DISCOVERY_MAX_BODY);
    } else if (rc == IDP_ERR_NOMEM) {
        rc = IDP_FAIL(err, IDP_ERR_NOMEM, "discovery: out of memory");
    } else if (rc != IDP_OK) {
        rc = IDP_FAIL(err, IDP_ERR_IO, "discovery: %s", e.msg);
    } else if (fr.status != 200) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "discovery: HTTP status %ld", fr.status);
    } else if (jsonx_parse(b.data ? b.data : "", b.len, FETCH_DISCOVERY_MAX_BODY, 0, true, doc,
                           &e) != IDP_OK) {
        rc = IDP_FAIL(err, IDP_ERR_INVALID, "discovery: not a JSON object");
    } else {
        const char *iss = jsonx_str(*doc, "issuer");
        if (!iss || strcmp(iss, issuer) != 0) /* §4.3 */
            rc = IDP_FAIL(err, IDP_ERR_INVALID,
                          "discovery: its issuer differs from the configured issuer");
    }
    buf_free(&b);
    if (rc != IDP_OK) {
        json_decref(*doc);
        *doc = NULL;
    }
    return rc;
}

idp_err fetch_discovery_url(const json_t *doc, const char *key, bool required,
                            bool allow_http_loopback, char *out, idp_error *err)
{
    out[0] = '\0';
    json_t *v = json_object_get(doc, key);
    if (!v)
        return required ? IDP_FAIL(err, IDP_ERR_INVALID, "discovery: no %s", key) : IDP_OK;
    const char *s = json_string_value(v);
    if (!s) return IDP_FAIL(err, IDP_ERR_INVALID, "discovery: %s is not a string", key);
    idp_error e = {0};
    if (fetch_url_allowed(s, allow_http_loopback, &e) != IDP_OK)
        return IDP_FAIL(err, IDP_ERR_INVALID, "discovery: %s refused: %s", key, e.msg);
    memcpy(out, s, strlen(s) + 1); /* fetch_url_allowed: at most FETCH_URL_MAX bytes */
    return IDP_OK;
}
