/* relaydesk — app: the `relaydesk` command and its subcommands. Thin:
 * option parsing, config loading and wiring; the work is in the layers. */
#pragma once

#include <glib.h>
#include "rd-config.h"

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
/* Loads the config and applies --data-dir. Prints errors. */
RdConfig *rd_app_load_config (RdCommonOptions *common);
void rd_common_options_clear (RdCommonOptions *common);

/* Prints "relaydesk: <message>" to stderr. */
void rd_app_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* Exit code for a GError from the layers. */
int rd_app_exit_code (const GError *error);

int rd_cmd_serve (int argc, char **argv);
int rd_cmd_deliver (int argc, char **argv);
int rd_cmd_tickets (int argc, char **argv);
int rd_cmd_spool (int argc, char **argv);
int rd_cmd_rules (int argc, char **argv);

G_END_DECLS
