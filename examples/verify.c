/* examples/verify.c — verify one idpd access token with libidpd-verify (docs/VERIFY.md).
 *   cc verify.c $(pkg-config --cflags --libs idpd-verify) -o verify
 *   ./verify ISSUER AUDIENCE JWKS_URI|FILE|- TOKEN     ("-": issuer discovery)
 * Prints sub and scope and exits 0, or prints the error and exits 1. http:// is allowed to
 * loopback hosts only (for trying it against a local idpd). */
#include <idpd/verify.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s ISSUER AUDIENCE JWKS_URI|FILE|- TOKEN\n", argv[0]);
        return 1;
    }
    const char *aud[] = {argv[2]};
    idpd_verify_options o;
    idpd_verify_options_init(&o);
    o.issuer = argv[1];
    o.audiences = aud;
    o.naudiences = 1;
    o.allow_http_loopback = true;
    if (!strncmp(argv[3], "http", 4))
        o.jwks_uri = argv[3];
    else if (strcmp(argv[3], "-"))
        o.jwks_file = argv[3];

    idpd_verify *v = NULL;
    idpd_verify_claims *c = NULL;
    idpd_verify_error err;
    if (idpd_verify_new(&o, &v, &err) != IDPD_VERIFY_OK ||
        idpd_verify_token(v, argv[4], strlen(argv[4]), &c, &err) != IDPD_VERIFY_OK) {
        printf("error: %s: %s\n", err.error, err.reason);
        idpd_verify_free(v);
        return 1;
    }
    size_t n = 0;
    char **scope = idpd_verify_claims_strings(c, "scope", &n);
    printf("sub: %s\nscope:", idpd_verify_claims_string(c, "sub"));
    for (size_t i = 0; i < n; i++)
        printf(" %s", scope[i]);
    printf("\n");
    idpd_verify_strings_free(scope);
    idpd_verify_claims_free(c);
    idpd_verify_free(v);
    return 0;
}
