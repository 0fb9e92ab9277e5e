/* netaddr — IP addresses, address sets (CIDR lists) and the client address behind trusted
 * reverse proxies (X-Forwarded-For, in the spirit of RFC 7239 §5.2 / §8.3). Pure functions, no
 * allocation beyond netaddr_set_parse. */
#ifndef IDPD_CORE_NETADDR_H
#define IDPD_CORE_NETADDR_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define NETADDR_STRLEN 46   /* INET6_ADDRSTRLEN */
#define NETADDR_SET_MAX 64  /* entries a set may hold */
#define NETADDR_XFF_HOPS 32 /* X-Forwarded-For elements walked at most */

typedef struct netaddr {
    int v6; /* 0: IPv4 in a[0..3]; 1: IPv6 in a[0..15] */
    unsigned char a[16];
} netaddr;

typedef struct netaddr_net {
    netaddr addr;
    int bits; /* prefix length: 0..32 (IPv4), 0..128 (IPv6) */
} netaddr_net;

typedef struct netaddr_set {
    size_t n;
    netaddr_net e[NETADDR_SET_MAX];
} netaddr_set;

/* Parses the n bytes at s as one IPv4 ("192.0.2.1") or IPv6 ("2001:db8::1") address, with
 * surrounding spaces/tabs ignored; an IPv4-mapped IPv6 address (::ffff:192.0.2.1) becomes the
 * IPv4 address, so one host has one text form. false when it is anything else. */
bool netaddr_parse(const char *s, size_t n, netaddr *out);
/* Whether the host part of a URL, host[0..n) (an IPv6 address in brackets, RFC 3986 §3.2.2),
 * names this machine: "localhost", an address in 127.0.0.0/8 or ::1. For the http-on-loopback
 * exceptions (federation's allow_http_loopback). */
bool netaddr_host_loopback(const char *host, size_t n);
/* The canonical text of a (inet_ntop) into out[NETADDR_STRLEN]. */
void netaddr_format(const netaddr *a, char out[NETADDR_STRLEN]);
/* The throttling unit of an address as text into out[NETADDR_STRLEN + 4]: an IPv4 address
 * itself, an IPv6 address as its /64 ("2001:db8:1:2::/64"), the usual assignment to one
 * subscriber (RFC 6177 §2), so that rotating through one's own /64 does not evade a limit. */
void netaddr_throttle_unit(const netaddr *a, char out[NETADDR_STRLEN + 4]);
/* Parses a list of addresses and CIDR prefixes ("127.0.0.1 10.0.0.0/8, ::1 fd00::/8"),
 * separated by spaces or commas; an address alone is a /32 or /128. IDP_ERR_INVALID (out
 * unchanged) naming the first bad entry's position, or when more than NETADDR_SET_MAX entries;
 * an empty list is an empty set. Bits outside the prefix are ignored. */
idp_err netaddr_set_parse(const char *list, netaddr_set *out, idp_error *err);
bool netaddr_set_has(const netaddr_set *s, const netaddr *a);

/* The client address of a request received from peer (text, as the socket gives it), with the
 * X-Forwarded-For header values xff[0..nxff) in the order received (several headers form one
 * comma-separated list, RFC 9110 §5.3). When peer is not in trusted the header is ignored and
 * the client is the peer. Otherwise the list is walked from the right: the first element that
 * is not a trusted address is the client; an element that is not an address stops the walk and
 * the last trusted hop is the client (a proxy cannot vouch for garbage); when every element is
 * trusted (or NETADDR_XFF_HOPS were walked) the left-most trusted hop is the client. out gets
 * the canonical text ("" when peer is not an address and nothing else is known). */
void netaddr_client(const netaddr_set *trusted, const char *peer, const char *const *xff,
                    size_t nxff, char out[NETADDR_STRLEN]);

#endif
