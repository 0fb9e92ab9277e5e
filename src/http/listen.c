#include "http/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

idp_err listen_parse(const char *s, listen_addr *out, idp_error *err)
{
    memset(out, 0, sizeof *out);
    if (!s) return IDP_FAIL(err, IDP_ERR_CONFIG, "listen is not set");
    const char *colon, *host = s;
    size_t hl;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') goto bad;
        host = s + 1;
        hl = (size_t)(rb - host);
        colon = rb + 1;
        out->family = AF_INET6;
    } else {
        colon = strrchr(s, ':');
        if (!colon) goto bad;
        hl = (size_t)(colon - s);
        out->family = AF_INET;
    }
    if (hl == 0 || hl >= sizeof out->host) goto bad;
    memcpy(out->host, host, hl);
    out->host[hl] = '\0';
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 0 || port > 65535) goto bad;
    out->port = (unsigned short)port;
    if (out->family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&out->ss;
        if (strcmp(out->host, "localhost") == 0) memcpy(out->host, "127.0.0.1", 10);
        if (inet_pton(AF_INET, out->host, &in->sin_addr) != 1) goto bad;
        in->sin_family = AF_INET;
        in->sin_port = htons(out->port);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->ss;
        if (inet_pton(AF_INET6, out->host, &in6->sin6_addr) != 1) goto bad;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(out->port);
    }
    return IDP_OK;
bad:
    return IDP_FAIL(err, IDP_ERR_CONFIG, "listen: expected HOST:PORT or [IPV6]:PORT, got \"%s\"", s);
}
