/* relaydesk — rules: evaluation entry point. */
#include "rules.h"

struct _RdRules {
  int unused;
};

void
rd_action_free (RdAction *a)
{
  if (a == NULL)
    return;
  g_free (a->mailbox);
  g_free (a);
}

RdRules *
rd_rules_new_empty (void)
{
  return g_new0 (RdRules, 1);
}

void
rd_rules_free (RdRules *rules)
{
  g_free (rules);
}

GPtrArray *
rd_rules_evaluate (RdRules *rules, const RdMessage *msg, const RdEnvelope *envelope, GError **error)
{
  GPtrArray *actions = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_action_free);
  RdAction *keep = g_new0 (RdAction, 1);
  keep->type = RD_ACTION_KEEP;
  g_ptr_array_add (actions, keep);
  return actions;
}
