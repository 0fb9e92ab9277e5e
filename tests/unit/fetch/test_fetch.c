/* Unit tests for src/fetch: Cache-Control max-age parsing (pure), and the transfer rules against a
 * one-shot HTTP server on 127.0.0.1 (status returned, body cap, no redirect unless asked, https
 * only unless http is allowed, the form POST, max-age of the last response). */
#include "testutil.h"

#include "fetch/fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MA(s) fetch_max_age((s), strlen(s))

static void max_age_parsing(void **state)
{
    (void)state;
    assert_int_equal(MA("max-age=300"), 300);
    assert_int_equal(MA("public, max-age=60"), 60);
    assert_int_equal(MA("  Max-Age=7 , must-revalidate"), 7);       /* names are case-insensitive */
    assert_int_equal(MA("max-age=\"120\""), 120);                   /* quoted form accepted */
    assert_int_equal(MA("private=\"a, max-age=5\", max-age=9"), 9); /* inside a quoted arg */
    assert_int_equal(MA("x=\"q\\\"max-age=1\", max-age=2"), 2);     /* quoted-pair */
    assert_int_equal(MA(",, max-age=3"), 3);                        /* empty list elements */
    assert_int_equal(MA("max-age=5, max-age=10"), 5);               /* first occurrence */
    assert_int_equal(MA("s-maxage=40, max-age=0"), 0);
    /* RFC 9111 §1.2.2: past 2^31 counts as 2^31 */
    assert_int_equal(MA("max-age=2147483648"), 2147483648);
    assert_int_equal(MA("max-age=99999999999999999999999999999"), 2147483648);
    /* invalid max-age: stale (RFC 9111 §4.2.1) */
    assert_int_equal(MA("max-age"), 0);
    assert_int_equal(MA("max-age="), 0);
    assert_int_equal(MA("max-age=-1"), 0);
    assert_int_equal(MA("max-age=1x"), 0);
    assert_int_equal(MA("max-age=\"12"), 0);
    assert_int_equal(MA("max-age=\"99999999999999999999999999x\""), 0);
    /* no max-age */
    assert_int_equal(MA(""), -1);
    assert_int_equal(MA("no-store"), -1);
    assert_int_equal(MA("s-maxage=40"), -1);
    assert_int_equal(MA("max-ages=4"), -1);
    assert_int_equal(MA("no-cache=\"unterminated"), -1);
    assert_int_equal(MA("no-cache max-age=4"), -1);      /* not a list from there on */
    assert_int_equal(fetch_max_age("max-age=42", 9), 4); /* only v[0..n) is read */
}

/* ---- a one-shot server ---------------------------------------------------------------- */

typedef struct srv {
    int fd;
    int port;
    const char *reply; /* written after the request head (and its Content-Length body) */
    char req[4096];    /* what the client sent */
    pthread_t t;
} srv;

static void *srv_main(void *arg)
{
    srv *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) return NULL;
    size_t n = 0;
    for (;;) {
        ssize_t k = read(c, s->req + n, sizeof s->req - 1 - n);
        if (k <= 0) break;
        n += (size_t)k;
        s->req[n] = '\0';
        char *end = strstr(s->req, "\r\n\r\n");
        if (!end) continue;
        const char *cl = strcasestr(s->req, "content-length:");
        size_t want = cl && cl < end ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
        if (n >= (size_t)(end + 4 - s->req) + want) break;
    }
    ssize_t w = send(c, s->reply, strlen(s->reply), MSG_NOSIGNAL);
    (void)w;
    close(c);
    return NULL;
}

static void srv_start(srv *s, const char *reply)
{
    memset(s, 0, sizeof *s);
    s->reply = reply;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 1), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->t, NULL, srv_main, s), 0);
}

static void srv_stop(srv *s)
{
    shutdown(s->fd, SHUT_RDWR); /* unblocks accept when the client never came */
    pthread_join(s->t, NULL);
    close(s->fd);
}

static const fetch_opts http_ok = {.timeout_ms = 5000, .allow_http = true};

static void get_status_body_max_age(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nCache-Control: public\r\n"
                  "cache-control: max-age=300\r\nConnection: close\r\n\r\nhello");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/jwks", s.port);
    idp_buf b;
    buf_init(&b, 64);
    fetch_resp r;
    fetch_opts o = http_ok;
    o.user_agent = "idpd-test";
    assert_int_equal(fetch_get(url, &o, &b, &r, NULL), IDP_OK);
    srv_stop(&s);
    assert_int_equal(r.status, 404); /* any status is an answer; the caller judges it */
    assert_int_equal(r.max_age, 300);
    assert_string_equal(buf_cstr(&b), "hello");
    assert_non_null(strstr(s.req, "GET /jwks HTTP/1.1\r\n"));
    assert_non_null(strstr(s.req, "User-Agent: idpd-test\r\n"));
    buf_free(&b);
}

static void body_cap(void **state)
{
    (void)state;
    /* without Content-Length the cap is met while reading; with it, before */
    const char *replies[] = {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789",
                             "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"};
    for (size_t i = 0; i < 2; i++) {
        srv s;
        srv_start(&s, replies[i]);
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
        idp_buf b;
        buf_init(&b, 4);
        fetch_resp r;
        idp_error e = {0};
        assert_int_equal(fetch_get(url, &http_ok, &b, &r, &e), IDP_ERR_TOO_LARGE);
        srv_stop(&s);
        assert_non_null(strstr(e.msg, "larger than 4 bytes"));
        buf_free(&b);
    }
}

static void no_redirect_unless_asked(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\n"
                  "Content-Length: 0\r\n\r\n");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    fetch_resp r;
    assert_int_equal(fetch_get(url, &http_ok, NULL, &r, NULL), IDP_OK);
    srv_stop(&s);
    assert_int_equal(r.status, 302);
    assert_int_equal(r.max_age, -1);
}

static void schemes(void **state)
{
    (void)state;
    fetch_resp r;
    idp_error e = {0};
    const fetch_opts https_only = {.timeout_ms = 2000};
    /* refused before any connection: nothing listens on port 1 anyway */
    assert_int_equal(fetch_get("http://127.0.0.1:1/", &https_only, NULL, &r, &e), IDP_ERR_IO);
    assert_int_equal(r.status, 0);
    assert_true(e.msg[0] != '\0');
    assert_int_equal(fetch_get("file:///etc/passwd", &http_ok, NULL, &r, NULL), IDP_ERR_IO);
    assert_int_equal(fetch_get("not a url", &http_ok, NULL, &r, NULL), IDP_ERR_IO);
}

static void post_form(void **state)
{
    (void)state;
    srv s;
    srv_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/bc", s.port);
    fetch_resp r;
    assert_int_equal(fetch_post_form(url, "logout_token=a.b.c", &http_ok, NULL, &r, NULL), IDP_OK);
    srv_stop(&s);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(s.req, "POST /bc HTTP/1.1\r\n"));
    assert_non_null(strstr(s.req, "Content-Type: application/x-www-form-urlencoded\r\n"));
    assert_non_null(strstr(s.req, "\r\n\r\nlogout_token=a.b.c"));
    assert_null(strstr(s.req, "User-Agent:"));
}

/* The Authorization option: sent as given on a POST; a redirect is then never followed (the
 * credential must not travel to another host). fetch_basic_auth form-encodes before base64. */
static void post_form_authorization(void **state)
{
    (void)state;
    char *basic = fetch_basic_auth("idpd at:partner", "s3cr%t+/=");
    assert_non_null(basic);
    /* base64("idpd+at%3Apartner:s3cr%25t%2B%2F%3D") */
    assert_string_equal(basic, "Basic aWRwZCthdCUzQXBhcnRuZXI6czNjciUyNXQlMkIlMkYlM0Q=");
    srv s;
    srv_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", s.port);
    fetch_resp r;
    fetch_opts o = http_ok;
    o.authorization = basic;
    assert_int_equal(fetch_post_form(url, "grant_type=authorization_code", &o, NULL, &r, NULL),
                     IDP_OK);
    srv_stop(&s);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(s.req, "Authorization: Basic aWRwZCthdCUzQXBhcnRuZXI6czNjciUyNXQlMkIlMkYlM0Q=\r\n"));
    assert_non_null(strstr(s.req, "Content-Type: application/x-www-form-urlencoded\r\n"));
    /* with a credential, a redirect is the answer even when redirects are allowed */
    srv_start(&s, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\n"
                  "Content-Length: 0\r\n\r\n");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/token", s.port);
    o.max_redirects = 3;
    assert_int_equal(fetch_post_form(url, "a=b", &o, NULL, &r, NULL), IDP_OK);
    srv_stop(&s);
    assert_int_equal(r.status, 302);
    free(basic);
    assert_null(fetch_basic_auth(NULL, "x"));
    assert_null(fetch_basic_auth("", "x"));
    char *b2 = fetch_basic_auth("a", NULL);
    assert_string_equal(b2, "Basic YTo="); /* "a:" */
    free(b2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(max_age_parsing), cmocka_unit_test(get_status_body_max_age),
        cmocka_unit_test(body_cap),        cmocka_unit_test(no_redirect_unless_asked),
        cmocka_unit_test(schemes),         cmocka_unit_test(post_form), cmocka_unit_test(post_form_authorization),
    };
    assert_int_equal(fetch_init(NULL), IDP_OK);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fetch_cleanup();
    return rc;
}
