/* relaydesk backup DEST, restore SRC, verify — through ops/ (maintenance.c
 * describes the backup's layout). */
#include "app.h"
#include "rd-common.h"
#include "json.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

int
rd_cmd_backup (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "backup", "DEST",
      "Copies the store while serve runs into the new folder DEST: the database\n"
      "(SQLite online backup: one consistent snapshot, with the secret that signs\n"
      "Message-IDs and reply addresses), the TLS certificate and key, and a\n"
      "MANIFEST with their SHA-256 sums. DEST must not exist or be empty; it is\n"
      "made with mode 0700. Put it back with 'relaydesk restore DEST'.",
      RD_APP_JSON, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    return rd_app_usage ("backup: give the folder to write (DEST)");
  const char *dest = argv[1];
  int code = rd_app_load_config (&app);
  if (code)
    return code;
  /* Run as root with [relaydesk] user: the folder is made now, as root
   * (it may be somewhere only root writes), and given to the user, who
   * writes the files after the drop. */
  const char *user = rd_config_get_string (app.config, "relaydesk", "user", NULL);
  struct passwd *pw = user && geteuid () == 0 ? getpwnam (user) : NULL;
  if (pw != NULL && pw->pw_uid != 0)
    {
      if (g_mkdir_with_parents (dest, 0700) != 0 || chown (dest, pw->pw_uid, pw->pw_gid) != 0)
        {
          rd_app_error ("cannot create %s: %s", dest, g_strerror (errno));
          return RD_EXIT_FAILURE;
        }
    }
  code = rd_app_open_store (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  if (!rd_ops_backup (app.ops, &app.actor, dest, files, &error))
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      rd_json_add_str (b, "dest", dest);
      g_ptr_array_add (files, NULL);
      rd_json_add_strv (b, "files", (const char *const *) files->pdata, 0);
      json_builder_end_object (b);
      rd_json_print (b);
    }
  else
    for (guint i = 0; i < files->len; i++)
      printf ("%s/%s\n", dest, (char *) g_ptr_array_index (files, i));
  return RD_EXIT_OK;
}

int
rd_cmd_restore (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "restore", "SRC",
      "Restores a backup made by 'relaydesk backup' into the data directory, which\n"
      "must hold no database: a running serve's or an installation's store is never\n"
      "overwritten (exit 65). Every file is checked against the backup's MANIFEST\n"
      "first; the database is migrated if it is older and then verified.",
      0, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc != 2)
    return rd_app_usage ("restore: give the backup folder (SRC)");
  int code = rd_app_load_config (&app);
  if (code)
    return code;
  /* As the user serve runs as (the files restored are its), without
   * opening a store: restore checks that there is none. */
  code = rd_app_become_user (&app);
  if (code == RD_EXIT_OK)
    code = rd_app_open_store (&app, RD_APP_NO_STORE);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = rd_ops_restore (app.ops, &app.actor, argv[1], notes, &error);
  gboolean problems = FALSE;
  for (guint i = 0; i < notes->len; i++)
    {
      const char *n = g_ptr_array_index (notes, i);
      problems |= g_str_has_prefix (n, "problem: ");
      printf ("%s\n", n);
    }
  if (!ok)
    return rd_app_fail (error);
  return problems ? RD_EXIT_DATAERR : RD_EXIT_OK;
}

int
rd_cmd_verify (int argc, char **argv)
{
  g_auto(RdApp) app = { 0 };
  if (!rd_app_parse (&app, "verify", NULL,
      "Checks the store: every page and index (SQLite integrity_check), every\n"
      "reference between rows (foreign_key_check) and the migrations, and says what\n"
      "is wrong in words. Exit 0 when all is well, 65 when a problem was found.\n"
      "Safe while serve runs.",
      RD_APP_JSON, NULL, &argc, &argv))
    return RD_EXIT_USAGE;
  if (argc > 1)
    return rd_app_usage ("verify: unexpected argument '%s'", argv[1]);
  int code = rd_app_open (&app, RD_APP_STORE_EXISTING);
  if (code)
    return code;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  if (!rd_ops_verify (app.ops, &app.actor, problems, &error))
    return rd_app_fail (error);
  if (app.json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      rd_json_add_str (b, "database", rd_store_get_path (app.store));
      rd_json_add_bool (b, "ok", problems->len == 0);
      gboolean ok = problems->len == 0;
      g_ptr_array_add (problems, NULL);
      rd_json_add_strv (b, "problems", (const char *const *) problems->pdata, 0);
      json_builder_end_object (b);
      rd_json_print (b);
      return ok ? RD_EXIT_OK : RD_EXIT_DATAERR;
    }
  else if (problems->len == 0)
    printf ("%s: no problems found (integrity, foreign keys, migrations)\n", rd_store_get_path (app.store));
  else
    {
      printf ("%s: %u problem%s found:\n", rd_store_get_path (app.store), problems->len,
              problems->len == 1 ? "" : "s");
      for (guint i = 0; i < problems->len; i++)
        printf ("  - %s\n", (char *) g_ptr_array_index (problems, i));
    }
  return problems->len ? RD_EXIT_DATAERR : RD_EXIT_OK;
}
