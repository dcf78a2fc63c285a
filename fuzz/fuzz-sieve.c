/* relaydesk — fuzz target: the Sieve compiler, and the interpreter on
 * whatever compiles.
 *
 * Input: a script, optionally followed by a line "--message--" and a
 * message. The script is compiled with an include loader that serves the
 * script itself (so include paths are exercised) and, when it compiles,
 * run against that message or a fixed one, with every extension
 * reachable (header scanning, RFC 2047 decoding, address lists). */
#include <stdint.h>
#include <string.h>
#include "rules.h"

static const char message[] =
  "Received: from a by b; Mon, 15 Jan 2024 09:30:00 +0000\r\n"
  "From: Alice <alice+x@example.com>\r\n"
  "To: support@example.org, bob@example.net\r\n"
  "Subject: =?UTF-8?Q?R=C3=A9?= [Ticket #4711] invoice\r\n"
  "Date: Thu, 18 Jan 2024 19:30:00 +0100\r\n"
  "Message-ID: <m1@example.com>\r\n"
  "X-Spam-Score: 7\r\n"
  "Content-Type: text/plain; charset=utf-8\r\n"
  "\r\n"
  "Hello, please refund my order.\r\n";

static RdMessage *msg;
static const uint8_t *cur_data;
static size_t cur_size;

static char *
loader (const char *name, gboolean global, gpointer data, gsize *len, GError **error)
{
  if (strcmp (name, "self") == 0)
    {
      *len = cur_size;
      return g_strndup ((const char *) cur_data, cur_size);
    }
  g_set_error (error, g_quark_from_static_string ("fuzz"), 4, "no script %s", name);
  return NULL;
}

static gboolean
dup_cb (gpointer data, const char *id, gint64 seconds, gboolean last)
{
  return strlen (id) % 2 == 0;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (msg == NULL)
    {
      rd_parser_init ();
      GBytes *b = g_bytes_new_static (message, sizeof message - 1);
      msg = rd_message_parse (b, NULL);
      g_bytes_unref (b);
    }
  static const char sep[] = "\n--message--\n";
  const uint8_t *m = size >= sizeof sep - 1 ? memmem (data, size, sep, sizeof sep - 1) : NULL;
  RdMessage *own = NULL;
  if (m)
    {
      GBytes *b = g_bytes_new (m + sizeof sep - 1, size - (gsize) (m + sizeof sep - 1 - data));
      own = rd_message_parse (b, NULL);
      g_bytes_unref (b);
      size = (size_t) (m - data);
    }
  cur_data = data;
  cur_size = size;
  RdRulesLimits limits;
  rd_rules_limits_init (&limits);
  limits.max_regex_input = 4096;
  RdRulesOptions opts = { &limits, NULL, loader, NULL };
  GPtrArray *diags = g_ptr_array_new_with_free_func ((GDestroyNotify) rd_rules_diagnostic_free);
  RdRules *rules = rd_rules_compile ("fuzz", (const char *) data, size, &opts, diags, NULL);
  g_ptr_array_unref (diags);
  if (rules == NULL)
    {
      if (own)
        rd_message_unref (own);
      return 0;
    }
  RdEnvelope env = {
    .sender = "alice@example.com", .recipient = "support@example.org", .now = 1705600800,
    .defer_ticket_vars = TRUE, .duplicate = dup_cb,
  };
  GError *error = NULL;
  GPtrArray *actions = rd_rules_evaluate (rules, own ? own : msg, &env, &error);
  GString *out = g_string_new (NULL);
  rd_rules_format_actions (actions, actions == NULL, out);
  if (actions)
    {
      for (guint i = 0; i < actions->len; i++)
        rd_action_expand_ticket (g_ptr_array_index (actions, i), 7, "q", "[RD #7]");
      g_ptr_array_unref (actions);
    }
  g_string_free (out, TRUE);
  g_clear_error (&error);
  rd_rules_free (rules);
  if (own)
    rd_message_unref (own);
  return 0;
}
