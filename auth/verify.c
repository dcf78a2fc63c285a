/* relaydesk — auth: verifying one inbound message (auth.h).
 *
 * In this order, all DNS through one RdDns with a deadline for the
 * whole message ([auth] timeout_ms), so the worst case is bounded:
 *   1. a trusted MTA's Authentication-Results (its authserv-id in
 *      [auth] trusted_authserv_ids): taken as they are, nothing checked;
 *   2. SPF of MAIL FROM (postmaster@HELO for <>), not for local clients
 *      nor without a client address (deliver);
 *   3. DKIM: every signature (libopendkim; keys fetched by key_lookup);
 *   4. DMARC: the From domain's record (_dmarc.FROM, else the
 *      organizational domain's, RFC 7489 6.6.3), the SPF and DKIM
 *      results of aligned domains fed to libopendmarc, its verdict.
 * The field we write (RFC 8601), e.g.
 *   desk.example.org; spf=pass smtp.mailfrom=alice@example.com;
 *   dkim=pass header.d=example.com header.s=s1 header.a=rsa-sha256 header.b=AbCdEfGh;
 *   dmarc=pass (p=reject) header.from=example.com
 */
#include "auth-private.h"
#include "mail-format.h"

#include <opendmarc/dmarc.h>
#include <string.h>

/* Exported by libopendmarc (opendmarc_tld.c) but not declared in its
 * dmarc.h: the organizational domain from the public suffix list. */
extern int opendmarc_get_tld (u_char *domain, u_char *tld, size_t tld_len);

#define DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"
#define DKIM_SIGS_REPORTED 8

struct _RdAuth {
  gboolean enabled;
  char *authserv_id;
  GStrv trusted;            /* lower case */
  RdDns *dns;
  gint64 timeout_us;
  SPF_server_t *spf;
  SPF_dns_server_t *spf_layer;
  DKIM_LIB *dkim;
  GHashTable *key_status;   /* per message: "s._domainkey.d" -> RdDnsStatus */
  guint last_queries;
};

/* libopendmarc's public suffix list is process-wide: read once. */
static gpointer
load_psl (gpointer path)
{
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      OPENDMARC_LIB_T lib;
      memset (&lib, 0, sizeof lib);
      lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
      g_strlcpy ((char *) lib.tld_source_file, path, sizeof lib.tld_source_file);
      if (opendmarc_policy_library_init (&lib) == 0)
        return GINT_TO_POINTER (1);
    }
  rd_log (RD_LOG_WARN, "auth.psl", "path=%s note=\"unreadable: organizational domains are the domains themselves\"",
          (const char *) path);
  return GINT_TO_POINTER (2);
}

/* The organizational domain (RFC 7489 3.2) of @domain. (transfer full) */
static char *
org_domain (const char *domain)
{
  /* Zeroed: opendmarc_get_tld leaves it untouched for a name under no
   * known suffix (e.g. ".test"); the domain is then its own. */
  u_char buf[256] = { 0 };
  if (opendmarc_get_tld ((u_char *) domain, buf, sizeof buf) != 0 || buf[0] == '\0')
    return g_ascii_strdown (domain, -1);
  return g_ascii_strdown ((const char *) buf, -1);
}

/* libopendkim asks for the key of @sig: TXT at SELECTOR._domainkey.DOMAIN
 * (RFC 6376 3.6.2.1), first record. */
static DKIM_CBSTAT
key_lookup (DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
  RdAuth *a = dkim_get_user_context (dkim);
  const char *sel = (const char *) dkim_sig_getselector (sig);
  const char *dom = (const char *) dkim_sig_getdomain (sig);
  if (sel == NULL || dom == NULL)
    return DKIM_CBSTAT_ERROR;
  g_autofree char *name = g_strdup_printf ("%s._domainkey.%s", sel, dom);
  g_autoptr(GPtrArray) recs = NULL;
  RdDnsStatus st = rd_dns_txt (a->dns, name, &recs);
  g_hash_table_insert (a->key_status, g_ascii_strdown (name, -1), GINT_TO_POINTER (st));
  if (st == RD_DNS_TEMPFAIL)
    return DKIM_CBSTAT_TRYAGAIN;
  if (st != RD_DNS_OK || recs->len == 0)
    return DKIM_CBSTAT_NOTFOUND;
  g_strlcpy ((char *) buf, g_ptr_array_index (recs, 0), buflen);
  return DKIM_CBSTAT_CONTINUE;
}

RdAuth *
rd_auth_new (RdConfig *config, GError **error)
{
  g_autoptr(RdAuth) a = g_new0 (RdAuth, 1);
  a->enabled = rd_config_get_bool (config, "auth", "enabled", TRUE);
  const char *id = rd_config_get_string (config, "auth", "authserv_id", NULL);
  a->authserv_id = g_ascii_strdown (id ? id : rd_config_get_hostname (config), -1);
  g_auto(GStrv) trusted = rd_config_get_list (config, "auth", "trusted_authserv_ids");
  g_autoptr(GPtrArray) t = g_ptr_array_new ();
  for (guint i = 0; trusted && trusted[i]; i++)
    g_ptr_array_add (t, g_ascii_strdown (trusted[i], -1));
  g_ptr_array_add (t, NULL);
  a->trusted = (GStrv) g_ptr_array_free (g_steal_pointer (&t), FALSE);
  a->timeout_us = rd_config_get_int (config, "auth", "timeout_ms", 10000) * 1000;
  a->dns = rd_dns_new_from_config (config, error);
  if (a->dns == NULL)
    return NULL;
  static GOnce psl_once = G_ONCE_INIT;
  const char *psl = rd_config_get_string (config, "auth", "public_suffix_list", DEFAULT_PSL);
  g_once (&psl_once, load_psl, (gpointer) psl);
  a->spf = rd_auth_spf_server_new (a->dns, &a->spf_layer);
  a->dkim = dkim_init (NULL, NULL);
  if (a->spf == NULL || a->dkim == NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "auth: cannot initialise libspf2/libopendkim");
      return NULL;
    }
  dkim_set_key_lookup (a->dkim, key_lookup);
  a->key_status = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return g_steal_pointer (&a);
}

void
rd_auth_free (RdAuth *a)
{
  if (a == NULL)
    return;
  if (a->spf)
    SPF_server_free (a->spf);
  g_free (a->spf_layer);
  if (a->dkim)
    dkim_close (a->dkim);
  rd_dns_free (a->dns);
  g_strfreev (a->trusted);
  g_free (a->authserv_id);
  if (a->key_status)
    g_hash_table_unref (a->key_status);
  g_free (a);
}

const char *
rd_auth_authserv_id (RdAuth *a)
{
  return a->authserv_id;
}

gboolean
rd_auth_enabled (RdAuth *a)
{
  return a->enabled;
}

guint
rd_auth_last_queries (RdAuth *a)
{
  return a->last_queries;
}

/* A comment, RFC 5322 ctext only: what came from outside cannot close
 * it or fold the field. */
static void
append_comment (GString *s, const char *text)
{
  if (text == NULL || *text == '\0')
    return;
  g_string_append (s, " (");
  for (const char *p = text; *p && p - text < 200; p++)
    g_string_append_c (s, (*p == '(' || *p == ')' || *p == '\\' || (guchar) *p < ' ' || *p == 127) ? ' ' : *p);
  g_string_append_c (s, ')');
}

/* A property value: a domain, address or token as RFC 8601 2.2 pvalue;
 * anything else is left out. */
static void
append_prop (GString *s, const char *name, const char *value)
{
  if (value == NULL || *value == '\0' || strlen (value) > 320)
    return;
  for (const char *p = value; *p; p++)
    if (!(g_ascii_isalnum (*p) || strchr ("-._@+=/", *p)))
      return;
  g_string_append_printf (s, " %s=%s", name, value);
}

/* ---- the trusted MTA's results ------------------------------------------ */

static char *
trusted_results (RdAuth *a, GBytes *raw, RdAuthSummary *summary)
{
  if (a->trusted == NULL || a->trusted[0] == NULL)
    return NULL;
  gsize len, pos = 0;
  const char *p = g_bytes_get_data (raw, &len);
  RdMailField f;
  while (rd_mail_header_next (p, len, &pos, &f))
    {
      if (!rd_mail_field_is (&f, RD_AUTH_RESULTS_HEADER))
        continue;
      g_autofree char *v = rd_mail_field_value (&f);
      g_autofree char *id = NULL;
      RdAuthSummary s;
      if (!rd_auth_results_parse (v, &id, &s) || g_strcmp0 (id, a->authserv_id) == 0
          || !g_strv_contains ((const char *const *) a->trusted, id))
        continue;
      *summary = s;
      /* Our field carries the trusted MTA's results under our id. */
      const char *semi = strchr (v, ';');
      GString *out = g_string_new (a->authserv_id);
      if (semi)
        g_string_append (out, semi);
      else
        g_string_append (out, "; none");
      g_autofree char *c = g_strdup_printf ("from %s", id);
      append_comment (out, c);
      return g_string_free (out, FALSE);
    }
  return NULL;
}

/* ---- DKIM --------------------------------------------------------------- */

typedef struct {
  char *domain;
  char *selector;
  RdAuthResult result;
} DkimSig;

static void
dkim_sig_clear (gpointer p)
{
  DkimSig *s = p;
  g_free (s->domain);
  g_free (s->selector);
}

static RdAuthResult
dkim_worst_to_best (GArray *sigs)
{
  static const RdAuthResult order[] = { RD_AUTH_PASS, RD_AUTH_FAIL, RD_AUTH_TEMPERROR, RD_AUTH_PERMERROR,
                                        RD_AUTH_NEUTRAL, RD_AUTH_POLICY };
  for (guint o = 0; o < G_N_ELEMENTS (order); o++)
    for (guint i = 0; i < sigs->len; i++)
      if (g_array_index (sigs, DkimSig, i).result == order[o])
        return order[o];
  return RD_AUTH_NONE;
}

static void
verify_dkim (RdAuth *a, GBytes *raw, GArray *sigs, GString *ar)
{
  gsize len;
  const guchar *p = g_bytes_get_data (raw, &len);
  DKIM_STAT st;
  g_hash_table_remove_all (a->key_status);
  DKIM *d = dkim_verify (a->dkim, (const u_char *) "relaydesk", NULL, &st);
  if (d == NULL)
    {
      g_string_append (ar, "; dkim=temperror");
      append_comment (ar, "verifier unavailable");
      return;
    }
  dkim_set_user_context (d, a);
  st = dkim_chunk (d, (u_char *) p, len);
  if (st == DKIM_STAT_OK)
    st = dkim_chunk (d, NULL, 0);
  if (st == DKIM_STAT_OK || st == DKIM_STAT_NOSIG)
    st = dkim_eom (d, NULL);
  DKIM_SIGINFO **list = NULL;
  int n = 0;
  if (dkim_getsiglist (d, &list, &n) != DKIM_STAT_OK)
    n = 0;
  for (int i = 0; i < n && sigs->len < DKIM_SIGS_REPORTED; i++)
    {
      DKIM_SIGINFO *sig = list[i];
      DkimSig s = { 0 };
      s.domain = g_ascii_strdown ((const char *) (dkim_sig_getdomain (sig) ? dkim_sig_getdomain (sig) : (u_char *) ""), -1);
      s.selector = g_strdup ((const char *) (dkim_sig_getselector (sig) ? dkim_sig_getselector (sig) : (u_char *) ""));
      unsigned int flags = dkim_sig_getflags (sig);
      int err = dkim_sig_geterror (sig);
      const char *why = NULL;
      g_autofree char *key = g_strdup_printf ("%s._domainkey.%s", s.selector, s.domain);
      g_autofree char *lkey = g_ascii_strdown (key, -1);
      gpointer dns = NULL;
      gboolean looked_up = g_hash_table_lookup_extended (a->key_status, lkey, NULL, &dns);
      if ((flags & DKIM_SIGFLAG_PASSED) && dkim_sig_getbh (sig) == DKIM_SIGBH_MATCH)
        s.result = RD_AUTH_PASS;
      else if (looked_up && GPOINTER_TO_INT (dns) == RD_DNS_TEMPFAIL)
        {
          s.result = RD_AUTH_TEMPERROR;
          why = "key lookup timed out or failed";
        }
      else if (dkim_sig_getbh (sig) == DKIM_SIGBH_MISMATCH)
        {
          s.result = RD_AUTH_FAIL;
          why = "body hash did not verify";
        }
      else if (err == DKIM_SIGERROR_BADSIG)
        {
          s.result = RD_AUTH_FAIL;
          why = "signature did not verify";
        }
      else if (err == DKIM_SIGERROR_KEYFAIL)
        {
          s.result = RD_AUTH_TEMPERROR;
          why = "key lookup failed";
        }
      else
        {
          s.result = RD_AUTH_PERMERROR;
          why = err != DKIM_SIGERROR_OK ? dkim_sig_geterrorstr (err) : "not verified";
        }
      g_string_append_printf (ar, "; dkim=%s", rd_auth_result_to_string (s.result));
      append_comment (ar, why);
      append_prop (ar, "header.d", s.domain);
      append_prop (ar, "header.s", s.selector);
      append_prop (ar, "header.a", (const char *) dkim_sig_getalgorithm (sig));
      const char *b = (const char *) dkim_sig_gettagvalue (sig, FALSE, (u_char *) "b");
      if (b)
        {
          /* RFC 6008: the first 8 characters tell signatures apart. */
          g_autofree char *b8 = g_strndup (b, 8);
          append_prop (ar, "header.b", b8);
        }
      g_array_append_val (sigs, s);
    }
  g_autofree char *any_sig = rd_mail_header_get ((const char *) p, len, "DKIM-Signature");
  if (any_sig == NULL)
    g_string_append (ar, "; dkim=none");
  else if (sigs->len == 0 && (st == DKIM_STAT_CBTRYAGAIN || st == DKIM_STAT_KEYFAIL))
    {
      /* libopendkim gives up on the whole message when a key lookup
       * must be tried again: no per-signature results then. */
      DkimSig s = { g_strdup (""), g_strdup (""), RD_AUTH_TEMPERROR };
      g_array_append_val (sigs, s);
      g_string_append (ar, "; dkim=temperror");
      append_comment (ar, "key lookup timed out or failed");
    }
  else if (sigs->len == 0 && st != DKIM_STAT_OK && st != DKIM_STAT_NOSIG)
    {
      DkimSig s = { g_strdup (""), g_strdup (""), RD_AUTH_PERMERROR };
      g_array_append_val (sigs, s);
      g_string_append (ar, "; dkim=permerror");
      append_comment (ar, dkim_getresultstr (st));
    }
  else if (sigs->len == 0)
    {
      g_string_append (ar, "; dkim=permerror");
      append_comment (ar, "no usable signature");
    }
  dkim_free (d);
}

/* ---- DMARC -------------------------------------------------------------- */

/* The DMARC record of @domain: RD_DNS_OK with exactly one "v=DMARC1"
 * record in @record (transfer full); NODATA when there is none or more
 * than one (RFC 7489 6.6.3: then DMARC does not apply). */
static RdDnsStatus
dmarc_record (RdAuth *a, const char *domain, char **record)
{
  *record = NULL;
  g_autofree char *name = g_strdup_printf ("_dmarc.%s", domain);
  g_autoptr(GPtrArray) recs = NULL;
  RdDnsStatus st = rd_dns_txt (a->dns, name, &recs);
  if (st == RD_DNS_TEMPFAIL)
    return st;
  if (st != RD_DNS_OK)
    return RD_DNS_NODATA;
  guint found = 0;
  for (guint i = 0; i < recs->len; i++)
    {
      const char *r = g_ptr_array_index (recs, i);
      while (*r == ' ' || *r == '\t')
        r++;
      if (g_ascii_strncasecmp (r, "v=DMARC1", 8) == 0 && (r[8] == ';' || r[8] == ' ' || r[8] == '\0'))
        {
          if (found++ == 0)
            *record = g_strdup (r);
        }
    }
  if (found != 1)
    {
      g_clear_pointer (record, g_free);
      return RD_DNS_NODATA;
    }
  return RD_DNS_OK;
}

static const char *
policy_word (int p)
{
  switch (p)
    {
    case DMARC_RECORD_P_NONE: return "none";
    case DMARC_RECORD_P_QUARANTINE: return "quarantine";
    case DMARC_RECORD_P_REJECT: return "reject";
    default: return "";
    }
}

static int
spf_outcome (RdAuthResult r)
{
  switch (r)
    {
    case RD_AUTH_PASS: return DMARC_POLICY_SPF_OUTCOME_PASS;
    case RD_AUTH_FAIL:
    case RD_AUTH_SOFTFAIL: return DMARC_POLICY_SPF_OUTCOME_FAIL;
    case RD_AUTH_TEMPERROR: return DMARC_POLICY_SPF_OUTCOME_TMPFAIL;
    default: return DMARC_POLICY_SPF_OUTCOME_NONE;
    }
}

static int
dkim_outcome (RdAuthResult r)
{
  switch (r)
    {
    case RD_AUTH_PASS: return DMARC_POLICY_DKIM_OUTCOME_PASS;
    case RD_AUTH_TEMPERROR: return DMARC_POLICY_DKIM_OUTCOME_TMPFAIL;
    case RD_AUTH_NONE: return DMARC_POLICY_DKIM_OUTCOME_NONE;
    default: return DMARC_POLICY_DKIM_OUTCOME_FAIL;
    }
}

/* RFC 7489 3.1: a domain can align with the From domain only when their
 * organizational domains are the same. libopendmarc's own check compares
 * label suffixes and would let d=com align with any .com From; it gets
 * only the candidates that pass this. */
static gboolean
same_org (const char *domain, const char *from_org)
{
  g_autofree char *o = org_domain (domain);
  return g_ascii_strcasecmp (o, from_org) == 0;
}

static void
verify_dmarc (RdAuth *a, const RdAuthInput *in, GBytes *raw, const char *spf_domain, RdAuthResult spf,
              GArray *sigs, RdAuthSummary *sum, GString *ar)
{
  const char *why = NULL;
  g_autofree char *from = rd_auth_from_domain (raw, &why);
  if (from == NULL)
    {
      /* RFC 7489 6.6.1: no single From domain, nothing to evaluate. */
      sum->dmarc = g_strcmp0 (why, "multiple") == 0 ? RD_AUTH_PERMERROR : RD_AUTH_NONE;
      g_string_append_printf (ar, "; dmarc=%s", rd_auth_result_to_string (sum->dmarc));
      append_comment (ar, g_strcmp0 (why, "multiple") == 0 ? "not exactly one From address" : "no From domain");
      return;
    }
  g_strlcpy (sum->from_domain, from, sizeof sum->from_domain);
  g_autofree char *org = org_domain (from);
  g_autofree char *record = NULL;
  gboolean from_org = FALSE;
  RdDnsStatus st = dmarc_record (a, from, &record);
  if (st == RD_DNS_NODATA && g_ascii_strcasecmp (org, from) != 0)
    {
      st = dmarc_record (a, org, &record);
      from_org = TRUE;
    }
  if (st != RD_DNS_OK)
    {
      sum->dmarc = st == RD_DNS_TEMPFAIL ? RD_AUTH_TEMPERROR : RD_AUTH_NONE;
      g_string_append_printf (ar, "; dmarc=%s", rd_auth_result_to_string (sum->dmarc));
      append_comment (ar, st == RD_DNS_TEMPFAIL ? "policy lookup failed" : "no policy");
      append_prop (ar, "header.from", from);
      return;
    }
  gboolean v6 = in->client_addr && strchr (in->client_addr, ':');
  DMARC_POLICY_T *pctx = opendmarc_policy_connect_init ((u_char *) (in->client_addr && *in->client_addr
                                                                   ? in->client_addr : "0.0.0.0"), v6);
  int rc = pctx ? opendmarc_policy_store_dmarc (pctx, (u_char *) record, (u_char *) from,
                                                from_org ? (u_char *) org : NULL)
                : DMARC_PARSE_ERROR_NO_ALLOC;
  if (rc != DMARC_PARSE_OKAY)
    {
      sum->dmarc = RD_AUTH_PERMERROR;
      g_string_append (ar, "; dmarc=permerror");
      append_comment (ar, "bad policy record");
      append_prop (ar, "header.from", from);
      if (pctx)
        opendmarc_policy_connect_shutdown (pctx);
      return;
    }
  if (spf_domain && same_org (spf_domain, org))
    opendmarc_policy_store_spf (pctx, (u_char *) spf_domain, spf_outcome (spf), DMARC_POLICY_SPF_ORIGIN_MAILFROM, NULL);
  for (guint i = 0; i < sigs->len; i++)
    {
      DkimSig *s = &g_array_index (sigs, DkimSig, i);
      if (*s->domain && same_org (s->domain, org))
        opendmarc_policy_store_dkim (pctx, (u_char *) s->domain, (u_char *) s->selector,
                                     dkim_outcome (s->result), NULL);
    }
  int policy = opendmarc_get_policy_to_enforce (pctx);
  int p = 0, sp = 0;
  opendmarc_policy_fetch_p (pctx, &p);
  opendmarc_policy_fetch_sp (pctx, &sp);
  const char *word = policy_word (from_org && sp ? sp : p);
  g_strlcpy (sum->dmarc_policy, word, sizeof sum->dmarc_policy);
  switch (policy)
    {
    case DMARC_POLICY_PASS: sum->dmarc = RD_AUTH_PASS; break;
    case DMARC_POLICY_REJECT:
    case DMARC_POLICY_QUARANTINE:
    case DMARC_POLICY_NONE: sum->dmarc = RD_AUTH_FAIL; break;
    case DMARC_POLICY_ABSENT: sum->dmarc = RD_AUTH_NONE; break;
    default: sum->dmarc = RD_AUTH_PERMERROR; break;
    }
  /* A temporary failure of an aligned check is not a verdict (RFC 7489
   * 6.6.2: temperror). */
  if (sum->dmarc == RD_AUTH_FAIL)
    {
      gboolean temp = spf == RD_AUTH_TEMPERROR && spf_domain && same_org (spf_domain, org);
      for (guint i = 0; i < sigs->len; i++)
        if (g_array_index (sigs, DkimSig, i).result == RD_AUTH_TEMPERROR)
          temp = TRUE;
      if (temp)
        sum->dmarc = RD_AUTH_TEMPERROR;
    }
  g_string_append_printf (ar, "; dmarc=%s", rd_auth_result_to_string (sum->dmarc));
  g_autofree char *pc = g_strdup_printf ("p=%s", *word ? word : "none");
  append_comment (ar, pc);
  append_prop (ar, "header.from", from);
  opendmarc_policy_connect_shutdown (pctx);
}

/* ---- the whole ------------------------------------------------------------ */

static void
summary_init (RdAuthSummary *s)
{
  memset (s, 0, sizeof *s);
  s->spf = s->dkim = s->dmarc = RD_AUTH_NONE;
}

char *
rd_auth_verify (RdAuth *a, const RdAuthInput *in, GBytes *raw, RdAuthSummary *sum)
{
  summary_init (sum);
  a->last_queries = 0;
  if (!a->enabled)
    {
      GString *off = g_string_new (a->authserv_id);
      g_string_append (off, "; none");
      return g_string_free (off, FALSE);
    }
  guint q0 = rd_dns_query_count (a->dns);
  char *trusted = trusted_results (a, raw, sum);
  if (trusted)
    {
      sum->verified = sum->dmarc == RD_AUTH_PASS && sum->from_domain[0];
      return trusted;
    }
  rd_dns_set_deadline (a->dns, g_get_monotonic_time () + a->timeout_us);
  GString *ar = g_string_new (a->authserv_id);

  /* SPF */
  g_autofree char *identity = NULL, *comment = NULL;
  gboolean helo_id = FALSE;
  sum->spf = rd_auth_spf_check (a->spf, in, &identity, &helo_id, &comment);
  g_string_append_printf (ar, "; spf=%s", rd_auth_result_to_string (sum->spf));
  append_comment (ar, comment);
  if (identity)
    append_prop (ar, helo_id ? "smtp.helo" : "smtp.mailfrom", helo_id ? in->helo : identity);
  const char *at = identity ? strrchr (identity, '@') : NULL;
  g_autofree char *spf_domain = at && at[1] ? g_ascii_strdown (at + 1, -1) : NULL;

  /* DKIM */
  g_autoptr(GArray) sigs = g_array_new (FALSE, TRUE, sizeof (DkimSig));
  g_array_set_clear_func (sigs, dkim_sig_clear);
  verify_dkim (a, raw, sigs, ar);
  sum->dkim = dkim_worst_to_best (sigs);

  /* DMARC */
  verify_dmarc (a, in, raw, spf_domain, sum->spf, sigs, sum, ar);
  sum->verified = sum->dmarc == RD_AUTH_PASS;

  rd_dns_set_deadline (a->dns, 0);
  a->last_queries = rd_dns_query_count (a->dns) - q0;
  return g_string_free (ar, FALSE);
}
