/* relaydesk — rules: the Sieve interpreter.
 *
 * Walks the compiled form of sieve-private.h over one message, running
 * each command and test through its entry of the table. It does no I/O:
 * the message view, the envelope and the callbacks in RdEnvelope are all
 * it sees. Per-message state (decoded headers, parsed addresses,
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

/* ---- actions ------------------------------------------------------------- */

gboolean
sv_count_action (SvRun *x, const SvCmd *c)
{
  if (++x->n_actions > x->rules->limits.max_actions)
    {
      sv_rt_error (x, c->line, "more actions than the limit (%u)", x->rules->limits.max_actions);
      return FALSE;
    }
  return TRUE;
}

RdAction *
sv_action_new (RdActionType type)
{
  RdAction *a = g_new0 (RdAction, 1);
  a->type = type;
  return a;
}

void
sv_keep (SvRun *x, const SvCmd *c)
{
  char **flags = sv_flags_for (x, c);
  if (x->keep == NULL)
    {
      x->keep = sv_action_new (RD_ACTION_KEEP);
      x->keep->flags = flags;
    }
  else
    sv_flags_merge (&x->keep->flags, flags);
}

/* ---- running ------------------------------------------------------------- */

void
sv_run_block (SvRun *x, const SvBlock *b)
{
  for (guint i = 0; i < b->n && !x->stopped && !x->returned; i++)
    {
      const SvCmd *c = b->cmds[i];
      if (c->run)
        c->run (x, c);
    }
}

void
sv_run_script (SvRun *x, guint index)
{
  SvScript *s = g_ptr_array_index (x->rules->scripts, index);
  GString **saved = x->locals;
  guint saved_n = x->n_locals;
  GString *stack[32] = { NULL };
  x->n_locals = s->n_vars;
  x->locals = s->n_vars <= G_N_ELEMENTS (stack) ? stack : g_new0 (GString *, s->n_vars);
  sv_run_block (x, s->body);
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
  sv_run_script (x, 0);
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
        sv_keep (&x, NULL);
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
        g_ptr_array_add (out, sv_action_new (RD_ACTION_DISCARD));
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
  return out;
}
