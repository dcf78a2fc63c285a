/* relaydesk — rules: Sieve "envelope" (RFC 5228 5.4).
 *
 * envelope [ADDRESS-PART] [COMPARATOR] [MATCH-TYPE] PARTS KEYS: the SMTP
 * envelope's "from" (MAIL FROM) and "to" (the inbox address the script
 * runs for).
 */
#include "sieve-parse.h"
#include "sieve-run.h"

static void
compile_envelope (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  if (!sv_compile_match_args (c, n, p, t, "header names"))
    return;
  for (guint k = 0; k < t->headers->n; k++)
    {
      SvString *h = t->headers->items[k];
      if (!h->dynamic && g_ascii_strcasecmp (h->text, "from") && g_ascii_strcasecmp (h->text, "to"))
        SV_ERR (c, h->line, h->col, "envelope: unknown envelope part \"%s\" (from or to)", h->text);
    }
  sv_check_match_keys (c, t, n->line, n->col);
}

static gboolean
run_envelope (SvRun *x, const SvTest *t)
{
  /* Matched as they come; only :count needs them collected. */
  g_autoptr(GPtrArray) vals = t->match == MATCH_COUNT ? g_ptr_array_new_with_free_func (g_free) : NULL;
  for (guint h = 0; h < t->headers->n; h++)
    {
      const char *v = sv_envelope_value (x, sv_expand (x, t->headers->items[h], NULL));
      if (v == NULL)
        continue;
      /* RFC 5228 5.4: the null reverse-path is matched as the empty
       * string, whatever the address part. */
      if (*v == '\0')
        {
          if (vals)
            g_ptr_array_add (vals, g_strdup (""));
          else if (sv_match_value (x, t, "", 0))
            return TRUE;
          continue;
        }
      if (t->part != PART_ALL && !sv_address_valid (v))
        continue;
      if (sv_match_address (x, t, v, vals))
        return TRUE;
    }
  return vals ? sv_test_values_all (x, t, vals) : FALSE;
}

static const SvTestDef tests[] = {
  { .name = "envelope", .ext = EXT_ENVELOPE,
    .tag_classes = SV_TAGS_COMPARATOR | SV_TAGS_MATCH | SV_TAGS_ADDRESS_PART,
    .compile = compile_envelope, .run = run_envelope },
  { .name = NULL }
};

const SvExtension sv_ext_envelope = {
  .capability = "envelope",
  .ext = EXT_ENVELOPE,
  .tests = tests,
};
