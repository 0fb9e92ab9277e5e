#include "http/server.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "http/deadline.h"
#include "http/framing.h"
#include "http/listen.h"
#include "http/log_limit.h"
#include "http/request.h"
#include "http/response.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVER_CONNECTION_TIMEOUT_S 30 /* idle: no byte for this long (MHD restarts it per byte) */
#define SERVER_SWEEP_MS 200            /* how often overdue request heads are looked for */
#define SERVER_MHD_LOG_PER_MIN 10      /* libmicrohttpd lines of one kind written per minute */
#define SERVER_LOG_PATH_MAX 256
#define SERVER_DISCARD_FACTOR 4

/* Per-request state kept by MHD between calls of the access handler (*con_cls). */
typedef struct conn_ctx {
    idp_buf body;
    uint64_t received; /* body bytes seen, stored or not */
    bool too_large;    /* the body passed max_body: discarded, 413 at its end */
    bool answered;     /* 413 queued before the body (from Content-Length) */
    int64_t t0_us;
} conn_ctx;

/* What the MHD callbacks share (their cls). */
struct http_server {
    http_server_opts o;
    http_dispatch_fn dispatch;
    void *ctx;
    struct MHD_Daemon *d;
    deadline_list heads; /* request_header_timeout (http/deadline.h) */
    bool heads_ready;
    pthread_t sweeper;
    bool sweeper_started;
    atomic_bool stopping;
};
typedef struct http_server server;

/* Request log lines are written directly (no JSON tree: this runs for every request) and only
 * when the configured level includes info. */
static bool log_requests = true;

/* Copies s into out, percent-encoding everything that is not printable ASCII, '%', '"' and '\\',
 * so the result is safe inside a JSON string and unambiguous. */
static void log_safe(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < cap; p++) {
        if (*p > 0x20 && *p < 0x7f && *p != '%' && *p != '"' && *p != '\\') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

/* One line per request (contract): method, path without query, status, duration_us, client_id
 * when known. Never the Authorization header, a secret, a token or the query string. Same shape
 * as log_json's lines; one write(2) so lines from several threads never interleave. */
static void log_request(const char *method, const char *url, const http_response *rs, int64_t t0)
{
    if (!log_requests) return;
    char path[SERVER_LOG_PATH_MAX], meth[32], cid[sizeof rs->client_id * 3], ts[32], base[21];
    int64_t ms = time_now_ms();
    log_safe(url, path, sizeof path);
    log_safe(method, meth, sizeof meth);
    log_safe(rs->client_id, cid, sizeof cid);
    time_format_rfc3339(ms / 1000, base);
    snprintf(ts, sizeof ts, "%.19s.%03dZ", base, (int)(ms % 1000));
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"level\":\"info\",\"msg\":\"request\",\"method\":\"%s\","
                     "\"path\":\"%s\",\"status\":%d,\"duration_us\":%" PRId64 "%s%s%s}\n",
                     ts, meth, path, rs->status, time_mono_us() - t0,
                     cid[0] ? ",\"client_id\":\"" : "", cid, cid[0] ? "\"" : "");
    if (n > 0 && (size_t)n < sizeof line) {
        ssize_t w = write(STDERR_FILENO, line, (size_t)n);
        (void)w; /* nowhere to report a failing stderr */
    }
}

static void release_hold(void *cls)
{
    snap_unref(cls);
}

/* Builds the MHD response: zero-copy for every kind of body. */
static struct MHD_Response *mhd_response(http_response *rs)
{
    struct MHD_Response *r;
    if (rs->ext_body && rs->hold) {
        r = MHD_create_response_from_buffer_with_free_callback_cls(rs->ext_len, (void *)rs->ext_body,
                                                                   release_hold, rs->hold);
        if (r) rs->hold = NULL; /* MHD releases it once the body is sent */
    } else if (rs->ext_body) {
        r = MHD_create_response_from_buffer(rs->ext_len, (void *)rs->ext_body, MHD_RESPMEM_PERSISTENT);
    } else {
        size_t len = rs->body.len;
        char *data = buf_steal(&rs->body);
        r = MHD_create_response_from_buffer_with_free_callback(len, data ? data : xstrdup(""), free);
    }
    if (!r) return NULL;
    if (rs->content_type) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (rs->no_store) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(r, MHD_HTTP_HEADER_PRAGMA, "no-cache");
    }
    for (size_t i = 0; i < rs->nheaders; i++)
        if (!(rs->no_store && strcmp(rs->headers[i].name, "Cache-Control") == 0))
            MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
    return r;
}

static enum MHD_Result respond(struct MHD_Connection *c, const char *method, const char *url,
                            http_response *rs, int64_t t0)
{
    struct MHD_Response *r = mhd_response(rs);
    if (!r) return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    log_request(method, url, rs, t0);
    return ok;
}

/* An error answered before any handler runs; close: "Connection: close" (MHD then closes the
 * connection once the response is sent, and reads no further request from it). */
static enum MHD_Result fail_early(struct MHD_Connection *c, const char *method, const char *url,
                                  idp_err code, const char *msg, bool close, int64_t t0)
{
    http_response rs;
    response_init(&rs);
    if (close) response_header_set(&rs, "Connection", "close");
    if (response_is_scim_path(url)) {
        idp_error e = {0};
        IDP_FAIL(&e, code, "%s", msg);
        response_scim_error(&rs, &e);
    } else {
        response_error_code(&rs, code, msg);
    }
    enum MHD_Result ok = respond(c, method, url, &rs, t0);
    response_clear(&rs);
    return ok;
}

/* Query parameter names seen so far, for finding a repeated one (bounded: a query with more
 * parameters than this answers HTTP_QUERY_TOO_MANY, which the handler refuses as such). */
#define SERVER_QUERY_NAMES_MAX 64
typedef struct query_names {
    const char *names[SERVER_QUERY_NAMES_MAX];
    size_t n;
    const char *repeated;
} query_names;

static enum MHD_Result note_query_name(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    query_names *q = cls;
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->names[i], key) == 0) {
            q->repeated = key;
            return MHD_NO;
        }
    if (q->n == SERVER_QUERY_NAMES_MAX) {
        q->repeated = HTTP_QUERY_TOO_MANY;
        return MHD_NO;
    }
    q->names[q->n++] = key;
    return MHD_YES;
}

/* http_request.lookup on libmicrohttpd: header names case-insensitive; query values decoded. */
static const char *mhd_lookup(void *ctx, http_lookup_kind kind, const char *name)
{
    if (kind == HTTP_LOOKUP_QUERY_REPEATED) {
        query_names q = {.n = 0};
        MHD_get_connection_values(ctx, MHD_GET_ARGUMENT_KIND, note_query_name, &q);
        return q.repeated;
    }
    return MHD_lookup_connection_value(ctx, kind == HTTP_LOOKUP_QUERY ? MHD_GET_ARGUMENT_KIND
                                                                      : MHD_HEADER_KIND, name);
}

/* The X-Forwarded-For values of a request, in order (the last SERVER_XFF_MAX when more). */
#define SERVER_XFF_MAX 8
typedef struct xff_values {
    const char *v[SERVER_XFF_MAX];
    size_t n;
} xff_values;

static enum MHD_Result xff_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    xff_values *x = cls;
    (void)kind;
    if (!key || !value || strcasecmp(key, "X-Forwarded-For") != 0) return MHD_YES;
    if (x->n == SERVER_XFF_MAX) {
        memmove(x->v, x->v + 1, (SERVER_XFF_MAX - 1) * sizeof *x->v);
        x->n--;
    }
    x->v[x->n++] = value;
    return MHD_YES;
}

/* rq.client_addr: the peer, or the client a trusted proxy forwarded for (netaddr_client). The
 * header is only read when the peer is trusted. */
static void client_address(const netaddr_set *trusted, struct MHD_Connection *c, const char *peer,
                           char out[NETADDR_STRLEN])
{
    static const netaddr_set none = {0};
    xff_values x = {.n = 0};
    netaddr p;
    if (!trusted) trusted = &none;
    if (trusted->n && netaddr_parse(peer, strlen(peer), &p) && netaddr_set_has(trusted, &p))
        MHD_get_connection_values(c, MHD_HEADER_KIND, xff_collect, &x);
    netaddr_client(trusted, peer, x.v, x.n, out);
}

/* The request as handlers see it (http/request.h), handed to the dispatch function; the
 * response it fills is sent and cleared here. */
static enum MHD_Result serve_request(server *sv, struct MHD_Connection *c, conn_ctx *cx,
                                const char *method, const char *url)
{
    http_request rq = {
        .method = method, .path = url,
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .body = cx->body.data, .body_len = cx->body.len, .param = "", .lookup = mhd_lookup,
        .lookup_ctx = c};
    char peer[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
    }
    rq.remote_addr = peer;
    char client[NETADDR_STRLEN];
    client_address(sv->o.trusted_proxies, c, peer, client);
    rq.client_addr = client;
    http_response rs;
    response_init(&rs);
    sv->dispatch(sv->ctx, &rq, &rs);
    enum MHD_Result ok = respond(c, method, url, &rs, cx->t0_us);
    response_clear(&rs);
    return ok;
}

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    framing_add_header(cls, key, key_size, value, value_size);
    return MHD_YES;
}

static enum MHD_Result framing_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    framing_add_query(cls, key, key_size, value, value_size);
    return MHD_YES;
}

/* http/framing.h on the request head, with the lengths MHD parsed (a NUL stays visible). NULL
 * when acceptable, else the reason. */
static const char *framing_error(struct MHD_Connection *c, const char *version)
{
    framing f = {0};
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, framing_header, &f);
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, framing_query, &f);
    return framing_check(&f, version);
}

/* A body larger than max_body is refused (413): at once when Content-Length says so (before any
 * body is read), else at the end of the body, which is discarded past the cap. */
static bool declared_too_large(struct MHD_Connection *c, int64_t max)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl) return false;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(cl, &end, 10);
    return errno == ERANGE || (end != cl && n > max);
}

/* The deadline entry of c (set by on_connection), or NULL. */
static deadline_conn *conn_deadline(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_size, void **con_cls)
{
    server *sv = cls;
    conn_ctx *cx = *con_cls;
    if (!cx) {
        deadline_head_done(&sv->heads, conn_deadline(c)); /* the head is complete */
        cx = xcalloc(1, sizeof *cx);
        buf_init(&cx->body, (size_t)sv->o.max_body);
        cx->t0_us = time_mono_us();
        *con_cls = cx;
        /* RFC 9112 §6.3: a message whose framing is in doubt is answered 400 and the connection
         * closed, before anything of its body is read or any handler runs. */
        const char *why = framing_error(c, version);
        if (why) {
            cx->answered = true;
            return fail_early(c, method, url, IDP_ERR_INVALID, why, true, cx->t0_us);
        }
        if (declared_too_large(c, sv->o.max_body)) {
            cx->answered = true;
            return fail_early(c, method, url, IDP_ERR_TOO_LARGE, "request body too large", false, cx->t0_us);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* MHD cannot answer in the middle of an upload: past the cap the rest is discarded
         * (not stored) and 413 is sent at its end; a body that goes on beyond
         * SERVER_DISCARD_FACTOR x max_body gets the connection closed instead. */
        cx->received += *upload_size;
        if (!cx->too_large && buf_append(&cx->body, upload_data, *upload_size) != 0) {
            cx->too_large = true;
            buf_free_secret(&cx->body);
        }
        *upload_size = 0;
        return cx->received / SERVER_DISCARD_FACTOR > (uint64_t)sv->o.max_body ? MHD_NO : MHD_YES;
    }
    if (cx->answered) return MHD_YES;
    if (cx->too_large)
        return fail_early(c, method, url, IDP_ERR_TOO_LARGE, "request body too large", false, cx->t0_us);
    return serve_request(sv, c, cx, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    server *sv = cls;
    /* a kept-alive connection has request_header_timeout for its next request head */
    deadline_restart(&sv->heads, conn_deadline(c), time_mono_us() / 1000);
    conn_ctx *cx = *con_cls;
    if (!cx) return;
    buf_free_secret(&cx->body); /* it may have held a client secret */
    free(cx);
    *con_cls = NULL;
}

/* MHD_OPTION_NOTIFY_CONNECTION: every connection is on the deadline list from its accept until
 * MHD closes it (MHD notifies CLOSED before closing the descriptor). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode what)
{
    server *sv = cls;
    if (what == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) *socket_context = deadline_add(&sv->heads, ci->connect_fd, time_mono_us() / 1000);
    } else if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
        deadline_remove(&sv->heads, *socket_context);
        *socket_context = NULL;
    }
}

/* An overdue request head: end of stream both ways; MHD sees it and closes the connection. */
static void expire_head(int fd, void *cls)
{
    (void)cls;
    (void)shutdown(fd, SHUT_RDWR);
}

static void mhd_log_flush(void);

static void *sweeper_main(void *arg)
{
    server *sv = arg;
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = SERVER_SWEEP_MS * 1000000L};
    while (!atomic_load(&sv->stopping)) {
        nanosleep(&tick, NULL);
        deadline_sweep(&sv->heads, time_mono_us() / 1000, expire_head, NULL);
        mhd_log_flush(); /* a flood that stopped is still summarised */
    }
    return NULL;
}

/* libmicrohttpd's messages, SERVER_MHD_LOG_PER_MIN per kind (format string) and minute: it writes
 * one line per abandoned connection, which a flood would turn into a full disk. */
static pthread_mutex_t mhd_log_lock = PTHREAD_MUTEX_INITIALIZER;
static log_limit mhd_log_limit = {.per_window = SERVER_MHD_LOG_PER_MIN, .window_ms = 60000};

static void mhd_log_summary(const char *kind, uint64_t n, void *cls)
{
    (void)cls;
    char k[160];
    log_safe(kind ? kind : "(other messages)", k, sizeof k);
    log_msg(LOG_WARN, "microhttpd: %" PRIu64 " more messages of this kind suppressed (at most %d a minute): %s",
            n, SERVER_MHD_LOG_PER_MIN, k);
}

static void mhd_log_flush(void)
{
    pthread_mutex_lock(&mhd_log_lock);
    log_limit_flush(&mhd_log_limit, time_mono_us() / 1000, mhd_log_summary, NULL);
    pthread_mutex_unlock(&mhd_log_lock);
}

/* MHD_OPTION_EXTERNAL_LOGGER: MHD's messages as our JSON log lines, rate-limited (log_limit). */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    uint64_t suppressed = 0;
    const char *kind = NULL;
    pthread_mutex_lock(&mhd_log_lock);
    bool write = log_limit_take(&mhd_log_limit, fmt, time_mono_us() / 1000, &suppressed, &kind);
    if (suppressed) mhd_log_summary(kind, suppressed, NULL);
    pthread_mutex_unlock(&mhd_log_lock);
    if (!write) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n') msg[--n] = '\0';
    log_msg(LOG_WARN, "microhttpd: %s", msg);
}

static idp_err start_daemon(server *sv, const listen_addr *la, struct MHD_Daemon **out,
                            idp_error *err)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = sv->o.threads > 0 ? (unsigned)sv->o.threads : (unsigned)(cores > 0 ? cores : 1);
    /* MHD divides the limit among its threads: each needs at least one */
    unsigned limit = (unsigned)sv->o.max_connections;
    if (limit < threads) limit = threads;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (la->family == AF_INET6) flags |= MHD_USE_IPv6;
    *out = MHD_start_daemon(
        flags, la->port, NULL, NULL, on_access, sv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, /* first, so every message goes through it */
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&la->ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, limit,
        /* one address cannot take every connection (slowloris); 0 = no per-address limit */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)sv->o.max_connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_CONNECTION_TIMEOUT_S,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, sv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, sv,
        MHD_OPTION_END);
    if (!*out) return IDP_FAIL(err, IDP_ERR_IO, "cannot listen on %s (address in use?)", sv->o.listen);
    return IDP_OK;
}

static void announce(struct MHD_Daemon *d, const listen_addr *la)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : la->port;
    if (la->family == AF_INET6)
        printf("idpd listening on http://[%s]:%u\n", la->host, port);
    else
        printf("idpd listening on http://%s:%u\n", la->host, port);
    fflush(stdout);
}

void http_server_stop(http_server *sv)
{
    if (!sv) return;
    atomic_store(&sv->stopping, true);
    if (sv->sweeper_started) pthread_join(sv->sweeper, NULL); /* no shutdown(2) after this */
    if (sv->d) MHD_stop_daemon(sv->d); /* waits for the request threads */
    if (sv->heads_ready) deadline_destroy(&sv->heads);
    free(sv);
}

idp_err http_server_start(const http_server_opts *o, http_dispatch_fn dispatch, void *ctx,
                          http_server **out, idp_error *err)
{
    listen_addr la;
    *out = NULL;
    idp_err rc = listen_parse(o->listen, &la, err);
    if (rc != IDP_OK) return rc;
    server *sv = xcalloc(1, sizeof *sv);
    sv->o = *o;
    sv->dispatch = dispatch;
    sv->ctx = ctx;
    atomic_init(&sv->stopping, false);
    log_requests = o->log_requests;
    deadline_init(&sv->heads, o->request_header_timeout * 1000);
    sv->heads_ready = true;
    if ((rc = start_daemon(sv, &la, &sv->d, err)) != IDP_OK) goto fail;
    if (pthread_create(&sv->sweeper, NULL, sweeper_main, sv) != 0) {
        rc = IDP_FAIL(err, IDP_ERR_INTERNAL, "cannot start the request-head sweeper thread");
        goto fail;
    }
    sv->sweeper_started = true;
    announce(sv->d, &la);
    *out = sv;
    return IDP_OK;
fail:
    http_server_stop(sv);
    return rc;
}
