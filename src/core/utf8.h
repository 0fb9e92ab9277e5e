/* utf8 — strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF, and
 * no NUL byte. Pure functions, thread-safe. */
#ifndef IDPD_CORE_UTF8_H
#define IDPD_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Offset of the first byte of s[0..n) that is not part of valid UTF-8 (or is NUL), or n. */
size_t utf8_check(const unsigned char *s, size_t n);

/* True when the NUL-terminated s is valid UTF-8; false for NULL. */
bool utf8_valid(const char *s);

#endif
