/* relaydesk — rules: "vnd.relaydesk.ticket" (docs/sieve-vnd-relaydesk-ticket.md).
 *
 * What Sieve cannot say about a helpdesk ticket: the command
 * ticket [:priority P] [:assign AGENT] [:status S] [:tags LIST], the tests
 * followup (the message continues an existing ticket) and authenticated
 * (the From domain passed DMARC: aligned SPF or DKIM, auth/), and the variables
 * ${ticket.number}, ${ticket.queue}, ${ticket.tag} (also with only
 * "variables" required). For a ticket opened after the rules ran, they
 * expand to markers in vacation and reject texts that
 * rd_action_expand_ticket() replaces (RdEnvelope.defer_ticket_vars).
 */
#include "sieve-parse.h"
#include "sieve-run.h"
#include "model.h"

#include <string.h>

enum { ATTR_PRIORITY, ATTR_ASSIGN, ATTR_STATUS, N_ATTRS };

typedef struct {
  SvString *attr[N_ATTRS];
  SvStrList *tags;
} TicketData;

/* The words come from the ticket model (store/model.h), the one list the
 * schema, the store and every front end use. */
static gboolean
is_priority (const char *v)
{
  RdTicketPriority p;
  return rd_ticket_priority_from_string (v, &p);
}

static gboolean
is_status (const char *v)
{
  RdTicketStatus s;
  return rd_ticket_status_from_string (v, &s);
}

/* ---- ticket --------------------------------------------------------------- */

static void
tag_attribute (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  TicketData *d = tc->cmd->data;
  SvString *s = sv_tag_string (tc, tag->name);
  if (s == NULL)
    return;
  SvString **slot = &d->attr[tag->value];
  if (*slot)
    SV_ERR (tc->c, a->line, a->col, "ticket: :%s given twice", tag->name);
  sv_string_free (*slot);
  *slot = s;
  if (s->dynamic)
    return;
  if (tag->value == ATTR_PRIORITY && !is_priority (s->text))
    SV_ERR (tc->c, s->line, s->col, "ticket: :priority must be one of %s", rd_ticket_priorities_text ());
  if (tag->value == ATTR_STATUS && !is_status (s->text))
    SV_ERR (tc->c, s->line, s->col, "ticket: :status must be one of %s", rd_ticket_statuses_text ());
  if (tag->value == ATTR_ASSIGN && s->len == 0)
    SV_ERR (tc->c, s->line, s->col, "ticket: :assign needs an agent name");
}

static void
tag_tags (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  TicketData *d = tc->cmd->data;
  sv_tag_set_strlist (tc, tag->name, &d->tags);
}

static void
compile_ticket (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  const TicketData *d = cmd->data;
  sv_want_count (c, n, p, 0);
  if (!d->attr[ATTR_PRIORITY] && !d->attr[ATTR_ASSIGN] && !d->attr[ATTR_STATUS] && !d->tags)
    SV_WARN (c, n->line, n->col, "ticket without arguments does nothing");
}

/* The value of @s for *@field when it is one of @allowed; FALSE (a
 * run-time error) when not. */
static gboolean
set_checked (SvRun *x, const SvCmd *c, const SvString *s, gboolean (*allowed) (const char *), char **field,
             const char *what)
{
  const char *v = sv_expand (x, s, NULL);
  if (!allowed (v))
    {
      sv_rt_error (x, c->line, "ticket: invalid %s", what);
      return FALSE;
    }
  g_free (*field);
  *field = g_strdup (v);
  return TRUE;
}

static void
run_ticket (SvRun *x, const SvCmd *c)
{
  const TicketData *d = c->data;
  if (x->ticket == NULL)
    x->ticket = sv_action_new (RD_ACTION_TICKET);
  RdAction *t = x->ticket;
  if (d->attr[ATTR_PRIORITY] && !set_checked (x, c, d->attr[ATTR_PRIORITY], is_priority, &t->priority, "priority"))
    return;
  if (d->attr[ATTR_STATUS] && !set_checked (x, c, d->attr[ATTR_STATUS], is_status, &t->status, "status"))
    return;
  if (d->attr[ATTR_ASSIGN])
    {
      const char *v = sv_expand (x, d->attr[ATTR_ASSIGN], NULL);
      g_free (t->assign);
      t->assign = *v ? g_strdup (v) : NULL;
    }
  if (d->tags)
    {
      g_autoptr(GPtrArray) tags = g_ptr_array_new_with_free_func (g_free);
      if (t->tags)
        for (guint i = 0; t->tags[i]; i++)
          g_ptr_array_add (tags, g_strdup (t->tags[i]));
      for (guint i = 0; i < d->tags->n && tags->len < 64; i++)
        {
          const char *v = sv_expand (x, d->tags->items[i], NULL);
          if (*v && !g_ptr_array_find_with_equal_func (tags, v, g_str_equal, NULL))
            g_ptr_array_add (tags, g_strdup (v));
        }
      g_strfreev (t->tags);
      g_ptr_array_add (tags, NULL);
      t->tags = (char **) g_ptr_array_free (g_steal_pointer (&tags), FALSE);
    }
}

static void
ticket_clear (gpointer data)
{
  TicketData *d = data;
  for (guint i = 0; i < N_ATTRS; i++)
    sv_string_free (d->attr[i]);
  sv_strlist_free (d->tags);
}

/* ---- followup ------------------------------------------------------------- */

static gboolean
run_followup (SvRun *x, const SvTest *t)
{
  return x->env->followup;
}

/* ---- authenticated ---------------------------------------------------------- */

/* True when sender authentication verified the From domain (DMARC pass,
 * RFC 7489: an aligned SPF or DKIM pass). Unknown is false. */
static gboolean
run_authenticated (SvRun *x, const SvTest *t)
{
  return x->env->auth != NULL && x->env->auth->verified;
}

/* ---- ${ticket.number}, ${ticket.queue}, ${ticket.tag} --------------------- */

static int
var_lookup (const char *lname)
{
  static const char *const names[] = { "ticket.number", "ticket.queue", "ticket.tag" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (!strcmp (lname, names[i]))
      return (int) i;
  return -1;
}

static void
var_expand (SvRun *x, int index, GString *out)
{
  const RdEnvelope *e = x->env;
  if (e->ticket_number > 0)
    {
      if (index == 0)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, e->ticket_number);
      else if (index == 1 && e->ticket_queue)
        g_string_append (out, e->ticket_queue);
      else if (index == 2 && e->ticket_tag)
        g_string_append (out, e->ticket_tag);
      return;
    }
  if (e->defer_ticket_vars && x->defer_marks)
    {
      g_string_append_c (out, SV_TICKET_MARK);
      g_string_append_c (out, "NQT"[index]);
    }
}

/* ---- the table ------------------------------------------------------------ */

static const SvTagDef ticket_tags[] = {
  { .name = "priority", .value = ATTR_PRIORITY, .compile = tag_attribute },
  { .name = "assign", .value = ATTR_ASSIGN, .compile = tag_attribute },
  { .name = "status", .value = ATTR_STATUS, .compile = tag_attribute },
  { .name = "tags", .compile = tag_tags },
  { .name = NULL }
};

static const SvCommandDef commands[] = {
  { .name = "ticket", .ext = EXT_TICKET, .tags = ticket_tags, .data_size = sizeof (TicketData),
    .compile = compile_ticket, .run = run_ticket, .clear = ticket_clear },
  { .name = NULL }
};

static const SvTestDef tests[] = {
  { .name = "followup", .ext = EXT_TICKET, .compile = sv_compile_no_test_arguments, .run = run_followup },
  { .name = "authenticated", .ext = EXT_TICKET, .compile = sv_compile_no_test_arguments, .run = run_authenticated },
  { .name = NULL }
};

static const SvNamespace ticket_namespace = {
  .prefix = "ticket.",
  .enabled_by = EXT_TICKET | EXT_VARIABLES,
  .lookup = var_lookup,
  .expand = var_expand,
};

const SvExtension sv_ext_ticket = {
  .capability = "vnd.relaydesk.ticket",
  .ext = EXT_TICKET,
  .commands = commands,
  .tests = tests,
  .var_namespace = &ticket_namespace,
};
