/* relaydesk — rules: Sieve "date" (RFC 5260 4, 5).
 *
 * date [:zone Z / :originalzone] [COMPARATOR] [MATCH-TYPE] HEADER PART KEYS
 * and currentdate [:zone Z] ... PART KEYS: a part ("year", "iso8601",
 * "weekday"...) of the date of a header field (the last ";"-separated
 * field for Received) or of the current time (RdEnvelope.now), in UTC,
 * in zone Z, or in the header's own zone. :index/:last (ext-index.c)
 * choose among several fields.
 */
#include "sieve-parse.h"
#include "sieve-run.h"

#include <string.h>

typedef struct {
  SvString *datepart;
  SvString *zone;       /* :zone, NULL for UTC */
  gboolean originalzone;
} DateData;

/* ---- tags ----------------------------------------------------------------- */

static void
tag_zone (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  DateData *d = tc->test->data;
  if (sv_tag_set_string (tc, tag->name, &d->zone) && !d->zone->dynamic)
    {
      const char *z = d->zone->text;
      if (!((z[0] == '+' || z[0] == '-') && strlen (z) == 5 && g_ascii_isdigit (z[1]) && g_ascii_isdigit (z[2])
            && g_ascii_isdigit (z[3]) && g_ascii_isdigit (z[4])))
        SV_ERR (tc->c, d->zone->line, d->zone->col, "bad :zone \"%s\" (expected +hhmm or -hhmm)", z);
    }
}

static void
tag_originalzone (SvTagCtx *tc, const SvTagDef *tag, const SvArg *a)
{
  DateData *d = tc->test->data;
  d->originalzone = TRUE;
}

/* ---- compiling ------------------------------------------------------------ */

/* The date part and the keys from positional argument @k on. */
static void
compile_date_args (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t, guint k)
{
  DateData *d = t->data;
  if (!sv_want_strings (c, n, p, k, "a date part", TRUE))
    return;
  d->datepart = sv_string_new (c, g_ptr_array_index (p->v[k]->strs, 0));
  k++;
  static const char *const parts[] = { "year", "month", "day", "date", "julian", "hour", "minute", "second",
                                       "time", "iso8601", "std11", "zone", "weekday", NULL };
  if (!d->datepart->dynamic && !g_strv_contains (parts, d->datepart->text))
    {
      g_autofree char *lower = g_ascii_strdown (d->datepart->text, -1);
      if (!g_strv_contains (parts, lower))
        SV_ERR (c, d->datepart->line, d->datepart->col, "unknown date part \"%s\"", d->datepart->text);
    }
  if (!sv_want_strings (c, n, p, k, "key list", FALSE) || !sv_want_count (c, n, p, k + 1))
    return;
  t->keys = sv_strlist_new (c, p->v[k]);
  if (d->zone && d->originalzone)
    SV_ERR (c, n->line, n->col, "date: :zone and :originalzone together");
  sv_check_match_keys (c, t, n->line, n->col);
}

static void
compile_date (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  if (!sv_want_strings (c, n, p, 0, "a header name", TRUE))
    return;
  t->headers = sv_strlist_new (c, p->v[0]);
  compile_date_args (c, n, p, t, 1);
}

static void
compile_currentdate (SvCompiler *c, SvNode *n, SvPos *p, SvTest *t)
{
  compile_date_args (c, n, p, t, 0);
}

static void
date_clear (gpointer data)
{
  DateData *d = data;
  sv_string_free (d->datepart);
  sv_string_free (d->zone);
}

/* ---- running -------------------------------------------------------------- */

static GDateTime *
date_in_zone (GDateTime *dt, const char *zone)
{
  if (zone == NULL)
    return g_date_time_to_utc (dt);
  GTimeZone *tz = g_time_zone_new_identifier (zone);
  if (tz == NULL)
    return NULL;
  GDateTime *r = g_date_time_to_timezone (dt, tz);
  g_time_zone_unref (tz);
  return r;
}

static void
date_part (GDateTime *dt, const char *part, GString *out)
{
  gint64 off = g_date_time_get_utc_offset (dt) / G_USEC_PER_SEC;
  char sign = off < 0 ? '-' : '+';
  gint64 aoff = off < 0 ? -off : off;
  if (!g_ascii_strcasecmp (part, "year"))
    g_string_append_printf (out, "%04d", g_date_time_get_year (dt));
  else if (!g_ascii_strcasecmp (part, "month"))
    g_string_append_printf (out, "%02d", g_date_time_get_month (dt));
  else if (!g_ascii_strcasecmp (part, "day"))
    g_string_append_printf (out, "%02d", g_date_time_get_day_of_month (dt));
  else if (!g_ascii_strcasecmp (part, "date"))
    g_string_append_printf (out, "%04d-%02d-%02d", g_date_time_get_year (dt), g_date_time_get_month (dt),
                            g_date_time_get_day_of_month (dt));
  else if (!g_ascii_strcasecmp (part, "julian"))
    {
      /* Modified Julian Day: days since 1858-11-17. */
      GDate d;
      g_date_clear (&d, 1);
      g_date_set_dmy (&d, (GDateDay) g_date_time_get_day_of_month (dt), (GDateMonth) g_date_time_get_month (dt),
                      (GDateYear) g_date_time_get_year (dt));
      g_string_append_printf (out, "%d", (int) g_date_get_julian (&d) - 678576);
    }
  else if (!g_ascii_strcasecmp (part, "hour"))
    g_string_append_printf (out, "%02d", g_date_time_get_hour (dt));
  else if (!g_ascii_strcasecmp (part, "minute"))
    g_string_append_printf (out, "%02d", g_date_time_get_minute (dt));
  else if (!g_ascii_strcasecmp (part, "second"))
    g_string_append_printf (out, "%02d", g_date_time_get_second (dt));
  else if (!g_ascii_strcasecmp (part, "time"))
    g_string_append_printf (out, "%02d:%02d:%02d", g_date_time_get_hour (dt), g_date_time_get_minute (dt),
                            g_date_time_get_second (dt));
  else if (!g_ascii_strcasecmp (part, "iso8601"))
    {
      g_string_append_printf (out, "%04d-%02d-%02dT%02d:%02d:%02d", g_date_time_get_year (dt),
                              g_date_time_get_month (dt), g_date_time_get_day_of_month (dt),
                              g_date_time_get_hour (dt), g_date_time_get_minute (dt), g_date_time_get_second (dt));
      if (off == 0)
        g_string_append_c (out, 'Z');
      else
        g_string_append_printf (out, "%c%02d:%02d", sign, (int) (aoff / 3600), (int) (aoff / 60 % 60));
    }
  else if (!g_ascii_strcasecmp (part, "std11"))
    {
      static const char *const wd[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
      static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
      g_string_append_printf (out, "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", wd[g_date_time_get_day_of_week (dt) - 1],
                              g_date_time_get_day_of_month (dt), mo[g_date_time_get_month (dt) - 1],
                              g_date_time_get_year (dt), g_date_time_get_hour (dt), g_date_time_get_minute (dt),
                              g_date_time_get_second (dt), sign, (int) (aoff / 3600), (int) (aoff / 60 % 60));
    }
  else if (!g_ascii_strcasecmp (part, "zone"))
    g_string_append_printf (out, "%c%02d%02d", sign, (int) (aoff / 3600), (int) (aoff / 60 % 60));
  else if (!g_ascii_strcasecmp (part, "weekday"))
    g_string_append_printf (out, "%d", g_date_time_get_day_of_week (dt) % 7);
}

/* The date part of each of @dates against the keys of @t. */
static gboolean
match_dates (SvRun *x, const SvTest *t, GPtrArray *dates)
{
  const DateData *d = t->data;
  const char *zone = d->zone ? sv_expand (x, d->zone, NULL) : NULL;
  const char *part = sv_expand (x, d->datepart, NULL);
  guint n = 0;
  gboolean result = FALSE;
  GString *val = g_string_new (NULL);
  for (guint i = 0; i < dates->len && !result; i++)
    {
      GDateTime *dt = g_ptr_array_index (dates, i);
      GDateTime *z = d->originalzone ? g_date_time_ref (dt) : date_in_zone (dt, zone);
      if (z == NULL)
        continue;
      g_string_truncate (val, 0);
      date_part (z, part, val);
      g_date_time_unref (z);
      if (val->len == 0)
        continue;
      n++;
      if (t->match != MATCH_COUNT && sv_match_value (x, t, val->str, val->len))
        result = TRUE;
    }
  g_string_free (val, TRUE);
  if (t->match == MATCH_COUNT)
    return sv_match_count (x, t, n);
  return result;
}

static gboolean
run_date (SvRun *x, const SvTest *t)
{
  g_autoptr(GPtrArray) dates = g_ptr_array_new_with_free_func ((GDestroyNotify) g_date_time_unref);
  const char *h = sv_expand (x, t->headers->items[0], NULL);
  GPtrArray *vals = sv_header_values (x, h);
  guint from = 0, to = 0;
  /* RFC 5260 4: an absent header field (or no field at :index) gives no
   * date; the test is false, and :count counts 0 (RFC 5231 4.2). */
  if (vals == NULL || !sv_index_pick (t, vals->len, &from, &to))
    return t->match == MATCH_COUNT ? sv_match_count (x, t, 0) : FALSE;
  GPtrArray *parsed = sv_date_values (x, h, vals);
  for (guint i = from; i < to; i++)
    if (g_ptr_array_index (parsed, i))
      g_ptr_array_add (dates, g_date_time_ref (g_ptr_array_index (parsed, i)));
  return match_dates (x, t, dates);
}

static gboolean
run_currentdate (SvRun *x, const SvTest *t)
{
  g_autoptr(GPtrArray) dates = g_ptr_array_new_with_free_func ((GDestroyNotify) g_date_time_unref);
  gint64 now = x->env->now ? x->env->now : g_get_real_time () / G_USEC_PER_SEC;
  g_ptr_array_add (dates, g_date_time_new_from_unix_utc (now));
  return match_dates (x, t, dates);
}

/* ---- the table ------------------------------------------------------------ */

static const SvTagDef date_tags[] = {
  { .name = "zone", .compile = tag_zone },
  { .name = "originalzone", .compile = tag_originalzone },
  { .name = NULL }
};

static const SvTagDef currentdate_tags[] = {
  { .name = "zone", .compile = tag_zone },
  { .name = NULL }
};

static const SvTestDef tests[] = {
  { .name = "date", .ext = EXT_DATE, .tag_classes = SV_TAGS_COMPARATOR | SV_TAGS_MATCH | SV_TAGS_INDEX,
    .tags = date_tags, .data_size = sizeof (DateData), .compile = compile_date, .run = run_date,
    .clear = date_clear },
  { .name = "currentdate", .ext = EXT_DATE, .tag_classes = SV_TAGS_COMPARATOR | SV_TAGS_MATCH,
    .tags = currentdate_tags, .data_size = sizeof (DateData), .compile = compile_currentdate,
    .run = run_currentdate, .clear = date_clear },
  { .name = NULL }
};

const SvExtension sv_ext_date = {
  .capability = "date",
  .ext = EXT_DATE,
  .tests = tests,
};
