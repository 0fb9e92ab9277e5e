/* Unit tests for src/keys/kek.c: master key file, AES-256-GCM sealing, HKDF derivation. */
#include "testutil.h"

#include "core/b64url.h"
#include "core/err.h"
#include "keys/kek.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fx {
    char *dir;
    char path[4096];
    kek *k;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    unsetenv("IDPD_MASTER_KEY");
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/master.key", f->dir);
    assert_int_equal(kek_create_file(f->path, NULL), IDP_OK);
    assert_int_equal(kek_load(f->path, &f->k, NULL), IDP_OK);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    unsetenv("IDPD_MASTER_KEY");
    kek_free(f->k);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static void file_format_and_mode(void **state)
{
    fx *f = *state;
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    size_t len = 0;
    char *text = tu_read_file(f->path, &len);
    assert_int_equal(len, 44); /* 43 base64url characters + newline */
    assert_int_equal(text[43], '\n');
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    assert_int_equal(b64url_decode(text, 43, &raw, &rawlen), IDP_OK);
    assert_int_equal(rawlen, 32);
    free(raw);
    free(text);
}

static void seal_roundtrip(void **state)
{
    fx *f = *state;
    const char *msg = "PKCS#8 bytes \x00\x01 and more";
    size_t n = 27;
    unsigned char *ct = NULL, *pt = NULL;
    size_t ctlen = 0, ptlen = 0;
    assert_int_equal(kek_seal(f->k, "kid-1", (const unsigned char *)msg, n, &ct, &ctlen, NULL),
                     IDP_OK);
    assert_int_equal(ctlen, 1 + 12 + n + 16);
    assert_int_equal(ct[0], 0x01);
    assert_null(memmem(ct, ctlen, "PKCS#8", 6)); /* actually encrypted */
    assert_int_equal(kek_open(f->k, "kid-1", ct, ctlen, &pt, &ptlen, NULL), IDP_OK);
    assert_int_equal(ptlen, n);
    assert_memory_equal(pt, msg, n);
    free(pt);

    /* Two seals of the same data differ (random nonce). */
    unsigned char *ct2 = NULL;
    size_t ct2len = 0;
    assert_int_equal(kek_seal(f->k, "kid-1", (const unsigned char *)msg, n, &ct2, &ct2len, NULL),
                     IDP_OK);
    assert_int_equal(ct2len, ctlen);
    assert_memory_not_equal(ct, ct2, ctlen);
    free(ct2);

    /* Empty plaintext is fine too. */
    assert_int_equal(kek_seal(f->k, "x", (const unsigned char *)"", 0, &ct2, &ct2len, NULL),
                     IDP_OK);
    assert_int_equal(kek_open(f->k, "x", ct2, ct2len, &pt, &ptlen, NULL), IDP_OK);
    assert_int_equal(ptlen, 0);
    free(pt);
    free(ct2);
    free(ct);
}

static void open_rejects(void **state)
{
    fx *f = *state;
    const unsigned char msg[] = "secret key material";
    unsigned char *ct = NULL, *pt = NULL;
    size_t ctlen = 0, ptlen = 0;
    idp_error e = {0};
    assert_int_equal(kek_seal(f->k, "kid-1", msg, sizeof msg, &ct, &ctlen, NULL), IDP_OK);

    /* wrong aad: the blob is bound to its kid */
    assert_int_equal(kek_open(f->k, "kid-2", ct, ctlen, &pt, &ptlen, &e), IDP_ERR_CRYPTO);
    assert_null(pt);
    assert_int_equal(kek_open(f->k, NULL, ct, ctlen, &pt, &ptlen, &e), IDP_ERR_CRYPTO);

    /* every single flipped bit is detected: version, nonce, ciphertext, tag */
    for (size_t i = 0; i < ctlen; i++) {
        ct[i] ^= 0x04;
        assert_int_equal(kek_open(f->k, "kid-1", ct, ctlen, &pt, &ptlen, &e), IDP_ERR_CRYPTO);
        assert_null(pt);
        ct[i] ^= 0x04;
    }
    /* truncated */
    assert_int_equal(kek_open(f->k, "kid-1", ct, ctlen - 1, &pt, &ptlen, &e), IDP_ERR_CRYPTO);
    assert_int_equal(kek_open(f->k, "kid-1", ct, 28, &pt, &ptlen, &e), IDP_ERR_CRYPTO);

    /* wrong key */
    char other[4096];
    snprintf(other, sizeof other, "%s/other.key", f->dir);
    kek *k2 = NULL;
    assert_int_equal(kek_create_file(other, NULL), IDP_OK);
    assert_int_equal(kek_load(other, &k2, NULL), IDP_OK);
    assert_int_equal(kek_open(k2, "kid-1", ct, ctlen, &pt, &ptlen, &e), IDP_ERR_CRYPTO);
    assert_null(pt);
    kek_free(k2);

    /* untouched: still opens */
    assert_int_equal(kek_open(f->k, "kid-1", ct, ctlen, &pt, &ptlen, NULL), IDP_OK);
    assert_memory_equal(pt, msg, sizeof msg);
    free(pt);
    free(ct);
}

static void file_rules(void **state)
{
    fx *f = *state;
    idp_error e = {0};
    kek *k = NULL;

    /* an existing file is never overwritten */
    size_t len0 = 0;
    char *before = tu_read_file(f->path, &len0);
    assert_int_equal(kek_create_file(f->path, &e), IDP_ERR_CONFLICT);
    char *after = tu_read_file(f->path, NULL);
    assert_string_equal(before, after);
    free(after);

    /* group/other readable -> refused, with advice to chmod 600 */
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(kek_load(f->path, &k, &e), IDP_ERR_CONFIG);
    assert_null(k);
    assert_non_null(strstr(e.msg, "chmod 600"));
    assert_int_equal(chmod(f->path, 0640), 0);
    assert_int_equal(kek_load(f->path, &k, &e), IDP_ERR_CONFIG);
    assert_int_equal(chmod(f->path, 0600), 0);
    assert_int_equal(kek_load(f->path, &k, NULL), IDP_OK);
    kek_free(k);

    char p[4096];
    snprintf(p, sizeof p, "%s/missing.key", f->dir);
    assert_int_equal(kek_load(p, &k, &e), IDP_ERR_NOT_FOUND);

    /* malformed content: wrong length, bad alphabet, padding, trailing junk */
    const char *bad[] = {"", "AAAA\n", "not base64url at all!!!!!!!!!!!!!!!!!!!!!!!\n",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"};
    snprintf(p, sizeof p, "%s/bad.key", f->dir);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(p, bad[i], 0600);
        assert_int_equal(kek_load(p, &k, &e), IDP_ERR_CONFIG);
        assert_null(k);
    }
    /* the key never appears in an error message */
    before[43] = '\0';
    write_file(p, before, 0644);
    assert_int_equal(kek_load(p, &k, &e), IDP_ERR_CONFIG);
    assert_null(strstr(e.msg, before));
    free(before);
}

static void env_override(void **state)
{
    fx *f = *state;
    unsigned char raw[32];
    for (int i = 0; i < 32; i++) raw[i] = (unsigned char)i;
    char *text = b64url_encode(raw, sizeof raw);
    setenv("IDPD_MASTER_KEY", text, 1);
    kek *envk = NULL, *envk2 = NULL;
    idp_error e = {0};
    /* the env wins even when the path does not exist */
    assert_int_equal(kek_load("/nonexistent/master.key", &envk, NULL), IDP_OK);
    assert_int_equal(kek_load(f->path, &envk2, NULL), IDP_OK);
    unsigned char a[32], b[32], c[32];
    assert_int_equal(kek_derive(envk, "label", a, NULL), IDP_OK);
    assert_int_equal(kek_derive(envk2, "label", b, NULL), IDP_OK);
    assert_int_equal(kek_derive(f->k, "label", c, NULL), IDP_OK);
    assert_memory_equal(a, b, 32);
    assert_memory_not_equal(a, c, 32);
    /* a blob sealed under the env key opens only with it */
    unsigned char *ct = NULL, *pt = NULL;
    size_t ctlen = 0, ptlen = 0;
    assert_int_equal(kek_seal(envk, "a", (const unsigned char *)"xy", 2, &ct, &ctlen, NULL), IDP_OK);
    assert_int_equal(kek_open(envk2, "a", ct, ctlen, &pt, &ptlen, NULL), IDP_OK);
    free(pt);
    assert_int_equal(kek_open(f->k, "a", ct, ctlen, &pt, &ptlen, &e), IDP_ERR_CRYPTO);
    free(ct);
    kek_free(envk);
    kek_free(envk2);

    setenv("IDPD_MASTER_KEY", "tooshort", 1);
    assert_int_equal(kek_load(f->path, &envk, &e), IDP_ERR_CONFIG);
    assert_null(envk);
    assert_null(strstr(e.msg, "tooshort"));
    unsetenv("IDPD_MASTER_KEY");
    free(text);
    kek_free(NULL);
}

static void derive_rules(void **state)
{
    fx *f = *state;
    unsigned char a[32], b[32], c[32];
    assert_int_equal(kek_derive(f->k, "idpd client-secret pepper v1", a, NULL), IDP_OK);
    assert_int_equal(kek_derive(f->k, "idpd client-secret pepper v1", b, NULL), IDP_OK);
    assert_memory_equal(a, b, 32);
    assert_int_equal(kek_derive(f->k, "idpd client-secret pepper v2", c, NULL), IDP_OK);
    assert_memory_not_equal(a, c, 32);

    /* RFC 5869 HKDF-SHA-256 with an empty salt, checked against a fixed master key: derived
     * independently with OpenSSL's command line:
     *   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:00..1f \
     *               -kdfopt info:label HKDF */
    unsigned char raw[32];
    for (int i = 0; i < 32; i++) raw[i] = (unsigned char)i;
    char *text = b64url_encode(raw, sizeof raw);
    setenv("IDPD_MASTER_KEY", text, 1);
    kek *k = NULL;
    assert_int_equal(kek_load(NULL, &k, NULL), IDP_OK);
    unsetenv("IDPD_MASTER_KEY");
    assert_int_equal(kek_derive(k, "label", a, NULL), IDP_OK);
    static const unsigned char want[32] = {
        0x47, 0x9d, 0xd8, 0x4d, 0x16, 0x3d, 0xf1, 0x78, 0x25, 0x66, 0xe1, 0x80, 0x3f, 0xaf, 0x19, 0x9e,
        0x24, 0xd3, 0xaf, 0x4d, 0xcc, 0x11, 0x9c, 0x29, 0x9d, 0xc0, 0x19, 0x0b, 0x1c, 0x46, 0x19, 0x8f};
    assert_memory_equal(a, want, 32);
    kek_free(k);
    free(text);
}

/* A JSON object sealed for a browser round trip: base64url, bound to its aad, capped. */
static void seal_json(void **state)
{
    fx *f = *state;
    json_t *o = json_pack("{s:s, s:I}", "a", "secret-state", "x", (json_int_t)42);
    char *s = NULL;
    assert_int_equal(kek_seal_json(f->k, "use-1", o, 4096, &s, NULL), IDP_OK);
    assert_null(strstr(s, "secret-state"));
    for (const char *c = s; *c; c++) assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *c));
    json_t *back = NULL;
    assert_true(kek_open_json(f->k, "use-1", s, 4096, 4, &back));
    assert_true(json_equal(o, back));
    json_decref(back);
    assert_false(kek_open_json(f->k, "use-2", s, 4096, 4, &back)); /* another use */
    assert_null(back);
    assert_false(kek_open_json(f->k, "use-1", s, strlen(s) - 1, 4, &back)); /* over the cap */
    assert_false(kek_open_json(f->k, "use-1", "", 4096, 4, &back));
    assert_false(kek_open_json(f->k, "use-1", NULL, 4096, 4, &back));
    assert_false(kek_open_json(f->k, "use-1", "!!!", 4096, 4, &back));
    s[strlen(s) / 2] = s[strlen(s) / 2] == 'A' ? 'B' : 'A'; /* tampered */
    assert_false(kek_open_json(f->k, "use-1", s, 4096, 4, &back));
    free(s);
    idp_error e = {0};
    assert_int_equal(kek_seal_json(f->k, "use-1", o, 20, &s, &e), IDP_ERR_TOO_LARGE);
    assert_null(s);
    /* a sealed non-object is refused on open */
    json_t *arr = json_pack("[i]", 1);
    assert_int_equal(kek_seal_json(f->k, "use-1", arr, 4096, &s, NULL), IDP_OK);
    assert_false(kek_open_json(f->k, "use-1", s, 4096, 4, &back));
    free(s);
    json_decref(arr);
    json_decref(o);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(file_format_and_mode), T(seal_roundtrip), T(open_rejects),
        T(file_rules),           T(env_override),   T(derive_rules),
        T(seal_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
