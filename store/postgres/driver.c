/* relaydesk — store: the PostgreSQL driver (libpq), for several serve
 * nodes sharing one database (docs/scale-out.md).
 *
 * One RdDb is one libpq connection. Statements are written with $N
 * parameters, PostgreSQL's own form. A statement runs unprepared
 * (PQexecParams) the first time and is prepared on the server
 * (PQprepare, a name per statement) from its second run on, so the
 * store's cached statements cost one round trip each while the ones
 * built at run time (ticket lists) leave nothing behind.
 *
 * Values travel as text, except blobs (binary bytea); integers are sent
 * typed int8 so that a parameter the server cannot place (SELECT $1, ...)
 * still has a type. Results come back as text; bytea columns are decoded
 * when read.
 *
 * Errors become RD_ERROR codes here: a lost connection, the server
 * shutting down or starting (SQLSTATE classes 08, 57), lock and
 * serialization conflicts (40, 55P03), a unique key taken meanwhile by
 * another node (23505: the work is retried and then sees the other
 * node's row) and too little memory or connections (53) are
 * RD_ERROR_TEMPORARY; a full disk (53100) RD_ERROR_DISK_FULL; anything
 * else RD_ERROR_FAILED.
 *
 * Recovery: a broken connection is re-established (PQreset) before the
 * next transaction or statement outside one, never inside a
 * transaction the caller believes open (that must fail and roll back).
 * Server-side prepared statements die with the connection: each
 * statement remembers the connection generation it was prepared in.
 *
 * Notifications (LISTEN/NOTIFY): every connection listens on
 * relaydesk_allowlist; rd_pg_data_version() counts what arrived (plus the
 * reconnections), the PostgreSQL twin of SQLite's data_version.
 */
#include "db.h"
#include "rd-common.h"

#include <libpq-fe.h>
#include <string.h>
#include <stdlib.h>

#define INT8OID 20
#define BYTEAOID 17
#define BOOLOID 16
#define TEXTOID 25

typedef struct {
  RdDb base;
  PGconn *conn;
  char *url;
  guint generation;        /* bumped on every (re)connection */
  guint next_name;
  gint64 changes;
  gint64 notifications;    /* on relaydesk_allowlist */
  gint64 any_notifications;
  guint listen_gen;         /* the generation rd_pg_wait_notification LISTENed in */
  char *listen_channel;
  gboolean tx_open;        /* the caller believes a transaction is open */
  gint64 last_reset_us;
} PgDb;

typedef struct {
  char *value;             /* owned */
  int length;
  int format;              /* 0 text, 1 binary */
  unsigned int type;       /* Oid, 0: let the server infer */
} Param;

typedef struct {
  RdDbStmt base;
  char *sql;
  char name[24];
  int nparams;             /* the highest $N in the text */
  Param *params;
  gboolean *used;          /* [i]: $i+1 appears in the text */
  guint runs;
  guint prepared_gen;      /* 0: not prepared */
  PGresult *res;
  int row;
  int nrows;
  gboolean executed;
  GPtrArray *decoded;      /* unescaped bytea of the current row */
} PgStmt;

#define PG(d) ((PgDb *) (d))
#define PST(s) ((PgStmt *) (s))

static gboolean
is_temporary (const char *state)
{
  if (state == NULL)
    return TRUE; /* no result from the server: the connection */
  return g_str_has_prefix (state, "08") || g_str_has_prefix (state, "57") || g_str_has_prefix (state, "40")
      || g_str_has_prefix (state, "53") || g_str_equal (state, "55P03") || g_str_equal (state, "23505");
}

static void
set_error (PgDb *d, PGresult *res, const char *what, GError **error)
{
  const char *state = res ? PQresultErrorField (res, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = res ? PQresultErrorMessage (res) : NULL;
  if (msg == NULL || *msg == '\0')
    msg = PQerrorMessage (d->conn);
  g_autofree char *line = g_strstrip (g_strdup (msg && *msg ? msg : "unknown error"));
  char *nl = strchr (line, '\n');
  if (nl)
    *nl = '\0';
  RdError code = state && g_str_equal (state, "53100") ? RD_ERROR_DISK_FULL
               : is_temporary (state) ? RD_ERROR_TEMPORARY : RD_ERROR_FAILED;
  g_set_error (error, RD_ERROR, code, "%s%s (postgresql %s)", what ? what : "", line, state ? state : "connection");
}

static void
consume_notifications (PgDb *d)
{
  if (PQstatus (d->conn) != CONNECTION_OK)
    return;
  PQconsumeInput (d->conn);
  PGnotify *n;
  while ((n = PQnotifies (d->conn)) != NULL)
    {
      if (g_str_equal (n->relname, "relaydesk_allowlist"))
        d->notifications++;
      d->any_notifications++;
      PQfreemem (n);
    }
}

static gboolean
after_connect (PgDb *d, GError **error)
{
  d->generation++;
  d->tx_open = FALSE;
  /* Less chatter: notices (e.g. "relation exists, skipping") are ours. */
  PGresult *res = PQexec (d->conn, "SET client_min_messages = warning; LISTEN relaydesk_allowlist");
  gboolean ok = PQresultStatus (res) == PGRES_COMMAND_OK;
  if (!ok)
    set_error (d, res, "", error);
  PQclear (res);
  return ok;
}

/* A broken connection is made again, at most every 200 ms (each try
 * waits up to connect_timeout). Only outside a transaction. */
static gboolean
ensure_connection (PgDb *d, GError **error)
{
  if (PQstatus (d->conn) == CONNECTION_OK)
    return TRUE;
  if (d->tx_open)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_TEMPORARY, "postgresql: connection lost inside a transaction");
      return FALSE;
    }
  gint64 now = g_get_monotonic_time ();
  if (now - d->last_reset_us < 200000)
    {
      g_set_error (error, RD_ERROR, RD_ERROR_TEMPORARY, "postgresql: not connected: %s",
                   PQerrorMessage (d->conn));
      return FALSE;
    }
  d->last_reset_us = now;
  PQreset (d->conn);
  if (PQstatus (d->conn) != CONNECTION_OK)
    {
      g_autofree char *m = g_strstrip (g_strdup (PQerrorMessage (d->conn)));
      g_set_error (error, RD_ERROR, RD_ERROR_TEMPORARY, "postgresql: cannot reconnect: %s", m);
      return FALSE;
    }
  rd_log (RD_LOG_INFO, "store.reconnect", "backend=postgresql");
  return after_connect (d, error);
}

static void
drv_close (RdDb *db)
{
  PgDb *d = PG (db);
  PQfinish (d->conn);
  g_free (d->url);
  g_free (d->listen_channel);
  g_free (d);
}

/* The highest $N outside quotes: how many parameters the statement
 * takes; with @used, marks those that appear (the server cannot type a
 * parameter the text skips: those are sent as text). */
static int
count_params (const char *sql, gboolean *used)
{
  int max = 0;
  char quote = 0;
  for (const char *p = sql; *p; p++)
    {
      if (quote)
        {
          if (*p == quote)
            quote = 0;
        }
      else if (*p == '\'' || *p == '"')
        quote = *p;
      else if (*p == '$' && g_ascii_isdigit (p[1]))
        {
          int n = (int) strtol (p + 1, NULL, 10);
          max = MAX (max, n);
          if (used && n > 0)
            used[n - 1] = TRUE;
        }
    }
  return max;
}

static RdDbStmt *
drv_prepare (RdDb *db, const char *sql, GError **error)
{
  PgStmt *s = g_new0 (PgStmt, 1);
  s->base.db = db;
  s->sql = g_strdup (sql);
  s->nparams = count_params (sql, NULL);
  s->params = g_new0 (Param, MAX (s->nparams, 1));
  s->used = g_new0 (gboolean, MAX (s->nparams, 1));
  count_params (sql, s->used);
  g_snprintf (s->name, sizeof s->name, "rd%u", ++PG (db)->next_name);
  s->decoded = g_ptr_array_new_with_free_func (PQfreemem);
  return &s->base;
}

static void
clear_result (PgStmt *s)
{
  g_clear_pointer (&s->res, PQclear);
  g_ptr_array_set_size (s->decoded, 0);
  s->row = -1;
  s->nrows = 0;
  s->executed = FALSE;
}

static void
drv_reset (RdDbStmt *st)
{
  PgStmt *s = PST (st);
  clear_result (s);
  for (int i = 0; i < s->nparams; i++)
    {
      g_free (s->params[i].value);
      s->params[i] = (Param) { 0 };
    }
}

static void
drv_finalize (RdDbStmt *st)
{
  PgStmt *s = PST (st);
  PgDb *d = PG (st->db);
  drv_reset (st);
  if (s->prepared_gen && s->prepared_gen == d->generation && PQstatus (d->conn) == CONNECTION_OK
      && PQtransactionStatus (d->conn) == PQTRANS_IDLE)
    {
      g_autofree char *sql = g_strdup_printf ("DEALLOCATE %s", s->name);
      PQclear (PQexec (d->conn, sql));
    }
  g_ptr_array_unref (s->decoded);
  g_free (s->params);
  g_free (s->used);
  g_free (s->sql);
  g_free (s);
}

static Param *
param (RdDbStmt *st, int idx)
{
  PgStmt *s = PST (st);
  if (idx < 1 || idx > s->nparams)
    return NULL; /* not in this dialect's text: ignored, as SQLite does */
  Param *p = &s->params[idx - 1];
  g_clear_pointer (&p->value, g_free);
  *p = (Param) { 0 };
  return p;
}

static void
drv_bind_null (RdDbStmt *st, int idx)
{
  param (st, idx);
}

static void
drv_bind_int64 (RdDbStmt *st, int idx, gint64 v)
{
  Param *p = param (st, idx);
  if (p == NULL)
    return;
  p->value = g_strdup_printf ("%" G_GINT64_FORMAT, v);
  p->type = INT8OID;
}

static void
drv_bind_text (RdDbStmt *st, int idx, const char *text)
{
  Param *p = param (st, idx);
  if (p == NULL)
    return;
  p->value = g_strdup (text);
}

static void
drv_bind_blob (RdDbStmt *st, int idx, const void *data, gsize len)
{
  Param *p = param (st, idx);
  if (p == NULL)
    return;
  p->value = g_malloc (MAX (len, 1));
  memcpy (p->value, data, len);
  p->length = (int) len;
  p->format = 1;
  p->type = BYTEAOID;
}

static PGresult *
execute (PgStmt *s, GError **error)
{
  PgDb *d = PG (s->base.db);
  if (!ensure_connection (d, error))
    return NULL;
  int n = s->nparams;
  g_autofree const char **values = g_new0 (const char *, MAX (n, 1));
  g_autofree int *lengths = g_new0 (int, MAX (n, 1));
  g_autofree int *formats = g_new0 (int, MAX (n, 1));
  g_autofree unsigned int *types = g_new0 (unsigned int, MAX (n, 1));
  for (int i = 0; i < n; i++)
    {
      values[i] = s->params[i].value;
      lengths[i] = s->params[i].length;
      formats[i] = s->params[i].format;
      types[i] = s->used[i] ? s->params[i].type : TEXTOID;
      if (!s->used[i])
        {
          values[i] = NULL;
          formats[i] = 0;
        }
    }
  s->runs++;
  if (s->runs == 1)
    return PQexecParams (d->conn, s->sql, n, types, values, lengths, formats, 0);
  if (s->prepared_gen != d->generation)
    {
      PGresult *res = PQprepare (d->conn, s->name, s->sql, n, types);
      if (PQresultStatus (res) != PGRES_COMMAND_OK)
        return res;
      PQclear (res);
      s->prepared_gen = d->generation;
    }
  return PQexecPrepared (d->conn, s->name, n, values, lengths, formats, 0);
}

static RdDbStep
drv_step (RdDbStmt *st, GError **error)
{
  PgStmt *s = PST (st);
  PgDb *d = PG (st->db);
  if (!s->executed)
    {
      s->executed = TRUE;
      g_autoptr(GError) local = NULL;
      PGresult *res = execute (s, &local);
      if (res == NULL && local)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return RD_DB_ERROR;
        }
      ExecStatusType status = PQresultStatus (res);
      if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK)
        {
          set_error (d, res, "", error);
          PQclear (res);
          return RD_DB_ERROR;
        }
      s->res = res;
      s->nrows = PQntuples (res);
      s->row = -1;
      const char *ct = PQcmdTuples (res);
      d->changes = ct && *ct ? g_ascii_strtoll (ct, NULL, 10) : 0;
    }
  g_ptr_array_set_size (s->decoded, 0);
  if (s->row + 1 < s->nrows)
    {
      s->row++;
      return RD_DB_ROW;
    }
  s->row = s->nrows;
  return RD_DB_DONE;
}

static gboolean
has_cell (PgStmt *s, int col)
{
  return s->res && s->row >= 0 && s->row < s->nrows && col >= 0 && col < PQnfields (s->res);
}

static gboolean
drv_col_is_null (RdDbStmt *st, int col)
{
  PgStmt *s = PST (st);
  return !has_cell (s, col) || PQgetisnull (s->res, s->row, col);
}

static gint64
drv_col_int64 (RdDbStmt *st, int col)
{
  PgStmt *s = PST (st);
  if (drv_col_is_null (st, col))
    return 0;
  const char *v = PQgetvalue (s->res, s->row, col);
  if (PQftype (s->res, col) == BOOLOID)
    return v[0] == 't';
  return g_ascii_strtoll (v, NULL, 10);
}

static const char *
drv_col_text (RdDbStmt *st, int col)
{
  PgStmt *s = PST (st);
  if (drv_col_is_null (st, col))
    return NULL;
  return PQgetvalue (s->res, s->row, col);
}

static const void *
drv_col_blob (RdDbStmt *st, int col, gsize *len)
{
  PgStmt *s = PST (st);
  *len = 0;
  if (drv_col_is_null (st, col))
    return NULL;
  const char *v = PQgetvalue (s->res, s->row, col);
  if (PQftype (s->res, col) != BYTEAOID)
    {
      *len = (gsize) PQgetlength (s->res, s->row, col);
      return v;
    }
  size_t n = 0;
  unsigned char *raw = PQunescapeBytea ((const unsigned char *) v, &n);
  if (raw == NULL)
    return NULL;
  g_ptr_array_add (s->decoded, raw);
  *len = n;
  return raw;
}

static gint64
drv_changes (RdDb *db)
{
  return PG (db)->changes;
}

static gboolean
drv_exec (RdDb *db, const char *script, GError **error)
{
  PgDb *d = PG (db);
  gboolean begin = g_str_has_prefix (script, "BEGIN");
  gboolean end = g_str_equal (script, "COMMIT") || g_str_equal (script, "ROLLBACK");
  if (begin || end)
    d->tx_open = FALSE; /* a new transaction may reconnect first; an ended one is over either way */
  if (!ensure_connection (d, error))
    return FALSE;
  PGresult *res = PQexec (d->conn, script);
  ExecStatusType status = PQresultStatus (res);
  gboolean ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  if (!ok)
    set_error (d, res, "", error);
  PQclear (res);
  if (begin && ok)
    d->tx_open = TRUE;
  if (end)
    {
      d->tx_open = FALSE;
      consume_notifications (d);
    }
  /* A COMMIT answered with an error, or none, did not commit. */
  return ok;
}

static gboolean
drv_in_transaction (RdDb *db)
{
  PgDb *d = PG (db);
  /* A transaction whose connection broke is still open for the caller
   * until it rolls back: that ROLLBACK is what lets the next statement
   * reconnect (ensure_connection). */
  if (d->tx_open && PQstatus (d->conn) != CONNECTION_OK)
    return TRUE;
  PGTransactionStatusType t = PQtransactionStatus (d->conn);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

static const RdDbDriver pg_driver = {
  .name = "postgresql",
  .dialect = RD_SQL_POSTGRES,
  .close = drv_close,
  .prepare = drv_prepare,
  .finalize = drv_finalize,
  .reset = drv_reset,
  .bind_null = drv_bind_null,
  .bind_int64 = drv_bind_int64,
  .bind_text = drv_bind_text,
  .bind_blob = drv_bind_blob,
  .step = drv_step,
  .col_is_null = drv_col_is_null,
  .col_int64 = drv_col_int64,
  .col_text = drv_col_text,
  .col_blob = drv_col_blob,
  .changes = drv_changes,
  .exec = drv_exec,
  .in_transaction = drv_in_transaction,
  /* READ COMMITTED: uniqueness is kept by constraints and row locks
   * (FOR UPDATE), not by one writer at a time. */
  .begin_sql = "BEGIN",
};

RdDb *
rd_pg_open (const char *url, GError **error)
{
  PgDb *d = g_new0 (PgDb, 1);
  d->base.driver = &pg_driver;
  d->url = g_strdup (url);
  /* Defaults first: the URL (expanded from dbname) overrides them. */
  const char *const keys[] = { "connect_timeout", "application_name", "keepalives_idle", "dbname", NULL };
  const char *const values[] = { "5", "relaydesk", "30", url, NULL };
  d->conn = PQconnectdbParams (keys, values, 1);
  if (PQstatus (d->conn) != CONNECTION_OK)
    {
      g_autofree char *shown = rd_pg_display_url (url);
      g_autofree char *m = g_strstrip (g_strdup (PQerrorMessage (d->conn)));
      g_set_error (error, RD_ERROR, RD_ERROR_TEMPORARY, "%s: %s", shown, m);
      drv_close (&d->base);
      return NULL;
    }
  d->last_reset_us = g_get_monotonic_time ();
  if (!after_connect (d, error))
    {
      drv_close (&d->base);
      return NULL;
    }
  return &d->base;
}

gint64
rd_pg_data_version (RdDb *db)
{
  g_return_val_if_fail (db->driver == &pg_driver, -1);
  PgDb *d = PG (db);
  if (d->tx_open)
    return -1;
  consume_notifications (d);
  if (PQstatus (d->conn) != CONNECTION_OK)
    return -1;
  return ((gint64) d->generation << 40) + d->notifications;
}

gboolean
rd_pg_wait_notification (RdDb *db, const char *channel, guint timeout_ms, gboolean *notified, GError **error)
{
  g_return_val_if_fail (db->driver == &pg_driver, FALSE);
  PgDb *d = PG (db);
  *notified = FALSE;
  if (d->tx_open)
    return TRUE; /* notifications arrive between transactions */
  if (!ensure_connection (d, error))
    return FALSE;
  /* LISTEN once per connection (a reconnection forgets it). */
  if (d->listen_gen != d->generation || g_strcmp0 (d->listen_channel, channel) != 0)
    {
      g_autofree char *sql = g_strdup_printf ("LISTEN %s", channel);
      PGresult *res = PQexec (d->conn, sql);
      gboolean ok = PQresultStatus (res) == PGRES_COMMAND_OK;
      if (!ok)
        set_error (d, res, "", error);
      PQclear (res);
      if (!ok)
        return FALSE;
      d->listen_gen = d->generation;
      g_free (d->listen_channel);
      d->listen_channel = g_strdup (channel);
    }
  gint64 before = d->any_notifications;
  consume_notifications (d);
  if (d->any_notifications == before)
    {
      GPollFD pfd = { PQsocket (d->conn), G_IO_IN, 0 };
      if (pfd.fd >= 0 && g_poll (&pfd, 1, (gint) timeout_ms) > 0)
        consume_notifications (d);
    }
  *notified = d->any_notifications != before;
  return TRUE;
}
