/* username — what a userName may be and when two are the same (RFC 8265 §3.3, PRECIS
 * UsernameCaseMapped, as the reference): SCIM's userName is unique "case-insensitively"
 * (RFC 7643 §4.1.1), and two names that look alike once Unicode compatibility forms and case are
 * folded ("alice", "ALICE", full-width "ａlice") must not belong to two users, or one user could
 * display as another. Pure functions, thread-safe. */
#ifndef IDPD_SCIM_USERNAME_H
#define IDPD_SCIM_USERNAME_H

#include "core/err.h"

#define USERNAME_MAX_BYTES 256

/* IDP_OK when name may be a userName: 1..USERNAME_MAX_BYTES bytes of valid UTF-8, no white
 * space at either end, and no control, format (e.g. U+200B zero width space, U+202E bidi
 * override), surrogate, private-use, unassigned, line or paragraph separator code point
 * anywhere. Else IDP_ERR_INVALID with the reason. */
idp_err username_check(const char *name, idp_error *err);

/* The comparison form of a checked name: Unicode NFKC with full case folding (utf8proc).
 * Two userNames conflict when their keys are equal. Owned (free()); NULL when name is not
 * valid UTF-8. */
char *username_key(const char *name);

#endif
