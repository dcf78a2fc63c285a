/* relaydesk — rules: Sieve "fileinto" (RFC 5228 4.1).
 *
 * fileinto [:flags] [:copy] MAILBOX: a ticket in queue MAILBOX. "INBOX" is
 * the keep. The same mailbox twice is one action, flags merged (2.10.3).
 */
#include "sieve-parse.h"
#include "sieve-run.h"

#include <string.h>

static void
compile_fileinto (SvCompiler *c, SvNode *n, SvPos *p, SvCmd *cmd)
{
  if (!sv_want_one_string (c, n, p, cmd, "a mailbox") || cmd->arg->dynamic)
    return;
  if (cmd->arg->len == 0)
    SV_ERR (c, cmd->arg->line, cmd->arg->col, "fileinto: empty mailbox name");
  /* A mailbox name is UTF-8 (RFC 5228 2.4.2; e.g. "${hex:e9}" is not). */
  else if (memchr (cmd->arg->text, '\0', cmd->arg->len) || !g_utf8_validate (cmd->arg->text, (gssize) cmd->arg->len, NULL))
    SV_ERR (c, cmd->arg->line, cmd->arg->col, "fileinto: the mailbox name is not valid UTF-8");
}

static void
run_fileinto (SvRun *x, const SvCmd *c)
{
  if (!sv_count_action (x, c))
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
      sv_keep (x, c);
      return;
    }
  char **flags = sv_flags_for (x, c);
  for (guint k = 0; k < x->fileinto->len; k++)
    {
      RdAction *f = g_ptr_array_index (x->fileinto, k);
      if (!strcmp (f->mailbox, box))
        {
          sv_flags_merge (&f->flags, flags);
          return;
        }
    }
  RdAction *a = sv_action_new (RD_ACTION_FILEINTO);
  a->mailbox = g_strndup (box, len);
  a->flags = flags;
  a->copy = c->copy;
  g_ptr_array_add (x->fileinto, a);
}

static const SvCommandDef commands[] = {
  { .name = "fileinto", .ext = EXT_FILEINTO, .tag_classes = SV_TAGS_FLAGS | SV_TAGS_COPY,
    .compile = compile_fileinto, .run = run_fileinto },
  { .name = NULL }
};

const SvExtension sv_ext_fileinto = {
  .capability = "fileinto",
  .ext = EXT_FILEINTO,
  .commands = commands,
};
