/* Fuzz target: the SCIM HTTP request parsers (src/handle/scim/scim_list.c, scim_render.c): entity-tag
 * lists (If-Match / If-None-Match), SearchRequest bodies, attribute-list wishes. The first byte
 * selects the parser ('E': entity tags, 'S': SearchRequest JSON, anything else: attributes).
 * Invariants: "*" alone matches every version; a parsed list is clamped. */
#include "core/jsonx.h"
#include "handle/scim/scim_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 64 * 1024) return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] == 'E') {
        bool a = scim_render_etag_list_match(s, 1), b = scim_render_etag_list_match(s, 12345);
        if (strcmp(s, "*") == 0 && !(a && b)) abort();
    } else if (data[0] == 'S') {
        json_t *body = NULL;
        scim_list l;
        if (jsonx_parse(s, size - 1, 0, 0, true, &body, NULL) == IDP_OK &&
            scim_list_from_search(body, &scim_rt_user, &l, NULL) == IDP_OK) {
            if (l.start_index < 1 || l.count < 0 || l.count > SCIM_LIST_MAX_COUNT) abort();
            scim_list_clear(&l);
        }
        json_decref(body);
    } else {
        (void)scim_list_wants(s, NULL, SCIM_URN_GROUP, "members");
        (void)scim_list_wants(NULL, s, SCIM_URN_GROUP, "members");
    }
    free(s);
    return 0;
}
