/* listen — parsing of the `listen` option: "HOST:PORT" with an IPv4 literal or "localhost", or
 * "[IPv6]:PORT"; port 0..65535 (0 = ephemeral). */
#ifndef IDPD_HTTP_LISTEN_H
#define IDPD_HTTP_LISTEN_H

#include "core/err.h"

#include <netinet/in.h>
#include <sys/socket.h>

typedef struct listen_addr {
    int family;                 /* AF_INET or AF_INET6 */
    struct sockaddr_storage ss; /* address and port */
    unsigned short port;
    char host[64];              /* as printed in URLs (without brackets) */
} listen_addr;

/* IDP_ERR_CONFIG with a message naming the value when malformed. */
idp_err listen_parse(const char *s, listen_addr *out, idp_error *err);

#endif
