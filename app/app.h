/* relaydesk — app: the `relaydesk` command and its subcommands. Thin:
 * option parsing, config loading and wiring; the work is in the layers. */
#pragma once

#include <glib.h>
#include "rd-config.h"
#include "store.h"

G_BEGIN_DECLS

/* sysexits.h values, used by every subcommand. */
#define RD_EXIT_OK 0
#define RD_EXIT_FAILURE 1      /* e.g. "not found" */
#define RD_EXIT_USAGE 64
#define RD_EXIT_DATAERR 65
#define RD_EXIT_SOFTWARE 70
#define RD_EXIT_TEMPFAIL 75
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

/* Options every subcommand accepts: --data-dir, --config. */
typedef struct {
  char *data_dir;
  char *config_path;
  gboolean verbose;
} RdCommonOptions;

/* Builds an option context for "relaydesk NAME PARAMS" with the common
 * options added. (transfer full) */
GOptionContext *rd_app_option_context (const char *name, const char *params,
                                       const char *summary, RdCommonOptions *common);
/* Parses; prints the error and returns FALSE on bad usage. */
gboolean rd_app_parse (GOptionContext *ctx, int *argc, char ***argv);
/* Loads and checks the config and applies --data-dir. Prints every
 * problem of the file; NULL then, and the command exits 78 (EX_CONFIG). */
RdConfig *rd_app_load_config (RdCommonOptions *common);
void rd_common_options_clear (RdCommonOptions *common);
/* Opens the existing database of @config's data dir (no new one is made
 * for a mistyped --data-dir). On failure prints the error and sets @code
 * (1 when there is no database, else from rd_app_exit_code). */
RdStore *rd_app_open_store (RdConfig *config, int *code);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RdCommonOptions, rd_common_options_clear)

/* Prints "relaydesk: <message>" to stderr. */
void rd_app_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* Exit code for a GError from the layers. */
int rd_app_exit_code (const GError *error);

int rd_cmd_serve (int argc, char **argv);
int rd_cmd_deliver (int argc, char **argv);
int rd_cmd_tickets (int argc, char **argv);
int rd_cmd_spool (int argc, char **argv);
int rd_cmd_allowlist (int argc, char **argv);
int rd_cmd_queue (int argc, char **argv);
int rd_cmd_relay (int argc, char **argv);
int rd_cmd_parse (int argc, char **argv);
int rd_cmd_rules (int argc, char **argv);

G_END_DECLS
