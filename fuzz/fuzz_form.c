/* Fuzz target: the form-urlencoded parser (http/form.c) and the HTTP Basic credentials parser
 * (http/basic.c). The first byte selects the parser ('B': Basic, anything else: form); the rest is the input. */
#include "http/basic.h"
#include "http/form.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 128 * 1024) return 0;
    char *s = malloc(size); /* size - 1 bytes of input + NUL */
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] == 'B') {
        basic_creds c;
        if (basic_parse(s, &c, NULL) == IDP_OK) {
            if (strlen(c.id) != c.id_len || c.id_len == 0) abort();
            if (c.secret_len > sizeof c.buf) abort();
        }
        basic_clear(&c);
    } else {
        form f;
        if (form_parse(&f, s, size - 1, NULL) == IDP_OK) {
            for (size_t i = 0; i < f.n; i++) {
                if (strlen(f.params[i].value) != f.params[i].value_len) abort();
                if (f.params[i].value_len == 0 || f.params[i].name[0] == '\0') abort();
                if (form_get(&f, f.params[i].name) == NULL) abort();
            }
            (void)form_check_unique(&f, NULL, NULL);
        }
    }
    free(s);
    return 0;
}
