/* relaydesk — rules: Sieve "vacation" (RFC 5230) and "vacation-seconds"
 * (RFC 6131): the autoresponse.
 *
 * vacation [:days N / :seconds N] [:subject S] [:from F] [:addresses A]
 * [:mime] [:handle H] REASON. Whether to answer is decided here as far as
 * the message tells (4.5, RFC 3834 2: null sender, own address, lists,
 * Auto-Submitted, Precedence, X-Auto-Response-Suppress, system senders,
 * not addressed to us), the answer is an action; the per-sender response
 * log over :days is desk/'s (it has the database).
 */
#include "sieve-parse.h"
#include "sieve-run.h"
#include "mail-format.h"

#include <string.h>

typedef struct {
  SvString *subject, *from, *handle;
  SvStrList *addresses;
  gint64 period;        /* seconds between replies to one sender */
  gboolean period_given;
  gboolean mime;
} VacationData;

/* ---- compiling ------------------------------------------------------------ */

static void
begin_vacation (SvCompiler *c, SvNode *n, SvCmd *cmd)
{
  VacationData *d = cmd->data;
  d->period = 7 * 86400;
}

static void
tag_period (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  VacationData *d = tc->cmd->data;
  guint64 v = 0;
  if (d->period_given)
    SV_ERR (tc->c, a->line, a->col, "vacation: :days or :seconds given twice");
  d->period_given = TRUE;
  if (!sv_tag_number (tc, tag->name, &v))
    return;
  /* RFC 5230 4.1: at least 1 day; RFC 6131: 0 seconds allowed. */
  if (tag->value == 86400)
    d->period = (gint64) MIN (MAX (v, 1), (guint64) 3650) * 86400;
  else
    d->period = (gint64) MIN (v, (guint64) 3650 * 86400);
}

enum { STR_SUBJECT, STR_FROM, STR_HANDLE };

static void
tag_string_arg (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  VacationData *d = tc->cmd->data;
  SvString **slot = tag->value == STR_SUBJECT ? &d->subject : tag->value == STR_FROM ? &d->from : &d->handle;
  if (sv_tag_set_string (tc, tag->name, slot) && tag->value == STR_FROM && !d->from->dynamic)
    {
      g_autofree char *addr = sv_address_extract (d->from->text, d->from->len);
      if (addr == NULL)
        SV_ERR (tc->c, d->from->line, d->from->col, "vacation: invalid :from address \"%s\"", d->from->text);
    }
}

static void
tag_addresses (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  VacationData *d = tc->cmd->data;
  sv_tag_set_strlist (tc, tag->name, &d->addresses);
}

static void
tag_mime (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  VacationData *d = tc->cmd->data;
  d->mime = TRUE;
}

static void
compile_vacation (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  sv_want_one_string (c, n, p, cmd, "a reason");
}

static void
vacation_clear (gpointer data)
{
  VacationData *d = data;
  sv_string_free (d->subject);
  sv_string_free (d->from);
  sv_string_free (d->handle);
  sv_strlist_free (d->addresses);
}

/* ---- running -------------------------------------------------------------- */

/* Addresses compared as vacation compares them: the whole addr-spec
 * ignoring case (RFC 5230 4.5; local parts that differ only in case are
 * one mailbox in practice, and Pigeonhole does the same). */
static gboolean
same_mailbox (const char *a, const char *b)
{
  return g_ascii_strcasecmp (a, b) == 0;
}

/* An address in To/Cc/Bcc/Resent-To/Resent-Cc/Resent-Bcc (RFC 5230 4.5:
 * the recipient named in any of them counts as addressed). */
static gboolean
addressed_to (SvRun *x, const char *addr)
{
  static const char *const hdrs[] = { "to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc" };
  for (guint h = 0; h < G_N_ELEMENTS (hdrs); h++)
    {
      GPtrArray *v = sv_address_values (x, hdrs[h]);
      for (guint i = 0; i < v->len; i++)
        if (same_mailbox (g_ptr_array_index (v, i), addr))
          return TRUE;
    }
  return FALSE;
}

/* Why no vacation goes to @sender (the class rules report), or NULL.
 * RFC 5230 4.5 and RFC 3834 2: the null sender, our own addresses, and
 * whatever the one automated-sender policy of the parser
 * (mail-format.h rd_mail_auto_message: list mail, Auto-Submitted,
 * Precedence, X-Auto-Response-Suppress, delivery reports, daemons and
 * list robots, no-reply addresses) says is a machine; last, a message
 * that does not name us. */
static const char *
vacation_suppressed (SvRun *x, const char *sender, GPtrArray *addresses)
{
  if (*sender == '\0')
    return "null-sender";
  if (x->env->recipient && same_mailbox (sender, x->env->recipient))
    return "own-address";
  for (guint i = 0; i < addresses->len; i++)
    if (same_mailbox (sender, g_ptr_array_index (addresses, i)))
      return "own-address";
  RdMailAuto why = rd_mail_auto_message (x->msg, sender);
  if (why & ~RD_MAIL_AUTO_ADDRESS_BITS)
    return rd_mail_auto_name (why & ~RD_MAIL_AUTO_ADDRESS_BITS);
  /* The address classes are one class for rule authors (the
   * conformance cases' "system-address"). */
  if (why)
    return "system-address";
  gboolean addressed = x->env->recipient && *x->env->recipient && addressed_to (x, x->env->recipient);
  for (guint i = 0; i < addresses->len && !addressed; i++)
    addressed = addressed_to (x, g_ptr_array_index (addresses, i));
  if (!addressed)
    return "not-addressed";
  return NULL;
}

static void
run_vacation (SvRun *x, const SvCmd *c)
{
  const VacationData *d = c->data;
  if (!sv_count_action (x, c))
    return;
  if (x->vacation)
    {
      sv_rt_error (x, c->line, "vacation used twice");
      return;
    }
  if (x->reject)
    {
      sv_rt_error (x, c->line, "vacation: cannot be used with reject (RFC 5230 4.7)");
      return;
    }
  const char *sender = x->env->sender ? x->env->sender : "";
  g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func (g_free);
  if (d->addresses)
    for (guint i = 0; i < d->addresses->n; i++)
      {
        const char *a = sv_expand (x, d->addresses->items[i], NULL);
        char *spec = sv_address_extract (a, strlen (a));
        g_ptr_array_add (addresses, spec ? spec : g_strdup (a));
      }
  const char *why = vacation_suppressed (x, sender, addresses);
  if (why)
    {
      x->vacation = sv_action_new (RD_ACTION_VACATION_SUPPRESSED);
      x->vacation->reason = g_strdup (why);
      return;
    }
  RdAction *a = sv_action_new (RD_ACTION_VACATION);
  a->address = g_strdup (sender);
  if (d->from)
    {
      gsize fl;
      const char *f = sv_expand (x, d->from, &fl);
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
              {
                /* The :addresses entry, its domain lower-cased. */
                char *spec = g_strdup (g_ptr_array_index (addresses, i));
                char *at = strrchr (spec, '@');
                for (char *q = at; q && *q; q++)
                  *q = g_ascii_tolower (*q);
                a->from = spec;
              }
          if (a->from == NULL)
            a->from = g_strdup (rcpt);
        }
    }
  x->defer_marks = TRUE;
  if (d->subject)
    a->subject = g_strdup (sv_expand (x, d->subject, NULL));
  else
    {
      const char *s = rd_message_get_subject (x->msg);
      a->subject = s ? g_strconcat ("Auto: ", s, NULL) : g_strdup ("Automated reply");
    }
  a->reason = g_strdup (c->arg ? sv_expand (x, c->arg, NULL) : "");
  if (d->handle)
    a->handle = g_strdup (sv_expand (x, d->handle, NULL));
  else
    {
      /* RFC 5230 4.2: without :handle, vacation actions with the same
       * arguments share one. Taken from the arguments as written, so that
       * ${ticket.number} and other variables do not make every reply new. */
      g_autofree char *k = g_strdup_printf ("%s\n%s\n%s", d->subject ? d->subject->text : "",
                                            d->from ? d->from->text : "", c->arg ? c->arg->text : "");
      a->handle = g_compute_checksum_for_string (G_CHECKSUM_SHA1, k, -1);
    }
  x->defer_marks = FALSE;
  a->period = d->period;
  a->mime = d->mime;
  x->vacation = a;
}

/* ---- the table ------------------------------------------------------------ */

static const SvTagDef vacation_tags[] = {
  { .name = "days", .value = 86400, .compile = tag_period },
  { .name = "seconds", .ext = EXT_VACATION_SECONDS, .value = 1, .compile = tag_period },
  { .name = "subject", .value = STR_SUBJECT, .compile = tag_string_arg },
  { .name = "from", .value = STR_FROM, .compile = tag_string_arg },
  { .name = "addresses", .compile = tag_addresses },
  { .name = "mime", .compile = tag_mime },
  { .name = "handle", .value = STR_HANDLE, .compile = tag_string_arg },
  { .name = NULL }
};

static const SvCommandDef commands[] = {
  { .name = "vacation", .ext = EXT_VACATION, .tags = vacation_tags, .data_size = sizeof (VacationData),
    .begin = begin_vacation, .compile = compile_vacation, .run = run_vacation, .clear = vacation_clear },
  { .name = NULL }
};

const SvExtension sv_ext_vacation = {
  .capability = "vacation",
  .ext = EXT_VACATION,
  .commands = commands,
};

/* RFC 6131: only the :seconds tag; requiring it requires vacation. */
const SvExtension sv_ext_vacation_seconds = {
  .capability = "vacation-seconds",
  .ext = EXT_VACATION_SECONDS,
  .implies = EXT_VACATION,
};
