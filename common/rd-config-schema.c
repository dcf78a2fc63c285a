/* relaydesk — the schema of relaydesk.conf: every setting any module reads,
 * with its type, default and one line of documentation (rd-config.h).
 *
 * This table is the one source for the loader's checks, the getters'
 * defaults, docs/config.md (tests/common/ compares them) and, later,
 * `relaydesk config check` and relaydesk.conf(5). A module that reads a
 * new key adds it here; the getters complain (g_critical) about a key that
 * is missing or whose caller passes another default.
 *
 * Defaults are written as a user would write them in the file, so the
 * documentation shows "25M", not 26214400.
 */
#include "rd-config.h"
#include "rd-common.h"

#include <string.h>

#define SECONDS(what) "Seconds " what

static const RdConfigKey schema[] = {
  /* [relaydesk] */
  { "relaydesk", "data_dir", RD_CONFIG_PATH, .dflt = RD_DEFAULT_DATA_DIR,
    .doc = "Data directory: the database, the generated TLS certificate, the example rules" },
  { "relaydesk", "hostname", RD_CONFIG_STRING, .dflt_doc = "the machine's host name",
    .doc = "Our name in SMTP banners, Message-IDs and default addresses" },
  { "relaydesk", "user", RD_CONFIG_STRING, .dflt_doc = "none: stay who started it",
    .doc = "Started as root, serve binds its listeners, then becomes this user (its group, no other groups) "
           "before it reads mail or opens the store; every other command run as root becomes it too" },

  /* [store]: where tickets live (docs/scale-out.md) */
  { "store", "url", RD_CONFIG_STRING, .dflt_doc = "none: SQLite in data_dir", .flags = RD_CONFIG_FLAG_EMPTY_OK,
    .doc = "PostgreSQL connection URL (postgresql://user@host:5432/db?sslmode=...) shared by several serve "
           "nodes; also --database on every command" },
  { "store", "lease", RD_CONFIG_INT, .min = 1, .max = 86400, .dflt = "30",
    .doc = "Seconds: how long a node's claim on a message to process or send lasts; a dead node's claims are taken "
           "over when it ends (PostgreSQL); longer than the slowest relay attempt" },

  /* [smtp]: the receiver (docs/receiver.md) */
  { "smtp", "listen", RD_CONFIG_HOSTPORT, .dflt = RD_DEFAULT_SMTP_LISTEN,
    .doc = "Plain SMTP listener, STARTTLS offered; port 0 picks a free port" },
  { "smtp", "listen_tls", RD_CONFIG_HOSTPORT, .words = "none", .dflt = RD_DEFAULT_SMTPS_LISTEN,
    .flags = RD_CONFIG_FLAG_EMPTY_OK,
    .doc = "Implicit-TLS (SMTPS) listener; none (or empty) disables it" },
  { "smtp", "max_message_size", RD_CONFIG_SIZE, .dflt = "25M",
    .doc = "Largest message accepted (SIZE; 552 5.3.4 beyond it); also for deliver" },
  { "smtp", "max_recipients", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "100",
    .doc = "Recipients per message (452 4.5.3 beyond it)" },
  { "smtp", "max_errors", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "10",
    .doc = "Errors per session before 421 4.7.0 and close" },
  { "smtp", "max_connections", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "2000",
    .doc = "Concurrent sessions in total" },
  { "smtp", "max_data_memory", RD_CONFIG_SIZE, .dflt = "32M",
    .doc = "Memory for message data being received, all sessions together: past it, sessions in DATA wait "
           "(TCP backpressure) while one finishes its message; 0: no limit" },
  { "smtp", "max_connections_per_ip", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "100",
    .doc = "Concurrent sessions per client address" },
  { "smtp", "idle_timeout", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "300",
    .doc = SECONDS ("waiting for a command outside a transaction") },
  { "smtp", "command_timeout", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "300",
    .doc = SECONDS ("waiting for a command inside a transaction, and for the TLS handshake") },
  { "smtp", "data_timeout", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "180",
    .doc = SECONDS ("between reads of message data") },
  { "smtp", "rejected_timeout", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "10",
    .doc = SECONDS ("before a refused client is closed") },
  { "smtp", "strict_bare_lf", RD_CONFIG_BOOL, .dflt = "false",
    .doc = "Refuse every message with a bare LF" },
  { "smtp", "require_tls", RD_CONFIG_BOOL, .dflt = "false",
    .doc = "Answer 530 to MAIL before TLS (needs [tls] enabled)" },
  { "smtp", "proxy_trusted", RD_CONFIG_LIST, .item = RD_CONFIG_CIDR, .dflt_doc = "none", .flags = RD_CONFIG_FLAG_EMPTY_OK,
    .doc = "Load balancers (addresses, CIDR blocks) whose PROXY protocol header (v1 or v2) names the client: "
           "they must send one; a header from any other address is refused (554 5.7.0)" },
  { "smtp", "accept_recipients", RD_CONFIG_LIST, .item = RD_CONFIG_RECIPIENT, .dflt_doc = "every recipient",
    .doc = "Recipients accepted in RCPT TO, others get 550 5.1.1; user+tag@ matches user@" },

  /* [tls]: STARTTLS and SMTPS of the receiver */
  { "tls", "enabled", RD_CONFIG_BOOL, .dflt = "true",
    .doc = "Offer STARTTLS and listen for SMTPS" },
  { "tls", "cert_file", RD_CONFIG_PATH, .dflt_doc = "a self-signed certificate made in data_dir",
    .doc = "PEM certificate chain (with key_file)" },
  { "tls", "key_file", RD_CONFIG_PATH, .dflt_doc = "generated with the certificate",
    .doc = "PEM private key (with cert_file)" },
  { "tls", "min_version", RD_CONFIG_ENUM, .words = "TLSv1.2|TLSv1.3", .dflt = "TLSv1.2",
    .doc = "Oldest TLS version accepted" },

  /* [allowlist]: which SMTP clients may send */
  { "allowlist", "enabled", RD_CONFIG_BOOL, .dflt = "true",
    .doc = "false serves every client" },
  { "allowlist", "clients", RD_CONFIG_LIST, .item = RD_CONFIG_CIDR, .dflt = "127.0.0.0/8; ::1",
    .doc = "Addresses and CIDR blocks always allowed (more with relaydesk allowlist add)" },
  { "allowlist", "contact", RD_CONFIG_STRING,
    .dflt = "Access denied: your address is not on this relay's allowlist; "
            "ask the relay administrator (postmaster) to add it",
    .doc = "Text of the 554 greeting to a client not on the allowlist" },

  /* [desk]: tickets (docs/tickets.md) */
  { "desk", "default_queue", RD_CONFIG_STRING, .dflt = RD_DEFAULT_QUEUE,
    .doc = "Queue of new tickets when the rules file them nowhere else" },
  { "desk", "subject_tag_prefix", RD_CONFIG_STRING, .dflt = "RD",
    .doc = "Subject tag of tickets: [RD #42]" },
  { "desk", "reply_address", RD_CONFIG_ADDRESS, .dflt_doc = "support@HOSTNAME",
    .doc = "From of replies and base of the signed reply addresses" },
  { "desk", "from_name", RD_CONFIG_STRING, .dflt = "Support",
    .doc = "Display name of replies" },
  { "desk", "own_addresses", RD_CONFIG_LIST, .item = RD_CONFIG_ADDRESS,
    .doc = "Our other addresses: never ticket participants" },
  { "desk", "queues", RD_CONFIG_LIST, .item = RD_CONFIG_STRING,
    .doc = "Queues with their own [queue.NAME] addresses, recognised as ours" },
  { "desk", "stranger_tag", RD_CONFIG_ENUM, .words = "new|quarantine", .dflt = "new",
    .doc = "A non-participant's mail with a ticket's subject tag: a new linked ticket, or quarantine" },
  { "desk", "closed_followup", RD_CONFIG_ENUM, .words = "reopen|new", .dflt = "reopen",
    .doc = "A follow-up to a closed ticket reopens it or opens a new one" },

  { "desk", "subject_tag_auth", RD_CONFIG_ENUM, .words = "dmarc-pass|allow-none|any", .dflt = "dmarc-pass",
    .doc = "Subject-tag threading needs a participant whose From domain passes DMARC; allow-none also "
           "takes domains without a DMARC policy, any takes every domain (both logged)" },

  /* [queue.NAME]: one queue's own settings, over [desk] */
  { "queue.*", "reply_address", RD_CONFIG_ADDRESS, .dflt_doc = "[desk] reply_address",
    .doc = "From of this queue's replies" },
  { "queue.*", "from_name", RD_CONFIG_STRING, .dflt_doc = "[desk] from_name",
    .doc = "Display name of this queue's replies" },
  { "queue.*", "closed_followup", RD_CONFIG_ENUM, .words = "reopen|new", .dflt_doc = "[desk] closed_followup",
    .doc = "What a follow-up to a closed ticket of this queue does" },

  /* [parser]: limits of the MIME parser (docs/parser.md) */
  { "parser", "max_mime_depth", RD_CONFIG_INT, .min = 1, .max = 1000, .dflt = "32",
    .doc = "MIME nesting levels walked" },
  { "parser", "max_mime_parts", RD_CONFIG_INT, .min = 1, .max = 1000000, .dflt = "1000",
    .doc = "MIME parts looked at" },
  { "parser", "max_header_bytes", RD_CONFIG_SIZE, .min = 1024, .max = G_GINT64_CONSTANT (64) << 20, .dflt = "100K",
    .doc = "Top-level header block; later fields are dropped" },
  { "parser", "max_text_bytes", RD_CONFIG_SIZE, .min = 1024, .max = G_GINT64_CONSTANT (1) << 30, .dflt = "4M",
    .doc = "Body text kept" },

  /* [rules]: Sieve scripts per inbox and their limits (docs/rules.md) */
  { "rules", "script_dir", RD_CONFIG_PATH, .dflt_doc = "the config file's folder",
    .doc = "Where relative script paths resolve" },
  { "rules", "global_dir", RD_CONFIG_PATH, .dflt_doc = "script_dir/global",
    .doc = "Scripts for include :global" },
  { "rules", "before", RD_CONFIG_PATH,
    .doc = "Script run first, for every inbox" },
  { "rules", "after", RD_CONFIG_PATH,
    .doc = "Script run last, for every inbox" },
  { "rules", "default", RD_CONFIG_PATH, .dflt_doc = "implicit keep",
    .doc = "Script of inboxes without one of their own" },
  { "rules", "scripts", RD_CONFIG_LIST, .item = RD_CONFIG_SCRIPT,
    .doc = "Each inbox address's script: support@example.org=support.sieve; ..." },
  { "rules", "max_script_size", RD_CONFIG_SIZE, .dflt = "1M",
    .doc = "Largest script compiled" },
  { "rules", "max_nesting", RD_CONFIG_INT, .min = 1, .max = 1024, .dflt = "32",
    .doc = "Nesting of blocks and tests" },
  { "rules", "max_actions", RD_CONFIG_INT, .min = 1, .max = 10000, .dflt = "32",
    .doc = "Actions per message" },
  { "rules", "max_redirects", RD_CONFIG_INT, .min = 0, .max = 1000, .dflt = "4",
    .doc = "Redirects per message" },
  { "rules", "max_string_length", RD_CONFIG_SIZE, .dflt = "64K",
    .doc = "Longest string, also after variable expansion" },
  { "rules", "max_regex_size", RD_CONFIG_SIZE, .dflt = "1024",
    .doc = "Longest regular expression" },
  { "rules", "max_regex_input", RD_CONFIG_SIZE, .dflt = "8K",
    .doc = "Text one regex match looks at; 8 times that per message" },
  { "rules", "max_include_depth", RD_CONFIG_INT, .min = 0, .max = 64, .dflt = "5",
    .doc = "Nesting of include" },

  /* [auth]: sender authentication of inbound mail (docs/auth.md) */
  { "auth", "enabled", RD_CONFIG_BOOL, .dflt = "true",
    .doc = "Check SPF, DKIM and DMARC of every received message (after the 250, before the rules)" },
  { "auth", "authserv_id", RD_CONFIG_STRING, .dflt_doc = "[relaydesk] hostname",
    .doc = "Our authserv-id in Authentication-Results; fields with it that came with the mail are removed" },
  { "auth", "trusted_authserv_ids", RD_CONFIG_LIST, .item = RD_CONFIG_STRING,
    .doc = "Authserv-ids of MTAs in front of us whose results are used instead of checking again "
           "(they must remove such fields from outside, RFC 8601 5)" },
  { "auth", "dns_server", RD_CONFIG_HOSTPORT, .dflt_doc = "$RELAYDESK_DNS_SERVER, else the system's resolver",
    .doc = "DNS server (ADDR:PORT) for SPF, DKIM and DMARC lookups, e.g. for split horizon" },
  { "auth", "dns_timeout_ms", RD_CONFIG_INT, .min = 1, .max = 60000, .dflt = "2000",
    .doc = "Milliseconds to wait for one DNS answer" },
  { "auth", "dns_cache_entries", RD_CONFIG_INT, .min = 0, .max = 1000000, .dflt = "4096",
    .doc = "DNS answers kept for their TTL (at most an hour; NXDOMAIN/NODATA per RFC 2308, failures never); 0: none" },
  { "auth", "timeout_ms", RD_CONFIG_INT, .min = 1, .max = 600000, .dflt = "10000",
    .doc = "Milliseconds of DNS for the checks of one message; what is left unanswered is temperror" },
  { "auth", "dmarc_reject", RD_CONFIG_ENUM, .words = "quarantine|keep", .dflt = "quarantine",
    .doc = "A message failing DMARC of a domain whose policy is reject: quarantine it or keep it (never dropped)" },
  { "auth", "public_suffix_list", RD_CONFIG_PATH, .dflt = "/usr/share/publicsuffix/public_suffix_list.dat",
    .doc = "Public suffix list for DMARC organizational domains" },

  /* [dkim]: DKIM signing of outbound mail (docs/auth.md) */
  { "dkim", "selector", RD_CONFIG_STRING, .dflt_doc = "none",
    .doc = "Selector (s=) of our signatures; the key is published at SELECTOR._domainkey.DOMAIN" },
  { "dkim", "domain", RD_CONFIG_DOMAIN, .dflt_doc = "none",
    .doc = "Signing domain (d=), aligned with the From of our mail" },
  { "dkim", "key_file", RD_CONFIG_PATH, .dflt_doc = "none: mail goes out unsigned",
    .doc = "PEM private key, RSA (2048 bits) or Ed25519 (RFC 8463); relaydesk dkim keygen makes one" },

  /* [http]: the web desk and its JSON API (docs/web.md, docs/api.md) */
  { "http", "listen", RD_CONFIG_HOSTPORT, .words = "none", .dflt = RD_DEFAULT_HTTP_LISTEN,
    .flags = RD_CONFIG_FLAG_EMPTY_OK,
    .doc = "The web desk's listener (UI, /api/v1, /metrics); port 0 picks a free port; none disables it" },
  { "http", "cert_file", RD_CONFIG_PATH, .dflt_doc = "none: plain HTTP",
    .doc = "PEM certificate (chain) for HTTPS; with it the desk sends HSTS and Secure cookies" },
  { "http", "key_file", RD_CONFIG_PATH, .dflt_doc = "none",
    .doc = "PEM private key of cert_file" },
  { "http", "max_upload", RD_CONFIG_SIZE, .dflt = "10M",
    .doc = "Largest request body, and so the largest attachment an agent uploads (413 beyond it)" },
  { "http", "session_lifetime", RD_CONFIG_INT, .min = 60, .max = 2592000, .dflt = "43200",
    .doc = SECONDS ("a login session lasts (it is not extended by use)") },
  { "http", "threads", RD_CONFIG_INT, .min = 1, .max = 64, .dflt = "4",
    .doc = "Threads (each with its own database connection) that run the API's database work" },
  { "http", "login_failures_account", RD_CONFIG_INT, .min = 1, .max = 10000, .dflt = "5",
    .doc = "Failed logins per account within login_window before 429" },
  { "http", "login_failures_address", RD_CONFIG_INT, .min = 1, .max = 100000, .dflt = "20",
    .doc = "Failed logins per client address within login_window before 429" },
  { "http", "login_window", RD_CONFIG_INT, .min = 1, .max = 86400, .dflt = "900",
    .doc = SECONDS ("over which failed logins are counted") },
  { "http", "idle_timeout", RD_CONFIG_INT, .min = 1, .max = 3600, .dflt = "60",
    .doc = SECONDS ("a web connection may stay silent mid-request or between requests before it is closed") },

  /* [metrics]: /metrics, /healthz, /readyz (relaydesk(8), docs/operations.md) */
  { "metrics", "listen", RD_CONFIG_HOSTPORT, .words = "none", .dflt = "none", .flags = RD_CONFIG_FLAG_EMPTY_OK,
    .doc = "Own HTTP listener for /metrics, /healthz and /readyz (e.g. 127.0.0.1:9025); none: only on the web desk's" },
  { "metrics", "clients", RD_CONFIG_LIST, .item = RD_CONFIG_CIDR, .dflt = "127.0.0.0/8; ::1",
    .doc = "Addresses allowed to read them; others get 403" },
  { "metrics", "max_backlog", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "10000",
    .doc = "/readyz fails above this many unprocessed messages; 0: no limit" },

  /* [relay]: outbound mail (docs/relay.md) */
  { "relay", "url", RD_CONFIG_URL, .words = "smtp|smtps", .dflt_doc = "none: replies wait in the outbox",
    .doc = "The SMTP relay: smtps:// with implicit TLS (RFC 8314), smtp:// with STARTTLS" },
  { "relay", "ca_file", RD_CONFIG_PATH, .dflt_doc = "the system's CA store", .flags = RD_CONFIG_FLAG_EMPTY_OK,
    .doc = "PEM file of the CA that signed the relay's certificate" },
  { "relay", "starttls", RD_CONFIG_ENUM, .words = "required|opportunistic", .dflt = "required",
    .doc = "For smtp://: never send in clear, or TLS when offered" },
  { "relay", "username", RD_CONFIG_STRING, .dflt_doc = "no AUTH",
    .doc = "AUTH user name" },
  { "relay", "password", RD_CONFIG_STRING, .dflt = "",
    .doc = "AUTH password" },
  { "relay", "timeout", RD_CONFIG_INT, .min = 1, .max = 3600, .dflt = "30",
    .doc = SECONDS ("for connecting and for each answer of the relay") },
  { "relay", "source_address", RD_CONFIG_STRING, .dflt_doc = "the system's choice",
    .doc = "Local address of outgoing connections" },
  { "relay", "helo_name", RD_CONFIG_STRING, .dflt_doc = "[relaydesk] hostname",
    .doc = "Our EHLO name" },
  { "relay", "reuse_connection", RD_CONFIG_BOOL, .dflt = "true",
    .doc = "Send consecutive messages over one connection" },
  { "relay", "rate_per_minute", RD_CONFIG_INT, .min = 0, .max = 1000000, .dflt = "60",
    .doc = "Attempts in any 60 s window; 0: no limit" },
  { "relay", "lifetime", RD_CONFIG_DURATION, .dflt = "5d",
    .doc = "How long temporary failures are retried" },
  { "relay", "retry_base", RD_CONFIG_DURATION, .dflt = "60s",
    .doc = "First retry delay, doubled per attempt" },
  { "relay", "retry_max", RD_CONFIG_DURATION, .dflt = "1h",
    .doc = "Longest retry delay" },
  { "relay", "own_addresses", RD_CONFIG_LIST, .item = RD_CONFIG_ADDRESS,
    .doc = "Our own addresses: never mailed" },
  { "relay", "own_domains", RD_CONFIG_LIST, .item = RD_CONFIG_DOMAIN,
    .doc = "Our own domains: never mailed" },
  { "relay", "cap_per_hour", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "10",
    .doc = "Machine-made messages per recipient and hour; 0 disables the cap" },
  { "relay", "cap_per_day", RD_CONFIG_INT, .min = 0, .max = G_MAXINT, .dflt = "50",
    .doc = "Machine-made messages per recipient and day; 0 disables the cap" },
};

void
rd_config_schema_foreach (RdConfigSchemaFunc func, gpointer user_data)
{
  for (guint i = 0; i < G_N_ELEMENTS (schema); i++)
    func (&schema[i], user_data);
}

/* "queue.billing" is an instance of "queue.*": a prefix and a name. */
static gboolean
group_matches (const char *pattern, const char *group)
{
  gsize n = strlen (pattern);
  if (n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.')
    return strncmp (group, pattern, n - 1) == 0 && group[n - 1] != '\0';
  return strcmp (pattern, group) == 0;
}

const RdConfigKey *
rd_config_schema_lookup (const char *group, const char *key)
{
  /* A linear scan: ~70 entries, and the getters run at start-up or once
   * per message, never in a loop over bytes. */
  for (guint i = 0; i < G_N_ELEMENTS (schema); i++)
    if (strcmp (schema[i].key, key) == 0 && group_matches (schema[i].group, group))
      return &schema[i];
  return NULL;
}

gboolean
rd_config_schema_has_group (const char *group)
{
  for (guint i = 0; i < G_N_ELEMENTS (schema); i++)
    if (group_matches (schema[i].group, group))
      return TRUE;
  return FALSE;
}

const char *
rd_config_key_group_display (const RdConfigKey *k)
{
  if (g_str_has_suffix (k->group, ".*"))
    {
      /* Interned: the caller gets a string for the program's lifetime. */
      g_autofree char *shown = g_strndup (k->group, strlen (k->group) - 1);
      g_autofree char *full = g_strconcat (shown, "NAME", NULL);
      return g_intern_string (full);
    }
  return k->group;
}

/* Sizes are shown as written: 1024 -> "1K", 67108864 -> "64M". */
static char *
format_size (gint64 n)
{
  static const char units[] = "GMK";
  for (guint i = 0; i < 3; i++)
    {
      gint64 unit = G_GINT64_CONSTANT (1) << (10 * (3 - i));
      if (n >= unit && n % unit == 0)
        return g_strdup_printf ("%" G_GINT64_FORMAT "%c", n / unit, units[i]);
    }
  return g_strdup_printf ("%" G_GINT64_FORMAT, n);
}

static char *
words_list (const char *words)
{
  g_auto(GStrv) w = g_strsplit (words, "|", -1);
  return g_strjoinv (", ", w);
}

/* What the items of a list are, in the plural. */
static const char *const list_items[] = {
  [RD_CONFIG_STRING] = "names",
  [RD_CONFIG_ADDRESS] = "email addresses",
  [RD_CONFIG_DOMAIN] = "domain names",
  [RD_CONFIG_RECIPIENT] = "addresses, domains or @domains",
  [RD_CONFIG_CIDR] = "IP addresses or CIDR blocks (e.g. 192.0.2.0/24)",
  [RD_CONFIG_SCRIPT] = "ADDRESS=FILE pairs",
  [RD_CONFIG_LIST] = NULL,
};

static char *
describe_type (RdConfigType type, const RdConfigKey *k)
{
  switch (type)
    {
    case RD_CONFIG_STRING: return g_strdup ("text");
    case RD_CONFIG_INT:
      if (k->max >= G_MAXINT)
        return g_strdup_printf ("an integer (%" G_GINT64_FORMAT " or more)", k->min);
      return g_strdup_printf ("an integer %" G_GINT64_FORMAT "..%" G_GINT64_FORMAT, k->min, k->max);
    case RD_CONFIG_BOOL: return g_strdup ("true or false");
    case RD_CONFIG_SIZE:
      if (k->max > 0)
        {
          g_autofree char *lo = format_size (k->min);
          g_autofree char *hi = format_size (k->max);
          return g_strdup_printf ("a size %s..%s (e.g. 25M)", lo, hi);
        }
      return g_strdup ("a size (e.g. 25M)");
    case RD_CONFIG_DURATION: return g_strdup ("a duration (e.g. 90s, 15m, 2h, 5d)");
    case RD_CONFIG_HOSTPORT:
      if (k->words)
        {
          g_autofree char *w = words_list (k->words);
          return g_strdup_printf ("ADDR:PORT, [IPV6]:PORT or %s", w);
        }
      return g_strdup ("ADDR:PORT or [IPV6]:PORT");
    case RD_CONFIG_ENUM:
      {
        g_autofree char *w = words_list (k->words);
        return g_strdup_printf ("one of: %s", w);
      }
    case RD_CONFIG_PATH: return g_strdup ("a path");
    case RD_CONFIG_ADDRESS: return g_strdup ("an email address (local@domain)");
    case RD_CONFIG_DOMAIN: return g_strdup ("a domain name");
    case RD_CONFIG_RECIPIENT: return g_strdup ("an address, a domain or @domain");
    case RD_CONFIG_CIDR: return g_strdup ("an IP address or CIDR block (e.g. 192.0.2.0/24)");
    case RD_CONFIG_URL:
      {
        g_auto(GStrv) w = g_strsplit (k->words, "|", -1);
        GString *s = g_string_new (NULL);
        for (guint i = 0; w[i]; i++)
          g_string_append_printf (s, "%s%s://HOST[:PORT]", i == 0 ? "" : w[i + 1] ? ", " : " or ", w[i]);
        return g_string_free (s, FALSE);
      }
    case RD_CONFIG_SCRIPT: return g_strdup ("ADDRESS=FILE");
    case RD_CONFIG_LIST:
      return g_strdup_printf ("%s, separated by ; or ,", list_items[k->item]);
    }
  g_return_val_if_reached (NULL);
}

char *
rd_config_key_describe (const RdConfigKey *k)
{
  return describe_type (k->type, k);
}

static gboolean
has_word (const char *words, const char *value, gboolean nocase)
{
  if (words == NULL)
    return FALSE;
  g_auto(GStrv) w = g_strsplit (words, "|", -1);
  for (guint i = 0; w[i]; i++)
    if (nocase ? g_ascii_strcasecmp (w[i], value) == 0 : strcmp (w[i], value) == 0)
      return TRUE;
  return FALSE;
}

/* "4M   # body text" or "global  ; include :global": GKeyFile has no
 * trailing comments, so that is the value. */
static gboolean
trailing_comment (const char *v)
{
  for (const char *p = v; *p; p++)
    if ((*p == '#' || *p == ';') && (p == v || p[-1] == ' ' || p[-1] == '\t'))
      return TRUE;
  return FALSE;
}

static gboolean
has_space_or_brackets (const char *s)
{
  for (; *s; s++)
    if (g_ascii_isspace (*s) || g_ascii_iscntrl (*s) || *s == '<' || *s == '>' || *s == '"')
      return TRUE;
  return FALSE;
}

static gboolean
is_domain (const char *s)
{
  return *s != '\0' && strchr (s, '@') == NULL && !has_space_or_brackets (s);
}

static gboolean
is_address (const char *s)
{
  g_autofree char *domain = NULL;
  return rd_address_split (s, NULL, &domain) && is_domain (domain) && !has_space_or_brackets (s);
}

/* Grammar of rd_config_get_size: digits, then K, M or G (either case),
 * then an optional B. */
static gboolean
parse_size (const char *v, gint64 *out)
{
  if (!g_ascii_isdigit (v[0]))
    return FALSE;
  char *end = NULL;
  guint64 n = g_ascii_strtoull (v, &end, 10);
  guint shift = 0;
  switch (g_ascii_toupper (*end))
    {
    case '\0': break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    default: return FALSE;
    }
  if (*end == 'B' || *end == 'b')
    end++;
  if (*end != '\0' || n > ((guint64) G_MAXINT64 >> shift))
    return FALSE;
  *out = (gint64) (n << shift);
  return TRUE;
}

static gboolean
parse_bool (const char *v, gint64 *out)
{
  static const char *const yes[] = { "true", "yes", "on", "1" };
  static const char *const no[] = { "false", "no", "off", "0" };
  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      if (g_ascii_strcasecmp (v, yes[i]) == 0)
        return (*out = TRUE), TRUE;
      if (g_ascii_strcasecmp (v, no[i]) == 0)
        return (*out = FALSE), TRUE;
    }
  return FALSE;
}

/* SCHEME://HOST[:PORT][/...] with the scheme as written (the relay
 * compares it case-sensitively). */
static gboolean
check_url (const RdConfigKey *k, const char *v)
{
  const char *colon = strstr (v, "://");
  if (colon == NULL)
    return FALSE;
  g_autofree char *scheme = g_strndup (v, colon - v);
  g_autofree char *host = NULL;
  if (!has_word (k->words, scheme, FALSE)
      || !g_uri_split_network (v, G_URI_FLAGS_NONE, NULL, &host, NULL, NULL))
    return FALSE;
  return host != NULL && *host != '\0';
}

static gboolean
out_of_range (const RdConfigKey *k, gint64 n, GError **error, const char *v)
{
  g_autofree char *lo = k->type == RD_CONFIG_SIZE ? format_size (k->min) : g_strdup_printf ("%" G_GINT64_FORMAT, k->min);
  g_autofree char *hi = k->type == RD_CONFIG_SIZE ? format_size (k->max) : g_strdup_printf ("%" G_GINT64_FORMAT, k->max);
  g_autofree char *shown = rd_log_escape (v, -1, 80);
  g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%s is out of range (%s..%s)", shown, lo, hi);
  return FALSE;
}

/* One value (a list item has @type of the list's item). */
static gboolean
parse_one (const RdConfigKey *k, RdConfigType type, const char *v, gint64 *number, GError **error)
{
  gint64 n = 0;
  gboolean ok = TRUE;
  g_autoptr(GError) detail = NULL;
  if (*v == '\0' && (k->flags & RD_CONFIG_FLAG_EMPTY_OK))
    return TRUE;
  switch (type)
    {
    case RD_CONFIG_STRING:
      break;
    case RD_CONFIG_INT:
      ok = g_ascii_string_to_signed (v, 10, G_MININT64, G_MAXINT64, &n, NULL);
      if (ok && (n < k->min || n > k->max))
        return out_of_range (k, n, error, v);
      break;
    case RD_CONFIG_BOOL:
      ok = parse_bool (v, &n);
      break;
    case RD_CONFIG_SIZE:
      ok = parse_size (v, &n);
      if (ok && k->max > 0 && (n < k->min || n > k->max))
        return out_of_range (k, n, error, v);
      break;
    case RD_CONFIG_DURATION:
      ok = rd_parse_duration (v, &n);
      break;
    case RD_CONFIG_HOSTPORT:
      if (!has_word (k->words, v, TRUE))
        {
          g_autofree char *host = NULL;
          guint16 port = 0;
          ok = rd_parse_hostport (v, &host, &port, NULL);
        }
      break;
    case RD_CONFIG_ENUM:
      ok = has_word (k->words, v, FALSE);
      break;
    case RD_CONFIG_PATH:
      /* A path may hold spaces, but not a comment taken for part of it. */
      ok = *v != '\0' && !trailing_comment (v);
      break;
    case RD_CONFIG_ADDRESS:
      ok = is_address (v);
      break;
    case RD_CONFIG_DOMAIN:
      ok = is_domain (v);
      break;
    case RD_CONFIG_RECIPIENT:
      /* What rd_smtp_recipient_accepted() matches: domain, @domain, address. */
      ok = v[0] == '@' ? is_domain (v + 1) : strchr (v, '@') ? is_address (v) : is_domain (v);
      break;
    case RD_CONFIG_CIDR:
      {
        guint8 net[16];
        gsize len = 0;
        guint prefix = 0;
        ok = rd_parse_cidr (v, net, &len, &prefix, &detail);
      }
      break;
    case RD_CONFIG_URL:
      ok = check_url (k, v);
      break;
    case RD_CONFIG_SCRIPT:
      {
        const char *eq = strchr (v, '=');
        g_autofree char *addr = eq ? g_strstrip (g_strndup (v, eq - v)) : NULL;
        g_autofree char *file = eq ? g_strstrip (g_strdup (eq + 1)) : NULL;
        ok = eq != NULL && is_address (addr) && *file != '\0';
      }
      break;
    case RD_CONFIG_LIST:
      {
        g_auto(GStrv) items = g_strsplit_set (v, ";,", -1);
        for (guint i = 0; items[i]; i++)
          {
            g_strstrip (items[i]);
            if (*items[i] != '\0' && !parse_one (k, k->item, items[i], NULL, error))
              return FALSE;
          }
      }
      break;
    }
  if (!ok)
    {
      g_autofree char *shown = rd_log_escape (v, -1, 80);
      g_autofree char *what = describe_type (type, k);
      /* rd_parse_cidr() says "'VALUE': what is wrong" (or only repeats
       * what we say): keep what is wrong. */
      g_autofree char *quoted = g_strdup_printf ("'%s': ", v);
      const char *why = detail && g_str_has_prefix (detail->message, quoted)
                        ? detail->message + strlen (quoted) : NULL;
      const char *hint = trailing_comment (v) ? "; a # comment goes on a line of its own" : "";
      g_set_error (error, RD_ERROR, RD_ERROR_CONFIG, "%s is not %s%s%s%s", shown, what,
                   why ? ": " : "", why ? why : "", hint);
      return FALSE;
    }
  if (number)
    *number = n;
  return TRUE;
}

gboolean
rd_config_key_parse (const RdConfigKey *k, const char *value, gint64 *number, GError **error)
{
  return parse_one (k, k->type, value, number, error);
}
