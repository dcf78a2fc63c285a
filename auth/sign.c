/* relaydesk — auth: DKIM signing of outbound mail (auth.h).
 *
 * Our own signer on OpenSSL's EVP (libopendkim only verifies: Debian
 * 12's 2.11.0~beta2 loaded the key again for every signature and leaked
 * the Ed25519 one each time). The key is read once, when the signer is
 * made, and used for every message.
 *
 * RFC 6376 section 3.7, for one message:
 *   bh = base64 (SHA-256 (relaxed body))               (section 3.4.4)
 *   the fields named in h=, each relaxed (section 3.4.2) and taken from
 *   the bottom of the header up when a name repeats (section 5.4.2), a
 *   name listed more times than it occurs adding nothing; then our
 *   DKIM-Signature field itself, relaxed, with b= empty and no CRLF;
 *   rsa-sha256: RSASSA-PKCS1-v1_5 over SHA-256 of that (RFC 8301);
 *   ed25519-sha256: PureEd25519 over the 32 bytes of SHA-256 of that
 *   (RFC 8463 section 3).
 * h= lists the fields RFC 6376 5.4.1 recommends that the message has,
 * as often as each occurs, and From once more than it occurs (5.4.2:
 * nobody can add one). The field is folded before 78 columns, b= too
 * (its folding whitespace is ignored, section 3.5).
 *
 * OpenSSL makes keys and the public key for the DNS record: for RSA the
 * DER SubjectPublicKeyInfo (RFC 6376 3.6.1, as opendkim-genkey writes
 * it), for Ed25519 the 32 raw bytes (RFC 8463 4.2).
 */
#include "auth-private.h"
#include "mail-format.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
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

#define FOLD_AT 76          /* columns before a field line is folded */
#define BODY_FLUSH 65536    /* canonical body bytes buffered before hashing */

struct _RdDkimSigner {
  EVP_PKEY *key;            /* read once, by rd_dkim_signer_new_for */
  EVP_MD *sha256;           /* fetched once */
  gboolean ed25519;
  char *selector;
  char *domain;
};

static EVP_PKEY *
read_key (const char *key_file, GError **error)
{
  gsize len = 0;
  g_autofree char *text = NULL;
  if (!g_file_get_contents (key_file, &text, &len, error))
    return NULL;
  BIO *bio = BIO_new_mem_buf (text, (int) len);
  EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey (bio, NULL, NULL, NULL) : NULL;
  BIO_free (bio);
  memset (text, 0, len);
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
  return key;
}

/* A selector or domain as it may stand in s= and d= (RFC 6376 3.5:
 * dot-separated labels of letters, digits and '-'), nothing that could
 * end the tag or the field. */
static gboolean
valid_tag_name (const char *v)
{
  if (v == NULL || *v == '\0' || strlen (v) > 253)
    return FALSE;
  for (const char *p = v; *p; p++)
    if (!(g_ascii_isalnum (*p) || *p == '-' || *p == '.' || *p == '_'))
      return FALSE;
  return TRUE;
}

RdDkimSigner *
rd_dkim_signer_new_for (const char *selector, const char *domain, const char *key_file, GError **error)
{
  if (!selector || !*selector || !domain || !*domain)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "[dkim] key_file needs selector and domain");
      return NULL;
    }
  if (!valid_tag_name (selector) || !valid_tag_name (domain))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "[dkim] selector and domain: letters, digits, '-', '.' only");
      return NULL;
    }
  g_autoptr(RdDkimSigner) s = g_new0 (RdDkimSigner, 1);
  s->key = read_key (key_file, error);
  if (s->key == NULL)
    return NULL;
  s->ed25519 = EVP_PKEY_get_base_id (s->key) == EVP_PKEY_ED25519;
  s->sha256 = EVP_MD_fetch (NULL, "SHA256", NULL);
  if (s->sha256 == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "OpenSSL: no SHA-256");
      return NULL;
    }
  s->selector = g_strdup (selector);
  s->domain = g_ascii_strdown (domain, -1);
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
  EVP_PKEY_free (s->key);
  EVP_MD_free (s->sha256);
  g_free (s->selector);
  g_free (s->domain);
  g_free (s);
}

const char *
rd_dkim_signer_algorithm (RdDkimSigner *s)
{
  return s->ed25519 ? "ed25519-sha256" : "rsa-sha256";
}

/* ---- canonicalization (RFC 6376 3.4.2, 3.4.4) ---------------------------- */

/* @n bytes of @p appended to @out with each run of WSP made one SP and
 * none at the end; none at the start either unless @lead; line breaks
 * (CRLF, LF, a CR at the very end) dropped when @unfold. */
static void
append_squeezed (GString *out, const char *p, gsize n, gboolean lead, gboolean unfold)
{
  gboolean pending_sp = FALSE, any = lead;
  for (gsize i = 0; i < n; i++)
    {
      char c = p[i];
      if (unfold && (c == '\n' || (c == '\r' && (i + 1 == n || p[i + 1] == '\n'))))
        continue;
      if (c == ' ' || c == '\t')
        {
          pending_sp = any;
          continue;
        }
      if (pending_sp)
        g_string_append_c (out, ' ');
      pending_sp = FALSE;
      any = TRUE;
      g_string_append_c (out, c);
    }
}

void
rd_dkim_canon_header (GString *out, const char *name, gsize name_len, const char *value, gsize value_len)
{
  /* The name in lower case, WSP before the colon gone. */
  while (name_len > 0 && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
    name_len--;
  for (gsize i = 0; i < name_len; i++)
    g_string_append_c (out, g_ascii_tolower (name[i]));
  g_string_append_c (out, ':');
  /* The value unfolded, each run of WSP one SP, none at the start or
   * the end. */
  append_squeezed (out, value, value_len, FALSE, TRUE);
  g_string_append (out, "\r\n");
}

typedef void (*BodySink) (gpointer data, const char *bytes, gsize len);

/* The relaxed body of @body, handed to @sink in pieces: trailing WSP of
 * each line removed, runs of WSP one SP, empty lines at the end removed,
 * every line ended by CRLF (an empty body stays empty). A bare LF ends a
 * line as CRLF does (what the SMTP client sends). */
static void
canon_body (const char *body, gsize len, BodySink sink, gpointer data)
{
  g_autoptr(GString) buf = g_string_sized_new (MIN (len + 64, BODY_FLUSH + 1024));
  gsize empty_lines = 0;
  gsize p = 0;
  while (p < len)
    {
      const char *nl = memchr (body + p, '\n', len - p);
      gsize end = nl ? (gsize) (nl - body) : len;
      gsize next = nl ? end + 1 : len;
      if (end > p && body[end - 1] == '\r' && nl)
        end--;
      /* the line [p, end) canonicalized */
      gsize mark = buf->len;
      append_squeezed (buf, body + p, end - p, TRUE, FALSE);
      if (buf->len == mark)
        empty_lines++;
      else
        {
          if (empty_lines)
            {
              /* the empty lines before this one were not the end */
              g_autofree char *line = g_strndup (buf->str + mark, buf->len - mark);
              g_string_truncate (buf, mark);
              for (; empty_lines; empty_lines--)
                g_string_append (buf, "\r\n");
              g_string_append (buf, line);
            }
          g_string_append (buf, "\r\n");
        }
      if (buf->len >= BODY_FLUSH)
        {
          sink (data, buf->str, buf->len);
          g_string_truncate (buf, 0);
        }
      p = next;
    }
  if (buf->len)
    sink (data, buf->str, buf->len);
}

static void
sink_string (gpointer data, const char *bytes, gsize len)
{
  g_string_append_len (data, bytes, (gssize) len);
}

char *
rd_dkim_canon_body (const char *body, gsize len, gsize *out_len)
{
  GString *s = g_string_new (NULL);
  canon_body (body, len, sink_string, s);
  *out_len = s->len;
  return g_string_free (s, FALSE);
}

static void
sink_digest (gpointer data, const char *bytes, gsize len)
{
  EVP_DigestUpdate (data, bytes, len);
}

/* ---- signing -------------------------------------------------------------- */

/* Appends @piece to the field being folded in @out (whose current line
 * started at *@line_start), on a new line "\r\n\t" when it would pass
 * FOLD_AT columns; @space: a blank before it when it stays on the line. */
static void
fold_append (GString *out, gsize *line_start, const char *piece, gboolean space)
{
  gsize n = strlen (piece);
  if (out->len - *line_start + (space ? 1 : 0) + n > FOLD_AT && out->len > *line_start + 1)
    {
      g_string_append (out, "\r\n\t");
      *line_start = out->len - 1;
    }
  else if (space)
    g_string_append_c (out, ' ');
  g_string_append (out, piece);
}

typedef struct {
  const char *name;
  gsize name_len;
  const char *value;
  gsize value_len;
} Field;

GBytes *
rd_dkim_sign (RdDkimSigner *s, GBytes *raw, GError **error)
{
  gsize len;
  const char *p = g_bytes_get_data (raw, &len);
  gsize body = 0;
  rd_mail_header_length (p, len, &body);
  g_autoptr(GArray) fields = g_array_new (FALSE, FALSE, sizeof (Field));
  gsize pos = 0;
  RdMailField f;
  while (rd_mail_header_next (p, len, &pos, &f))
    {
      Field x = { f.name, f.name_len, f.value, f.value_len };
      g_array_append_val (fields, x);
    }

  EVP_MD_CTX *md = EVP_MD_CTX_new ();
  guchar digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  gboolean ok = md && EVP_DigestInit_ex (md, s->sha256, NULL) == 1;

  /* bh= */
  if (ok)
    {
      canon_body (p + body, len - body, sink_digest, md);
      ok = EVP_DigestFinal_ex (md, digest, &dlen) == 1;
    }
  g_autofree char *bh = ok ? g_base64_encode (digest, dlen) : NULL;

  /* h= and the hash of the signed fields, each name's occurrences from
   * the bottom up. */
  g_autoptr(GString) canon = g_string_sized_new (1024);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  for (guint k = 0; rd_dkim_signed_fields[k]; k++)
    {
      const char *want = rd_dkim_signed_fields[k];
      gsize wl = strlen (want);
      guint n = 0;
      for (guint i = fields->len; i-- > 0;)
        {
          Field *x = &g_array_index (fields, Field, i);
          if (x->name_len == wl && g_ascii_strncasecmp (x->name, want, wl) == 0)
            {
              rd_dkim_canon_header (canon, x->name, x->name_len, x->value, x->value_len);
              g_ptr_array_add (names, (gpointer) want);
              n++;
            }
        }
      /* From once more: a From added below the signed ones breaks it. */
      if (g_ascii_strcasecmp (want, "From") == 0)
        g_ptr_array_add (names, (gpointer) want);
    }

  /* Our field, b= empty, folded as it is sent. */
  g_autoptr(GString) sig = g_string_new ("DKIM-Signature:");
  gsize line = 0;
  g_autofree char *t1 = g_strdup_printf ("v=1; a=%s; c=relaxed/relaxed;", rd_dkim_signer_algorithm (s));
  g_autofree char *t2 = g_strdup_printf ("d=%s;", s->domain);
  g_autofree char *t3 = g_strdup_printf ("s=%s;", s->selector);
  g_autofree char *t4 = g_strdup_printf ("t=%" G_GINT64_FORMAT ";", g_get_real_time () / G_USEC_PER_SEC);
  const char *tags[] = { t1, t2, t3, t4 };
  for (guint i = 0; i < G_N_ELEMENTS (tags); i++)
    fold_append (sig, &line, tags[i], TRUE);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *piece = g_strdup_printf ("%s%s%s", i == 0 ? "h=" : "", (const char *) names->pdata[i],
                                                i + 1 == names->len ? ";" : ":");
      fold_append (sig, &line, piece, i == 0);
    }
  g_autofree char *bh_tag = g_strdup_printf ("bh=%s;", bh ? bh : "");
  fold_append (sig, &line, bh_tag, TRUE);
  fold_append (sig, &line, "b=", TRUE);
  rd_dkim_canon_header (canon, sig->str, strlen ("DKIM-Signature"), sig->str + strlen ("DKIM-Signature:"),
                        sig->len - strlen ("DKIM-Signature:"));
  g_string_truncate (canon, canon->len - 2); /* the field hashed last, without its CRLF */

  /* b= */
  guchar *sigbuf = NULL;
  size_t siglen = 0;
  if (ok)
    ok = EVP_DigestInit_ex (md, s->sha256, NULL) == 1 && EVP_DigestUpdate (md, canon->str, canon->len) == 1
         && EVP_DigestFinal_ex (md, digest, &dlen) == 1;
  EVP_PKEY_CTX *pctx = ok ? EVP_PKEY_CTX_new_from_pkey (NULL, s->key, NULL) : NULL;
  ok = pctx != NULL;
  if (ok && s->ed25519)
    {
      /* PureEd25519 of the SHA-256 (RFC 8463 3): the digest is the
       * message Ed25519 signs, one shot. */
      EVP_MD_CTX *ed = EVP_MD_CTX_new ();
      ok = ed && EVP_DigestSignInit_ex (ed, NULL, NULL, NULL, NULL, s->key, NULL) == 1
           && EVP_DigestSign (ed, NULL, &siglen, digest, dlen) == 1;
      sigbuf = ok ? g_malloc (siglen) : NULL;
      ok = ok && EVP_DigestSign (ed, sigbuf, &siglen, digest, dlen) == 1;
      EVP_MD_CTX_free (ed);
    }
  else if (ok)
    {
      ok = EVP_PKEY_sign_init (pctx) == 1 && EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PADDING) == 1
           && EVP_PKEY_CTX_set_signature_md (pctx, s->sha256) == 1
           && EVP_PKEY_sign (pctx, NULL, &siglen, digest, dlen) == 1;
      sigbuf = ok ? g_malloc (siglen) : NULL;
      ok = ok && EVP_PKEY_sign (pctx, sigbuf, &siglen, digest, dlen) == 1;
    }
  EVP_PKEY_CTX_free (pctx);
  EVP_MD_CTX_free (md);
  if (!ok)
    {
      g_free (sigbuf);
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "dkim: cannot sign with the %s key (OpenSSL)",
                   rd_dkim_signer_algorithm (s));
      return NULL;
    }
  g_autofree char *b = g_base64_encode (sigbuf, siglen);
  g_free (sigbuf);

  /* b= folded: the first piece right after "b=" (never a fold between
   * the tag and its value), then lines of at most FOLD_AT columns. */
  gsize blen = strlen (b), i = 0;
  while (i < blen)
    {
      gsize room = sig->len - line < FOLD_AT ? FOLD_AT - (sig->len - line) : 0;
      if (room < 8 && i > 0)
        {
          g_string_append (sig, "\r\n\t");
          line = sig->len - 1;
          continue;
        }
      gsize n = MIN (MAX (room, 8), blen - i);
      g_string_append_len (sig, b + i, (gssize) n);
      i += n;
    }
  g_string_append (sig, "\r\n");

  /* "DKIM-Signature:" then a blank, as every field of ours. */
  GByteArray *out = g_byte_array_sized_new ((guint) (len + sig->len + 2));
  g_byte_array_append (out, (const guint8 *) sig->str, (guint) sig->len);
  g_byte_array_append (out, (const guint8 *) p, (guint) len);
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
  EVP_PKEY *key = read_key (key_file, error);
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

char *
rd_dkim_tag_value (const char *record, const char *name)
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
  g_autofree char *v = rd_dkim_tag_value (published, "v");
  g_autofree char *k = rd_dkim_tag_value (published, "k");
  g_autofree char *p = rd_dkim_tag_value (published, "p");
  g_autofree char *my_k = rd_dkim_tag_value (mine, "k");
  g_autofree char *my_p = rd_dkim_tag_value (mine, "p");
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
