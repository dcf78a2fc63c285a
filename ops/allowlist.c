/* relaydesk — ops: the SMTP client allowlist (admin; see ops.h). The
 * relay request form's rules live here, for every front end: a CIDR
 * block, an expiry in the future, a staging entry that expires within
 * RD_ALLOWLIST_STAGING_MAX_DAYS, an administrator's e-mail address that
 * is one. */
#include "ops-private.h"
#include "agents.h"

#include <string.h>

#define FIELD_MAX 512

void
rd_allowlist_item_free (RdAllowlistItem *item)
{
  if (item == NULL)
    return;
  rd_allowlist_entry_free (item->entry);
  g_free (item);
}

static gboolean
field_ok (const char *name, const char *value, GError **error)
{
  if (value == NULL)
    return TRUE;
  if (strlen (value) <= FIELD_MAX && g_utf8_validate (value, -1, NULL) && !strpbrk (value, "\r\n"))
    return TRUE;
  g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "%s: at most %d bytes of UTF-8 on one line", name, FIELD_MAX);
  return FALSE;
}

RdAllowlistEntry *
rd_ops_allowlist_add (RdOps *ops, const RdActor *actor, const RdAllowlistRequest *req, GError **error)
{
  if (!rd_ops_need_admin (actor, "the allowlist", error) || !rd_ops_need_store (ops, error))
    return NULL;
  g_autofree char *cidr = rd_allowlist_normalize_cidr (req->cidr ? req->cidr : "", error);
  if (cidr == NULL)
    return NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 expires_at = req->expires_at;
  if (expires_at != 0 && expires_at <= now)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "the expiry is in the past");
      return NULL;
    }
  if (req->staging)
    {
      gint64 max = now + (gint64) RD_ALLOWLIST_STAGING_MAX_DAYS * 86400;
      if (expires_at == 0)
        expires_at = max;
      else if (expires_at > max)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "a staging entry expires within %d days",
                       RD_ALLOWLIST_STAGING_MAX_DAYS);
          return NULL;
        }
    }
  if (req->admin_email && (strchr (req->admin_email, '@') == NULL || strchr (req->admin_email, ' ')))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "admin e-mail '%s' is not an e-mail address",
                   req->admin_email);
      return NULL;
    }
  if (!field_ok ("application", req->application, error) || !field_ok ("admin name", req->admin_name, error)
      || !field_ok ("admin e-mail", req->admin_email, error) || !field_ok ("location", req->location, error)
      || !field_ok ("note", req->note, error))
    return NULL;
  g_autoptr(RdAllowlistEntry) e = g_new0 (RdAllowlistEntry, 1);
  e->cidr = g_steal_pointer (&cidr);
  e->expires_at = expires_at;
  e->staging = req->staging;
  e->application = g_strdup (req->application);
  e->admin_name = g_strdup (req->admin_name);
  e->admin_email = g_strdup (req->admin_email);
  e->location = g_strdup (req->location);
  e->note = g_strdup (req->note);
  /* The entry and the audit line naming the administrator, together. */
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  g_autofree char *detail = g_strdup_printf ("staging=%s expires_at=%" G_GINT64_FORMAT " application=%s",
                                             e->staging ? "yes" : "no", e->expires_at,
                                             e->application ? e->application : "");
  if (!rd_store_tx_begin (ops->store, &tx, error) || !rd_store_allowlist_add (ops->store, e, error)
      || !rd_store_admin_audit (ops->store, actor->name, "allowlist-add", e->cidr, detail, error)
      || !rd_store_tx_commit (&tx, error))
    return NULL;
  g_autofree char *who = rd_log_escape (actor->name, -1, 64);
  rd_log (RD_LOG_INFO, "allowlist.add", "cidr=%s id=%" G_GINT64_FORMAT " by=%s", e->cidr, e->id, who);
  return g_steal_pointer (&e);
}

GPtrArray *
rd_ops_allowlist_list (RdOps *ops, const RdActor *actor, GError **error)
{
  if (!rd_ops_need_admin (actor, "the allowlist", error))
    return NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_allowlist_item_free);
  g_auto(GStrv) fixed = rd_allowlist_config_clients (ops->config);
  for (guint i = 0; fixed[i]; i++)
    {
      RdAllowlistItem *it = g_new0 (RdAllowlistItem, 1);
      it->entry = g_new0 (RdAllowlistEntry, 1);
      it->entry->cidr = rd_allowlist_normalize_cidr (fixed[i], NULL);
      if (it->entry->cidr == NULL)
        it->entry->cidr = g_strdup (fixed[i]);
      it->from_config = TRUE;
      g_ptr_array_add (out, it);
    }
  if (ops->store == NULL)
    return g_steal_pointer (&out); /* no database yet: no stored entries */
  g_autoptr(GPtrArray) stored = rd_store_allowlist_list (ops->store, error);
  if (stored == NULL)
    return NULL;
  for (guint i = 0; i < stored->len; i++)
    {
      RdAllowlistItem *it = g_new0 (RdAllowlistItem, 1);
      it->entry = g_ptr_array_steal_index (stored, i);
      g_ptr_array_insert (stored, (gint) i, NULL);
      it->expired = it->entry->expires_at && it->entry->expires_at <= now;
      g_ptr_array_add (out, it);
    }
  return g_steal_pointer (&out);
}

gboolean
rd_ops_allowlist_remove (RdOps *ops, const RdActor *actor, const char *cidr_or_id, GError **error)
{
  if (!rd_ops_need_admin (actor, "the allowlist", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  g_autoptr(GError) local = NULL;
  g_auto(RdStoreTx) tx = RD_STORE_TX_INIT;
  if (!rd_store_tx_begin (ops->store, &tx, error))
    return FALSE;
  if (rd_store_allowlist_remove (ops->store, cidr_or_id, &local))
    {
      if (!rd_store_admin_audit (ops->store, actor->name, "allowlist-remove", cidr_or_id, NULL, error)
          || !rd_store_tx_commit (&tx, error))
        return FALSE;
      g_autofree char *who = rd_log_escape (actor->name, -1, 64);
      g_autofree char *what = rd_log_escape (cidr_or_id, -1, 64);
      rd_log (RD_LOG_INFO, "allowlist.remove", "entry=%s by=%s", what, who);
      return TRUE;
    }
  if (g_error_matches (local, RD_ERROR, RD_ERROR_NOT_FOUND))
    {
      /* Not stored: is it one of the config file's entries? */
      g_autofree char *norm = rd_allowlist_normalize_cidr (cidr_or_id, NULL);
      g_auto(GStrv) fixed = rd_allowlist_config_clients (ops->config);
      for (guint i = 0; norm && fixed[i]; i++)
        {
          g_autofree char *f = rd_allowlist_normalize_cidr (fixed[i], NULL);
          if (g_strcmp0 (f, norm) == 0)
            {
              const char *path = rd_config_get_path (ops->config);
              if (rd_config_get_raw (ops->config, "allowlist", "clients") != NULL)
                g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                             "%s comes from the config file (%s): change [allowlist] clients there", norm,
                             path ? path : "settings");
              else
                g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                             "%s is a built-in entry ([allowlist] clients is not set, its default applies): "
                             "set [allowlist] clients in the config file to change it (empty: no built-in "
                             "entries)", norm);
              return FALSE;
            }
        }
    }
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}
