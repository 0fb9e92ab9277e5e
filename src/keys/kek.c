/* kek — the master key: file handling, AES-256-GCM sealing of private keys, HKDF derivation.
 * The key bytes live only in struct kek and in stack buffers that are wiped before return. */
#include "keys/kek.h"

#include "core/b64url.h"
#include "core/jsonx.h"
#include "core/mem.h"
#include "core/rand.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEK_LEN 32
#define KEK_VERSION 0x01
#define KEK_NONCE_LEN 12
#define KEK_TAG_LEN 16
#define KEK_OVERHEAD (1 + KEK_NONCE_LEN + KEK_TAG_LEN)
#define KEK_MAX_PT (1u << 20)  /* a PKCS#8 RSA-8192 key is ~5 KB */
#define KEK_FILE_MAX 256       /* 43 characters and a newline; anything much larger is wrong */
#define KEK_ENV "IDPD_MASTER_KEY"

struct kek {
    unsigned char key[KEK_LEN];
};

idp_err kek_create_file(const char *path, idp_error *err)
{
    unsigned char raw[KEK_LEN];
    char text[64];
    idp_err rc = IDP_OK;
    /* O_EXCL: never overwrite an existing master key (that would orphan every sealed key). */
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return IDP_FAIL(err, IDP_ERR_CONFLICT, "master key file %s already exists", path);
        return IDP_FAIL(err, IDP_ERR_IO, "cannot create master key file %s: %s", path,
                        strerror(errno));
    }
    rand_bytes(raw, sizeof raw);
    b64url_encode_to(text, raw, sizeof raw);
    size_t len = strlen(text);
    text[len++] = '\n';
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    if (off != len || fsync(fd) != 0) {
        rc = IDP_FAIL(err, IDP_ERR_IO, "cannot write master key file %s: %s", path,
                      strerror(errno));
        unlink(path);
    }
    close(fd);
    mem_wipe(raw, sizeof raw);
    mem_wipe(text, sizeof text);
    return rc;
}

/* Decodes s[0..n) (trailing CR/LF ignored) into a new kek. */
static idp_err kek_parse(const char *s, size_t n, const char *origin, kek **out, idp_error *err)
{
    unsigned char raw[KEK_LEN + 4];
    size_t rawlen = 0;
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
    if (n != b64url_encoded_len(KEK_LEN) ||
        b64url_decode_to(s, n, raw, sizeof raw, &rawlen) != IDP_OK || rawlen != KEK_LEN) {
        mem_wipe(raw, sizeof raw);
        return IDP_FAIL(err, IDP_ERR_CONFIG,
                        "master key in %s must be base64url of exactly 32 bytes", origin);
    }
    kek *k = xmalloc(sizeof *k);
    memcpy(k->key, raw, KEK_LEN);
    mem_wipe(raw, sizeof raw);
    *out = k;
    return IDP_OK;
}

static idp_err kek_read_file(const char *path, char *buf, size_t cap, size_t *len, idp_error *err)
{
    struct stat sb;
    idp_err rc = IDP_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return IDP_FAIL(err, IDP_ERR_NOT_FOUND, "master key file %s does not exist", path);
        return IDP_FAIL(err, IDP_ERR_IO, "cannot open master key file %s: %s", path,
                        strerror(errno));
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = IDP_FAIL(err, IDP_ERR_CONFIG, "master key file %s is not a regular file", path);
        goto out;
    }
    if (sb.st_mode & 077) {
        rc = IDP_FAIL(err, IDP_ERR_CONFIG,
                      "master key file %s is accessible by group or others; run: chmod 600 %s",
                      path, path);
        goto out;
    }
    *len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + *len, cap - *len);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = IDP_FAIL(err, IDP_ERR_IO, "cannot read master key file %s: %s", path,
                          strerror(errno));
            goto out;
        }
        if (r == 0) break;
        *len += (size_t)r;
        if (*len == cap) {
            rc = IDP_FAIL(err, IDP_ERR_CONFIG, "master key file %s is too large", path);
            goto out;
        }
    }
out:
    close(fd);
    return rc;
}

idp_err kek_load(const char *path, kek **out, idp_error *err)
{
    char buf[KEK_FILE_MAX];
    size_t len = 0;
    *out = NULL;
    const char *env = getenv(KEK_ENV);
    if (env && *env) return kek_parse(env, strlen(env), KEK_ENV, out, err);
    if (!path || !*path) return IDP_FAIL(err, IDP_ERR_CONFIG, "no master key file configured");
    idp_err rc = kek_read_file(path, buf, sizeof buf, &len, err);
    if (!rc) rc = kek_parse(buf, len, path, out, err);
    mem_wipe(buf, sizeof buf);
    return rc;
}

void kek_free(kek *k)
{
    if (!k) return;
    mem_wipe(k, sizeof *k);
    free(k);
}

/* One AES-256-GCM pass. enc: pt -> ct and tag out; !enc: ct -> pt, tag checked. The version byte
 * is authenticated together with the caller's aad, so neither can be changed undetected. */
static idp_err kek_gcm(const kek *k, int enc, const unsigned char *nonce, const char *aad,
                       const unsigned char *in, size_t n, unsigned char *out, unsigned char *tag,
                       idp_error *err)
{
    static const unsigned char version = KEK_VERSION;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    idp_err rc = IDP_OK;
    int l = 0, fl = 0;
    size_t aadlen = aad ? strlen(aad) : 0;
    if (!ctx || n > INT32_MAX || aadlen > INT32_MAX ||
        EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), k->key, nonce, enc, NULL) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &l, &version, 1) != 1 ||
        (aadlen && EVP_CipherUpdate(ctx, NULL, &l, (const unsigned char *)aad, (int)aadlen) != 1) ||
        (n && EVP_CipherUpdate(ctx, out, &l, in, (int)n) != 1) ||
        (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KEK_TAG_LEN, tag) != 1)) {
        rc = IDP_FAIL(err, IDP_ERR_CRYPTO, "AES-256-GCM setup failed");
        goto out;
    }
    if (EVP_CipherFinal_ex(ctx, out + (n ? l : 0), &fl) != 1) {
        /* Decrypting, this is the tag check: wrong key, wrong aad or a modified blob. */
        rc = IDP_FAIL(err, IDP_ERR_CRYPTO,
                      enc ? "AES-256-GCM failed" : "sealed data does not authenticate");
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KEK_TAG_LEN, tag) != 1)
        rc = IDP_FAIL(err, IDP_ERR_CRYPTO, "AES-256-GCM tag failed");
out:
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

idp_err kek_seal(const kek *k, const char *aad, const unsigned char *pt, size_t n,
                 unsigned char **ct, size_t *ctlen, idp_error *err)
{
    *ct = NULL;
    *ctlen = 0;
    if (n > KEK_MAX_PT) return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "data to seal is too large");
    size_t total = KEK_OVERHEAD + n;
    unsigned char *o = xmalloc(total);
    o[0] = KEK_VERSION;
    rand_bytes(o + 1, KEK_NONCE_LEN); /* random 96-bit nonce: fine for far fewer than 2^32 seals */
    idp_err rc = kek_gcm(k, 1, o + 1, aad, pt, n, o + 1 + KEK_NONCE_LEN,
                         o + 1 + KEK_NONCE_LEN + n, err);
    if (rc) {
        mem_wipe(o, total);
        free(o);
        return rc;
    }
    *ct = o;
    *ctlen = total;
    return IDP_OK;
}

idp_err kek_open(const kek *k, const char *aad, const unsigned char *ct, size_t ctlen,
                 unsigned char **pt, size_t *ptlen, idp_error *err)
{
    *pt = NULL;
    *ptlen = 0;
    if (ctlen < KEK_OVERHEAD || ctlen - KEK_OVERHEAD > KEK_MAX_PT)
        return IDP_FAIL(err, IDP_ERR_CRYPTO, "sealed data has an invalid length");
    if (ct[0] != KEK_VERSION)
        return IDP_FAIL(err, IDP_ERR_CRYPTO, "sealed data has an unknown version");
    size_t n = ctlen - KEK_OVERHEAD;
    unsigned char tag[KEK_TAG_LEN];
    memcpy(tag, ct + 1 + KEK_NONCE_LEN + n, KEK_TAG_LEN);
    unsigned char *o = xmalloc(n + 1);
    idp_err rc = kek_gcm(k, 0, ct + 1, aad, ct + 1 + KEK_NONCE_LEN, n, o, tag, err);
    if (rc) {
        mem_wipe(o, n + 1);
        free(o);
        return rc;
    }
    o[n] = 0;
    *pt = o;
    *ptlen = n;
    return IDP_OK;
}

idp_err kek_derive(const kek *k, const char *label, unsigned char out[32], idp_error *err)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    idp_err rc = IDP_OK;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)k->key, KEK_LEN),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label)),
        OSSL_PARAM_construct_end(),
    };
    if (!kctx || EVP_KDF_derive(kctx, out, 32, params) != 1)
        rc = IDP_FAIL(err, IDP_ERR_CRYPTO, "HKDF failed");
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    ERR_clear_error();
    return rc;
}

idp_err kek_seal_json(const kek *k, const char *aad, const json_t *o, size_t max, char **out,
                      idp_error *err)
{
    *out = NULL;
    char *pt = jsonx_dump(o);
    if (!pt) return IDP_FAIL(err, IDP_ERR_INTERNAL, "cannot serialize the sealed value");
    unsigned char *ct = NULL;
    size_t ctlen = 0;
    idp_err rc = kek_seal(k, aad, (const unsigned char *)pt, strlen(pt), &ct, &ctlen, err);
    mem_free_secret(pt);
    if (rc != IDP_OK) return rc;
    if (b64url_encoded_len(ctlen) > max) {
        free(ct);
        return IDP_FAIL(err, IDP_ERR_TOO_LARGE, "the sealed value is too large");
    }
    *out = b64url_encode(ct, ctlen);
    free(ct);
    return IDP_OK;
}

bool kek_open_json(const kek *k, const char *aad, const char *s, size_t max, size_t depth,
                   json_t **out)
{
    *out = NULL;
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max) return false;
    unsigned char *ct = xmalloc(b64url_decoded_max(n) + 1), *pt = NULL;
    size_t ctlen = 0, ptlen = 0;
    bool ok = b64url_decode_to(s, n, ct, b64url_decoded_max(n) + 1, &ctlen) == IDP_OK &&
              kek_open(k, aad, ct, ctlen, &pt, &ptlen, NULL) == IDP_OK &&
              jsonx_parse((const char *)pt, ptlen, 0, depth, true, out, NULL) == IDP_OK;
    if (pt) {
        mem_wipe(pt, ptlen);
        free(pt);
    }
    free(ct);
    return ok;
}
