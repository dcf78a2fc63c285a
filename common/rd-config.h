/* relaydesk — configuration.
 *
 * relaydesk.conf is a GLib key file. Every module reads its own group
 * through the typed getters below, which return the embedded default when a
 * key is absent, so `relaydesk serve` with no file at all just works
 * (DESIGN.md "Defaults"). Values given on the command line are applied with
 * rd_config_set_*() and win over the file.
 *
 *   [relaydesk]  data_dir, hostname, log_level
 *   [smtp]       listen, listen_tls, max_message_size, ...
 *   [desk]       default_queue
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RdConfig RdConfig;

#define RD_DEFAULT_DATA_DIR "./relaydesk-data"
#define RD_DEFAULT_SMTP_LISTEN "127.0.0.1:2525"
#define RD_DEFAULT_SMTPS_LISTEN "127.0.0.1:2465"
#define RD_DEFAULT_QUEUE "inbox"

/* Loads @path (NULL: embedded defaults only). (transfer full) */
RdConfig *rd_config_load (const char *path, GError **error);
RdConfig *rd_config_new_default (void);
void rd_config_free (RdConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdConfig, rd_config_free)

/* The file the config came from, or NULL for embedded defaults. */
const char *rd_config_get_path (const RdConfig *config);

/* Typed getters: @fallback is returned when the key is absent; a present
 * but malformed value is reported once through rd_config_check_errors(). */
const char *rd_config_get_string (RdConfig *config, const char *group, const char *key, const char *fallback);
gint64 rd_config_get_int (RdConfig *config, const char *group, const char *key, gint64 fallback);
gboolean rd_config_get_bool (RdConfig *config, const char *group, const char *key, gboolean fallback);
/* A list value ("a; b; c" or "a, b"), NULL when absent. (transfer full) */
char **rd_config_get_list (RdConfig *config, const char *group, const char *key);
/* A size such as "25M", "512k", "1048576". */
guint64 rd_config_get_size (RdConfig *config, const char *group, const char *key, guint64 fallback);

void rd_config_set_string (RdConfig *config, const char *group, const char *key, const char *value);

/* Errors found by the getters so far (bad integers etc.), or TRUE. */
gboolean rd_config_check_errors (RdConfig *config, GError **error);

/* The data directory: [relaydesk] data_dir, default ./relaydesk-data. */
const char *rd_config_get_data_dir (RdConfig *config);
/* The name we give in banners and Message-IDs. */
const char *rd_config_get_hostname (RdConfig *config);

G_END_DECLS
