/* relaydesk — receiver: the server's TLS context (see smtp-tls.h). */
#include "smtp-tls.h"
#include "rd-common.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

char *
rd_smtp_tls_error_string (void)
{
  GString *out = g_string_new (NULL);
  unsigned long e;
  while ((e = ERR_get_error ()) != 0)
    {
      char buf[256];
      ERR_error_string_n (e, buf, sizeof buf);
      if (out->len < 512)
        g_string_append_printf (out, "%s%s", out->len ? "; " : "", buf);
    }
  if (out->len == 0)
    g_string_append (out, "unknown TLS error");
  return g_string_free (out, FALSE);
}

static gboolean
tls_fail (GError **error, const char *what)
{
  g_autofree char *detail = rd_smtp_tls_error_string ();
  g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%s: %s", what, detail);
  return FALSE;
}

static gboolean
add_ext (X509 *cert, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb (&ctx);
  X509V3_set_ctx (&ctx, cert, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid (NULL, &ctx, nid, value);
  if (ext == NULL)
    return FALSE;
  int ok = X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  return ok == 1;
}

/* Serialises with @write into memory and writes @path atomically. */
static gboolean
write_pem (const char *path, int mode, int (*write) (BIO *, void *), void *obj, GError **error)
{
  BIO *bio = BIO_new (BIO_s_mem ());
  if (bio == NULL || !write (bio, obj))
    {
      BIO_free (bio);
      return tls_fail (error, "cannot encode PEM");
    }
  char *data = NULL;
  long len = BIO_get_mem_data (bio, &data);
  gboolean ok = g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_CONSISTENT, mode, error);
  BIO_free (bio);
  return ok;
}

static int write_cert (BIO *b, void *o) { return PEM_write_bio_X509 (b, o); }
static int write_key (BIO *b, void *o) { return PEM_write_bio_PrivateKey (b, o, NULL, NULL, 0, NULL, NULL); }

gboolean
rd_smtp_tls_generate_self_signed (const char *cert_path, const char *key_path,
                                  const char *hostname, GError **error)
{
  EVP_PKEY *key = EVP_EC_gen ("P-256");
  if (key == NULL)
    return tls_fail (error, "cannot generate a key");
  X509 *cert = X509_new ();
  gboolean ok = FALSE;
  g_autofree char *san = g_strdup_printf ("DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname);
  guint8 serial[16];
  if (cert == NULL || RAND_bytes (serial, sizeof serial) != 1)
    goto out;
  serial[0] &= 0x7f;
  BIGNUM *bn = BN_bin2bn (serial, sizeof serial, NULL);
  ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER (bn, NULL) : NULL;
  BN_free (bn);
  if (sn == NULL)
    goto out;
  X509_set_serialNumber (cert, sn);
  ASN1_INTEGER_free (sn);
  X509_set_version (cert, 2);
  X509_gmtime_adj (X509_getm_notBefore (cert), -3600);
  X509_gmtime_adj (X509_getm_notAfter (cert), 10L * 365 * 24 * 3600);
  X509_set_pubkey (cert, key);
  X509_NAME *name = X509_get_subject_name (cert);
  X509_NAME_add_entry_by_txt (name, "O", MBSTRING_UTF8, (const guchar *) "relaydesk (self-signed)", -1, -1, 0);
  X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_UTF8, (const guchar *) hostname, -1, -1, 0);
  X509_set_issuer_name (cert, name);
  if (!add_ext (cert, NID_subject_alt_name, san)
      || !add_ext (cert, NID_basic_constraints, "critical,CA:FALSE")
      || !add_ext (cert, NID_ext_key_usage, "serverAuth"))
    goto out;
  if (X509_sign (cert, key, EVP_sha256 ()) == 0)
    goto out;
  ok = TRUE;
out:
  if (!ok)
    tls_fail (error, "cannot create a self-signed certificate");
  else if ((ok = write_pem (key_path, 0600, write_key, key, error))
           && !(ok = write_pem (cert_path, 0644, write_cert, cert, error)))
    g_unlink (key_path); /* a key without its certificate is half a pair (e.g. the disk is full) */
  X509_free (cert);
  EVP_PKEY_free (key);
  return ok;
}

void
rd_smtp_tls_files (RdConfig *config, char **cert, char **key, gboolean *generated)
{
  const char *c = rd_config_get_string (config, "tls", "cert_file", NULL);
  const char *k = rd_config_get_string (config, "tls", "key_file", NULL);
  *generated = c == NULL && k == NULL;
  const char *dir = rd_config_get_data_dir (config);
  *cert = c ? g_strdup (c) : g_build_filename (dir, "tls-cert.pem", NULL);
  *key = k ? g_strdup (k) : g_build_filename (dir, "tls-key.pem", NULL);
}

SSL_CTX *
rd_smtp_tls_context_new (RdConfig *config, GError **error)
{
  const char *cert = rd_config_get_string (config, "tls", "cert_file", NULL);
  const char *key = rd_config_get_string (config, "tls", "key_file", NULL);
  g_autofree char *gen_cert = NULL;
  g_autofree char *gen_key = NULL;
  if ((cert == NULL) != (key == NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "[tls] cert_file and key_file go together");
      return NULL;
    }
  if (cert == NULL)
    {
      const char *dir = rd_config_get_data_dir (config);
      gboolean generated = TRUE;
      rd_smtp_tls_files (config, &gen_cert, &gen_key, &generated);
      if (!g_file_test (gen_cert, G_FILE_TEST_EXISTS) || !g_file_test (gen_key, G_FILE_TEST_EXISTS))
        {
          if (g_mkdir_with_parents (dir, 0700) != 0)
            {
              g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "cannot create %s: %s", dir, g_strerror (errno));
              return NULL;
            }
          if (!rd_smtp_tls_generate_self_signed (gen_cert, gen_key, rd_config_get_hostname (config), error))
            return NULL;
          rd_log (RD_LOG_INFO, "tls.generate", "cert=%s key=%s", gen_cert, gen_key);
        }
      cert = gen_cert;
      key = gen_key;
    }
  SSL_CTX *ctx = SSL_CTX_new (TLS_server_method ());
  if (ctx == NULL)
    {
      tls_fail (error, "cannot create TLS context");
      return NULL;
    }
  const char *min = rd_config_get_string (config, "tls", "min_version", "TLSv1.2");
  int minv = !strcmp (min, "TLSv1.3") ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (strcmp (min, "TLSv1.3") != 0 && strcmp (min, "TLSv1.2") != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "[tls] min_version: TLSv1.2 or TLSv1.3, not '%s'", min);
      SSL_CTX_free (ctx);
      return NULL;
    }
  SSL_CTX_set_min_proto_version (ctx, minv);
  SSL_CTX_set_options (ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode (ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode (ctx, SSL_SESS_CACHE_SERVER);
  static const unsigned char sid_ctx[] = "relaydesk";
  SSL_CTX_set_session_id_context (ctx, sid_ctx, sizeof sid_ctx - 1);
  if (SSL_CTX_use_certificate_chain_file (ctx, cert) != 1)
    {
      g_autofree char *what = g_strdup_printf ("cannot load certificate %s", cert);
      tls_fail (error, what);
      SSL_CTX_free (ctx);
      return NULL;
    }
  if (SSL_CTX_use_PrivateKey_file (ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key (ctx) != 1)
    {
      g_autofree char *what = g_strdup_printf ("cannot load key %s", key);
      tls_fail (error, what);
      SSL_CTX_free (ctx);
      return NULL;
    }
  return ctx;
}
