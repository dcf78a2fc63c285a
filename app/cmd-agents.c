/* relaydesk agents — the web desk's accounts (docs/web.md).
 *
 *   add EMAIL --name NAME [--role admin|agent] [--queue Q]... [--password-file F]
 *   list                      (--json)
 *   set EMAIL [--name N] [--role R] [--queue Q]...
 *   remove EMAIL
 *   passwd EMAIL [--password-file F]
 *   totp EMAIL [--off]        turns the second factor on (prints the secret) or off
 *   token EMAIL --label L     prints a new API token alone on a line
 *   tokens [EMAIL]            (--json)
 *   revoke ID                 revokes an API token
 *
 * Without --password-file, add and passwd print a one-time password
 * (the agent changes it in the desk). The CLI acts as a local
 * administrator, named by --as in the audit log. The operations are
 * ops/ops-agents.h.
 */
#include "app.h"
#include "json.h"
#include "ops-agents.h"
#include "rd-common.h"

#include <stdio.h>
#include <string.h>

#define FLAGS (RD_APP_JSON | RD_APP_ACTOR)

/* The first line of @path, without its line end. */
static char *
read_password (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  if (len > RD_PASSWORD_MAX + 2)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "%s: longer than a password", path);
      return NULL;
    }
  char *nl = strpbrk (text, "\r\n");
  if (nl)
    *nl = '\0';
  return g_steal_pointer (&text);
}

static gboolean
parse_role (const char *role, int *admin)
{
  if (role == NULL)
    *admin = -1;
  else if (g_str_equal (role, "admin"))
    *admin = 1;
  else if (g_str_equal (role, "agent"))
    *admin = 0;
  else
    return FALSE;
  return TRUE;
}

static void
print_agent (const RdAgent *a)
{
  g_autofree char *queues = a->queues && a->queues[0] ? g_strjoinv (",", a->queues) : g_strdup ("-");
  printf ("%-32s %-6s %-24s %-5s %s\n", a->email, a->admin ? "admin" : "agent", a->name,
          a->totp_secret ? "totp" : "-", a->admin ? "(all)" : queues);
}

static int
agents_add (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *name = NULL, *role = NULL, *password_file = NULL;
  g_auto(GStrv) queues = NULL;
  GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "The agent's name, as the desk shows it (required)", "NAME" },
    { "role", 0, 0, G_OPTION_ARG_STRING, &role, "admin or agent (default agent)", "ROLE" },
    { "queue", 0, 0, G_OPTION_ARG_STRING_ARRAY, &queues, "A queue the agent works in (repeat for several)", "QUEUE" },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_file, "Read the password from the first line of FILE", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "agents add", "EMAIL",
                     "Adds an agent of the web desk. Without --password-file it prints a one-time password.",
                     FLAGS, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  int admin = 0;
  if (argc != 2 || name == NULL || !parse_role (role, &admin))
    return rd_app_usage ("agents add: expected EMAIL --name NAME [--role admin|agent]");
  g_autoptr(GError) error = NULL;
  g_autofree char *password = password_file ? read_password (password_file, &error) : NULL;
  if (password_file && password == NULL)
    return rd_app_fail (error);
  int code = rd_app_open (&app, RD_APP_STORE_CREATE);
  if (code)
    return code;
  RdAgentRequest req = { argv[1], name, admin == 1, (const char *const *) queues, password };
  g_autofree char *generated = NULL;
  g_autoptr(RdAgent) a = rd_ops_agent_add (app.ops, &app.actor, &req, &generated, &error);
  if (a == NULL)
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "agent");
      rd_json_agent (b, a);
      rd_json_add_str (b, "password", generated);
      json_builder_end_object (b);
      rd_json_print (b);
    }
  else
    {
      printf ("added %s (%s)\n", a->email, a->admin ? "admin" : "agent");
      if (generated)
        printf ("one-time password: %s\n", generated);
    }
  return RD_EXIT_OK;
}

static int
agents_list (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "agents list", NULL, "Lists the agents of the web desk.", FLAGS, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 1)
    return rd_app_usage ("agents list: unexpected argument");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) agents = rd_ops_agents_list (app.ops, &app.actor, &error);
  if (agents == NULL)
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < agents->len; i++)
        rd_json_agent (b, g_ptr_array_index (agents, i));
      json_builder_end_array (b);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  if (agents->len == 0)
    printf ("No agents. Add the first administrator with: relaydesk agents add EMAIL --name NAME --role admin\n");
  for (guint i = 0; i < agents->len; i++)
    print_agent (g_ptr_array_index (agents, i));
  return RD_EXIT_OK;
}

static int
agents_set (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *name = NULL, *role = NULL;
  g_auto(GStrv) queues = NULL;
  gboolean no_queues = FALSE;
  GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "A new name", "NAME" },
    { "role", 0, 0, G_OPTION_ARG_STRING, &role, "admin or agent", "ROLE" },
    { "queue", 0, 0, G_OPTION_ARG_STRING_ARRAY, &queues, "The agent's queues, replacing the old ones (repeat)", "QUEUE" },
    { "no-queues", 0, 0, G_OPTION_ARG_NONE, &no_queues, "Take every queue away", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "agents set", "EMAIL", "Changes an agent's name, role or queues.", FLAGS, entries,
                     &argc, &argv))
    return RD_EXIT_USAGE;
  int admin = -1;
  if (argc != 2 || !parse_role (role, &admin))
    return rd_app_usage ("agents set: expected EMAIL [--name N] [--role admin|agent] [--queue Q]...");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  static const char *const none[] = { NULL };
  g_autoptr(GError) error = NULL;
  if (!rd_ops_agent_update (app.ops, &app.actor, argv[1], name, admin,
                            no_queues ? none : (const char *const *) queues, &error))
    return rd_app_fail (error);
  printf ("changed %s\n", argv[1]);
  return RD_EXIT_OK;
}

static int
agents_remove (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "agents remove", "EMAIL", "Removes an agent with their sessions, tokens and drafts.",
                     FLAGS, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    return rd_app_usage ("agents remove: expected one EMAIL");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_agent_remove (app.ops, &app.actor, argv[1], &error))
    return rd_app_fail (error);
  printf ("removed %s\n", argv[1]);
  return RD_EXIT_OK;
}

static int
agents_passwd (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *password_file = NULL;
  GOptionEntry entries[] = {
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_file, "Read the password from the first line of FILE", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "agents passwd", "EMAIL",
                     "Sets an agent's password (ending their sessions). Without --password-file it prints\n"
                     "a one-time password.", FLAGS, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    return rd_app_usage ("agents passwd: expected one EMAIL");
  g_autoptr(GError) error = NULL;
  g_autofree char *password = password_file ? read_password (password_file, &error) : NULL;
  if (password_file && password == NULL)
    return rd_app_fail (error);
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autofree char *generated = NULL;
  if (!rd_ops_agent_set_password (app.ops, &app.actor, argv[1], password, &generated, &error))
    return rd_app_fail (error);
  printf ("password of %s changed\n", argv[1]);
  if (generated)
    printf ("one-time password: %s\n", generated);
  return RD_EXIT_OK;
}

static int
agents_totp (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  gboolean off = FALSE;
  GOptionEntry entries[] = {
    { "off", 0, 0, G_OPTION_ARG_NONE, &off, "Turn the second factor off", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "agents totp", "EMAIL",
                     "Turns on a TOTP second factor (RFC 6238) for the agent and prints its secret and\n"
                     "otpauth:// URI for an authenticator app; --off turns it off.", FLAGS, entries, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    return rd_app_usage ("agents totp: expected one EMAIL");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *secret = rd_ops_agent_totp (app.ops, &app.actor, argv[1], !off, &uri, &error);
  if (error)
    return rd_app_fail (error);
  if (off)
    printf ("TOTP off for %s\n", argv[1]);
  else if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      rd_json_add_str (b, "secret", secret);
      rd_json_add_str (b, "uri", uri);
      json_builder_end_object (b);
      rd_json_print (b);
    }
  else
    printf ("secret: %s\nuri: %s\n", secret, uri);
  return RD_EXIT_OK;
}

static int
agents_token (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  g_autofree char *label = NULL;
  GOptionEntry entries[] = {
    { "label", 0, 0, G_OPTION_ARG_STRING, &label, "What the token is for (required)", "LABEL" },
    G_OPTION_ENTRY_NULL
  };
  if (!rd_app_parse (&app, "agents token", "EMAIL",
                     "Makes an API token for scripts (Authorization: Bearer TOKEN) acting as the agent and\n"
                     "prints it alone on a line; it is stored hashed and shown only now.", FLAGS, entries, &argc,
                     &argv))
    return RD_EXIT_USAGE;
  if (argc != 2 || label == NULL)
    return rd_app_usage ("agents token: expected EMAIL --label LABEL");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  gint64 id = 0;
  g_autofree char *token = rd_ops_token_create (app.ops, &app.actor, argv[1], label, &id, &error);
  if (token == NULL)
    return rd_app_fail (error);
  printf ("%s\n", token);
  fprintf (stderr, "token %" G_GINT64_FORMAT " for %s; revoke it with: relaydesk agents revoke %" G_GINT64_FORMAT "\n",
           id, argv[1], id);
  return RD_EXIT_OK;
}

static int
agents_tokens (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "agents tokens", "[EMAIL]", "Lists API tokens (never the tokens themselves).", FLAGS,
                     NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc > 2)
    return rd_app_usage ("agents tokens: expected at most one EMAIL");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = rd_ops_tokens_list (app.ops, &app.actor, argc == 2 ? argv[1] : NULL, &error);
  if (tokens == NULL)
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < tokens->len; i++)
        rd_json_api_token (b, g_ptr_array_index (tokens, i));
      json_builder_end_array (b);
      rd_json_print (b);
      return RD_EXIT_OK;
    }
  for (guint i = 0; i < tokens->len; i++)
    {
      RdApiToken *t = g_ptr_array_index (tokens, i);
      g_autofree char *created = rd_time_iso8601 (t->created_at);
      printf ("%-6" G_GINT64_FORMAT " %-32s %-20s %s%s\n", t->id, t->email, created, t->label,
              t->revoked_at ? " (revoked)" : "");
    }
  return RD_EXIT_OK;
}

static int
agents_revoke (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "agents revoke", "ID", "Revokes an API token.", FLAGS, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  guint64 id = 0;
  if (argc != 2 || !g_ascii_string_to_unsigned (argv[1], 10, 1, G_MAXINT64, &id, NULL))
    return rd_app_usage ("agents revoke: expected one token ID");
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  if (!rd_ops_token_revoke (app.ops, &app.actor, (gint64) id, &error))
    return rd_app_fail (error);
  printf ("revoked token %s\n", argv[1]);
  return RD_EXIT_OK;
}

int
rd_cmd_agents (int argc, char **argv)
{
  static const RdCommand sub[] = {
    { "add", "add an agent or administrator of the web desk", agents_add },
    { "list", "list the agents (--json for scripts)", agents_list },
    { "set", "change an agent's name, role or queues", agents_set },
    { "remove", "remove an agent", agents_remove },
    { "passwd", "set an agent's password", agents_passwd },
    { "totp", "turn the TOTP second factor on or off", agents_totp },
    { "token", "make an API token (printed alone on a line)", agents_token },
    { "tokens", "list API tokens", agents_tokens },
    { "revoke", "revoke an API token", agents_revoke },
  };
  return rd_app_dispatch ("agents", sub, G_N_ELEMENTS (sub), NULL, argc, argv);
}
