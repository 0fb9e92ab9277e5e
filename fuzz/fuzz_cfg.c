/* Fuzz target for the configuration loader (src/core/cfg.c): any byte string given as a YAML
 * config file must either load (and then validate or not) or fail cleanly, without leaks or
 * undefined behaviour, and a failed load must leave the cfg unchanged. */
#include "core/cfg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cfg *c = cfg_new_defaults();
    idp_error e = {0};
    if (cfg_load_string(c, "fuzz.yaml", (const char *)data, size, &e) == IDP_OK) {
        (void)cfg_validate(c, &e);
        FILE *f = fopen("/dev/null", "w");
        if (f) {
            cfg_print(c, f);
            fclose(f);
        }
    } else {
        /* unchanged on failure: the defaults are still there */
        if (strcmp(c->listen, "127.0.0.1:8080") != 0 || c->token_ttl != 300) abort();
        if (memchr(e.msg, '\0', sizeof e.msg) == NULL) abort();
    }
    cfg_free(c);
    return 0;
}
