/* relaydesk — relay: the outbound guard (guard.h). */
#include "guard.h"
#include "mail-format.h"
#include "outbox.h"
#include "rd-common.h"

#include <string.h>

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

gboolean
rd_relay_is_own_loop (const char *raw, gssize len, const char *installation_id)
{
  if (raw == NULL || installation_id == NULL || installation_id[0] == '\0')
    return FALSE;
  gsize n = len < 0 ? strlen (raw) : (gsize) len, pos = 0;
  RdMailField f;
  while (rd_mail_header_next (raw, n, &pos, &f))
    if (rd_mail_field_is (&f, RD_RELAY_LOOP_HEADER))
      {
        g_autofree char *v = rd_mail_field_value (&f);
        if (g_ascii_strcasecmp (v, installation_id) == 0)
          return TRUE;
      }
  return FALSE;
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

const char *
rd_relay_guard_address_reason (RdRelayGuard *g, const char *address)
{
  /* RFC 3834 section 2: the null sender, daemons, list robots and
   * no-reply addresses never get mail from a machine (mail-format.h). */
  RdMailAuto why = rd_mail_auto_address (address);
  if (why != RD_MAIL_AUTO_NONE)
    return rd_mail_auto_name (why);
  g_autofree char *lower = g_ascii_strdown (address, -1);
  g_autofree char *local = NULL;
  g_autofree char *domain = NULL;
  if (g_hash_table_contains (g->own_addresses, lower))
    return "one of our own addresses";
  if (rd_address_split (lower, &local, &domain) && g_hash_table_contains (g->own_domains, domain))
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

const RdRelayGuardCaps *
rd_relay_guard_caps (RdRelayGuard *g)
{
  return &g->caps;
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
  g_autofree char *auto_submitted = rd_mail_header_get (data, len, "Auto-Submitted");
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
      g_autofree char *irt = rd_mail_header_get (data, len, "In-Reply-To");
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
