/* relaydesk — rules: Sieve "reject" (RFC 5429 2.2).
 *
 * reject REASON: a rejection notice to the sender (desk/ never sends one
 * to <>). It cannot be combined with keep, fileinto or redirect (2.1);
 * sv_evaluate() checks that once the script has run. With vacation it is
 * a run-time error whichever comes first (RFC 5230 4.7).
 */
#include "sieve-parse.h"
#include "sieve-run.h"

static void
compile_reject (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  sv_want_one_string (c, n, p, cmd, "a reason");
}

static void
run_reject (SvRun *x, const SvCmd *c)
{
  if (!sv_count_action (x, c))
    return;
  if (x->reject)
    {
      sv_rt_error (x, c->line, "reject used twice");
      return;
    }
  if (x->vacation)
    {
      /* RFC 5230 4.7: both would answer the sender. */
      sv_rt_error (x, c->line, "reject: cannot be used with vacation (RFC 5230 4.7)");
      return;
    }
  x->reject = sv_action_new (RD_ACTION_REJECT);
  x->defer_marks = TRUE;
  x->reject->reason = g_strdup (sv_expand (x, c->arg, NULL));
  x->defer_marks = FALSE;
  x->implicit_keep = FALSE;
}

static const SvCommandDef commands[] = {
  { .name = "reject", .ext = EXT_REJECT, .compile = compile_reject, .run = run_reject },
  { .name = NULL }
};

const SvExtension sv_ext_reject = {
  .capability = "reject",
  .ext = EXT_REJECT,
  .commands = commands,
};
