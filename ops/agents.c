/* relaydesk — ops: agents, sessions, API tokens, TOTP (see ops-agents.h). */
#include "ops-private.h"
#include "ops-agents.h"

#include <sodium.h>
#include <string.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>

#define PWHASH_OPSLIMIT 2
#define PWHASH_MEMLIMIT (19u * 1024 * 1024)
#define TOKEN_BYTES 32
#define TOTP_SECRET_BYTES 20
#define LABEL_MAX 200

static gboolean
sodium_ready (GError **error)
{
  static gsize once = 0;
  static int rc = -1;
  if (g_once_init_enter (&once))
    {
      rc = sodium_init ();
      g_once_init_leave (&once, 1);
    }
  if (rc < 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "libsodium did not initialise");
      return FALSE;
    }
  return TRUE;
}

void
rd_agent_actor (const RdAgent *agent, RdActor *actor)
{
  actor->name = agent->email;
  actor->admin = agent->admin;
  actor->queues = agent->admin ? NULL : (const char *const *) agent->queues;
}

/* 32 random bytes as base64url without padding (43 characters). */
static char *
random_token (const char *prefix)
{
  guint8 buf[TOKEN_BYTES];
  randombytes_buf (buf, sizeof buf);
  g_autofree char *b64 = g_base64_encode (buf, sizeof buf);
  sodium_memzero (buf, sizeof buf);
  for (char *p = b64; *p; p++)
    *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  char *eq = strchr (b64, '=');
  if (eq)
    *eq = '\0';
  return g_strconcat (prefix ? prefix : "", b64, NULL);
}

char *
rd_ops_token_hash (const char *token)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token ? token : "", -1);
}

static char *
hash_password (const char *password, GError **error)
{
  if (!sodium_ready (error))
    return NULL;
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str (out, password, strlen (password), PWHASH_OPSLIMIT, PWHASH_MEMLIMIT) != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_TEMPORARY, "out of memory hashing the password");
      return NULL;
    }
  return g_strdup (out);
}

static gboolean
password_ok (const char *password, const char *hash)
{
  if (password == NULL || hash == NULL || !sodium_ready (NULL))
    return FALSE;
  return crypto_pwhash_str_verify (hash, password, strlen (password)) == 0;
}

static gboolean
password_valid (const char *password, GError **error)
{
  gsize n = password ? strlen (password) : 0;
  if (n < RD_PASSWORD_MIN || n > RD_PASSWORD_MAX || !g_utf8_validate (password, -1, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "a password has %d to %d bytes of UTF-8",
                   RD_PASSWORD_MIN, RD_PASSWORD_MAX);
      return FALSE;
    }
  return TRUE;
}

/* A readable one-time password: 16 characters without look-alikes. */
static char *
generate_password (void)
{
  static const char alphabet[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  char out[17];
  for (guint i = 0; i < 16; i++)
    out[i] = alphabet[randombytes_uniform (sizeof alphabet - 1)];
  out[16] = '\0';
  return g_strdup (out);
}

static gboolean
email_valid (const char *email, GError **error)
{
  const char *at = email ? strchr (email, '@') : NULL;
  gsize n = email ? strlen (email) : 0;
  if (at == NULL || at == email || at[1] == '\0' || strchr (at + 1, '@') || n > RD_AGENT_EMAIL_MAX
      || strpbrk (email, " \t\r\n<>\",;") || !g_utf8_validate (email, -1, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "'%s' is not an e-mail address", email ? email : "");
      return FALSE;
    }
  return TRUE;
}

static gboolean
queues_valid (const char *const *queues, GError **error)
{
  guint n = 0;
  for (guint i = 0; queues && queues[i]; i++, n++)
    if (*queues[i] == '\0' || strlen (queues[i]) > RD_TICKET_QUEUE_MAX || !g_utf8_validate (queues[i], -1, NULL))
      {
        g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad queue name '%s'", queues[i]);
        return FALSE;
      }
  if (n > RD_AGENT_QUEUES_MAX)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "at most %d queues per agent", RD_AGENT_QUEUES_MAX);
      return FALSE;
    }
  return TRUE;
}

static gboolean
name_valid (const char *name, GError **error)
{
  if (name == NULL || *name == '\0' || strlen (name) > RD_AGENT_NAME_MAX || !g_utf8_validate (name, -1, NULL)
      || strpbrk (name, "\r\n"))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "a name has 1 to %d bytes of UTF-8 on one line",
                   RD_AGENT_NAME_MAX);
      return FALSE;
    }
  return TRUE;
}

RdAgent *
rd_ops_agent_add (RdOps *ops, const RdActor *actor, const RdAgentRequest *req, char **generated, GError **error)
{
  if (!rd_ops_need_admin (actor, "adding an agent", error) || !rd_ops_need_store (ops, error)
      || !email_valid (req->email, error) || !name_valid (req->name, error) || !queues_valid (req->queues, error))
    return NULL;
  g_autofree char *made = req->password ? NULL : generate_password ();
  const char *password = req->password ? req->password : made;
  if (!password_valid (password, error))
    return NULL;
  g_autoptr(RdAgent) a = g_new0 (RdAgent, 1);
  a->email = g_ascii_strdown (req->email, -1);
  a->name = g_strdup (req->name);
  a->admin = req->admin;
  a->queues = g_strdupv ((GStrv) (req->queues ? req->queues : (const char *const[]) { NULL }));
  a->password_hash = hash_password (password, error);
  if (a->password_hash == NULL || !rd_store_agent_add (ops->store, a, actor->name, error))
    return NULL;
  if (generated)
    *generated = g_steal_pointer (&made);
  return rd_store_agent_get (ops->store, a->id, error);
}

GPtrArray *
rd_ops_agents_list (RdOps *ops, const RdActor *actor, GError **error)
{
  if (!rd_ops_need_admin (actor, "the list of agents", error) || !rd_ops_need_store (ops, error))
    return NULL;
  return rd_store_agents_list (ops->store, error);
}

RdAgent *
rd_ops_agent_get (RdOps *ops, const RdActor *actor, const char *email, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return NULL;
  if (!actor->admin && g_ascii_strcasecmp (email ? email : "", actor->name ? actor->name : "") != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "another agent's account needs an administrator");
      return NULL;
    }
  return rd_store_agent_get_by_email (ops->store, email, error);
}

gboolean
rd_ops_agent_update (RdOps *ops, const RdActor *actor, const char *email, const char *name, int admin,
                     const char *const *queues, GError **error)
{
  if (!rd_ops_need_admin (actor, "changing an agent", error) || !rd_ops_need_store (ops, error)
      || (name && !name_valid (name, error)) || !queues_valid (queues, error))
    return FALSE;
  g_autoptr(RdAgent) a = rd_store_agent_get_by_email (ops->store, email, error);
  if (a == NULL)
    return FALSE;
  if (admin == 0 && g_ascii_strcasecmp (a->email, actor->name ? actor->name : "") == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "an administrator cannot take away their own role");
      return FALSE;
    }
  return rd_store_agent_update (ops->store, a->id, name, admin, queues, actor->name, error);
}

gboolean
rd_ops_agent_remove (RdOps *ops, const RdActor *actor, const char *email, GError **error)
{
  if (!rd_ops_need_admin (actor, "removing an agent", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  g_autoptr(RdAgent) a = rd_store_agent_get_by_email (ops->store, email, error);
  if (a == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (a->email, actor->name ? actor->name : "") == 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "an administrator cannot remove themselves");
      return FALSE;
    }
  return rd_store_agent_remove (ops->store, a->id, actor->name, error);
}

gboolean
rd_ops_agent_set_password (RdOps *ops, const RdActor *actor, const char *email, const char *password,
                           char **generated, GError **error)
{
  if (!rd_ops_need_admin (actor, "setting another agent's password", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  g_autofree char *made = password ? NULL : generate_password ();
  if (!password_valid (password ? password : made, error))
    return FALSE;
  g_autoptr(RdAgent) a = rd_store_agent_get_by_email (ops->store, email, error);
  if (a == NULL)
    return FALSE;
  g_autofree char *hash = hash_password (password ? password : made, error);
  if (hash == NULL || !rd_store_agent_set_password (ops->store, a->id, hash, NULL, actor->name, error))
    return FALSE;
  if (generated)
    *generated = g_steal_pointer (&made);
  return TRUE;
}

gboolean
rd_ops_agent_change_password (RdOps *ops, gint64 agent_id, const char *current, const char *password,
                              const char *keep_session, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return FALSE;
  g_autoptr(RdAgent) a = rd_store_agent_get (ops->store, agent_id, error);
  if (a == NULL)
    return FALSE;
  if (!password_ok (current, a->password_hash))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "the current password is wrong");
      return FALSE;
    }
  if (!password_valid (password, error))
    return FALSE;
  g_autofree char *hash = hash_password (password, error);
  g_autofree char *keep = keep_session ? rd_ops_token_hash (keep_session) : NULL;
  return hash && rd_store_agent_set_password (ops->store, a->id, hash, keep, a->email, error);
}

/* ---- TOTP (RFC 6238, RFC 4648 base32) ---------------------------------------- */

static char *
base32_encode (const guint8 *data, gsize len)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  GString *out = g_string_new (NULL);
  guint32 buffer = 0;
  int bits = 0;
  for (gsize i = 0; i < len; i++)
    {
      buffer = (buffer << 8) | data[i];
      bits += 8;
      while (bits >= 5)
        {
          g_string_append_c (out, alphabet[(buffer >> (bits - 5)) & 31]);
          bits -= 5;
        }
    }
  if (bits > 0)
    g_string_append_c (out, alphabet[(buffer << (5 - bits)) & 31]);
  return g_string_free (out, FALSE);
}

static GBytes *
base32_decode (const char *text)
{
  GByteArray *out = g_byte_array_new ();
  guint32 buffer = 0;
  int bits = 0;
  for (const char *p = text; p && *p; p++)
    {
      int v;
      char c = g_ascii_toupper (*p);
      if (c >= 'A' && c <= 'Z')
        v = c - 'A';
      else if (c >= '2' && c <= '7')
        v = c - '2' + 26;
      else if (c == '=' || c == ' ')
        continue;
      else
        {
          g_byte_array_unref (out);
          return NULL;
        }
      buffer = (buffer << 5) | (guint32) v;
      bits += 5;
      if (bits >= 8)
        {
          guint8 b = (guint8) ((buffer >> (bits - 8)) & 0xff);
          g_byte_array_append (out, &b, 1);
          bits -= 8;
        }
    }
  return g_byte_array_free_to_bytes (out);
}

gboolean
rd_ops_totp_code (const char *secret, gint64 unix_time, char code[7])
{
  g_autoptr(GBytes) key = base32_decode (secret);
  if (key == NULL || g_bytes_get_size (key) == 0)
    return FALSE;
  guint64 counter = (guint64) (unix_time / 30);
  guint8 msg[8];
  for (int i = 7; i >= 0; i--)
    {
      msg[i] = counter & 0xff;
      counter >>= 8;
    }
  guint8 mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  gsize klen;
  const guint8 *k = g_bytes_get_data (key, &klen);
  if (HMAC (EVP_sha1 (), k, (int) klen, msg, sizeof msg, mac, &mac_len) == NULL || mac_len < 20)
    return FALSE;
  /* RFC 4226 5.3: dynamic truncation. */
  guint off = mac[mac_len - 1] & 0x0f;
  guint32 bin = ((guint32) (mac[off] & 0x7f) << 24) | ((guint32) mac[off + 1] << 16) | ((guint32) mac[off + 2] << 8)
                | mac[off + 3];
  g_snprintf (code, 7, "%06u", bin % 1000000);
  return TRUE;
}

static gboolean
totp_ok (const char *secret, const char *code)
{
  if (code == NULL || strlen (code) != 6)
    return FALSE;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  for (int skew = -1; skew <= 1; skew++)
    {
      char want[7];
      if (rd_ops_totp_code (secret, now + skew * 30, want) && sodium_memcmp (want, code, 6) == 0)
        return TRUE;
    }
  return FALSE;
}

char *
rd_ops_agent_totp (RdOps *ops, const RdActor *actor, const char *email, gboolean enable, char **uri,
                   GError **error)
{
  g_autoptr(RdAgent) a = rd_ops_agent_get (ops, actor, email, error);
  if (a == NULL || !sodium_ready (error))
    return NULL;
  g_autofree char *secret = NULL;
  if (enable)
    {
      guint8 buf[TOTP_SECRET_BYTES];
      randombytes_buf (buf, sizeof buf);
      secret = base32_encode (buf, sizeof buf);
      sodium_memzero (buf, sizeof buf);
    }
  if (!rd_store_agent_set_totp (ops->store, a->id, secret, actor->name, error))
    return NULL;
  if (uri && secret)
    {
      g_autofree char *label = g_uri_escape_string (a->email, "@", FALSE);
      *uri = g_strdup_printf ("otpauth://totp/relaydesk:%s?secret=%s&issuer=relaydesk&digits=6&period=30", label,
                              secret);
    }
  return g_steal_pointer (&secret);
}

/* ---- API tokens ------------------------------------------------------------------ */

char *
rd_ops_token_create (RdOps *ops, const RdActor *actor, const char *email, const char *label, gint64 *id,
                     GError **error)
{
  if (label == NULL || *label == '\0' || strlen (label) > LABEL_MAX || !g_utf8_validate (label, -1, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "a token needs a label of 1 to %d bytes", LABEL_MAX);
      return NULL;
    }
  g_autoptr(RdAgent) a = rd_ops_agent_get (ops, actor, email, error);
  if (a == NULL)
    return NULL;
  if (!sodium_ready (error))
    return NULL;
  g_autofree char *token = random_token ("rdt_");
  g_autofree char *hash = rd_ops_token_hash (token);
  gint64 tid = 0;
  if (!rd_store_token_add (ops->store, a->id, label, hash, actor->name, &tid, error))
    return NULL;
  if (id)
    *id = tid;
  return g_steal_pointer (&token);
}

GPtrArray *
rd_ops_tokens_list (RdOps *ops, const RdActor *actor, const char *email, GError **error)
{
  if (email == NULL && !rd_ops_need_admin (actor, "every agent's tokens", error))
    return NULL;
  gint64 agent_id = 0;
  if (email)
    {
      g_autoptr(RdAgent) a = rd_ops_agent_get (ops, actor, email, error);
      if (a == NULL)
        return NULL;
      agent_id = a->id;
    }
  else if (!rd_ops_need_store (ops, error))
    return NULL;
  return rd_store_tokens_list (ops->store, agent_id, error);
}

gboolean
rd_ops_token_revoke (RdOps *ops, const RdActor *actor, gint64 id, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return FALSE;
  if (!actor->admin)
    {
      /* An agent revokes only their own. */
      g_autoptr(GPtrArray) mine = rd_ops_tokens_list (ops, actor, actor->name, error);
      if (mine == NULL)
        return FALSE;
      gboolean found = FALSE;
      for (guint i = 0; i < mine->len; i++)
        found |= ((RdApiToken *) g_ptr_array_index (mine, i))->id == id;
      if (!found)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_NOT_FOUND, "no live token %" G_GINT64_FORMAT, id);
          return FALSE;
        }
    }
  return rd_store_token_revoke (ops->store, id, actor->name, error);
}

RdAgent *
rd_ops_token_agent (RdOps *ops, const char *token, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return NULL;
  g_autofree char *hash = rd_ops_token_hash (token);
  g_autoptr(GError) local = NULL;
  RdAgent *a = rd_store_token_agent (ops->store, hash, &local);
  if (a == NULL)
    {
      if (g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
        g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "unknown or revoked token");
      else
        g_propagate_error (error, g_steal_pointer (&local));
    }
  return a;
}

/* ---- sessions ---------------------------------------------------------------------- */

void
rd_session_clear (RdSession *s)
{
  g_clear_pointer (&s->agent, rd_agent_free);
  g_clear_pointer (&s->token, g_free);
  g_clear_pointer (&s->csrf, g_free);
}

gboolean
rd_ops_login (RdOps *ops, const char *email, const char *password, const char *totp, const char *client_addr,
              gint64 lifetime, RdSession *session, GError **error)
{
  if (!rd_ops_need_store (ops, error) || !sodium_ready (error))
    return FALSE;
  g_autoptr(GError) local = NULL;
  g_autoptr(RdAgent) a = rd_store_agent_get_by_email (ops->store, email ? email : "", &local);
  if (a == NULL && !g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  /* The same work whether or not the agent exists: no timing oracle. */
  static char *dummy = NULL;
  static gsize once = 0;
  if (g_once_init_enter (&once))
    {
      dummy = hash_password ("relaydesk dummy password", NULL);
      g_once_init_leave (&once, 1);
    }
  gboolean ok = password_ok (password, a ? a->password_hash : dummy) && a != NULL;
  if (!ok)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "wrong e-mail address or password");
      return FALSE;
    }
  if (a->totp_secret)
    {
      if (totp == NULL || *totp == '\0')
        {
          g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, RD_OPS_TOTP_REQUIRED);
          return FALSE;
        }
      if (!totp_ok (a->totp_secret, totp))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "wrong e-mail address or password");
          return FALSE;
        }
    }
  /* Always a new token (never one the client brings: session fixation). */
  g_autofree char *token = random_token (NULL);
  g_autofree char *csrf = random_token (NULL);
  g_autofree char *hash = rd_ops_token_hash (token);
  gint64 expires = g_get_real_time () / G_USEC_PER_SEC + lifetime;
  if (!rd_store_sessions_expire (ops->store, error)
      || !rd_store_session_add (ops->store, a->id, hash, csrf, expires, client_addr, error))
    return FALSE;
  session->agent = g_steal_pointer (&a);
  session->token = g_steal_pointer (&token);
  session->csrf = g_steal_pointer (&csrf);
  session->expires_at = expires;
  return TRUE;
}

RdAgent *
rd_ops_session_agent (RdOps *ops, const char *token, char **csrf, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return NULL;
  g_autofree char *hash = rd_ops_token_hash (token);
  g_autoptr(GError) local = NULL;
  RdAgent *a = rd_store_session_agent (ops->store, hash, csrf, NULL, &local);
  if (a == NULL)
    {
      if (g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
        g_set_error (error, RD_ERROR, RD_ERROR_PERMISSION, "no session or it expired");
      else
        g_propagate_error (error, g_steal_pointer (&local));
    }
  return a;
}

gboolean
rd_ops_logout (RdOps *ops, const char *token, GError **error)
{
  if (!rd_ops_need_store (ops, error))
    return FALSE;
  g_autofree char *hash = rd_ops_token_hash (token);
  return rd_store_session_remove (ops->store, hash, error);
}
