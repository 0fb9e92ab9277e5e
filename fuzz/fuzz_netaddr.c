/* Fuzz target: the trusted-proxy list and X-Forwarded-For walk (core/netaddr.c). The input is
 * split at the first two newlines: a trusted_proxies list, a peer address, and the rest, whose
 * further newlines separate X-Forwarded-For header values. The client found must be "" or an
 * address that parses back to itself. */
#include "core/netaddr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) return 0;
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    char *list = s, *peer = strchr(list, '\n'), *rest = NULL;
    if (peer) {
        *peer++ = '\0';
        rest = strchr(peer, '\n');
        if (rest) *rest++ = '\0';
    }
    const char *xff[16];
    size_t n = 0;
    for (char *p = rest; p && n < 16;) {
        xff[n++] = p;
        p = strchr(p, '\n');
        if (p) *p++ = '\0';
    }
    netaddr_set set;
    if (netaddr_set_parse(list, &set, NULL) != IDP_OK) set.n = 0;
    char out[NETADDR_STRLEN], again[NETADDR_STRLEN];
    netaddr_client(&set, peer ? peer : "", xff, n, out);
    if (out[0]) {
        netaddr a;
        if (!netaddr_parse(out, strlen(out), &a)) abort();
        netaddr_format(&a, again);
        if (strcmp(out, again) != 0) abort();
    }
    free(s);
    return 0;
}
