/* relaydesk — rules: Sieve comparators and match types (RFC 5228 2.7).
 *
 * Comparators i;octet, i;ascii-casemap (RFC 4790 9) and i;ascii-numeric
 * (RFC 4790 9.1); match types :is, :contains, :matches (with the ${N}
 * match variables of RFC 5229 3.2), :regex, and the relational :value and
 * :count (RFC 5231); the :index/:last choice of values (RFC 5260 6). This
 * is the hot path of evaluation: keys and values are compared here, with
 * the lower-cased body and a bigram filter over it made once per message.
 * The tags of the base language (:comparator, :is, :contains, :matches)
 * are registered here; :regex, :value, :count and :index are registered
 * by their extensions (ext-*.c), which leave the comparing to this file.
 */
#include "sieve-parse.h"
#include "sieve-run.h"

#include <string.h>

/* ---- comparators (RFC 4790) ---------------------------------------------- */

static inline gboolean
eq_chars (char a, char b, SvComparator cmp)
{
  return cmp == CMP_CASEMAP ? sv_lc (a) == sv_lc (b) : a == b;
}

/* i;ascii-numeric: the leading digits as a number; none: +infinity. */
static int
numeric_cmp (const char *a, gsize al, const char *b, gsize bl)
{
  gsize an = 0, bn = 0;
  while (an < al && g_ascii_isdigit (a[an]))
    an++;
  while (bn < bl && g_ascii_isdigit (b[bn]))
    bn++;
  if (an == 0 || bn == 0)
    return (an == 0) - (bn == 0);
  while (an > 1 && *a == '0')
    a++, an--;
  while (bn > 1 && *b == '0')
    b++, bn--;
  if (an != bn)
    return an < bn ? -1 : 1;
  int c = memcmp (a, b, an);
  return c < 0 ? -1 : c > 0;
}

static int
compare (const char *a, gsize al, const char *b, gsize bl, SvComparator cmp)
{
  if (cmp == CMP_NUMERIC)
    return numeric_cmp (a, al, b, bl);
  gsize n = MIN (al, bl);
  for (gsize i = 0; i < n; i++)
    {
      guchar ca = (guchar) a[i], cb = (guchar) b[i];
      if (cmp == CMP_CASEMAP)
        {
          /* i;ascii-casemap compares upper-cased (RFC 4790 9.2). */
          ca = (guchar) (ca >= 'a' && ca <= 'z' ? ca - 32 : ca);
          cb = (guchar) (cb >= 'a' && cb <= 'z' ? cb - 32 : cb);
        }
      if (ca != cb)
        return ca < cb ? -1 : 1;
    }
  return al < bl ? -1 : al > bl;
}

static gboolean
relation_holds (int c, SvRelation rel)
{
  switch (rel)
    {
    case REL_GT: return c > 0;
    case REL_GE: return c >= 0;
    case REL_LT: return c < 0;
    case REL_LE: return c <= 0;
    case REL_EQ: return c == 0;
    case REL_NE: return c != 0;
    default: return FALSE;
    }
}

/* Bigram filter over the lower-cased body: a key one of whose byte pairs
 * never occurs in the body cannot be contained in it, and most keys of a
 * helpdesk script are not, so most substring searches are skipped. */
#define BIGRAM_SLOTS 8192   /* one byte each: no read-modify-write chain */

static inline guint
bigram (guchar a, guchar b)
{
  return (((guint) a << 5) ^ (guint) b) & (BIGRAM_SLOTS - 1);
}

/* ASCII lower-casing of @n bytes, eight at a time: a byte gets 0x20 added
 * when it is in 'A'..'Z' (bytes >= 0x80 are left alone). */
static void
lower_copy (char *dst, const char *src, gsize n)
{
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  const guint64 high = ones * 0x80;
  gsize i = 0;
  for (; i + 8 <= n; i += 8)
    {
      guint64 w;
      memcpy (&w, src + i, 8);
      guint64 h7 = w & ~high;
      guint64 ge_a = h7 + ones * (0x80 - 'A');
      guint64 gt_z = h7 + ones * (0x80 - 'Z' - 1);
      guint64 mask = ge_a & ~gt_z & ~w & high;
      w |= mask >> 2;
      memcpy (dst + i, &w, 8);
    }
  for (; i < n; i++)
    dst[i] = sv_lc (src[i]);
}

/* Which of x->big @v is, or -1. */
static inline int
big_slot (SvRun *x, const char *v, gsize vl)
{
  if (v == x->body_more_joined && v)
    return 1;
  if (vl > 256 && v == rd_message_get_body_text (x->msg))
    return 0;
  return -1;
}

/* Lower-cases @v into a per-evaluation buffer; the long texts (tested by
 * several rules) are lowered once per message. */
static const char *
lowered (SvRun *x, const char *v, gsize vl)
{
  int s = big_slot (x, v, vl);
  if (s >= 0 && v == x->big[s].src && vl == x->big[s].len)
    return x->big[s].lower->str;
  GString *b = s >= 0 ? (x->big[s].lower ? x->big[s].lower : (x->big[s].lower = g_string_new (NULL))) : sv_scratch (x);
  g_string_set_size (b, vl);
  lower_copy (b->str, v, vl);
  if (s >= 0)
    {
      x->big[s].src = v;
      x->big[s].len = vl;
    }
  return b->str;
}

/* The bigram filter of long text @s, built from its lower-cased copy on
 * first use. */
static const guint8 *
big_bigrams (SvRun *x, int s, const char *v, gsize vl)
{
  if (x->big[s].bigrams)
    return x->big[s].bigrams;
  guint8 *slots = g_new (guint8, BIGRAM_SLOTS);
  memset (slots, 0, BIGRAM_SLOTS);
  const guchar *u = (const guchar *) lowered (x, v, vl);
  for (gsize i = 1; i < vl; i++)
    slots[bigram (u[i - 1], u[i])] = 1;
  x->big[s].bigrams = slots;
  return slots;
}

/* FALSE when @k (lower case) certainly does not occur in long text @s. */
static gboolean
big_may_contain (SvRun *x, int s, const char *k, gsize kl)
{
  const guint8 *slots = x->big[s].bigrams;
  for (gsize i = 0; i + 1 < kl; i++)
    if (!slots[bigram ((guchar) k[i], (guchar) k[i + 1])])
      return FALSE;
  return TRUE;
}

/* :matches with "*" and "?" (one octet, README), "\" escapes. Linear
 * backtracking over the last "*" only, so no pattern is exponential; each
 * wildcard's span is recorded for ${1}.. (RFC 5229 3.2). */
typedef struct {
  gsize start, len;
} Span;

static gboolean
glob (const char *v, gsize vl, const char *p, gsize pl, SvComparator cmp, Span *spans, guint *n_spans)
{
  gsize s = 0, q = 0;
  gsize star_q = (gsize) -1, star_s = 0;
  guint star_span = 0, nsp = 0;
  while (s < vl)
    {
      if (q < pl && p[q] == '*')
        {
          star_q = ++q;
          star_s = s;
          star_span = nsp;
          if (nsp < 64)
            spans[nsp] = (Span) { s, 0 };
          nsp++;
          continue;
        }
      if (q < pl && p[q] == '?')
        {
          if (nsp < 64)
            spans[nsp] = (Span) { s, 1 };
          nsp++;
          q++;
          s++;
          continue;
        }
      if (q < pl)
        {
          char pc = p[q];
          gsize adv = 1;
          if (pc == '\\' && q + 1 < pl)
            {
              pc = p[q + 1];
              adv = 2;
            }
          if (eq_chars (v[s], pc, cmp))
            {
              q += adv;
              s++;
              continue;
            }
        }
      if (star_q != (gsize) -1)
        {
          /* Widen the last "*" by one and retry what followed it. */
          star_s++;
          s = star_s;
          q = star_q;
          nsp = star_span + 1;
          if (star_span < 64)
            spans[star_span].len = s - spans[star_span].start;
          continue;
        }
      return FALSE;
    }
  while (q < pl && p[q] == '*')
    {
      if (nsp < 64)
        spans[nsp] = (Span) { s, 0 };
      nsp++;
      q++;
    }
  *n_spans = MIN (nsp, 64);
  return q == pl;
}

static void
set_match (SvRun *x, guint i, const char *text, gsize len)
{
  if (i > SV_MAX_MATCH)
    return;
  g_free (x->match[i]);
  x->match[i] = g_strndup (text, len);
  if (i >= x->n_match)
    x->n_match = i + 1;
}

static void
clear_matches (SvRun *x)
{
  for (guint i = 0; i < x->n_match; i++)
    g_clear_pointer (&x->match[i], g_free);
  x->n_match = 0;
}

/* Substring search; short haystacks (header values) without memmem's
 * per-call set-up, which costs more than the search itself there. */
static const char *
find_sub (const char *h, gsize hl, const char *n, gsize nl)
{
  if (nl == 0)
    return h;
  if (nl > hl)
    return NULL;
  if (hl >= 256)
    return memmem (h, hl, n, nl);
  const char *end = h + hl - nl + 1;
  for (const char *p = h; p < end; p++)
    {
      p = memchr (p, n[0], (gsize) (end - p));
      if (p == NULL)
        return NULL;
      if (memcmp (p, n, nl) == 0)
        return p;
    }
  return NULL;
}

/* @lv: the lower-cased @v when the caller has it (casemap :contains), or
 * NULL. */
static gboolean
match_one (SvRun *x, const SvTest *t, const char *v, gsize vl, const SvString *key, const char **lv)
{
  gsize kl;
  const char *k = sv_expand (x, key, &kl);
  switch (t->match)
    {
    case MATCH_IS:
      return compare (v, vl, k, kl, t->cmp) == 0;
    case MATCH_CONTAINS:
      if (kl == 0)
        return TRUE;
      if (t->cmp == CMP_CASEMAP)
        {
          /* Both sides lower-cased, then a plain substring search. */
          const char *lk = key->lower;
          if (lk == NULL)
            {
              GString *b = sv_scratch (x);
              g_string_set_size (b, kl);
              for (gsize i = 0; i < kl; i++)
                b->str[i] = sv_lc (k[i]);
              lk = b->str;
            }
          int s = big_slot (x, v, vl);
          if (s >= 0)
            {
              big_bigrams (x, s, v, vl);
              if (!big_may_contain (x, s, lk, kl))
                return FALSE;
            }
          if (*lv == NULL)
            *lv = lowered (x, v, vl);
          return find_sub (*lv, vl, lk, kl) != NULL;
        }
      return find_sub (v, vl, k, kl) != NULL;
    case MATCH_VALUE:
      return relation_holds (compare (v, vl, k, kl, t->cmp), t->rel);
    case MATCH_MATCHES:
      {
        /* glob() is O(value x pattern) at worst: bounded, an error beyond. */
        if ((guint64) vl * (guint64) kl > (guint64) 64 * 1024 * 1024)
          {
            sv_rt_error (x, t->line, ":matches on a value and pattern too long to compare");
            return FALSE;
          }
        Span spans[64];
        guint n = 0;
        if (!glob (v, vl, k, kl, t->cmp, spans, &n))
          return FALSE;
        clear_matches (x);
        set_match (x, 0, v, vl);
        for (guint i = 0; i < n && i < SV_MAX_MATCH; i++)
          set_match (x, i + 1, v + spans[i].start, spans[i].len);
        return TRUE;
      }
    case MATCH_REGEX:
      {
        /* glibc's regexec is quadratic on some patterns even without
         * back-references: the input per call and per message is bounded
         * so that a regex is an error, never a hang. */
        x->regex_bytes += vl;
        if (vl > x->rules->limits.max_regex_input || x->regex_bytes > 8 * x->rules->limits.max_regex_input)
          {
            sv_rt_error (x, t->line, "regex input longer than the limit (%" G_GSIZE_FORMAT " bytes)",
                         x->rules->limits.max_regex_input);
            return FALSE;
          }
        regex_t *re = key->re;
        regex_t *tmp = NULL;
        if (re == NULL)
          {
            g_autoptr(GError) e = NULL;
            tmp = re = sv_regex_compile (k, kl, t->cmp == CMP_CASEMAP, &x->rules->limits, &e);
            if (re == NULL)
              {
                sv_rt_error (x, t->line, "%s", e->message);
                return FALSE;
              }
          }
        g_autofree char *vz = memchr (v, '\0', vl) || v[vl] != '\0' ? g_strndup (v, vl) : NULL;
        regmatch_t m[SV_MAX_MATCH + 1];
        guint nm = (guint) MIN (re->re_nsub + 1, (gsize) SV_MAX_MATCH + 1);
        gboolean ok = regexec (re, vz ? vz : v, nm, m, 0) == 0;
        if (ok)
          {
            const char *base = vz ? vz : v;
            clear_matches (x);
            for (guint i = 0; i < nm; i++)
              if (m[i].rm_so >= 0)
                set_match (x, i, base + m[i].rm_so, (gsize) (m[i].rm_eo - m[i].rm_so));
              else
                set_match (x, i, "", 0);
          }
        sv_regex_free (tmp);
        return ok;
      }
    default:
      return FALSE;
    }
}

gboolean
sv_match_value (SvRun *x, const SvTest *t, const char *v, gsize vl)
{
  const char *lv = NULL;   /* lower-cased once, for all keys */
  for (guint i = 0; i < t->keys->n && !x->error; i++)
    {
      /* A dynamic key expands into the scratch ring, which may hold @lv. */
      if (t->keys->items[i]->dynamic && lv && !(x->big[0].lower && lv == x->big[0].lower->str)
          && !(x->big[1].lower && lv == x->big[1].lower->str))
        lv = NULL;
      if (match_one (x, t, v, vl, t->keys->items[i], &lv))
        return TRUE;
    }
  return FALSE;
}

/* :count (RFC 5231 4.2): the number of values, written in decimal and
 * compared with each key under the test's comparator. */
gboolean
sv_match_count (SvRun *x, const SvTest *t, guint count)
{
  char buf[32];
  int n = g_snprintf (buf, sizeof buf, "%u", count);
  for (guint i = 0; i < t->keys->n; i++)
    {
      gsize kl;
      const char *k = sv_expand (x, t->keys->items[i], &kl);
      if (relation_holds (compare (buf, (gsize) n, k, kl, t->cmp), t->rel))
        return TRUE;
    }
  return FALSE;
}

gboolean
sv_test_values (SvRun *x, const SvTest *t, GPtrArray *vals)
{
  guint from = 0, to = 0;
  if (vals == NULL || !sv_index_pick (t, vals->len, &from, &to))
    return t->match == MATCH_COUNT ? sv_match_count (x, t, 0) : FALSE;
  if (t->match == MATCH_COUNT)
    {
      guint n = 0;
      for (guint i = from; i < to; i++)
        if (*(const char *) g_ptr_array_index (vals, i))
          n++;
      return sv_match_count (x, t, n);
    }
  for (guint i = from; i < to; i++)
    {
      const char *v = g_ptr_array_index (vals, i);
      if (sv_match_value (x, t, v, strlen (v)))
        return TRUE;
    }
  return FALSE;
}

gboolean
sv_test_values_all (SvRun *x, const SvTest *t, GPtrArray *vals)
{
  SvTest plain = *t;
  plain.index = 0;
  return sv_test_values (x, &plain, vals);
}

gboolean
sv_match_address (SvRun *x, const SvTest *t, const char *addr, GPtrArray *count_vals)
{
  if (x->addr_part == NULL)
    x->addr_part = g_string_sized_new (128);
  GString *part = x->addr_part;
  g_string_truncate (part, 0);
  if (!sv_address_part (addr, t->part, part))
    return FALSE;
  if (count_vals)
    {
      g_ptr_array_add (count_vals, g_strdup (part->str));
      return FALSE;
    }
  return sv_match_value (x, t, part->str, part->len);
}

void
sv_match_clear (SvRun *x)
{
  clear_matches (x);
  if (x->addr_part)
    g_string_free (x->addr_part, TRUE);
  for (guint s = 0; s < G_N_ELEMENTS (x->big); s++)
    {
      if (x->big[s].lower)
        g_string_free (x->big[s].lower, TRUE);
      g_free (x->big[s].bigrams);
    }
}

/* ---- compile side ------------------------------------------------------------ */

gboolean
sv_compile_match_args (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t, const char *what)
{
  if (!sv_want_strings (c, n, p, 0, what, FALSE) || !sv_want_strings (c, n, p, 1, "key list", FALSE)
      || !sv_want_count (c, n, p, 2))
    return FALSE;
  t->headers = sv_strlist_new (c, p->v[0]);
  t->keys = sv_strlist_new (c, p->v[1]);
  return TRUE;
}

void
sv_check_match_keys (SvCompiler *c, SvTest *t, guint line, guint col)
{
  if (t->cmp == CMP_NUMERIC && (t->match == MATCH_CONTAINS || t->match == MATCH_MATCHES || t->match == MATCH_REGEX))
    SV_ERR (c, line, col, "comparator i;ascii-numeric cannot be used with this match type");
  if (t->last && t->index == 0)
    SV_ERR (c, line, col, ":last needs :index");
  if (t->match == MATCH_REGEX && t->keys)
    for (guint i = 0; i < t->keys->n; i++)
      {
        SvString *k = t->keys->items[i];
        if (k->dynamic)
          continue;
        g_autoptr(GError) e = NULL;
        k->re = sv_regex_compile (k->text, k->len, t->cmp == CMP_CASEMAP, &c->rules->limits, &e);
        if (k->re == NULL)
          SV_ERR (c, k->line, k->col, "%s", e->message);
      }
}

/* ---- the table: comparators, :comparator, :is, :contains, :matches --------- */

static const struct {
  const char *name;
  SvComparator cmp;
  SvExt ext;          /* the capability it requires, 0: none (RFC 5228 2.7.3) */
} comparators[] = {
  { "i;octet", CMP_OCTET, 0 },
  { "i;ascii-casemap", CMP_CASEMAP, 0 },
  { "i;ascii-numeric", CMP_NUMERIC, EXT_NUMERIC },
};

static void
tag_comparator (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  SvString *s = sv_tag_string (tc, tag->name);
  if (s == NULL)
    return;
  if (tc->seen & SV_GROUP_COMPARATOR)
    SV_ERR (tc->c, a->line, a->col, "comparator given twice");
  tc->seen |= SV_GROUP_COMPARATOR;
  guint k = 0;
  while (k < G_N_ELEMENTS (comparators) && g_ascii_strcasecmp (s->text, comparators[k].name))
    k++;
  if (k == G_N_ELEMENTS (comparators))
    SV_ERR (tc->c, a->line, a->col, "unknown comparator \"%s\"", s->text);
  else
    {
      tc->test->cmp = comparators[k].cmp;
      if (comparators[k].ext)
        {
          g_autofree char *what = g_strconcat ("comparator ", comparators[k].name, NULL);
          sv_need (tc->c, comparators[k].ext, a->line, a->col, what);
        }
    }
  sv_string_free (s);
}

void
sv_tag_match_type (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  tc->test->match = tag->value;
}

static const SvTagDef matching_tags[] = {
  { .name = "comparator", .classes = SV_TAGS_COMPARATOR, .compile = tag_comparator },
  { .name = "is", .classes = SV_TAGS_MATCH, .group = SV_GROUP_MATCH, .twice = SV_MATCH_TWICE,
    .value = MATCH_IS, .compile = sv_tag_match_type },
  { .name = "contains", .classes = SV_TAGS_MATCH, .group = SV_GROUP_MATCH, .twice = SV_MATCH_TWICE,
    .value = MATCH_CONTAINS, .compile = sv_tag_match_type },
  { .name = "matches", .classes = SV_TAGS_MATCH, .group = SV_GROUP_MATCH, .twice = SV_MATCH_TWICE,
    .value = MATCH_MATCHES, .compile = sv_tag_match_type },
  { .name = NULL }
};

const SvExtension sv_ext_matching = {
  .tags = matching_tags,
};

/* RFC 5228 2.7.3: these two are always there; requiring them is allowed. */
const SvExtension sv_ext_comparator_octet = {
  .capability = "comparator-i;octet",
  .ext = EXT_OCTET,
  .always = TRUE,
};

const SvExtension sv_ext_comparator_casemap = {
  .capability = "comparator-i;ascii-casemap",
  .ext = EXT_CASEMAP,
  .always = TRUE,
};

/* RFC 4790 9.1; with :value and :count (RFC 5231). */
const SvExtension sv_ext_comparator_numeric = {
  .capability = "comparator-i;ascii-numeric",
  .ext = EXT_NUMERIC,
};
