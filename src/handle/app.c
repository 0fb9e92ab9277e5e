#include "handle/app.h"

#include "core/timeutil.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>

const char *const app_snap_names[APP__SNAP_COUNT] = {"keys", "clients", "policy"};

void app_not_ready_reason(struct app *a, char *why, size_t n)
{
    why[0] = '\0';
    pthread_mutex_lock(&a->status_lock);
    if (!atomic_load(&a->store_writable)) {
        snprintf(why, n, "store: writes failing: %s", a->store_why);
    } else {
        for (int s = 0; s < APP__SNAP_COUNT; s++) {
            if (atomic_load(&a->reload[s].ok)) continue;
            snprintf(why, n, "%s: reload failing: %s", app_snap_names[s], a->reload_why[s]);
            break;
        }
    }
    pthread_mutex_unlock(&a->status_lock);
}

bool app_pkey_rate_take(struct app *a, const char *key_id, http_response *rs, idp_error *err)
{
    int64_t retry = 1;
    if (ratelimit_take(a->scim_rl, key_id, time_now_ms(), &retry)) return true;
    char v[24];
    snprintf(v, sizeof v, "%" PRId64, retry);
    response_header_set(rs, "Retry-After", v);
    IDP_FAIL(err, IDP_ERR_RATE_LIMITED, "too many requests for this provisioning key");
    return false;
}
