/* relaydesk — app: the `relaydesk` command and its subcommands. Thin:
 * argument parsing and rendering; the operations are ops/ (ops.h), the
 * JSON of each entity ops/json.h.
 *
 * Every subcommand runs the same preamble (rd_app_parse, rd_app_open):
 * options -> config (a config error is exit 78, naming the key) -> store
 * -> the operations, and maps a GError to its exit code in one place
 * (rd_app_fail). */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "store.h"
#include "ops.h"

G_BEGIN_DECLS

/* sysexits.h values, used by every subcommand. */
#define RD_EXIT_OK 0
#define RD_EXIT_FAILURE 1      /* e.g. "not found" */
#define RD_EXIT_USAGE 64
#define RD_EXIT_DATAERR 65
#define RD_EXIT_SOFTWARE 70
#define RD_EXIT_TEMPFAIL 75
#define RD_EXIT_NOPERM 77
#define RD_EXIT_CONFIG 78

typedef struct {
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} RdCommand;

/* Runs the subcommand of "relaydesk GROUP SUB ..." named by argv[1] from
 * @subs; with no name, an unknown one or --help, prints the usage with
 * the list of subcommands and @footer (may be NULL) and returns 64 (0 for
 * --help). */
int rd_app_dispatch (const char *group, const RdCommand *subs, guint n_subs,
                     const char *footer, int argc, char **argv);

typedef enum {
  RD_APP_JSON = 1 << 0,    /* --json */
  RD_APP_ACTOR = 1 << 1,   /* --as NAME: the agent recorded in the audit log */
} RdAppFlags;

typedef enum {
  RD_APP_NO_STORE,         /* config only */
  RD_APP_STORE_EXISTING,   /* the live database; none is an error (exit 1) */
  RD_APP_STORE_OPTIONAL,   /* the database when there is one */
  RD_APP_STORE_CREATE,     /* created when missing */
} RdAppStore;

typedef struct {
  /* options every subcommand takes */
  char *data_dir;
  char *config_path;
  char *database;        /* --database URL: [store] url */
  gboolean verbose;
  char *log_format;        /* --log-format */
  gboolean json;           /* with RD_APP_JSON */
  char *actor_name;        /* with RD_APP_ACTOR */
  /* what rd_app_open made */
  RdConfig *config;
  RdStore *store;          /* NULL with RD_APP_NO_STORE, or OPTIONAL and none */
  RdOps *ops;
  RdActor actor;           /* the CLI acts as a local administrator */
  gboolean privileges_done; /* [relaydesk] user applied (serve does it itself) */
} RdApp;

void rd_app_clear (RdApp *app);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdApp, rd_app_clear)

/* Parses the options of "relaydesk NAME [OPTION…] PARAMS": the common
 * ones (--data-dir, --config, --verbose), those @flags ask for, and
 * @extra (may be NULL). Prints the error and returns FALSE on bad usage
 * (exit 64). */
gboolean rd_app_parse (RdApp *app, const char *name, const char *params, const char *summary,
                       RdAppFlags flags, const GOptionEntry *extra, int *argc, char ***argv);
/* Loads the config, opens the store as asked and the operations: 0, or
 * the exit code with the error printed. Run as root, a command that
 * opens the store first becomes [relaydesk] user (app/privileges.h). */
int rd_app_open (RdApp *app, RdAppStore store);
/* The two halves of rd_app_open, for commands with work between them
 * (serve binds its ports, backup makes its folder, as root). */
int rd_app_load_config (RdApp *app);
int rd_app_open_store (RdApp *app, RdAppStore store);
/* Run as root with [relaydesk] user set: becomes that user (once), and
 * checks the data directory is its own. 0 or the exit code. */
int rd_app_become_user (RdApp *app);

/* Prints "relaydesk: <message>" to stderr. */
void rd_app_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* Prints the usage error and returns 64. */
int rd_app_usage (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* Exit code for a GError from the layers. */
int rd_app_exit_code (const GError *error);
/* Prints @error and returns its exit code. */
int rd_app_fail (const GError *error);

int rd_cmd_serve (int argc, char **argv);
int rd_cmd_deliver (int argc, char **argv);
int rd_cmd_tickets (int argc, char **argv);
int rd_cmd_agents (int argc, char **argv);
int rd_cmd_spool (int argc, char **argv);
int rd_cmd_allowlist (int argc, char **argv);
int rd_cmd_queue (int argc, char **argv);
int rd_cmd_relay (int argc, char **argv);
int rd_cmd_parse (int argc, char **argv);
int rd_cmd_rules (int argc, char **argv);
int rd_cmd_dkim (int argc, char **argv);
int rd_cmd_auth (int argc, char **argv);
int rd_cmd_config (int argc, char **argv);
int rd_cmd_backup (int argc, char **argv);
int rd_cmd_restore (int argc, char **argv);
int rd_cmd_verify (int argc, char **argv);
int rd_cmd_store (int argc, char **argv);
/* Runs the command line as given with relaydesk-full instead (the slim
 * `relaydesk` lacks what it needs, e.g. PostgreSQL); returns only on
 * failure. */
int rd_app_run_full (void);

G_END_DECLS
