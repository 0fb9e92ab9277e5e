/* mem — allocation wrappers that abort on out-of-memory (STYLE.md habit 7), and wiping. */
#ifndef IDPD_CORE_MEM_H
#define IDPD_CORE_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Overwrites n bytes at p in a way the compiler cannot elide (OPENSSL_cleanse). */
void mem_wipe(void *p, size_t n);
/* Wipes strlen(s) bytes then frees; accepts NULL. For secrets held in C strings. */
void mem_free_secret(char *s);

#endif
