/* relaydesk — rules: the public entry points (compile in sieve-compile.c,
 * evaluate in sieve-interp.c) and the conformance output format. */
#include "sieve-private.h"
#include "rd-common.h"

#include <string.h>

void
rd_action_free (RdAction *a)
{
  if (a == NULL)
    return;
  g_free (a->mailbox);
  g_strfreev (a->flags);
  g_free (a->address);
  g_free (a->reason);
  g_free (a->from);
  g_free (a->from_header);
  g_free (a->subject);
  g_free (a->handle);
  g_free (a->priority);
  g_free (a->assign);
  g_free (a->status);
  g_strfreev (a->tags);
  g_free (a);
}

static void
expand_marks (char **text, const char *values[3])
{
  if (*text == NULL || strchr (*text, SV_TICKET_MARK) == NULL)
    return;
  GString *out = g_string_new (NULL);
  for (const char *p = *text; *p; p++)
    {
      if (*p == SV_TICKET_MARK && p[1])
        {
          const char *k = strchr ("NQT", p[1]);
          if (k)
            {
              g_string_append (out, values[k - "NQT"] ? values[k - "NQT"] : "");
              p++;
              continue;
            }
        }
      g_string_append_c (out, *p);
    }
  g_free (*text);
  *text = g_string_free (out, FALSE);
}

void
rd_action_expand_ticket (RdAction *a, gint64 number, const char *queue, const char *tag)
{
  g_autofree char *num = number > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, number) : g_strdup ("");
  const char *values[3] = { num, queue, tag };
  expand_marks (&a->mailbox, values);
  expand_marks (&a->address, values);
  expand_marks (&a->reason, values);
  expand_marks (&a->subject, values);
  expand_marks (&a->handle, values);
  expand_marks (&a->from_header, values);
}

RdRules *
rd_rules_new_empty (void)
{
  RdRules *r = g_new0 (RdRules, 1);
  rd_rules_limits_init (&r->limits);
  r->scripts = g_ptr_array_new_with_free_func ((GDestroyNotify) sv_script_free);
  r->globals = g_ptr_array_new_with_free_func (g_free);
  return r;
}

RdRules *
rd_rules_chain (RdRules *before, RdRules *main, RdRules *after)
{
  RdRules *r = rd_rules_new_empty ();
  RdRules *in[3] = { before, main, after };
  r->parts = g_new0 (RdRules *, 3);
  for (guint i = 0; i < 3; i++)
    if (in[i])
      {
        r->parts[r->n_parts++] = in[i];
        /* The chain's limits are the main script's. */
        if (i == 1 || r->n_parts == 1)
          r->limits = in[i]->limits;
      }
  if (r->n_parts == 0)
    {
      g_free (r->parts);
      r->parts = NULL;
    }
  return r;
}

void
rd_rules_free (RdRules *rules)
{
  if (rules == NULL)
    return;
  for (guint i = 0; i < rules->n_parts; i++)
    rd_rules_free (rules->parts[i]);
  g_free (rules->parts);
  if (rules->scripts)
    g_ptr_array_unref (rules->scripts);
  if (rules->globals)
    g_ptr_array_unref (rules->globals);
  g_free (rules);
}

GPtrArray *
rd_rules_evaluate (RdRules *rules, const RdMessage *msg, const RdEnvelope *envelope, GError **error)
{
  if (rules->n_parts == 0 && rules->scripts->len == 0)
    {
      GPtrArray *actions = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_action_free);
      RdAction *keep = g_new0 (RdAction, 1);
      keep->type = RD_ACTION_KEEP;
      g_ptr_array_add (actions, keep);
      return actions;
    }
  return sv_evaluate (rules, msg, envelope, error);
}

/* ---- the conformance format (../shared/conformance/sieve/README.md) ---- */

static void
json_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s ? s : ""; *p; p++)
    {
      guchar c = (guchar) *p;
      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

/* CRLF -> LF, trailing white space removed. (transfer full) */
static char *
normalize_text (const char *s)
{
  GString *o = g_string_new (NULL);
  for (const char *p = s ? s : ""; *p; p++)
    if (!(*p == '\r' && p[1] == '\n'))
      g_string_append_c (o, *p);
  while (o->len && g_ascii_isspace (o->str[o->len - 1]))
    g_string_truncate (o, o->len - 1);
  return g_string_free (o, FALSE);
}

static void
flags_suffix (GString *line, char **flags)
{
  if (flags == NULL || flags[0] == NULL)
    return;
  g_string_append (line, " flags=[");
  for (guint i = 0; flags[i]; i++)
    {
      if (i)
        g_string_append_c (line, ' ');
      g_string_append (line, flags[i]);
    }
  g_string_append_c (line, ']');
}

static void
bare_or_json (GString *out, const char *v)
{
  gboolean plain = *v != '\0';
  for (const char *p = v; *p && plain; p++)
    if ((guchar) *p <= ' ' || *p == '"' || *p == '\\' || *p == '[' || *p == ']' || *p == '=')
      plain = FALSE;
  if (plain)
    g_string_append (out, v);
  else
    json_string (out, v);
}

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

void
rd_rules_format_actions (GPtrArray *actions, gboolean runtime_error, GString *out)
{
  enum { K_KEEP, K_FILEINTO, K_REDIRECT, K_REJECT, K_VACATION, K_SUPPRESSED, K_DISCARD, K_TICKET, K_N };
  GPtrArray *lines[K_N];
  for (guint k = 0; k < K_N; k++)
    lines[k] = g_ptr_array_new_with_free_func (g_free);
  if (runtime_error)
    g_string_append (out, "error: runtime\n");
  for (guint i = 0; actions && i < actions->len; i++)
    {
      RdAction *a = g_ptr_array_index (actions, i);
      GString *l = g_string_new (NULL);
      guint kind = K_KEEP;
      switch (a->type)
        {
        case RD_ACTION_KEEP:
          g_string_append (l, "keep");
          flags_suffix (l, a->flags);
          kind = K_KEEP;
          break;
        case RD_ACTION_FILEINTO:
          g_string_append (l, "fileinto ");
          json_string (l, a->mailbox);
          flags_suffix (l, a->flags);
          kind = K_FILEINTO;
          break;
        case RD_ACTION_REDIRECT:
          g_string_append (l, "redirect ");
          json_string (l, a->address);
          kind = K_REDIRECT;
          break;
        case RD_ACTION_REJECT:
          {
            g_autofree char *r = normalize_text (a->reason);
            g_string_append (l, "reject ");
            json_string (l, r);
            kind = K_REJECT;
            break;
          }
        case RD_ACTION_VACATION:
          {
            g_autofree char *r = normalize_text (a->reason);
            g_autofree char *sha = g_compute_checksum_for_string (G_CHECKSUM_SHA1, r, -1);
            g_string_append_printf (l, "vacation to=<%s> from=<%s> subject=", a->address, a->from);
            json_string (l, a->subject);
            g_string_append_printf (l, " reason-sha1=%s%s", sha, a->mime ? " mime" : "");
            kind = K_VACATION;
            break;
          }
        case RD_ACTION_VACATION_SUPPRESSED:
          g_string_append_printf (l, "vacation-suppressed reason=%s", a->reason);
          kind = K_SUPPRESSED;
          break;
        case RD_ACTION_DISCARD:
          g_string_append (l, "discard");
          kind = K_DISCARD;
          break;
        case RD_ACTION_TICKET:
          g_string_append (l, "ticket");
          if (a->priority)
            g_string_append_printf (l, " priority=%s", a->priority);
          if (a->assign)
            {
              g_string_append (l, " assign=");
              bare_or_json (l, a->assign);
            }
          if (a->status)
            g_string_append_printf (l, " status=%s", a->status);
          if (a->tags)
            {
              g_string_append (l, " tags=[");
              for (guint t = 0; a->tags[t]; t++)
                {
                  if (t)
                    g_string_append_c (l, ' ');
                  bare_or_json (l, a->tags[t]);
                }
              g_string_append_c (l, ']');
            }
          kind = K_TICKET;
          break;
        default:
          break;
        }
      g_ptr_array_add (lines[kind], g_string_free (l, FALSE));
    }
  for (guint k = 0; k < K_N; k++)
    {
      g_ptr_array_sort (lines[k], cmp_str);
      for (guint i = 0; i < lines[k]->len; i++)
        {
          g_string_append (out, g_ptr_array_index (lines[k], i));
          g_string_append_c (out, '\n');
        }
      g_ptr_array_unref (lines[k]);
    }
}
