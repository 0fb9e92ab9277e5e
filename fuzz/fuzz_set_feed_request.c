/* fuzz_set_feed_request — set_feed_parse_request, the transmitter's reading of a poll request
 * (RFC 8936 §2.4), on arbitrary bytes. Checks the contract: an accepted request has maxEvents
 * within 1..SET_FEED_MAX_EVENTS and since -1 or a non-negative seq; a refused one leaves the
 * defaults and a reason; and what a receiver writes (set_feed_request) for the accepted values
 * parses back to the same values. */
#include "verify/set_feed.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int m = 0;
    int64_t since = 0;
    idp_error e = {0};
    idp_err rc = set_feed_parse_request((const char *)data, size, &m, &since, &e);
    if (rc != IDP_OK) {
        if (m != SET_FEED_DEFAULT_EVENTS || since != -1 || e.code != rc || !e.msg[0]) abort();
        return 0;
    }
    if (m < 1 || m > SET_FEED_MAX_EVENTS || since < -1) abort();
    char cur[24] = "";
    if (since >= 0) snprintf(cur, sizeof cur, "%" PRId64, since);
    char *again = set_feed_request(cur, m);
    if (!again) abort();
    int m2 = 0;
    int64_t s2 = 0;
    if (set_feed_parse_request(again, strlen(again), &m2, &s2, NULL) != IDP_OK || m2 != m ||
        s2 != since)
        abort();
    free(again);
    return 0;
}
