#include "server/run.h"

#include "core/log.h"
#include "http/listen.h"
#include "http/server.h"
#include "server/app.h"
#include "server/dispatch.h"

#include <pthread.h>
#include <signal.h>

idp_err server_run(const cfg *c, idp_error *err)
{
    struct app a = {0};
    http_server *srv = NULL;
    listen_addr la;
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    /* Blocked before any thread starts, so every thread inherits the mask and sigwait below is
     * the only place these signals are taken. */
    pthread_sigmask(SIG_BLOCK, &stop, &old);
    log_level lvl = log_level_from_name(c->log_level);
    log_set_level(lvl);
    /* a malformed listen address is reported before anything is opened */
    idp_err rc = listen_parse(c->listen, &la, err);
    if (rc != IDP_OK) goto out;
    if ((rc = app_init(&a, c, err)) != IDP_OK) goto out;
    if ((rc = app_start_background(&a, err)) != IDP_OK) goto out;
    const http_server_opts o = {
        .listen = c->listen,
        .threads = c->threads,
        .max_connections = c->max_connections,
        .max_connections_per_ip = c->max_connections_per_ip,
        .max_body = c->max_body,
        .request_header_timeout = c->request_header_timeout,
        .log_requests = lvl <= LOG_INFO,
        .trusted_proxies = &a.trusted_proxies,
    };
    if ((rc = http_server_start(&o, dispatch_request, &a, &srv, err)) != IDP_OK) goto out;
    log_msg(LOG_INFO, "serving %s as issuer %s", c->listen, c->issuer);
    int sig = 0;
    for (;;) {
        if (sigwait(&stop, &sig) != 0) continue;
        if (sig != SIGHUP) break;
        app_request_reload(&a); /* policy_file and snapshots, on the background thread */
    }
    log_msg(LOG_INFO, "signal %d: shutting down", sig);
out:
    http_server_stop(srv); /* waits for the request threads */
    app_free(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
