/* Moved to verify/token_verify.h (issue 14: libidpd-verify shares the strict path). This
 * forwarding header remains only for src/cli/verify.c, which another branch owns; delete it once
 * that file includes verify/token_verify.h. */
#ifndef IDPD_PROTO_TOKEN_VERIFY_H
#define IDPD_PROTO_TOKEN_VERIFY_H
#include "verify/token_verify.h"
#endif
