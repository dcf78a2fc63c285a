/* relaydesk — configuration.
 *
 * relaydesk.conf is a GLib key file. Every module reads its own group
 * through the typed getters below, which return the embedded default when a
 * key is absent, so `relaydesk serve` with no file at all just works
 * (DESIGN.md "Defaults"). Values given on the command line are applied with
 * rd_config_set_*() and win over the file.
 *
 * Every setting is declared once, in the schema (rd-config-schema.c): group,
 * key, type, default and a line of documentation. rd_config_load() checks
 * the whole file against it, so a mistyped key or a malformed value is an
 * error naming FILE:LINE, group and key, in every command, and never a
 * silent default. The getters take their defaults from the schema too; a
 * caller's fallback that disagrees with it is a programming error
 * (g_critical), and so is reading a key the schema does not declare.
 *
 *   [relaydesk]  data_dir, hostname
 *   [smtp], [tls], [allowlist]   the receiver
 *   [desk], [queue.NAME]         tickets
 *   [parser], [rules], [relay]
 * (the full list: rd_config_schema_foreach(), docs/config.md)
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _RdConfig RdConfig;

#define RD_DEFAULT_DATA_DIR "./relaydesk-data"
#define RD_DEFAULT_SMTP_LISTEN "127.0.0.1:2525"
#define RD_DEFAULT_HTTP_LISTEN "127.0.0.1:8025"
#define RD_DEFAULT_SMTPS_LISTEN "127.0.0.1:2465"
#define RD_DEFAULT_QUEUE "inbox"

/* Loads and checks @path (NULL: embedded defaults only). Every problem of
 * the file is reported in one RD_ERROR_CONFIG error, one line each:
 * "FILE:LINE: [group] key: what is wrong". (transfer full) */
RdConfig *rd_config_load (const char *path, GError **error);
RdConfig *rd_config_new_default (void);
void rd_config_free (RdConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdConfig, rd_config_free)

/* The file the config came from, or NULL for embedded defaults. */
const char *rd_config_get_path (const RdConfig *config);

/* Typed getters: the schema's default (or, where the schema has none,
 * @fallback) is returned when the key is absent. A NULL @fallback of
 * rd_config_get_string() asks "is it set?" and gets NULL when absent.
 * Values from the file were checked by rd_config_load(); a malformed value
 * set with rd_config_set_string() is reported through
 * rd_config_check_errors(). */
const char *rd_config_get_string (RdConfig *config, const char *group, const char *key, const char *fallback);
gint64 rd_config_get_int (RdConfig *config, const char *group, const char *key, gint64 fallback);
gboolean rd_config_get_bool (RdConfig *config, const char *group, const char *key, gboolean fallback);
/* A list value ("a; b; c" or "a, b"); when absent the schema's default
 * list, or NULL when it has none. (transfer full) */
char **rd_config_get_list (RdConfig *config, const char *group, const char *key);
/* A size such as "25M", "512k", "1048576". */
guint64 rd_config_get_size (RdConfig *config, const char *group, const char *key, guint64 fallback);

void rd_config_set_string (RdConfig *config, const char *group, const char *key, const char *value);

/* The value of @key as the file (or rd_config_set_string) gives it,
 * stripped, or NULL when absent: no default. (transfer none) */
const char *rd_config_get_raw (RdConfig *config, const char *group, const char *key);
/* The groups present, in the order of the file. (transfer full) */
GStrv rd_config_get_groups (RdConfig *config);

/* Errors found by the getters so far (bad integers etc.), or TRUE. */
gboolean rd_config_check_errors (RdConfig *config, GError **error);

/* The data directory: [relaydesk] data_dir, default ./relaydesk-data. */
const char *rd_config_get_data_dir (RdConfig *config);
/* Where the store is, for rd_store_open(): [store] url (a PostgreSQL
 * URL) when set, else the data directory (SQLite). */
const char *rd_config_get_store_location (RdConfig *config);
/* [store] lease in seconds. */
guint rd_config_get_store_lease (RdConfig *config);
/* The name we give in banners and Message-IDs. */
const char *rd_config_get_hostname (RdConfig *config);

/* The schema ------------------------------------------------------------ */

typedef enum {
  RD_CONFIG_STRING,
  RD_CONFIG_INT,        /* decimal, within min..max */
  RD_CONFIG_BOOL,       /* true/false, yes/no, on/off, 1/0 */
  RD_CONFIG_SIZE,       /* bytes, optional K, M or G suffix: "25M" */
  RD_CONFIG_DURATION,   /* seconds, optional s, m, h or d suffix: "15m" */
  RD_CONFIG_HOSTPORT,   /* ADDR:PORT or [IPV6]:PORT, or one of words */
  RD_CONFIG_ENUM,       /* one of words */
  RD_CONFIG_PATH,       /* a file or folder name, not empty */
  RD_CONFIG_ADDRESS,    /* local@domain, bare */
  RD_CONFIG_DOMAIN,
  RD_CONFIG_RECIPIENT,  /* local@domain, domain or @domain */
  RD_CONFIG_CIDR,       /* 192.0.2.0/24, 2001:db8::/32 or one address */
  RD_CONFIG_URL,        /* SCHEME://HOST[:PORT], the scheme one of words */
  RD_CONFIG_SCRIPT,     /* ADDRESS=FILE */
  RD_CONFIG_LIST,       /* items of type item, separated by ';' or ',' */
} RdConfigType;

typedef enum {
  RD_CONFIG_FLAG_NONE = 0,
  RD_CONFIG_FLAG_EMPTY_OK = 1 << 0,   /* an empty value is accepted (unset) */
} RdConfigFlags;

typedef struct {
  const char *group;     /* "smtp"; "queue.*" stands for every [queue.NAME] */
  const char *key;
  RdConfigType type;
  RdConfigType item;     /* RD_CONFIG_LIST: the type of each item */
  gint64 min, max;       /* INT: the range; SIZE, DURATION: max 0 is no limit */
  const char *words;     /* ENUM, URL: the allowed words, "a|b"; HOSTPORT: words accepted too */
  const char *dflt;      /* the default, as written in the file; NULL: unset */
  const char *dflt_doc;  /* with dflt NULL, what applies instead, e.g. "the host name" */
  const char *doc;       /* one line, for `config check` and relaydesk.conf(5) */
  RdConfigFlags flags;
} RdConfigKey;

typedef void (*RdConfigSchemaFunc) (const RdConfigKey *key, gpointer user_data);

/* Calls @func for every setting, in the order of the schema (grouped). */
void rd_config_schema_foreach (RdConfigSchemaFunc func, gpointer user_data);
/* The setting @key of @group (a [queue.NAME] group matches "queue.*"), or
 * NULL when the schema has none. (transfer none) */
const RdConfigKey *rd_config_schema_lookup (const char *group, const char *key);
/* Whether [@group] is a group of the schema (also [queue.NAME]). */
gboolean rd_config_schema_has_group (const char *group);
/* The group as users write it: "queue.NAME" for "queue.*". */
const char *rd_config_key_group_display (const RdConfigKey *key);
/* What a value of @key must be, e.g. "a size (e.g. 25M)", "an integer
 * 1..1000", "one of: required, opportunistic". (transfer full) */
char *rd_config_key_describe (const RdConfigKey *key);
/* Checks @value (already stripped of surrounding white space) against
 * @key's type, range and words; with @number gives the value of an INT
 * (as is), BOOL (0/1), SIZE (bytes) or DURATION (seconds). The loader and
 * the getters both parse through here. FALSE with an RD_ERROR_CONFIG error
 * saying what was expected, e.g. "\"25 MB\" is not a size (e.g. 25M)". */
gboolean rd_config_key_parse (const RdConfigKey *key, const char *value, gint64 *number, GError **error);

G_END_DECLS
