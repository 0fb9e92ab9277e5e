/* fuzz_json — jsonx_parse (strict JSON: duplicates, depth cap, UTF-8) on arbitrary bytes, in
 * both object-only and any-value modes; accepted documents must re-serialize and re-parse. */
#include "core/jsonx.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    if (jsonx_parse((const char *)data, size, 1u << 20, 0, size % 2, &v, NULL) == IDP_OK) {
        char *s = jsonx_dump(v);
        json_t *w = NULL;
        if (jsonx_parse(s, strlen(s), 0, 0, false, &w, NULL) != IDP_OK || !json_equal(v, w)) abort();
        (void)jsonx_str(v, "a");
        int64_t n;
        (void)jsonx_int(v, "a", &n);
        json_decref(w);
        free(s);
        json_decref(v);
    }
    return 0;
}
