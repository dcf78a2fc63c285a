/* relaydesk — rules: Sieve "regex" (draft-ietf-sieve-regex-01, as
 * implemented by most servers).
 *
 * The match type :regex with POSIX extended expressions (regcomp). Keys
 * that are constant are compiled once at compile time (sieve-match.c),
 * others when the test runs. Patterns are bounded (limits.max_regex_size,
 * no back-references, repetition counts within reason) and so is the
 * input regexec() gets: a regex is an error, never a hang.
 */
#include "sieve-private.h"
#include "rd-common.h"

#include <string.h>

void
sv_regex_free (regex_t *re)
{
  if (re)
    {
      regfree (re);
      g_free (re);
    }
}

regex_t *
sv_regex_compile (const char *pattern, gsize len, gboolean icase, const RdRulesLimits *limits, GError **error)
{
  if (len > limits->max_regex_size)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex longer than the limit (%" G_GSIZE_FORMAT " bytes)", limits->max_regex_size);
      return NULL;
    }
  if (memchr (pattern, '\0', len))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "regex contains NUL");
      return NULL;
    }
  /* Back-references make matching exponential: refused. Repetition counts
   * multiply the automaton regcomp builds ("((a{9}){9}){9}"): the size
   * after expanding them is estimated and bounded. */
  guint64 stack[64];
  guint depth = 0;
  guint64 cur = 0, last = 0;
  const guint64 max_nodes = 64 * 1024;
  for (gsize i = 0; i < len; i++)
    {
      char ch = pattern[i];
      if (ch == '\\' && i + 1 < len)
        {
          if (g_ascii_isdigit (pattern[i + 1]))
            {
              g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "back-references are not supported in regex");
              return NULL;
            }
          i++;
          last = 1;
          cur += 1;
        }
      else if (ch == '(')
        {
          if (depth >= G_N_ELEMENTS (stack))
            {
              g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex nested too deeply");
              return NULL;
            }
          stack[depth++] = cur;
          cur = 0;
        }
      else if (ch == ')' && depth > 0)
        {
          last = cur;
          cur = stack[--depth] + last;
        }
      else if (ch == '[')
        {
          gsize k = i + 1;
          if (k < len && pattern[k] == '^')
            k++;
          if (k < len && pattern[k] == ']')
            k++;
          while (k < len && pattern[k] != ']')
            k++;
          i = k;
          last = 1;
          cur += 1;
        }
      else if (ch == '{')
        {
          guint64 m = 0, n = 0;
          gboolean comma = FALSE;
          gsize k = i + 1;
          for (; k < len && (g_ascii_isdigit (pattern[k]) || pattern[k] == ','); k++)
            {
              if (pattern[k] == ',')
                comma = TRUE;
              else if (comma)
                n = MIN (n * 10 + (guint64) (pattern[k] - '0'), (guint64) 100000);
              else
                m = MIN (m * 10 + (guint64) (pattern[k] - '0'), (guint64) 100000);
            }
          guint64 mult = MAX (m, n);
          if (mult > 255)
            {
              g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex repetition count above 255");
              return NULL;
            }
          if (mult > 1)
            {
              cur += last * (mult - 1);
              last *= mult;
            }
          i = k < len ? k : len;
        }
      else if (ch != '*' && ch != '+' && ch != '?' && ch != '|' && ch != '^' && ch != '$')
        {
          last = 1;
          cur += 1;
        }
      if (cur > max_nodes || last > max_nodes)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex too complex (repetitions expand beyond %" G_GUINT64_FORMAT " nodes)", max_nodes);
          return NULL;
        }
    }
  for (guint k = 0; k < depth; k++)
    if (stack[k] + cur > max_nodes)
      {
        g_set_error (error, RD_ERROR, RD_ERROR_LIMIT, "regex too complex");
        return NULL;
      }
  regex_t *re = g_new0 (regex_t, 1);
  int rc = regcomp (re, pattern, REG_EXTENDED | (icase ? REG_ICASE : 0));
  if (rc != 0)
    {
      char buf[256];
      regerror (rc, re, buf, sizeof buf);
      g_free (re);
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "bad regex: %s", buf);
      return NULL;
    }
  return re;
}

static const SvTagDef tags[] = {
  { .name = "regex", .ext = EXT_REGEX, .classes = SV_TAGS_MATCH, .group = SV_GROUP_MATCH, .twice = SV_MATCH_TWICE,
    .value = MATCH_REGEX, .compile = sv_tag_match_type },
  { .name = NULL }
};

const SvExtension sv_ext_regex = {
  .capability = "regex",
  .ext = EXT_REGEX,
  .tags = tags,
};
