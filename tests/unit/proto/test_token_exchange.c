/* Unit tests for src/proto/token_exchange: the RFC 8693 §2.1 request parameters (required ones,
 * token types, actor pairs, requested_token_type, duplicates, targets), the act claim nesting of
 * §4.1 (cleaning, depth cap) and the extra claims of a federated token (registered names
 * protected, the policy's claims winning). */
#include "testutil.h"

#include "core/buf.h"
#include "proto/token_exchange.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define AT TX_TYPE_ACCESS_TOKEN_URN
#define P(n, v) ((tx_param){(n), (v)})

static idp_err parse(const tx_param *p, size_t n, tx_request *r)
{
    return token_exchange_parse(p, n, r, NULL);
}

static void minimal(void **state)
{
    (void)state;
    tx_request r;
    tx_param p[] = {P("grant_type", TX_GRANT_TYPE), P("subject_token", "a.b.c"),
                    P("subject_token_type", AT), P("client_id", "x")};
    assert_int_equal(parse(p, 4, &r), IDP_OK);
    assert_string_equal(r.subject_token, "a.b.c");
    assert_int_equal(r.subject_type, TX_TYPE_ACCESS_TOKEN);
    assert_null(r.actor_token);
    assert_null(r.scope);
    assert_int_equal(r.ntargets, 0);
}

static void token_types(void **state)
{
    (void)state;
    assert_int_equal(token_exchange_type_parse(AT), TX_TYPE_ACCESS_TOKEN);
    assert_int_equal(token_exchange_type_parse(TX_TYPE_ID_TOKEN_URN), TX_TYPE_ID_TOKEN);
    assert_int_equal(token_exchange_type_parse(TX_TYPE_JWT_URN), TX_TYPE_JWT);
    assert_int_equal(token_exchange_type_parse("urn:ietf:params:oauth:token-type:refresh_token"),
                     TX_TYPE_NONE);
    assert_int_equal(token_exchange_type_parse("urn:ietf:params:oauth:token-type:saml2"), TX_TYPE_NONE);
    assert_int_equal(token_exchange_type_parse(AT "x"), TX_TYPE_NONE);
    assert_int_equal(token_exchange_type_parse(NULL), TX_TYPE_NONE);
    tx_request r;
    tx_param p[] = {P("subject_token", "t"), P("subject_token_type", "urn:x")};
    idp_error e = {0};
    assert_int_equal(token_exchange_parse(p, 2, &r, &e), IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_non_null(strstr(e.msg, "subject_token_type"));
}

static void required(void **state)
{
    (void)state;
    tx_request r;
    tx_param a[] = {P("subject_token_type", AT)};
    assert_int_equal(parse(a, 1, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
    tx_param b[] = {P("subject_token", "t")};
    assert_int_equal(parse(b, 1, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
    assert_int_equal(parse(NULL, 0, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
}

static void actor_pairs(void **state)
{
    (void)state;
    tx_request r;
    tx_param only_tok[] = {P("subject_token", "t"), P("subject_token_type", AT),
                           P("actor_token", "a")};
    assert_int_equal(parse(only_tok, 3, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
    tx_param only_type[] = {P("subject_token", "t"), P("subject_token_type", AT),
                            P("actor_token_type", AT)};
    assert_int_equal(parse(only_type, 3, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
    tx_param bad_type[] = {P("subject_token", "t"), P("subject_token_type", AT),
                           P("actor_token", "a"), P("actor_token_type", "urn:nope")};
    assert_int_equal(parse(bad_type, 4, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
    tx_param ok[] = {P("subject_token", "t"), P("subject_token_type", AT), P("actor_token", "a"),
                     P("actor_token_type", TX_TYPE_JWT_URN)};
    assert_int_equal(parse(ok, 4, &r), IDP_OK);
    assert_string_equal(r.actor_token, "a");
    assert_int_equal(r.actor_type, TX_TYPE_JWT);
}

static void requested_type(void **state)
{
    (void)state;
    tx_request r;
    tx_param ok[] = {P("subject_token", "t"), P("subject_token_type", AT),
                     P("requested_token_type", AT)};
    assert_int_equal(parse(ok, 3, &r), IDP_OK);
    tx_param bad[] = {P("subject_token", "t"), P("subject_token_type", AT),
                      P("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token")};
    assert_int_equal(parse(bad, 3, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
    tx_param idt[] = {P("subject_token", "t"), P("subject_token_type", AT),
                      P("requested_token_type", TX_TYPE_ID_TOKEN_URN)};
    assert_int_equal(parse(idt, 3, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
}

static void duplicates_and_targets(void **state)
{
    (void)state;
    tx_request r;
    tx_param dup[] = {P("subject_token", "t"), P("subject_token_type", AT), P("scope", "a"),
                      P("scope", "b")};
    assert_int_equal(parse(dup, 4, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
    tx_param dup2[] = {P("subject_token", "t"), P("subject_token", "u"),
                       P("subject_token_type", AT)};
    assert_int_equal(parse(dup2, 3, &r), IDP_ERR_OAUTH_INVALID_REQUEST);
    tx_param tg[] = {P("subject_token", "t"),     P("audience", "api-a"),
                     P("subject_token_type", AT), P("resource", "https://r.example"),
                     P("audience", "api-b"),      P("scope", "read")};
    assert_int_equal(parse(tg, 6, &r), IDP_OK);
    assert_int_equal(r.ntargets, 3);
    assert_string_equal(r.targets[0], "api-a");
    assert_string_equal(r.targets[1], "https://r.example");
    assert_string_equal(r.targets[2], "api-b");
    assert_string_equal(r.scope, "read");
    tx_param many[RESOURCE_MAX + 3];
    many[0] = P("subject_token", "t");
    many[1] = P("subject_token_type", AT);
    for (size_t i = 0; i <= RESOURCE_MAX; i++)
        many[2 + i] = P("audience", "x");
    assert_int_equal(parse(many, RESOURCE_MAX + 2, &r), IDP_OK);
    assert_int_equal(r.ntargets, RESOURCE_MAX);
    assert_int_equal(parse(many, RESOURCE_MAX + 3, &r), IDP_ERR_OAUTH_INVALID_TARGET);
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT);
}

static void act_simple(void **state)
{
    (void)state;
    json_t *act = NULL;
    assert_int_equal(token_exchange_act("svc", "https://a.example", NULL, &act, NULL), IDP_OK);
    char *s = dump(act);
    assert_string_equal(s, "{\"iss\":\"https://a.example\",\"sub\":\"svc\"}");
    free(s);
    json_decref(act);
    /* no actor and no prior chain: no act */
    assert_int_equal(token_exchange_act(NULL, NULL, NULL, &act, NULL), IDP_OK);
    assert_null(act);
}

static void act_nested(void **state)
{
    (void)state;
    json_t *prior = json_loads("{\"sub\":\"first\",\"iss\":\"https://"
                               "b\",\"extra\":1,\"act\":{\"sub\":\"zero\",\"x\":[1]}}",
                               0, NULL);
    json_t *act = NULL;
    assert_int_equal(token_exchange_act("second", "https://a", prior, &act, NULL), IDP_OK);
    char *s = dump(act);
    assert_string_equal(s, "{\"act\":{\"act\":{\"sub\":\"zero\"},\"iss\":\"https://b\",\"sub\":"
                           "\"first\"},\"iss\":\"https://a\",\"sub\":\"second\"}");
    free(s);
    json_decref(act);
    /* no new actor: the prior chain, cleaned */
    assert_int_equal(token_exchange_act(NULL, NULL, prior, &act, NULL), IDP_OK);
    s = dump(act);
    assert_string_equal(s, "{\"act\":{\"sub\":\"zero\"},\"iss\":\"https://b\",\"sub\":\"first\"}");
    free(s);
    json_decref(act);
    json_decref(prior);
    json_t *bad = json_string("x");
    assert_int_equal(token_exchange_act("a", NULL, bad, &act, NULL), IDP_ERR_INVALID);
    assert_null(act);
    json_decref(bad);
}

static void act_depth(void **state)
{
    (void)state;
    json_t *chain = json_pack("{s:s}", "sub", "leaf");
    for (int i = 1; i < TX_ACT_MAX_DEPTH; i++)
        chain = json_pack("{s:s, s:o}", "sub", "n", "act", chain);
    json_t *act = NULL;
    /* TX_ACT_MAX_DEPTH levels with the new actor on top is one too many */
    assert_int_equal(token_exchange_act(NULL, NULL, chain, &act, NULL), IDP_OK);
    json_decref(act);
    assert_int_equal(token_exchange_act("top", NULL, chain, &act, NULL), IDP_ERR_INVALID);
    assert_null(act);
    json_decref(chain);
}

static void extra_claims(void **state)
{
    (void)state;
    assert_true(token_exchange_claim_reserved("sub"));
    assert_true(token_exchange_claim_reserved("cnf"));
    assert_true(token_exchange_claim_reserved("client_id"));
    assert_false(token_exchange_claim_reserved("email"));
    json_t *mapped =
        json_loads("{\"email\":\"a@b\",\"sub\":\"evil\",\"iss\":\"x\",\"scope\":\"admin\","
                   "\"act\":{\"sub\":\"x\"},\"cnf\":{},\"ns/roles\":[\"admin\"]}",
                   0, NULL);
    json_t *act = json_pack("{s:s}", "sub", "svc");
    idp_buf b;
    buf_init(&b, 0);
    assert_int_equal(token_exchange_extra_claims(mapped, ",\"ns/roles\":[\"viewer\"]", act, &b, NULL), IDP_OK);
    const char *s = buf_cstr(&b);
    assert_int_equal(s[0], ',');
    char *obj = malloc(strlen(s) + 2);
    obj[0] = '{';
    strcpy(obj + 1, s + 1);
    strcat(obj, "}");
    json_t *o = json_loads(obj, JSON_REJECT_DUPLICATES, NULL);
    free(obj);
    assert_non_null(o);
    char *d = dump(o);
    assert_string_equal(d,
                        "{\"act\":{\"sub\":\"svc\"},\"email\":\"a@b\",\"ns/roles\":[\"viewer\"]}");
    free(d);
    json_decref(o);
    /* nothing to add: nothing written */
    buf_reset(&b);
    assert_int_equal(token_exchange_extra_claims(NULL, "", NULL, &b, NULL), IDP_OK);
    assert_int_equal(b.len, 0);
    assert_int_equal(token_exchange_extra_claims(NULL, "{\"a\":1}", NULL, &b, NULL), IDP_ERR_INVALID);
    buf_free(&b);
    json_decref(mapped);
    json_decref(act);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minimal),        cmocka_unit_test(token_types),
        cmocka_unit_test(required),       cmocka_unit_test(actor_pairs),
        cmocka_unit_test(requested_type), cmocka_unit_test(duplicates_and_targets),
        cmocka_unit_test(act_simple),     cmocka_unit_test(act_nested),
        cmocka_unit_test(act_depth),      cmocka_unit_test(extra_claims),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
