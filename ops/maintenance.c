/* relaydesk — ops: operating the daemon: the figures behind /metrics and
 * /readyz, backup, restore and verification (see ops.h).
 *
 * A backup is a folder (mode 0700: it holds the TLS key and the secret):
 *
 *   relaydesk.db   the database, copied with SQLite's online backup API;
 *                  it holds the installation secret that signs our
 *                  Message-IDs and reply addresses (table desk_secret),
 *                  the tickets, the spool and the outbox
 *   tls-cert.pem   the certificate serve presents ([tls] cert_file or the
 *   tls-key.pem    generated pair) and its key, when they exist
 *   MANIFEST       what is in it, one file a line:
 *
 *     relaydesk-backup 1
 *     version 0.1.0
 *     created 2024-01-15T09:29:55Z
 *     file relaydesk.db 1234567 <sha256 hex> data_dir
 *     file tls-key.pem 241 <sha256 hex> /etc/relaydesk/key.pem
 *
 *   The last field says where the file came from: "data_dir" (restored
 *   into the data directory) or the absolute path of a configured file.
 */
#include "ops-private.h"
#include "maintenance.h"
#include "smtp-tls.h"
#include "rd-metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define MANIFEST_NAME "MANIFEST"
#define MANIFEST_MAGIC "relaydesk-backup 1"
#define DB_NAME "relaydesk.db"

void
rd_ops_health_clear (RdOpsHealth *h)
{
  g_clear_pointer (&h->write_error, g_free);
}

gboolean
rd_ops_metrics_collect (RdOps *ops, const RdActor *actor, gint64 max_backlog, RdOpsHealth *health,
                        GError **error)
{
  if (!rd_ops_need_admin (actor, "reading the metrics", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  RdStoreStats st;
  if (!rd_store_stats (ops->store, &st, error))
    return FALSE;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 oldest = st.spool_oldest_new ? MAX (now - st.spool_oldest_new, 0) : 0;
  rd_metric_set (RD_METRIC_SPOOL_BACKLOG, (double) st.spool[RD_SPOOL_NEW]);
  rd_metric_set (RD_METRIC_SPOOL_OLDEST_AGE, (double) oldest);
  for (guint i = 0; i < RD_SPOOL_STATE_N; i++)
    rd_metric_set (RD_METRIC_SPOOL_MESSAGES, (double) st.spool[i], rd_spool_state_to_string (i));
  for (guint i = 0; i < RD_OUTBOX_STATE_N; i++)
    rd_metric_set (RD_METRIC_OUTBOX_MESSAGES, (double) st.outbox[i], rd_outbox_state_to_string (i));
  rd_metric_set (RD_METRIC_OUTBOX_OLDEST_AGE,
                 st.outbox_oldest_waiting ? (double) MAX (now - st.outbox_oldest_waiting, 0) : 0);
  if (health == NULL)
    return TRUE;
  g_autoptr(GError) werr = NULL;
  health->writable = rd_store_probe_write (ops->store, &werr);
  health->write_error = werr ? g_strdup (werr->message) : NULL;
  health->backlog = st.spool[RD_SPOOL_NEW];
  health->max_backlog = max_backlog;
  health->oldest_age = oldest;
  health->ready = health->writable && (max_backlog <= 0 || health->backlog <= max_backlog);
  rd_metric_set (RD_METRIC_READY, health->ready ? 1 : 0);
  return TRUE;
}

/* ---- backup ------------------------------------------------------------ */

#define COPY_CHUNK (1 << 20)

/* Streams @path through SHA-256; @size gets its length. (transfer full) */
static char *
file_sha256 (const char *path, gsize *size, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot read %s: %s", path, g_strerror (errno));
      return NULL;
    }
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buf = g_malloc (COPY_CHUNK);
  *size = 0;
  for (;;)
    {
      ssize_t n = read (fd, buf, COPY_CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot read %s: %s", path, g_strerror (errno));
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      g_checksum_update (sum, buf, n);
      *size += (gsize) n;
    }
  close (fd);
  return g_strdup (g_checksum_get_string (sum));
}

static gboolean
write_all (int fd, const char *path, const char *data, gsize len, GError **error)
{
  gsize off = 0;
  while (off < len)
    {
      ssize_t n = write (fd, data + off, len - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          g_set_error (error, RD_ERROR, e == ENOSPC ? RD_ERROR_DISK_FULL : RD_ERROR_FAILED,
                       "cannot write %s: %s", path, g_strerror (e));
          return FALSE;
        }
      off += (gsize) n;
    }
  return TRUE;
}

static int
create_private (const char *path, GError **error)
{
  int fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot create %s: %s", path, g_strerror (errno));
  return fd;
}

static gboolean
finish_private (int fd, const char *path, gboolean ok, GError **error)
{
  if (ok && fsync (fd) != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot write %s: %s", path, g_strerror (errno));
      ok = FALSE;
    }
  close (fd);
  return ok;
}

/* Writes @data to the new file @path (mode 0600) and fsyncs it. */
static gboolean
write_private (const char *path, const char *data, gsize len, GError **error)
{
  int fd = create_private (path, error);
  if (fd < 0)
    return FALSE;
  return finish_private (fd, path, write_all (fd, path, data, len, error), error);
}

/* Copies @from to the new file @to (mode 0600), a chunk at a time. */
static gboolean
copy_private (const char *from, const char *to, GError **error)
{
  int in = g_open (from, O_RDONLY | O_CLOEXEC, 0);
  if (in < 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot read %s: %s", from, g_strerror (errno));
      return FALSE;
    }
  int out = create_private (to, error);
  if (out < 0)
    {
      close (in);
      return FALSE;
    }
  g_autofree char *buf = g_malloc (COPY_CHUNK);
  gboolean ok = TRUE;
  for (;;)
    {
      ssize_t n = read (in, buf, COPY_CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot read %s: %s", from, g_strerror (errno));
          ok = FALSE;
        }
      if (n <= 0 || !ok || !(ok = write_all (out, to, buf, (gsize) n, error)))
        break;
    }
  close (in);
  return finish_private (out, to, ok, error);
}

static gboolean
fsync_dir (const char *dir)
{
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0)
    return FALSE;
  gboolean ok = fsync (fd) == 0;
  close (fd);
  return ok;
}

/* A folder that does not exist (made, 0700) or is empty. */
static gboolean
prepare_dest (const char *dest, GError **error)
{
  if (g_mkdir_with_parents (dest, 0700) != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot create %s: %s", dest, g_strerror (errno));
      return FALSE;
    }
  g_autoptr(GDir) d = g_dir_open (dest, 0, error);
  if (d == NULL)
    return FALSE;
  if (g_dir_read_name (d) != NULL)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_CONFLICT, "%s is not empty: a backup goes into a new folder", dest);
      return FALSE;
    }
  return TRUE;
}

static void
manifest_add (GString *m, const char *dir, const char *name, const char *origin, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  gsize size = 0;
  g_autofree char *sum = file_sha256 (path, &size, error);
  if (sum)
    g_string_append_printf (m, "file %s %" G_GSIZE_FORMAT " %s %s\n", name, size, sum, origin);
}

gboolean
rd_ops_backup (RdOps *ops, const RdActor *actor, const char *dest, GPtrArray *files, GError **error)
{
  if (!rd_ops_need_admin (actor, "backup", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  if (!prepare_dest (dest, error))
    return FALSE;
  g_autofree char *db = g_build_filename (dest, DB_NAME, NULL);
  if (!rd_store_backup (ops->store, db, error))
    return FALSE;
  /* SQLite made it with the umask's mode; the folder (0700) kept it
   * private meanwhile. */
  g_chmod (db, 0600);
  g_ptr_array_add (files, g_strdup (DB_NAME));
  g_autoptr(GString) manifest = g_string_new (MANIFEST_MAGIC "\n");
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *when = g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
  g_string_append_printf (manifest, "version %s\ncreated %s\n", RD_VERSION, when);
  GError *local = NULL;
  manifest_add (manifest, dest, DB_NAME, "data_dir", &local);

  /* The TLS pair serve presents: a client that pinned the certificate
   * (or a DANE record) keeps trusting the restored server. */
  g_autofree char *cert = NULL, *key = NULL;
  gboolean generated = TRUE;
  rd_smtp_tls_files (ops->config, &cert, &key, &generated);
  const char *const tls[][2] = { { cert, "tls-cert.pem" }, { key, "tls-key.pem" } };
  for (guint i = 0; i < G_N_ELEMENTS (tls) && local == NULL; i++)
    {
      if (!g_file_test (tls[i][0], G_FILE_TEST_EXISTS))
        continue;
      g_autofree char *to = g_build_filename (dest, tls[i][1], NULL);
      if (!copy_private (tls[i][0], to, &local))
        break;
      g_ptr_array_add (files, g_strdup (tls[i][1]));
      g_autofree char *abs = g_canonicalize_filename (tls[i][0], NULL);
      manifest_add (manifest, dest, tls[i][1], generated ? "data_dir" : abs, &local);
    }
  if (local)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  g_autofree char *mpath = g_build_filename (dest, MANIFEST_NAME, NULL);
  if (!write_private (mpath, manifest->str, manifest->len, error))
    return FALSE;
  g_ptr_array_add (files, g_strdup (MANIFEST_NAME));
  fsync_dir (dest);
  return TRUE;
}

/* ---- restore ------------------------------------------------------------ */

typedef struct {
  char *name;
  gsize size;
  char *sha256;
  char *origin;
} ManifestFile;

static void
manifest_file_free (gpointer data)
{
  ManifestFile *f = data;
  g_free (f->name);
  g_free (f->sha256);
  g_free (f->origin);
  g_free (f);
}

/* Reads MANIFEST and checks every file it lists. (transfer full) */
static GPtrArray *
read_manifest (const char *src, GError **error)
{
  g_autofree char *mpath = g_build_filename (src, MANIFEST_NAME, NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (mpath, &text, NULL, NULL))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "%s is not a relaydesk backup: it has no readable %s",
                   src, MANIFEST_NAME);
      return NULL;
    }
  if (!g_str_has_prefix (text, MANIFEST_MAGIC "\n"))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "%s: not a relaydesk backup manifest (format 1)", mpath);
      return NULL;
    }
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (manifest_file_free);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i]; i++)
    {
      if (!g_str_has_prefix (lines[i], "file "))
        continue;
      g_auto(GStrv) f = g_strsplit (lines[i] + 5, " ", 4);
      guint64 size = 0;
      if (g_strv_length (f) != 4 || strchr (f[0], '/') || f[0][0] == '.'
          || !g_ascii_string_to_unsigned (f[1], 10, 0, G_MAXSIZE, &size, NULL))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "%s:%u: malformed line", mpath, i + 1);
          return NULL;
        }
      g_autofree char *path = g_build_filename (src, f[0], NULL);
      gsize have = 0;
      g_autoptr(GError) rerr = NULL;
      g_autofree char *sum = file_sha256 (path, &have, &rerr);
      if (sum == NULL)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "the backup is incomplete: %s", rerr->message);
          return NULL;
        }
      if (have != size || g_ascii_strcasecmp (sum, f[2]) != 0)
        {
          g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA,
                       "the backup is damaged: %s is not the file that was backed up "
                       "(%" G_GSIZE_FORMAT " bytes, the manifest says %" G_GUINT64_FORMAT "; checksum %s)",
                       path, have, size, g_ascii_strcasecmp (sum, f[2]) ? "differs" : "matches");
          return NULL;
        }
      ManifestFile *mf = g_new0 (ManifestFile, 1);
      mf->name = g_strdup (f[0]);
      mf->size = have;
      mf->sha256 = g_strdup (f[2]);
      mf->origin = g_strdup (f[3]);
      g_ptr_array_add (files, mf);
    }
  gboolean has_db = FALSE;
  for (guint i = 0; i < files->len; i++)
    has_db |= g_str_equal (((ManifestFile *) g_ptr_array_index (files, i))->name, DB_NAME);
  if (!has_db)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "%s lists no %s", mpath, DB_NAME);
      return NULL;
    }
  return g_steal_pointer (&files);
}

gboolean
rd_ops_restore (RdOps *ops, const RdActor *actor, const char *src, GPtrArray *notes, GError **error)
{
  if (!rd_ops_need_admin (actor, "restore", error))
    return FALSE;
  const char *dir = rd_config_get_data_dir (ops->config);
  /* Never over a live store: a database (or its WAL) in the data
   * directory is a running serve's or an installation's. */
  const char *const live[] = { DB_NAME, DB_NAME "-wal", DB_NAME "-shm" };
  for (guint i = 0; i < G_N_ELEMENTS (live); i++)
    {
      g_autofree char *p = g_build_filename (dir, live[i], NULL);
      if (g_file_test (p, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, RD_ERROR, RD_ERROR_CONFLICT,
                       "%s exists: restore never overwrites a store (a running serve or an installation); "
                       "stop serve and move the data directory %s away, or restore into an empty one "
                       "(--data-dir)", p, dir);
          return FALSE;
        }
    }
  g_autoptr(GPtrArray) files = read_manifest (src, error);
  if (files == NULL)
    return FALSE;
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot create %s: %s", dir, g_strerror (errno));
      return FALSE;
    }
  for (guint i = 0; i < files->len; i++)
    {
      ManifestFile *f = g_ptr_array_index (files, i);
      g_autofree char *from = g_build_filename (src, f->name, NULL);
      if (g_str_equal (f->origin, "data_dir"))
        {
          g_autofree char *to = g_build_filename (dir, f->name, NULL);
          g_autofree char *tmp = g_strconcat (to, ".restoring", NULL);
          g_unlink (tmp);
          if (g_file_test (to, G_FILE_TEST_EXISTS))
            {
              g_ptr_array_add (notes, g_strdup_printf ("kept %s (it exists; the backup's copy is %s)", to, from));
              continue;
            }
          if (!copy_private (from, tmp, error))
            return FALSE;
          if (g_rename (tmp, to) != 0)
            {
              g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot rename %s: %s", tmp, g_strerror (errno));
              return FALSE;
            }
          g_ptr_array_add (notes, g_strdup_printf ("restored %s", to));
        }
      else if (g_file_test (f->origin, G_FILE_TEST_EXISTS))
        {
          gsize size = 0;
          g_autofree char *sum = file_sha256 (f->origin, &size, NULL);
          if (sum && g_ascii_strcasecmp (sum, f->sha256) == 0)
            g_ptr_array_add (notes, g_strdup_printf ("%s is in place", f->origin));
          else
            g_ptr_array_add (notes, g_strdup_printf ("kept %s, which differs from the backup's copy %s "
                                                     "(configured in [tls]: replace it by hand if needed)",
                                                     f->origin, from));
        }
      else
        {
          g_autofree char *parent = g_path_get_dirname (f->origin);
          if (g_mkdir_with_parents (parent, 0755) != 0 || !copy_private (from, f->origin, error))
            {
              if (error && *error == NULL)
                g_set_error (error, RD_ERROR, RD_ERROR_FAILED, "cannot create %s: %s", parent, g_strerror (errno));
              return FALSE;
            }
          g_ptr_array_add (notes, g_strdup_printf ("restored %s", f->origin));
        }
    }
  fsync_dir (dir);
  /* Opening migrates a backup made by an older version; then the check. */
  g_autoptr(RdStore) store = rd_store_open_existing (dir, error);
  if (store == NULL)
    return FALSE;
  g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
  if (!rd_store_verify (store, problems, error))
    return FALSE;
  for (guint i = 0; i < problems->len; i++)
    g_ptr_array_add (notes, g_strdup_printf ("problem: %s", (char *) g_ptr_array_index (problems, i)));
  return TRUE;
}

gboolean
rd_ops_store_copy (RdOps *ops, const RdActor *actor, const char *url, GPtrArray *report, GError **error)
{
  if (!rd_ops_need_admin (actor, "store copy", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  if (!rd_store_location_is_url (url))
    {
      g_set_error (error, RD_ERROR, RD_ERROR_INVALID_DATA, "--to: '%s' is not a postgresql:// URL", url);
      return FALSE;
    }
  g_autoptr(RdStore) dst = rd_store_open (url, error);
  if (dst == NULL)
    return FALSE;
  return rd_store_copy (ops->store, dst, report, error);
}

gboolean
rd_ops_verify (RdOps *ops, const RdActor *actor, GPtrArray *problems, GError **error)
{
  if (!rd_ops_need_admin (actor, "verify", error) || !rd_ops_need_store (ops, error))
    return FALSE;
  return rd_store_verify (ops->store, problems, error);
}
