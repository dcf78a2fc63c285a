/* relaydesk — relay: the outbound guard (guard.h). */
#include "guard.h"
#include "outbox.h"
#include "rd-common.h"

#include <string.h>

#define HEADER_SCAN_MAX (64 * 1024)

struct _RdRelayGuard {
  char *installation_id;
  GHashTable *own_addresses; /* lower-case */
  GHashTable *own_domains;   /* lower-case */
  RdRelayGuardCaps caps;
};

gboolean
rd_relay_kind_is_automatic (RdOutboxKind kind)
{
  return kind == RD_OUTBOX_AUTOREPLY || kind == RD_OUTBOX_REJECT || kind == RD_OUTBOX_NOTIFICATION;
}

/* Calls @fn for each header field of the header block (RFC 5322 section
 * 2.2: a field is "name:" at the start of a line, continued by lines
 * starting with WSP); stops when @fn returns TRUE. CRLF or bare LF. */
typedef gboolean (*HeaderFn) (const char *name, gsize name_len, const char *value, gsize value_len, gpointer data);

static void
foreach_header (const char *raw, gsize len, HeaderFn fn, gpointer data)
{
  len = MIN (len, HEADER_SCAN_MAX);
  gsize p = 0;
  while (p < len)
    {
      if (raw[p] == '\n' || (raw[p] == '\r' && p + 1 < len && raw[p + 1] == '\n'))
        return; /* empty line: end of the header block */
      gsize start = p;
      /* the field runs to the first line end not followed by WSP */
      gsize end = p;
      while (end < len)
        {
          const char *nl = memchr (raw + end, '\n', len - end);
          if (nl == NULL)
            {
              end = len;
              break;
            }
          end = (gsize) (nl - raw) + 1;
          if (end >= len || (raw[end] != ' ' && raw[end] != '\t'))
            break;
        }
      const char *colon = memchr (raw + start, ':', end - start);
      if (colon != NULL)
        {
          gsize name_len = (gsize) (colon - (raw + start));
          const char *v = colon + 1;
          gsize vlen = (gsize) ((raw + end) - v);
          if (fn (raw + start, name_len, v, vlen, data))
            return;
        }
      p = end;
    }
}

/* Unfolds and trims a field value. (transfer full) */
static char *
unfold (const char *v, gsize len)
{
  GString *s = g_string_sized_new (len);
  for (gsize i = 0; i < len; i++)
    {
      if (v[i] == '\r' || v[i] == '\n')
        continue;
      g_string_append_c (s, v[i] == '\t' ? ' ' : v[i]);
    }
  return g_strstrip (g_string_free (s, FALSE));
}

typedef struct {
  const char *name;
  char *value;
} FindCtx;

static gboolean
find_cb (const char *name, gsize name_len, const char *value, gsize value_len, gpointer data)
{
  FindCtx *ctx = data;
  if (name_len == strlen (ctx->name) && g_ascii_strncasecmp (name, ctx->name, name_len) == 0)
    {
      ctx->value = unfold (value, value_len);
      return TRUE;
    }
  return FALSE;
}

char *
rd_relay_header_get (const char *raw, gsize len, const char *name)
{
  FindCtx ctx = { name, NULL };
  foreach_header (raw, len, find_cb, &ctx);
  return ctx.value;
}

typedef struct {
  const char *id;
  gboolean found;
} LoopCtx;

static gboolean
loop_cb (const char *name, gsize name_len, const char *value, gsize value_len, gpointer data)
{
  LoopCtx *ctx = data;
  if (name_len == strlen (RD_RELAY_LOOP_HEADER)
      && g_ascii_strncasecmp (name, RD_RELAY_LOOP_HEADER, name_len) == 0)
    {
      g_autofree char *v = unfold (value, value_len);
      if (g_ascii_strcasecmp (v, ctx->id) == 0)
        ctx->found = TRUE;
    }
  return ctx->found;
}

gboolean
rd_relay_is_own_loop (const char *raw, gssize len, const char *installation_id)
{
  if (raw == NULL || installation_id == NULL || installation_id[0] == '\0')
    return FALSE;
  LoopCtx ctx = { installation_id, FALSE };
  foreach_header (raw, len < 0 ? strlen (raw) : (gsize) len, loop_cb, &ctx);
  return ctx.found;
}

static GHashTable *
lower_set (RdConfig *config, const char *key)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto(GStrv) list = rd_config_get_list (config, "relay", key);
  for (guint i = 0; list && list[i]; i++)
    {
      g_autofree char *t = g_strstrip (g_strdup (list[i]));
      if (*t)
        g_hash_table_add (set, g_ascii_strdown (t, -1));
    }
  return set;
}

RdRelayGuard *
rd_relay_guard_new (RdConfig *config, const char *installation_id)
{
  RdRelayGuard *g = g_new0 (RdRelayGuard, 1);
  g->installation_id = g_strdup (installation_id);
  g->own_addresses = lower_set (config, "own_addresses");
  g->own_domains = lower_set (config, "own_domains");
  g->caps.cap_per_hour = (guint) CLAMP (rd_config_get_int (config, "relay", "cap_per_hour", 10), 0, G_MAXINT);
  g->caps.cap_per_day = (guint) CLAMP (rd_config_get_int (config, "relay", "cap_per_day", 50), 0, G_MAXINT);
  return g;
}

void
rd_relay_guard_free (RdRelayGuard *g)
{
  if (g == NULL)
    return;
  g_free (g->installation_id);
  g_hash_table_unref (g->own_addresses);
  g_hash_table_unref (g->own_domains);
  g_free (g);
}

/* Local parts that never read replies (RFC 3834 section 2, RFC 2142
 * roles, and the usual no-reply spellings). Compared after lower-casing
 * and removing '-', '_' and '.', so "no-reply", "no_reply", "Do.Not.Reply"
 * all match. */
static const char *const noreply_locals[] = {
  "mailerdaemon", "postmaster", "noreply", "donotreply", "dontreply", "noresponse",
  "bounce", "bounces", "listserv", "majordomo", NULL,
};

const char *
rd_relay_guard_address_reason (RdRelayGuard *g, const char *address)
{
  if (address == NULL || address[0] == '\0' || !strcmp (address, "<>"))
    return "null address <>";
  g_autofree char *lower = g_ascii_strdown (address, -1);
  g_autofree char *local = NULL;
  g_autofree char *domain = NULL;
  if (!rd_address_split (lower, &local, &domain))
    {
      /* A bare local part: MAILER-DAEMON or postmaster without domain. */
      local = g_strdup (lower);
    }
  GString *squeezed = g_string_new (NULL);
  for (const char *p = local; *p && *p != '+'; p++)
    if (*p != '-' && *p != '_' && *p != '.')
      g_string_append_c (squeezed, *p);
  for (guint i = 0; noreply_locals[i]; i++)
    if (!strcmp (squeezed->str, noreply_locals[i])
        || (g_str_has_prefix (squeezed->str, noreply_locals[i]) && i >= 2 && i <= 5))
      {
        g_string_free (squeezed, TRUE);
        return i == 0 ? "MAILER-DAEMON" : i == 1 ? "postmaster" : "noreply-style address";
      }
  g_string_free (squeezed, TRUE);
  /* RFC 3834 section 2: owner-* and *-request are list addresses. */
  if (g_str_has_prefix (local, "owner-") || g_str_has_suffix (local, "-request"))
    return "mailing list administrative address";
  if (g_hash_table_contains (g->own_addresses, lower))
    return "one of our own addresses";
  if (domain && g_hash_table_contains (g->own_domains, domain))
    return "an address in our own domain";
  return NULL;
}

void
rd_relay_guarded_free (RdRelayGuarded *x)
{
  if (x == NULL)
    return;
  g_free (x->envelope_sender);
  g_ptr_array_unref (x->recipients);
  g_ptr_array_unref (x->skipped);
  if (x->data)
    g_bytes_unref (x->data);
  g_free (x);
}

/* A recipient's reason from the store: suppressed, or over a cap. */
static gboolean
store_reason (RdRelayGuard *g, RdStore *store, RdOutboxKind kind, const char *rcpt,
              char **reason, GError **error)
{
  g_autofree char *why = NULL;
  gboolean suppressed = FALSE;
  if (!rd_store_suppression_check (store, rcpt, &suppressed, &why, error))
    return FALSE;
  if (suppressed)
    {
      *reason = g_strdup_printf ("suppressed (%s)", why ? why : "no reason recorded");
      return TRUE;
    }
  /* Caps count every message sent to the address but apply to what a
   * machine sends (automatic kinds and redirects), not to agents. */
  if (kind == RD_OUTBOX_REPLY)
    return TRUE;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  if (g->caps.cap_per_hour > 0)
    {
      gint64 n = rd_store_outbox_sent_count (store, rcpt, now - 3600, error);
      if (n < 0)
        return FALSE;
      if (n >= g->caps.cap_per_hour)
        {
          *reason = g_strdup_printf ("cap reached: %" G_GINT64_FORMAT " messages in the last hour (cap_per_hour=%u)",
                                     n, g->caps.cap_per_hour);
          return TRUE;
        }
    }
  if (g->caps.cap_per_day > 0)
    {
      gint64 n = rd_store_outbox_sent_count (store, rcpt, now - 86400, error);
      if (n < 0)
        return FALSE;
      if (n >= g->caps.cap_per_day)
        {
          *reason = g_strdup_printf ("cap reached: %" G_GINT64_FORMAT " messages in the last day (cap_per_day=%u)",
                                     n, g->caps.cap_per_day);
          return TRUE;
        }
    }
  return TRUE;
}

RdRelayGuarded *
rd_relay_guard_apply (RdRelayGuard *g, RdStore *store, RdOutboxKind kind, const char *sender,
                      const char *const *recipients, GBytes *raw, char **reason, GError **error)
{
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  gboolean automatic = rd_relay_kind_is_automatic (kind);
  g_autofree char *auto_submitted = rd_relay_header_get (data, len, "Auto-Submitted");
  if (automatic && auto_submitted && g_ascii_strncasecmp (auto_submitted, "no", 2) == 0
      && (auto_submitted[2] == '\0' || auto_submitted[2] == ' ' || auto_submitted[2] == ';'))
    {
      *reason = g_strdup_printf ("automatic mail (%s) marked Auto-Submitted: no", rd_outbox_kind_to_string (kind));
      return NULL;
    }

  /* A message whose header block already carries our marker went out
   * through this installation before and came back (a redirect or a
   * forward of our own mail): sending it again is a loop. */
  if (g->installation_id && rd_relay_is_own_loop (data, (gssize) len, g->installation_id))
    {
      *reason = g_strdup_printf ("loop: the message already carries our " RD_RELAY_LOOP_HEADER
                                 " marker (it went out through this installation before)");
      return NULL;
    }

  /* Second line behind rd_relay_is_own_loop() on the inbound side: an
   * automatic answer whose In-Reply-To is a message we sent ourselves
   * means our own mail came back and is being answered. */
  if (automatic)
    {
      g_autofree char *irt = rd_relay_header_get (data, len, "In-Reply-To");
      g_autofree char *irt_id = irt ? rd_msgid_normalize (irt) : NULL;
      if (irt_id && *irt_id)
        {
          gboolean ours = FALSE;
          if (!rd_store_outbox_has_message_id (store, irt_id, &ours, error))
            return NULL;
          if (ours)
            {
              *reason = g_strdup_printf ("loop: automatic answer to a message we sent ourselves (In-Reply-To <%s>)", irt_id);
              return NULL;
            }
        }
    }

  g_autoptr(RdRelayGuarded) out = g_new0 (RdRelayGuarded, 1);
  out->recipients = g_ptr_array_new_with_free_func (g_free);
  out->skipped = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; recipients && recipients[i]; i++)
    {
      const char *r = recipients[i];
      const char *why = rd_relay_guard_address_reason (g, r);
      if (why)
        {
          g_ptr_array_add (out->skipped, g_strdup_printf ("%s: %s", r[0] ? r : "<>", why));
          continue;
        }
      g_autofree char *swhy = NULL;
      if (!store_reason (g, store, kind, r, &swhy, error))
        return NULL;
      if (swhy)
        {
          g_ptr_array_add (out->skipped, g_strdup_printf ("%s: %s", r, swhy));
          continue;
        }
      gboolean dup = FALSE;
      for (guint j = 0; j < out->recipients->len; j++)
        dup |= g_ascii_strcasecmp (g_ptr_array_index (out->recipients, j), r) == 0;
      if (!dup)
        g_ptr_array_add (out->recipients, g_strdup (r));
    }
  if (out->recipients->len == 0)
    {
      g_ptr_array_add (out->skipped, NULL);
      g_autofree char *list = g_strjoinv ("; ", (char **) out->skipped->pdata);
      *reason = g_strdup_printf ("no recipient may get this message: %s", list);
      return NULL;
    }

  /* Automatic mail goes out with <> whatever the producer asked. */
  out->envelope_sender = g_strdup (automatic ? "" : (sender ? sender : ""));

  /* Headers we add in front (RFC 5322 allows any order of fields). */
  GString *head = g_string_new (NULL);
  if (g->installation_id)
    g_string_append_printf (head, RD_RELAY_LOOP_HEADER ": %s\r\n", g->installation_id);
  if (automatic && auto_submitted == NULL)
    g_string_append_printf (head, "Auto-Submitted: %s\r\n",
                            kind == RD_OUTBOX_AUTOREPLY ? "auto-replied" : "auto-generated");
  if (head->len == 0)
    {
      g_string_free (head, TRUE);
      out->data = g_bytes_ref (raw);
    }
  else
    {
      g_string_append_len (head, data, (gssize) len);
      out->data = g_string_free_to_bytes (head);
    }
  return g_steal_pointer (&out);
}
