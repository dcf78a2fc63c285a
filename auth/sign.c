/* relaydesk — auth: DKIM signing of outbound mail (auth.h).
 *
 * libopendkim signs (Debian 12's 2.11.0~beta2 does RSA-SHA256 and, with
 * OpenSSL 3, Ed25519-SHA256 of RFC 8463: dkim_libfeature
 * DKIM_FEATURE_ED25519); OpenSSL makes keys and the public key for the
 * DNS record: for RSA the DER SubjectPublicKeyInfo (RFC 6376 3.6.1, as
 * opendkim-genkey writes it), for Ed25519 the 32 raw bytes (RFC 8463
 * 4.2). Canonicalization relaxed/relaxed (RFC 6376 3.4.2, 3.4.4).
 */
#include "auth-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* RFC 6376 5.4.1: the fields that SHOULD be signed when present, and
 * those that make up a reply's identity and content; never Received,
 * Return-Path, Comments, Keywords. */
const char *const rd_dkim_signed_fields[] = {
  "From", "Reply-To", "Subject", "Date", "To", "Cc",
  "Resent-Date", "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc",
  "In-Reply-To", "References",
  "List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner", "List-Archive",
  "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
  NULL
};

struct _RdDkimSigner {
  DKIM_LIB *lib;
  char *selector;
  char *domain;
  char *key_pem;
  dkim_alg_t alg;
};

static EVP_PKEY *
read_key (const char *key_file, char **pem, GError **error)
{
  gsize len = 0;
  g_autofree char *text = NULL;
  if (!g_file_get_contents (key_file, &text, &len, error))
    return NULL;
  BIO *bio = BIO_new_mem_buf (text, (int) len);
  EVP_PKEY *key = PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL);
  BIO_free (bio);
  if (key == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%s: not a PEM private key", key_file);
      return NULL;
    }
  int id = EVP_PKEY_get_base_id (key);
  if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%s: the key is neither RSA nor Ed25519", key_file);
      EVP_PKEY_free (key);
      return NULL;
    }
  /* RFC 8301 3.2: RSA keys of at least 1024 bits, 2048 recommended. */
  if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits (key) < 1024)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%s: RSA key of %d bits (at least 1024, RFC 8301)",
                   key_file, EVP_PKEY_get_bits (key));
      EVP_PKEY_free (key);
      return NULL;
    }
  if (pem)
    *pem = g_steal_pointer (&text);
  return key;
}

RdDkimSigner *
rd_dkim_signer_new_for (const char *selector, const char *domain, const char *key_file, GError **error)
{
  if (!selector || !*selector || !domain || !*domain)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "[dkim] key_file needs selector and domain");
      return NULL;
    }
  g_autofree char *pem = NULL;
  EVP_PKEY *key = read_key (key_file, &pem, error);
  if (key == NULL)
    return NULL;
  gboolean ed = EVP_PKEY_get_base_id (key) == EVP_PKEY_ED25519;
  EVP_PKEY_free (key);
  g_autoptr(RdDkimSigner) s = g_new0 (RdDkimSigner, 1);
  s->lib = dkim_init (NULL, NULL);
  if (s->lib == NULL || (ed && !dkim_libfeature (s->lib, DKIM_FEATURE_ED25519)))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%s: this libopendkim cannot sign with %s",
                   key_file, ed ? "Ed25519" : "RSA");
      return NULL;
    }
  s->alg = ed ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256;
  s->selector = g_strdup (selector);
  s->domain = g_ascii_strdown (domain, -1);
  s->key_pem = g_steal_pointer (&pem);
  const char *over[] = { "From", NULL };
  /* libopendkim takes the list itself as the pointer, len = sizeof (char **). */
  if (dkim_options (s->lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS, (void *) rd_dkim_signed_fields,
                    sizeof (char **)) != DKIM_STAT_OK
      || dkim_options (s->lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS, (void *) over, sizeof (char **)) != DKIM_STAT_OK)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "libopendkim: cannot set the signed fields");
      return NULL;
    }
  return g_steal_pointer (&s);
}

RdDkimSigner *
rd_dkim_signer_new (RdConfig *config, GError **error)
{
  const char *key_file = rd_config_get_string (config, "dkim", "key_file", NULL);
  if (key_file == NULL)
    return NULL;
  return rd_dkim_signer_new_for (rd_config_get_string (config, "dkim", "selector", NULL),
                                 rd_config_get_string (config, "dkim", "domain", NULL), key_file, error);
}

void
rd_dkim_signer_free (RdDkimSigner *s)
{
  if (s == NULL)
    return;
  if (s->lib)
    dkim_close (s->lib);
  if (s->key_pem)
    memset (s->key_pem, 0, strlen (s->key_pem));
  g_free (s->key_pem);
  g_free (s->selector);
  g_free (s->domain);
  g_free (s);
}

const char *
rd_dkim_signer_algorithm (RdDkimSigner *s)
{
  return s->alg == DKIM_SIGN_ED25519SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

GBytes *
rd_dkim_sign (RdDkimSigner *s, GBytes *raw, GError **error)
{
  DKIM_STAT st;
  DKIM *d = dkim_sign (s->lib, (const u_char *) "relaydesk", NULL, (dkim_sigkey_t) s->key_pem,
                       (const u_char *) s->selector, (const u_char *) s->domain,
                       DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, s->alg, -1, &st);
  if (d == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "dkim: cannot sign: %s", dkim_getresultstr (st));
      return NULL;
    }
  gsize len;
  const guchar *p = g_bytes_get_data (raw, &len);
  st = dkim_chunk (d, (u_char *) p, len);
  if (st == DKIM_STAT_OK)
    st = dkim_chunk (d, NULL, 0);
  if (st == DKIM_STAT_OK)
    st = dkim_eom (d, NULL);
  u_char *hdr = NULL;
  size_t hlen = 0;
  if (st == DKIM_STAT_OK)
    st = dkim_getsighdr_d (d, strlen ("DKIM-Signature: "), &hdr, &hlen);
  if (st != DKIM_STAT_OK)
    {
      const char *e = dkim_geterror (d);
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "dkim: cannot sign: %s", e ? e : dkim_getresultstr (st));
      dkim_free (d);
      return NULL;
    }
  GByteArray *out = g_byte_array_sized_new ((guint) (len + hlen + 64));
  g_byte_array_append (out, (const guint8 *) "DKIM-Signature: ", 16);
  /* libopendkim folds with bare LF; the wire wants CRLF. */
  for (size_t i = 0; i < hlen; i++)
    {
      if (hdr[i] == '\n' && (i == 0 || hdr[i - 1] != '\r'))
        g_byte_array_append (out, (const guint8 *) "\r", 1);
      g_byte_array_append (out, hdr + i, 1);
    }
  g_byte_array_append (out, (const guint8 *) "\r\n", 2);
  g_byte_array_append (out, p, (guint) len);
  dkim_free (d);
  return g_byte_array_free_to_bytes (out);
}

/* ---- keys and records ------------------------------------------------------ */

/* "v=DKIM1; k=...; p=..." for @key. (transfer full) */
static char *
record_for (EVP_PKEY *key)
{
  g_autofree char *b64 = NULL;
  gboolean ed = EVP_PKEY_get_base_id (key) == EVP_PKEY_ED25519;
  if (ed)
    {
      guchar raw[32];
      size_t n = sizeof raw;
      if (EVP_PKEY_get_raw_public_key (key, raw, &n) != 1)
        return NULL;
      b64 = g_base64_encode (raw, n);
    }
  else
    {
      guchar *der = NULL;
      int n = i2d_PUBKEY (key, &der);
      if (n <= 0)
        return NULL;
      b64 = g_base64_encode (der, (gsize) n);
      OPENSSL_free (der);
    }
  return g_strdup_printf ("v=DKIM1; k=%s; p=%s", ed ? "ed25519" : "rsa", b64);
}

char *
rd_dkim_record_for_key (const char *key_file, GError **error)
{
  EVP_PKEY *key = read_key (key_file, NULL, error);
  if (key == NULL)
    return NULL;
  char *r = record_for (key);
  EVP_PKEY_free (key);
  if (r == NULL)
    g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "%s: cannot export the public key", key_file);
  return r;
}

char *
rd_dkim_keygen (RdDkimKeyType type, const char *key_file, GError **error)
{
  EVP_PKEY *key = type == RD_DKIM_KEY_ED25519 ? EVP_PKEY_Q_keygen (NULL, NULL, "ED25519")
                                              : EVP_PKEY_Q_keygen (NULL, NULL, "RSA", (size_t) 2048);
  if (key == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot generate the key");
      return NULL;
    }
  int fd = open (key_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, RD_ERROR, e == EEXIST ? RD_ERROR_INVALID_DATA : RD_ERROR_FAILED, "%s: %s%s", key_file,
                   g_strerror (e), e == EEXIST ? " (never overwritten: remove it or choose another file)" : "");
      EVP_PKEY_free (key);
      return NULL;
    }
  BIO *bio = BIO_new (BIO_s_mem ());
  PEM_write_bio_PrivateKey (bio, key, NULL, NULL, 0, NULL, NULL);
  char *data = NULL;
  long n = BIO_get_mem_data (bio, &data);
  gboolean ok = n > 0 && write (fd, data, (size_t) n) == n && fsync (fd) == 0;
  ok = close (fd) == 0 && ok;
  BIO_free (bio);
  char *record = ok ? record_for (key) : NULL;
  EVP_PKEY_free (key);
  if (record == NULL)
    {
      unlink (key_file);
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "%s: cannot write the key", key_file);
    }
  return record;
}

char *
rd_dkim_zone_line (const char *selector, const char *domain, const char *record)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "%s._domainkey.%s. IN TXT (", selector, domain);
  gsize n = strlen (record);
  for (gsize i = 0; i < n; i += 250)
    g_string_append_printf (s, " \"%.*s\"", (int) MIN (250, n - i), record + i);
  g_string_append (s, " )");
  return g_string_free (s, FALSE);
}

/* The value of tag @name in a tag=value list (RFC 6376 3.2), blanks
 * removed. (transfer full) */
static char *
tag_value (const char *record, const char *name)
{
  g_auto(GStrv) tags = g_strsplit (record, ";", -1);
  for (guint i = 0; tags[i]; i++)
    {
      char *eq = strchr (tags[i], '=');
      if (eq == NULL)
        continue;
      *eq = '\0';
      if (g_ascii_strcasecmp (g_strstrip (tags[i]), name) != 0)
        continue;
      GString *v = g_string_new (NULL);
      for (const char *p = eq + 1; *p; p++)
        if (!g_ascii_isspace (*p))
          g_string_append_c (v, *p);
      return g_string_free (v, FALSE);
    }
  return NULL;
}

gboolean
rd_dkim_check_record (const char *published, const char *key_file, GError **error)
{
  g_autofree char *mine = rd_dkim_record_for_key (key_file, error);
  if (mine == NULL)
    return FALSE;
  g_autofree char *v = tag_value (published, "v");
  g_autofree char *k = tag_value (published, "k");
  g_autofree char *p = tag_value (published, "p");
  g_autofree char *my_k = tag_value (mine, "k");
  g_autofree char *my_p = tag_value (mine, "p");
  if (v && g_strcmp0 (v, "DKIM1") != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "published v=%s, expected DKIM1", v);
      return FALSE;
    }
  if (g_ascii_strcasecmp (k ? k : "rsa", my_k) != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "published k=%s, the key is %s", k ? k : "rsa", my_k);
      return FALSE;
    }
  if (p == NULL || *p == '\0')
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "published p= is empty (a revoked key)");
      return FALSE;
    }
  if (g_strcmp0 (p, my_p) != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "published p= is not the public key of %s", key_file);
      return FALSE;
    }
  return TRUE;
}
