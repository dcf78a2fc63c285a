/* relaydesk — rules: the Sieve interpreter.
 *
 * Walks the compiled form of sieve-private.h over one message. It does no
 * I/O: the message view, the envelope and the callbacks in RdEnvelope are
 * all it sees. Per-message state (decoded headers, parsed addresses,
 * variables, the actions so far) lives in one SvRun on the stack, so one
 * RdRules can serve several threads.
 */
#include "sieve-run.h"
#include "rd-common.h"

#include <string.h>

void
sv_rt_error (SvRun *x, guint line, const char *fmt, ...)
{
  if (x->error)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *m = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  x->error = g_error_new (RD_ERROR, RD_ERROR_INVALID_DATA, "line %u: %s", line, m);
  x->stopped = TRUE;
}

/* ---- date (RFC 5260) ----------------------------------------------------- */

static GDateTime *
date_in_zone (GDateTime *dt, const char *zone)
{
  if (zone == NULL)
    return g_date_time_to_utc (dt);
  GTimeZone *tz = g_time_zone_new_identifier (zone);
  if (tz == NULL)
    return NULL;
  GDateTime *r = g_date_time_to_timezone (dt, tz);
  g_time_zone_unref (tz);
  return r;
}

static void
date_part (GDateTime *dt, const char *part, GString *out)
{
  gint64 off = g_date_time_get_utc_offset (dt) / G_USEC_PER_SEC;
  char sign = off < 0 ? '-' : '+';
  gint64 aoff = off < 0 ? -off : off;
  if (!g_ascii_strcasecmp (part, "year"))
    g_string_append_printf (out, "%04d", g_date_time_get_year (dt));
  else if (!g_ascii_strcasecmp (part, "month"))
    g_string_append_printf (out, "%02d", g_date_time_get_month (dt));
  else if (!g_ascii_strcasecmp (part, "day"))
    g_string_append_printf (out, "%02d", g_date_time_get_day_of_month (dt));
  else if (!g_ascii_strcasecmp (part, "date"))
    g_string_append_printf (out, "%04d-%02d-%02d", g_date_time_get_year (dt), g_date_time_get_month (dt),
                            g_date_time_get_day_of_month (dt));
  else if (!g_ascii_strcasecmp (part, "julian"))
    {
      /* Modified Julian Day: days since 1858-11-17. */
      GDate d;
      g_date_clear (&d, 1);
      g_date_set_dmy (&d, (GDateDay) g_date_time_get_day_of_month (dt), (GDateMonth) g_date_time_get_month (dt),
                      (GDateYear) g_date_time_get_year (dt));
      g_string_append_printf (out, "%d", (int) g_date_get_julian (&d) - 678576);
    }
  else if (!g_ascii_strcasecmp (part, "hour"))
    g_string_append_printf (out, "%02d", g_date_time_get_hour (dt));
  else if (!g_ascii_strcasecmp (part, "minute"))
    g_string_append_printf (out, "%02d", g_date_time_get_minute (dt));
  else if (!g_ascii_strcasecmp (part, "second"))
    g_string_append_printf (out, "%02d", g_date_time_get_second (dt));
  else if (!g_ascii_strcasecmp (part, "time"))
    g_string_append_printf (out, "%02d:%02d:%02d", g_date_time_get_hour (dt), g_date_time_get_minute (dt),
                            g_date_time_get_second (dt));
  else if (!g_ascii_strcasecmp (part, "iso8601"))
    {
      g_string_append_printf (out, "%04d-%02d-%02dT%02d:%02d:%02d", g_date_time_get_year (dt),
                              g_date_time_get_month (dt), g_date_time_get_day_of_month (dt),
                              g_date_time_get_hour (dt), g_date_time_get_minute (dt), g_date_time_get_second (dt));
      if (off == 0)
        g_string_append_c (out, 'Z');
      else
        g_string_append_printf (out, "%c%02d:%02d", sign, (int) (aoff / 3600), (int) (aoff / 60 % 60));
    }
  else if (!g_ascii_strcasecmp (part, "std11"))
    {
      static const char *const wd[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
      static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
      g_string_append_printf (out, "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", wd[g_date_time_get_day_of_week (dt) - 1],
                              g_date_time_get_day_of_month (dt), mo[g_date_time_get_month (dt) - 1],
                              g_date_time_get_year (dt), g_date_time_get_hour (dt), g_date_time_get_minute (dt),
                              g_date_time_get_second (dt), sign, (int) (aoff / 3600), (int) (aoff / 60 % 60));
    }
  else if (!g_ascii_strcasecmp (part, "zone"))
    g_string_append_printf (out, "%c%02d%02d", sign, (int) (aoff / 3600), (int) (aoff / 60 % 60));
  else if (!g_ascii_strcasecmp (part, "weekday"))
    g_string_append_printf (out, "%d", g_date_time_get_day_of_week (dt) % 7);
}

static gboolean
test_date (SvRun *x, const SvTest *t)
{
  g_autoptr(GPtrArray) dates = g_ptr_array_new_with_free_func ((GDestroyNotify) g_date_time_unref);
  if (t->kind == T_CURRENTDATE)
    {
      gint64 now = x->env->now ? x->env->now : g_get_real_time () / G_USEC_PER_SEC;
      g_ptr_array_add (dates, g_date_time_new_from_unix_utc (now));
    }
  else
    {
      const char *h = sv_expand (x, t->headers->items[0], NULL);
      GPtrArray *vals = sv_header_values (x, h);
      guint from = 0, to = 0;
      if (vals == NULL || !sv_index_pick (t, vals->len, &from, &to))
        return FALSE;
      GPtrArray *parsed = sv_date_values (x, h, vals);
      for (guint i = from; i < to; i++)
        if (g_ptr_array_index (parsed, i))
          g_ptr_array_add (dates, g_date_time_ref (g_ptr_array_index (parsed, i)));
    }
  const char *zone = t->zone ? sv_expand (x, t->zone, NULL) : NULL;
  const char *part = sv_expand (x, t->datepart, NULL);
  guint n = 0;
  gboolean result = FALSE;
  GString *val = g_string_new (NULL);
  for (guint i = 0; i < dates->len && !result; i++)
    {
      GDateTime *dt = g_ptr_array_index (dates, i);
      GDateTime *z = t->originalzone ? g_date_time_ref (dt) : date_in_zone (dt, zone);
      if (z == NULL)
        continue;
      g_string_truncate (val, 0);
      date_part (z, part, val);
      g_date_time_unref (z);
      if (val->len == 0)
        continue;
      n++;
      if (t->match != MATCH_COUNT && sv_match_value (x, t, val->str, val->len))
        result = TRUE;
    }
  g_string_free (val, TRUE);
  if (t->match == MATCH_COUNT)
    return sv_match_count (x, t, n);
  return result;
}

/* ---- flags (RFC 5232) ---------------------------------------------------- */

/* Adds the space-separated flags of @text to @set (lower-case keys). */
static void
flags_split (const char *text, GPtrArray *out)
{
  g_auto(GStrv) parts = g_strsplit_set (text, " \t\r\n", -1);
  for (guint i = 0; parts[i]; i++)
    if (*parts[i])
      {
        gboolean dup = FALSE;
        for (guint k = 0; k < out->len; k++)
          if (!g_ascii_strcasecmp (g_ptr_array_index (out, k), parts[i]))
            dup = TRUE;
        if (!dup && out->len < 256)
          g_ptr_array_add (out, g_strdup (parts[i]));
      }
}

static void
flags_join (GPtrArray *flags, GString *out)
{
  g_string_truncate (out, 0);
  for (guint i = 0; i < flags->len; i++)
    {
      if (i)
        g_string_append_c (out, ' ');
      g_string_append (out, g_ptr_array_index (flags, i));
    }
}

static void
flags_update (SvRun *x, const SvCmd *c)
{
  GString *var = sv_var_ref (x, c->flag_var);
  if (var == NULL)
    return;
  g_autoptr(GPtrArray) cur = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) given = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < c->flags->n; i++)
    flags_split (sv_expand (x, c->flags->items[i], NULL), given);
  if (c->kind != C_SETFLAG)
    flags_split (var->str, cur);
  if (c->kind == C_REMOVEFLAG)
    {
      for (guint i = 0; i < given->len; i++)
        for (guint k = 0; k < cur->len; k++)
          if (!g_ascii_strcasecmp (g_ptr_array_index (cur, k), g_ptr_array_index (given, i)))
            g_ptr_array_remove_index (cur, k--);
    }
  else
    for (guint i = 0; i < given->len; i++)
      flags_split (g_ptr_array_index (given, i), cur);
  flags_join (cur, var);
}

static int
cmp_pstr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Flags for a stored message: lower-case, unique, sorted (README). */
static char **
flags_canonical (const char *text)
{
  if (text[strspn (text, " \t\r\n")] == '\0')
    return NULL;   /* the common case: no flags */
  g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *lower = g_ascii_strdown (text, -1);
  flags_split (lower, v);
  if (v->len == 0)
    return NULL;
  g_ptr_array_sort (v, cmp_pstr);
  g_ptr_array_add (v, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&v), FALSE);
}

static char **
flags_for (SvRun *x, const SvCmd *c)
{
  if (c && c->flags)
    {
      GString *s = g_string_new (NULL);
      for (guint i = 0; i < c->flags->n; i++)
        {
          g_string_append (s, sv_expand (x, c->flags->items[i], NULL));
          g_string_append_c (s, ' ');
        }
      char **r = flags_canonical (s->str);
      g_string_free (s, TRUE);
      return r;
    }
  return flags_canonical (x->flags->str);
}

static char **
flags_union (char **a, char **b)
{
  if (a == NULL)
    return g_strdupv (b);
  g_autofree char *ja = g_strjoinv (" ", a);
  g_autofree char *jb = b ? g_strjoinv (" ", b) : g_strdup ("");
  g_autofree char *j = g_strconcat (ja, " ", jb, NULL);
  return flags_canonical (j);
}

/* ---- tests --------------------------------------------------------------- */

static gboolean eval_test (SvRun *x, const SvTest *t);

static gboolean
test_address (SvRun *x, const SvTest *t)
{
  /* Matched as they come; only :count needs them collected. */
  if (x->addr_part == NULL)
    x->addr_part = g_string_sized_new (128);
  GString *part = x->addr_part;
  g_autoptr(GPtrArray) vals = t->match == MATCH_COUNT ? g_ptr_array_new_with_free_func (g_free) : NULL;
  for (guint h = 0; h < t->headers->n; h++)
    {
      const char *name = sv_expand (x, t->headers->items[h], NULL);
      if (t->kind == T_ENVELOPE)
        {
          const char *v = sv_envelope_value (x, name);
          if (v == NULL)
            continue;
          g_string_truncate (part, 0);
          /* The null sender has no parts but :all (RFC 5228 5.4). */
          if (*v == '\0' && t->part != PART_ALL)
            continue;
          if (sv_address_part (v, t->part, part))
            {
              if (t->match != MATCH_COUNT)
                {
                  if (sv_match_value (x, t, part->str, part->len))
                    return TRUE;
                }
              else
                g_ptr_array_add (vals, g_strdup (part->str));
            }
          continue;
        }
      GPtrArray *addrs = sv_address_values (x, name);
      guint from = 0, to = 0;
      if (!sv_index_pick (t, addrs->len, &from, &to))
        continue;
      for (guint i = from; i < to; i++)
        {
          g_string_truncate (part, 0);
          if (!sv_address_part (g_ptr_array_index (addrs, i), t->part, part))
            continue;
          if (t->match == MATCH_COUNT)
            g_ptr_array_add (vals, g_strdup (part->str));
          else if (sv_match_value (x, t, part->str, part->len))
            return TRUE;
        }
    }
  if (t->match != MATCH_COUNT)
    return FALSE;
  SvTest plain = *t;
  plain.index = 0;
  return sv_test_values (x, &plain, vals);
}

static gboolean
test_header (SvRun *x, const SvTest *t)
{
  if (t->headers->n == 1)
    return sv_test_values (x, t, sv_header_values (x, sv_expand (x, t->headers->items[0], NULL)));
  g_autoptr(GPtrArray) all = g_ptr_array_new ();
  for (guint h = 0; h < t->headers->n; h++)
    {
      GPtrArray *vals = sv_header_values (x, sv_expand (x, t->headers->items[h], NULL));
      guint from = 0, to = 0;
      if (vals == NULL || !sv_index_pick (t, vals->len, &from, &to))
        continue;
      for (guint i = from; i < to; i++)
        g_ptr_array_add (all, g_ptr_array_index (vals, i));
    }
  SvTest plain = *t;
  plain.index = 0;
  return sv_test_values (x, &plain, all);
}

static gboolean
test_body (SvRun *x, const SvTest *t)
{
  const char *text = NULL;
  gsize len = 0;
  g_autofree char *owned = NULL;
  if (t->body == BODY_RAW)
    text = owned = sv_body_raw (x, &len);
  else
    {
      gboolean want = t->body == BODY_TEXT;
      if (t->body == BODY_CONTENT)
        for (guint i = 0; i < t->content->n; i++)
          {
            const char *ct = sv_expand (x, t->content->items[i], NULL);
            /* The body text comes from the text/plain part (or text/html
             * rendered); "" and "text" and those two types select it. */
            if (*ct == '\0' || !g_ascii_strcasecmp (ct, "text") || !g_ascii_strcasecmp (ct, "text/plain")
                || !g_ascii_strcasecmp (ct, "text/html"))
              want = TRUE;
          }
      if (want)
        text = sv_body_text (x, &len);
      if (text == NULL)
        return t->match == MATCH_COUNT ? sv_match_count (x, t, 0) : FALSE;
    }
  if (t->match == MATCH_COUNT)
    return sv_match_count (x, t, len ? 1 : 0);
  return sv_match_value (x, t, text, len);
}

static gboolean
test_hasflag (SvRun *x, const SvTest *t)
{
  g_autoptr(GPtrArray) flags = g_ptr_array_new_with_free_func (g_free);
  if (t->n_flag_vars)
    {
      for (guint i = 0; i < t->n_flag_vars; i++)
        {
          GString *v = sv_var_get (x, t->flag_vars[i]);
          if (v)
            flags_split (v->str, flags);
        }
    }
  else
    flags_split (x->flags->str, flags);
  return sv_test_values (x, t, flags);
}

static gboolean
test_duplicate (SvRun *x, const SvTest *t)
{
  g_autofree char *id = NULL;
  if (t->uniqueid)
    id = g_strdup (sv_expand (x, t->uniqueid, NULL));
  else
    {
      const char *h = t->dup_header ? sv_expand (x, t->dup_header, NULL) : "message-id";
      GPtrArray *vals = sv_header_values (x, h);
      if (vals == NULL || vals->len == 0)
        return FALSE;   /* nothing to track (RFC 7352 3.1) */
      id = g_strdup (g_ptr_array_index (vals, 0));
    }
  if (x->env->duplicate == NULL)
    return FALSE;
  const char *handle = t->handle ? sv_expand (x, t->handle, NULL) : "";
  g_autofree char *key = g_strdup_printf ("%s\n%s\n%s", x->env->recipient ? x->env->recipient : "", handle, id);
  gint64 seconds = t->has_seconds ? (gint64) MIN (t->seconds, (guint64) 3650 * 86400) : 7 * 86400;
  return x->env->duplicate (x->env->duplicate_data, key, seconds, t->last);
}

static gboolean
eval_test (SvRun *x, const SvTest *t)
{
  if (t == NULL || x->error)
    return FALSE;
  switch (t->kind)
    {
    case T_TRUE: return TRUE;
    case T_FALSE: return FALSE;
    case T_NOT: return !eval_test (x, t->children[0]);
    case T_ALLOF:
      for (guint i = 0; i < t->n_children; i++)
        if (!eval_test (x, t->children[i]))
          return FALSE;
      return TRUE;
    case T_ANYOF:
      for (guint i = 0; i < t->n_children; i++)
        if (eval_test (x, t->children[i]))
          return TRUE;
      return FALSE;
    case T_ADDRESS:
    case T_ENVELOPE:
      return test_address (x, t);
    case T_HEADER:
      return test_header (x, t);
    case T_EXISTS:
      for (guint i = 0; i < t->headers->n; i++)
        {
          GPtrArray *v = sv_header_values (x, sv_expand (x, t->headers->items[i], NULL));
          if (v == NULL || v->len == 0)
            return FALSE;
        }
      return TRUE;
    case T_SIZE:
      {
        guint64 size = rd_message_get_size (x->msg);
        return t->over ? size > t->size : size < t->size;
      }
    case T_STRING:
      {
        if (t->match != MATCH_COUNT)
          {
            for (guint i = 0; i < t->headers->n && !x->error; i++)
              {
                gsize vl;
                const char *v = sv_expand (x, t->headers->items[i], &vl);
                /* @v lives in a scratch buffer: dynamic keys expand into
                 * others, and enough of them would come round to it. */
                gboolean dyn_keys = FALSE;
                for (guint k = 0; k < t->keys->n; k++)
                  dyn_keys |= t->keys->items[k]->dynamic;
                g_autofree char *copy = t->headers->items[i]->dynamic && dyn_keys ? g_strndup (v, vl) : NULL;
                if (sv_match_value (x, t, copy ? copy : v, vl))
                  return TRUE;
              }
            return FALSE;
          }
        g_autoptr(GPtrArray) vals = g_ptr_array_new_with_free_func (g_free);
        for (guint i = 0; i < t->headers->n; i++)
          g_ptr_array_add (vals, g_strdup (sv_expand (x, t->headers->items[i], NULL)));
        return sv_test_values (x, t, vals);
      }
    case T_BODY: return test_body (x, t);
    case T_DATE:
    case T_CURRENTDATE:
      return test_date (x, t);
    case T_HASFLAG: return test_hasflag (x, t);
    case T_DUPLICATE: return test_duplicate (x, t);
    case T_FOLLOWUP: return x->env->followup;
    default: return FALSE;
    }
}

/* ---- commands ------------------------------------------------------------ */

static gboolean
count_action (SvRun *x, const SvCmd *c)
{
  if (++x->n_actions > x->rules->limits.max_actions)
    {
      sv_rt_error (x, c->line, "more actions than the limit (%u)", x->rules->limits.max_actions);
      return FALSE;
    }
  return TRUE;
}

static RdAction *
action_new (RdActionType type)
{
  RdAction *a = g_new0 (RdAction, 1);
  a->type = type;
  return a;
}

static void
do_keep (SvRun *x, const SvCmd *c)
{
  char **flags = flags_for (x, c);
  if (x->keep == NULL)
    {
      x->keep = action_new (RD_ACTION_KEEP);
      x->keep->flags = flags;
    }
  else
    {
      char **u = flags_union (x->keep->flags, flags);
      g_strfreev (x->keep->flags);
      g_strfreev (flags);
      x->keep->flags = u;
    }
}

/* An address in To/Cc/Bcc/Resent-* (RFC 5230 4.5). */
static gboolean
addressed_to (SvRun *x, const char *addr)
{
  static const char *const hdrs[] = { "to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc" };
  for (guint h = 0; h < G_N_ELEMENTS (hdrs); h++)
    {
      GPtrArray *v = sv_address_values (x, hdrs[h]);
      for (guint i = 0; i < v->len; i++)
        if (sv_same_address (g_ptr_array_index (v, i), addr))
          return TRUE;
    }
  return FALSE;
}

static const char *
vacation_suppressed (SvRun *x, const SvCmd *c, const char *sender, GPtrArray *addresses)
{
  if (*sender == '\0')
    return "null-sender";
  if (x->env->recipient && sv_same_address (sender, x->env->recipient))
    return "own-address";
  for (guint i = 0; i < addresses->len; i++)
    if (sv_same_address (sender, g_ptr_array_index (addresses, i)))
      return "own-address";
  if (sv_header_prefix_exists (x, "list-"))
    return "mailing-list";
  GPtrArray *v = sv_header_values (x, "auto-submitted");
  if (v && v->len)
    {
      const char *a = g_ptr_array_index (v, 0);
      gsize n = strcspn (a, "; \t(");
      if (!(n == 2 && !g_ascii_strncasecmp (a, "no", 2)))
        return "auto-submitted";
    }
  v = sv_header_values (x, "precedence");
  if (v && v->len)
    {
      const char *p = g_ptr_array_index (v, 0);
      if (!g_ascii_strcasecmp (p, "bulk") || !g_ascii_strcasecmp (p, "list") || !g_ascii_strcasecmp (p, "junk"))
        return "precedence";
    }
  v = sv_header_values (x, "x-auto-response-suppress");
  if (v && v->len)
    {
      g_auto(GStrv) parts = g_strsplit_set (g_ptr_array_index (v, 0), ", \t", -1);
      for (guint i = 0; parts[i]; i++)
        if (!g_ascii_strcasecmp (parts[i], "all") || !g_ascii_strcasecmp (parts[i], "oof"))
          return "auto-response-suppress";
    }
  const char *at = strrchr (sender, '@');
  g_autofree char *local = g_ascii_strdown (sender, at ? at - sender : -1);
  if (!strcmp (local, "mailer-daemon") || !strcmp (local, "listserv") || !strcmp (local, "majordomo")
      || strstr (local, "-request") || g_str_has_prefix (local, "owner-"))
    return "system-address";
  gboolean addressed = x->env->recipient && *x->env->recipient && addressed_to (x, x->env->recipient);
  for (guint i = 0; i < addresses->len && !addressed; i++)
    addressed = addressed_to (x, g_ptr_array_index (addresses, i));
  if (!addressed)
    return "not-addressed";
  return NULL;
}

static void
do_vacation (SvRun *x, const SvCmd *c)
{
  if (x->vacation)
    {
      sv_rt_error (x, c->line, "vacation used twice");
      return;
    }
  const char *sender = x->env->sender ? x->env->sender : "";
  g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func (g_free);
  if (c->addresses)
    for (guint i = 0; i < c->addresses->n; i++)
      {
        const char *a = sv_expand (x, c->addresses->items[i], NULL);
        char *spec = sv_address_extract (a, strlen (a));
        g_ptr_array_add (addresses, spec ? spec : g_strdup (a));
      }
  const char *why = vacation_suppressed (x, c, sender, addresses);
  if (why)
    {
      x->vacation = action_new (RD_ACTION_VACATION_SUPPRESSED);
      x->vacation->reason = g_strdup (why);
      return;
    }
  RdAction *a = action_new (RD_ACTION_VACATION);
  a->address = g_strdup (sender);
  if (c->from)
    {
      gsize fl;
      const char *f = sv_expand (x, c->from, &fl);
      a->from = sv_address_extract (f, fl);
      if (a->from == NULL)
        {
          rd_action_free (a);
          sv_rt_error (x, c->line, "vacation: invalid :from address");
          return;
        }
      a->from_header = g_strndup (f, fl);
    }
  else
    {
      const char *rcpt = x->env->recipient ? x->env->recipient : "";
      if (*rcpt && addressed_to (x, rcpt))
        a->from = g_strdup (rcpt);
      else
        {
          for (guint i = 0; i < addresses->len && a->from == NULL; i++)
            if (addressed_to (x, g_ptr_array_index (addresses, i)))
              a->from = g_strdup (sv_expand (x, c->addresses->items[i], NULL));
          if (a->from == NULL)
            a->from = g_strdup (rcpt);
        }
    }
  x->defer_marks = TRUE;
  if (c->subject)
    a->subject = g_strdup (sv_expand (x, c->subject, NULL));
  else
    {
      const char *s = rd_message_get_subject (x->msg);
      a->subject = s ? g_strconcat ("Auto: ", s, NULL) : g_strdup ("Automated reply");
    }
  a->reason = g_strdup (c->arg ? sv_expand (x, c->arg, NULL) : "");
  if (c->handle)
    a->handle = g_strdup (sv_expand (x, c->handle, NULL));
  else
    {
      /* RFC 5230 4.2: without :handle, vacation actions with the same
       * arguments share one. Taken from the arguments as written, so that
       * ${ticket.number} and other variables do not make every reply new. */
      g_autofree char *k = g_strdup_printf ("%s\n%s\n%s", c->subject ? c->subject->text : "",
                                            c->from ? c->from->text : "", c->arg ? c->arg->text : "");
      a->handle = g_compute_checksum_for_string (G_CHECKSUM_SHA1, k, -1);
    }
  x->defer_marks = FALSE;
  a->period = c->period;
  a->mime = c->mime;
  x->vacation = a;
}

static void
do_set (SvRun *x, const SvCmd *c)
{
  gsize len;
  const char *v = sv_expand (x, c->arg, &len);
  GString *out = g_string_new_len (v, (gssize) len);
  guint m = c->modifiers;
  /* RFC 5229 4.1: applied from the highest precedence down. */
  if (m & SET_LOWER)
    for (gsize i = 0; i < out->len; i++)
      out->str[i] = g_ascii_tolower (out->str[i]);
  if (m & SET_UPPER)
    for (gsize i = 0; i < out->len; i++)
      out->str[i] = g_ascii_toupper (out->str[i]);
  if ((m & SET_LOWERFIRST) && out->len)
    out->str[0] = g_ascii_tolower (out->str[0]);
  if ((m & SET_UPPERFIRST) && out->len)
    out->str[0] = g_ascii_toupper (out->str[0]);
  if (m & (SET_QUOTEWILDCARD | SET_QUOTEREGEX))
    {
      const char *special = (m & SET_QUOTEREGEX) ? "\\*?.+()[]{}^$|" : "\\*?";
      GString *q = g_string_new (NULL);
      for (gsize i = 0; i < out->len; i++)
        {
          if (strchr (special, out->str[i]) && out->str[i])
            g_string_append_c (q, '\\');
          g_string_append_c (q, out->str[i]);
        }
      g_string_free (out, TRUE);
      out = q;
    }
  if (m & SET_LENGTH)
    {
      glong n = g_utf8_validate (out->str, (gssize) out->len, NULL) ? g_utf8_strlen (out->str, (gssize) out->len)
                                                                    : (glong) out->len;
      g_string_printf (out, "%ld", n);
    }
  if (out->len > x->rules->limits.max_string_length)
    g_string_truncate (out, x->rules->limits.max_string_length);
  GString *var = sv_var_ref (x, c->var);
  if (var)
    g_string_assign (var, out->str);
  g_string_free (out, TRUE);
}

static void
do_ticket (SvRun *x, const SvCmd *c)
{
  if (x->ticket == NULL)
    x->ticket = action_new (RD_ACTION_TICKET);
  RdAction *t = x->ticket;
  if (c->priority)
    {
      const char *v = sv_expand (x, c->priority, NULL);
      if (!sv_ticket_priority_ok (v))
        {
          sv_rt_error (x, c->line, "ticket: invalid priority");
          return;
        }
      g_free (t->priority);
      t->priority = g_strdup (v);
    }
  if (c->status)
    {
      const char *v = sv_expand (x, c->status, NULL);
      if (!sv_ticket_status_ok (v))
        {
          sv_rt_error (x, c->line, "ticket: invalid status");
          return;
        }
      g_free (t->status);
      t->status = g_strdup (v);
    }
  if (c->assign)
    {
      const char *v = sv_expand (x, c->assign, NULL);
      g_free (t->assign);
      t->assign = *v ? g_strdup (v) : NULL;
    }
  if (c->tags)
    {
      g_autoptr(GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
      if (t->tags)
        for (guint i = 0; t->tags[i]; i++)
          g_ptr_array_add (tags, g_strdup (t->tags[i]));
      for (guint i = 0; i < c->tags->n && tags->len < 64; i++)
        {
          const char *v = sv_expand (x, c->tags->items[i], NULL);
          if (*v && !g_ptr_array_find_with_equal_func (tags, v, g_str_equal, NULL))
            g_ptr_array_add (tags, g_strdup (v));
        }
      g_strfreev (t->tags);
      g_ptr_array_add (tags, NULL);
      t->tags = (char **) g_ptr_array_free (g_steal_pointer (&tags), FALSE);
    }
}

static void run_script (SvRun *x, guint index);

static void
run_block (SvRun *x, const SvBlock *b)
{
  for (guint i = 0; i < b->n && !x->stopped && !x->returned; i++)
    {
      const SvCmd *c = b->cmds[i];
      switch (c->kind)
        {
        case C_IF:
          for (guint k = 0; k < c->n_branches; k++)
            if (c->tests[k] == NULL || eval_test (x, c->tests[k]))
              {
                if (!x->error)
                  run_block (x, c->blocks[k]);
                break;
              }
          break;
        case C_STOP:
          x->stopped = TRUE;
          break;
        case C_RETURN:
          x->returned = TRUE;
          break;
        case C_KEEP:
          if (!count_action (x, c))
            return;
          do_keep (x, c);
          x->implicit_keep = FALSE;
          break;
        case C_DISCARD:
          x->discard = TRUE;
          x->implicit_keep = FALSE;
          break;
        case C_FILEINTO:
          {
            if (!count_action (x, c))
              return;
            gsize len;
            const char *box = sv_expand (x, c->arg, &len);
            if (len == 0 || memchr (box, '\0', len) || !g_utf8_validate (box, (gssize) len, NULL))
              {
                sv_rt_error (x, c->line, "fileinto: invalid mailbox name");
                return;
              }
            if (!c->copy)
              x->implicit_keep = FALSE;
            if (!g_ascii_strcasecmp (box, "INBOX"))
              {
                do_keep (x, c);
                break;
              }
            char **flags = flags_for (x, c);
            RdAction *found = NULL;
            for (guint k = 0; k < x->fileinto->len; k++)
              {
                RdAction *f = g_ptr_array_index (x->fileinto, k);
                if (!strcmp (f->mailbox, box))
                  found = f;
              }
            if (found)
              {
                char **u = flags_union (found->flags, flags);
                g_strfreev (found->flags);
                g_strfreev (flags);
                found->flags = u;
              }
            else
              {
                RdAction *a = action_new (RD_ACTION_FILEINTO);
                a->mailbox = g_strndup (box, len);
                a->flags = flags;
                a->copy = c->copy;
                g_ptr_array_add (x->fileinto, a);
              }
            break;
          }
        case C_REDIRECT:
          {
            if (!count_action (x, c))
              return;
            gsize len;
            const char *v = sv_expand (x, c->arg, &len);
            char *addr = sv_address_extract (v, len);
            if (addr == NULL)
              {
                sv_rt_error (x, c->line, "redirect: invalid address");
                return;
              }
            /* Lower-case the domain; merge duplicates (RFC 5228 2.10.3). */
            char *at = strrchr (addr, '@');
            for (char *q = at; q && *q; q++)
              *q = g_ascii_tolower (*q);
            if (!c->copy)
              x->implicit_keep = FALSE;
            gboolean dup = FALSE;
            for (guint k = 0; k < x->redirect->len; k++)
              if (sv_same_address (((RdAction *) g_ptr_array_index (x->redirect, k))->address, addr))
                dup = TRUE;
            if (dup)
              {
                g_free (addr);
                break;
              }
            if (++x->n_redirects > x->rules->limits.max_redirects)
              {
                g_free (addr);
                sv_rt_error (x, c->line, "more redirects than the limit (%u)", x->rules->limits.max_redirects);
                return;
              }
            RdAction *a = action_new (RD_ACTION_REDIRECT);
            a->address = addr;
            a->copy = c->copy;
            g_ptr_array_add (x->redirect, a);
            break;
          }
        case C_REJECT:
          {
            if (!count_action (x, c))
              return;
            if (x->reject)
              {
                sv_rt_error (x, c->line, "reject used twice");
                return;
              }
            x->reject = action_new (RD_ACTION_REJECT);
            x->defer_marks = TRUE;
            x->reject->reason = g_strdup (sv_expand (x, c->arg, NULL));
            x->defer_marks = FALSE;
            x->implicit_keep = FALSE;
            break;
          }
        case C_VACATION:
          if (!count_action (x, c))
            return;
          do_vacation (x, c);
          break;
        case C_SET:
          do_set (x, c);
          break;
        case C_SETFLAG:
        case C_ADDFLAG:
        case C_REMOVEFLAG:
          flags_update (x, c);
          break;
        case C_INCLUDE:
          {
            if (c->once)
              {
                if (g_hash_table_contains (x->once, GUINT_TO_POINTER (c->script + 1)))
                  break;
                g_hash_table_add (x->once, GUINT_TO_POINTER (c->script + 1));
              }
            if (x->include_depth >= x->rules->limits.max_include_depth)
              {
                sv_rt_error (x, c->line, "include nested deeper than the limit");
                return;
              }
            x->include_depth++;
            run_script (x, c->script);
            x->include_depth--;
            break;
          }
        case C_TICKET:
          do_ticket (x, c);
          break;
        default:
          break;
        }
    }
}

static void
run_script (SvRun *x, guint index)
{
  SvScript *s = g_ptr_array_index (x->rules->scripts, index);
  GString **saved = x->locals;
  guint saved_n = x->n_locals;
  GString *stack[32] = { NULL };
  x->n_locals = s->n_vars;
  x->locals = s->n_vars <= G_N_ELEMENTS (stack) ? stack : g_new0 (GString *, s->n_vars);
  run_block (x, s->body);
  x->returned = FALSE;
  for (guint i = 0; i < s->n_vars; i++)
    if (x->locals[i])
      g_string_free (x->locals[i], TRUE);
  if (x->locals != stack)
    g_free (x->locals);
  x->locals = saved;
  x->n_locals = saved_n;
}

/* Runs @rules (or each part of a chain) against the shared SvRun. */
static void
run_rules (SvRun *x, RdRules *rules)
{
  if (rules->n_parts)
    {
      for (guint i = 0; i < rules->n_parts && !x->stopped; i++)
        run_rules (x, rules->parts[i]);
      return;
    }
  if (rules->scripts == NULL || rules->scripts->len == 0)
    return;
  RdRules *saved = x->rules;
  GString **saved_globals = x->globals;
  x->rules = rules;
  x->globals = g_new0 (GString *, rules->globals->len + 1);
  GHashTable *saved_once = x->once;
  x->once = g_hash_table_new (NULL, NULL);
  run_script (x, 0);
  for (guint i = 0; i < rules->globals->len; i++)
    if (x->globals[i])
      g_string_free (x->globals[i], TRUE);
  g_free (x->globals);
  g_hash_table_unref (x->once);
  x->once = saved_once;
  x->globals = saved_globals;
  x->rules = saved;
}

static RdRules *
first_part (RdRules *r)
{
  while (r->n_parts)
    r = r->parts[0];
  return r;
}

GPtrArray *
sv_evaluate (RdRules *rules, const RdMessage *msg, const RdEnvelope *env, GError **error)
{
  SvRun x = { 0 };
  x.rules = first_part (rules);
  x.msg = msg;
  x.env = env;
  x.flags = g_string_new (NULL);
  x.implicit_keep = TRUE;
  x.fileinto = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_action_free);
  x.redirect = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_action_free);
  run_rules (&x, rules);

  /* RFC 5429 2.1: reject cannot be combined with delivering the message. */
  if (!x.error && x.reject && (x.keep || x.fileinto->len || x.redirect->len))
    sv_rt_error (&x, 0, "reject cannot be combined with keep, fileinto or redirect");

  GPtrArray *out = NULL;
  if (x.error == NULL)
    {
      out = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_action_free);
      if (x.implicit_keep)
        do_keep (&x, NULL);
      gboolean delivered = x.keep || x.fileinto->len || x.redirect->len || x.reject;
      if (x.keep)
        g_ptr_array_add (out, g_steal_pointer (&x.keep));
      for (guint i = 0; i < x.fileinto->len; i++)
        g_ptr_array_add (out, g_ptr_array_steal_index (x.fileinto, i--));
      for (guint i = 0; i < x.redirect->len; i++)
        g_ptr_array_add (out, g_ptr_array_steal_index (x.redirect, i--));
      if (x.reject)
        g_ptr_array_add (out, g_steal_pointer (&x.reject));
      if (x.vacation)
        g_ptr_array_add (out, g_steal_pointer (&x.vacation));
      if (!delivered)
        g_ptr_array_add (out, action_new (RD_ACTION_DISCARD));
      if (x.ticket)
        g_ptr_array_add (out, g_steal_pointer (&x.ticket));
    }
  else
    g_propagate_error (error, g_steal_pointer (&x.error));

  rd_action_free (x.keep);
  rd_action_free (x.reject);
  rd_action_free (x.vacation);
  rd_action_free (x.ticket);
  g_ptr_array_unref (x.fileinto);
  g_ptr_array_unref (x.redirect);
  sv_match_clear (&x);
  g_string_free (x.flags, TRUE);
  for (guint i = 0; i < SV_N_SCRATCH; i++)
    if (x.scratch[i])
      g_string_free (x.scratch[i], TRUE);
  sv_message_clear (&x);
  if (x.addr_part)
    g_string_free (x.addr_part, TRUE);
  return out;
}
