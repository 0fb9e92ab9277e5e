/* delta — a change to a group's member set without rewriting the group (RFC 7644 §3.5.2 on
 * "members"). scim_patch_apply and scim_resource_normalize build one; the store applies it
 * (store.h group_create / group_replace). Pure: no store, no HTTP. */
#ifndef IDPD_SCIM_DELTA_H
#define IDPD_SCIM_DELTA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct scim_delta {
    bool replace_all; /* drop every current member first (PUT, or PATCH replace of members) */
    char **add;       /* user ids to add (owned) */
    size_t nadd;
    char **remove; /* user ids to remove (owned) */
    size_t nremove;
} scim_delta;

/* Frees the id lists and zeroes *d; accepts NULL. */
void scim_delta_clear(scim_delta *d);
/* Append a copy of user_id. They do not deduplicate: the builders emit add and remove lists that
 * are already duplicate-free and disjoint. */
void scim_delta_add(scim_delta *d, const char *user_id);
void scim_delta_remove(scim_delta *d, const char *user_id);

#endif
