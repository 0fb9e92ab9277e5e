/* timeutil — clocks and durations. */
#ifndef IDPD_CORE_TIMEUTIL_H
#define IDPD_CORE_TIMEUTIL_H

#include "core/err.h"

#include <stdint.h>

int64_t time_now(void);       /* seconds since the epoch (CLOCK_REALTIME) */
int64_t time_now_ms(void);    /* milliseconds since the epoch */
int64_t time_mono_us(void);   /* monotonic microseconds, for measuring */
/* Parses "90", "90s", "15m", "12h", "30d", "2w" into seconds (> 0 required, <= 100 years).
 * IDP_ERR_INVALID otherwise. */
idp_err time_parse_duration(const char *s, int64_t *seconds);
/* Formats t as RFC 3339 UTC ("2026-11-23T08:00:00Z") into out[21]. */
void time_format_rfc3339(int64_t t, char out[21]);

#endif
