/* Fuzz target: the RFC 8693 token-exchange parameter parser (proto/token_exchange.c) behind the
 * form parser (http/form.c), and the act nesting on what it accepts. The input is a form body. */
#include "http/form.h"
#include "proto/token_exchange.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 128 * 1024) return 0;
    char *s = malloc(size + 1);
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    form f;
    if (form_parse(&f, s, size, NULL) == IDP_OK) {
        tx_param p[FORM_MAX_PARAMS];
        for (size_t i = 0; i < f.n; i++)
            p[i] = (tx_param){f.params[i].name, f.params[i].value};
        tx_request r;
        if (token_exchange_parse(p, f.n, &r, NULL) == IDP_OK) {
            if (!r.subject_token || r.subject_type == TX_TYPE_NONE) abort();
            if (!r.actor_token != (r.actor_type == TX_TYPE_NONE)) abort();
            if (r.ntargets > RESOURCE_MAX) abort();
            for (size_t i = 0; i < r.ntargets; i++)
                if (!r.targets[i] || !r.targets[i][0]) abort();
            /* a subject token that is JSON text: treat it as a prior act chain */
            json_t *prior = json_loads(r.subject_token, JSON_DECODE_ANY, NULL);
            json_t *act = NULL;
            if (token_exchange_act(r.actor_token, r.scope, prior, &act, NULL) == IDP_OK && act) {
                if (!json_is_object(act)) abort();
                idp_buf b;
                buf_init(&b, 0);
                if (token_exchange_extra_claims(prior, NULL, act, &b, NULL) == IDP_OK && b.len &&
                    b.data[0] != ',')
                    abort();
                buf_free(&b);
            }
            json_decref(act);
            json_decref(prior);
        }
    }
    free(s);
    return 0;
}
