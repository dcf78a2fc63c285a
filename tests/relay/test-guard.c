/* Tests for relay/guard.c: address classes, the loop marker, the headers
 * and envelope sender the guard enforces on automatic mail. (The header
 * scanner and the address policy it uses are parser/mail-format.h's,
 * tested in tests/parser/test-mail-format.c.) */
#include "guard.h"
#include "mail-format.h"
#include "relay.h"
#include "outbox.h"
#include "rd-common.h"

#include <glib/gstdio.h>
#include <string.h>

static void
rm_rf (const char *dir)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
}

static RdConfig *
make_config (const char *data_dir)
{
  g_autofree char *text = g_strdup_printf (
      "[relaydesk]\ndata_dir=%s\n[relay]\nown_addresses=support@desk.example; Help@Desk.Example\n"
      "own_domains=tickets.example\n", data_dir);
  g_autofree char *path = g_build_filename (data_dir, "test.conf", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_autoptr(GError) error = NULL;
  RdConfig *c = rd_config_load (path, &error);
  g_assert_no_error (error);
  return c;
}

static void
test_address_reasons (void)
{
  g_autofree char *dir = g_dir_make_tmp ("rd-guard-XXXXXX", NULL);
  g_autoptr(RdConfig) config = make_config (dir);
  g_autoptr(RdRelayGuard) g = rd_relay_guard_new (config, "abc");
  const char *refused[] = {
    "", "<>", "MAILER-DAEMON@example.net", "mailer-daemon", "Postmaster@example.net", "postmaster",
    "noreply@example.net", "no-reply@example.net", "No_Reply@example.net", "do-not-reply@example.net",
    "DoNotReply@example.net", "noreply-billing@example.net", "bounces+123@example.net",
    "owner-users@lists.example", "users-request@lists.example", "support@desk.example",
    "HELP@desk.example", "anyone@tickets.example", "x@TICKETS.example", NULL,
  };
  for (guint i = 0; refused[i]; i++)
    {
      g_test_message ("refused: %s", refused[i]);
      g_assert_nonnull (rd_relay_guard_address_reason (g, refused[i]));
    }
  const char *allowed[] = {
    "alice@example.net", "noah@example.net", "reply@example.net", "support@other.example",
    "postmaster-team-lead.x@example.net", "x@sub.tickets.example", NULL,
  };
  for (guint i = 0; allowed[i]; i++)
    {
      g_test_message ("allowed: %s", allowed[i]);
      g_assert_null (rd_relay_guard_address_reason (g, allowed[i]));
    }
  g_assert_cmpstr (rd_relay_guard_address_reason (g, "MAILER-DAEMON@x.example"), ==, "mailer-daemon");
  g_assert_cmpstr (rd_relay_guard_address_reason (g, "<>"), ==, "null-sender");
  rm_rf (dir);
}

static void
test_loop_marker (void)
{
  const char *id = "0123456789abcdef01234567";
  g_assert_true (rd_relay_is_own_loop ("From: a@b\r\nX-Relaydesk-Loop: 0123456789abcdef01234567\r\n\r\nbody", -1, id));
  g_assert_true (rd_relay_is_own_loop ("x-relaydesk-loop:\n 0123456789ABCDEF01234567\nSubject: s\n\n", -1, id));
  g_assert_true (rd_relay_is_own_loop ("X-Relaydesk-Loop: other\r\nX-Relaydesk-Loop: 0123456789abcdef01234567\r\n\r\n", -1, id));
  g_assert_false (rd_relay_is_own_loop ("X-Relaydesk-Loop: ffff\r\n\r\n", -1, id));
  g_assert_false (rd_relay_is_own_loop ("Subject: s\r\n\r\nX-Relaydesk-Loop: 0123456789abcdef01234567\r\n", -1, id));
  g_assert_false (rd_relay_is_own_loop ("X-Relaydesk-Loop: 0123456789abcdef01234567\r\n", 10, id));
  g_assert_false (rd_relay_is_own_loop ("X-Relaydesk-Loop: x\r\n", -1, ""));
  g_assert_false (rd_relay_is_own_loop (NULL, 0, id));
}

static void
test_apply (void)
{
  g_autofree char *dir = g_dir_make_tmp ("rd-guard-XXXXXX", NULL);
  g_autoptr(RdConfig) config = make_config (dir);
  g_autoptr(GError) error = NULL;
  g_autoptr(RdStore) store = rd_store_open (dir, &error);
  g_assert_no_error (error);
  g_autofree char *id = rd_store_relay_installation_id (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (id), ==, 24);
  g_autoptr(RdRelayGuard) g = rd_relay_guard_new (config, id);

  const char *msg = "From: support@desk.example\r\nSubject: ack\r\n\r\nThanks\r\n";
  g_autoptr(GBytes) raw = g_bytes_new_static (msg, strlen (msg));
  const char *rcpts[] = { "alice@example.net", "MAILER-DAEMON@example.net", "ALICE@example.net", NULL };
  g_autofree char *reason = NULL;
  g_autoptr(RdRelayGuarded) out = rd_relay_guard_apply (g, store, RD_OUTBOX_AUTOREPLY, "support@desk.example",
                                                        rcpts, raw, &reason, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_cmpstr (out->envelope_sender, ==, "");
  g_assert_cmpuint (out->recipients->len, ==, 1);
  g_assert_cmpuint (out->skipped->len, ==, 1);
  gsize len;
  const char *data = g_bytes_get_data (out->data, &len);
  g_assert_true (rd_relay_is_own_loop (data, (gssize) len, id));
  g_autofree char *as = rd_mail_header_get (data, len, "Auto-Submitted");
  g_assert_cmpstr (as, ==, "auto-replied");
  g_assert_true (g_str_has_suffix (data, msg));

  /* What the guard made carries our marker: if it comes back and is
   * redirected or answered with its headers, it is a loop. */
  g_assert_null (rd_relay_guard_apply (g, store, RD_OUTBOX_REDIRECT, "x@y", rcpts, out->data, &reason, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (reason, "loop"));
  g_clear_pointer (&reason, g_free);
  /* An existing Auto-Submitted is not added twice. */
  const char *auto_msg = "Auto-Submitted: auto-generated\r\nSubject: n\r\n\r\nb\r\n";
  g_autoptr(GBytes) rawauto = g_bytes_new_static (auto_msg, strlen (auto_msg));
  g_autoptr(RdRelayGuarded) again = rd_relay_guard_apply (g, store, RD_OUTBOX_NOTIFICATION, "", rcpts,
                                                          rawauto, &reason, &error);
  g_assert_nonnull (again);
  data = g_bytes_get_data (again->data, &len);
  g_assert_nonnull (strstr (data, "Auto-Submitted: auto-generated\r\nSubject"));
  g_assert_null (strstr (strstr (data, "Auto-Submitted") + 1, "Auto-Submitted"));

  /* An agent reply keeps its sender and gets no Auto-Submitted. */
  g_autoptr(RdRelayGuarded) reply = rd_relay_guard_apply (g, store, RD_OUTBOX_REPLY, "support@desk.example",
                                                          rcpts, raw, &reason, &error);
  g_assert_cmpstr (reply->envelope_sender, ==, "support@desk.example");
  data = g_bytes_get_data (reply->data, &len);
  g_assert_null (rd_mail_header_get (data, len, "Auto-Submitted"));

  /* Automatic mail marked "Auto-Submitted: no" is refused. */
  const char *no = "Auto-Submitted: no\r\nSubject: x\r\n\r\nb\r\n";
  g_autoptr(GBytes) rawno = g_bytes_new_static (no, strlen (no));
  g_assert_null (rd_relay_guard_apply (g, store, RD_OUTBOX_REJECT, "", rcpts, rawno, &reason, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (reason, "Auto-Submitted: no"));
  g_clear_pointer (&reason, g_free);

  /* No recipient left: refused with every reason. */
  const char *bad[] = { "postmaster@example.net", "support@desk.example", NULL };
  g_assert_null (rd_relay_guard_apply (g, store, RD_OUTBOX_REPLY, "x@y", bad, raw, &reason, &error));
  g_assert_nonnull (strstr (reason, "postmaster"));
  g_assert_nonnull (strstr (reason, "own"));
  g_clear_pointer (&reason, g_free);

  /* An automatic answer to a message of our own outbox is a loop. */
  const char *ours = "Subject: ours\r\nMessage-ID: <ours.1@desk.example>\r\n\r\nb\r\n";
  g_autoptr(GBytes) rawours = g_bytes_new_static (ours, strlen (ours));
  const char *one[] = { "bob@example.net", NULL };
  RdOutboxDraft d = { .kind = RD_OUTBOX_REPLY, .sender = "s@desk.example", .recipients = one,
                      .message_id = "ours.1@desk.example", .raw = rawours };
  g_assert_true (rd_store_outbox_enqueue (store, &d, NULL, &error));
  const char *ack = "Subject: Re: ours\r\nIn-Reply-To: <ours.1@desk.example>\r\n\r\nthanks\r\n";
  g_autoptr(GBytes) rawack = g_bytes_new_static (ack, strlen (ack));
  g_assert_null (rd_relay_guard_apply (g, store, RD_OUTBOX_AUTOREPLY, "", one, rawack, &reason, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (reason, "loop"));
  g_clear_pointer (&reason, g_free);
  /* a redirect keeps the original's Message-ID: it does not make an
   * answer to that original look like an answer to our own mail */
  const char *theirs = "Subject: theirs\r\nMessage-ID: <theirs.1@example.net>\r\n\r\nb\r\n";
  g_autoptr(GBytes) rawtheirs = g_bytes_new_static (theirs, strlen (theirs));
  RdOutboxDraft rd = { .kind = RD_OUTBOX_REDIRECT, .sender = "c@example.net", .recipients = one,
                       .message_id = "theirs.1@example.net", .raw = rawtheirs };
  g_assert_true (rd_store_outbox_enqueue (store, &rd, NULL, &error));
  const char *ack2 = "Subject: Re: theirs\r\nIn-Reply-To: <theirs.1@example.net>\r\n\r\nthanks\r\n";
  g_autoptr(GBytes) rawack2 = g_bytes_new_static (ack2, strlen (ack2));
  g_autoptr(RdRelayGuarded) ack2ok = rd_relay_guard_apply (g, store, RD_OUTBOX_AUTOREPLY, "", one, rawack2,
                                                           &reason, &error);
  g_assert_nonnull (ack2ok);
  /* an agent may answer anything */
  g_autoptr(RdRelayGuarded) agent = rd_relay_guard_apply (g, store, RD_OUTBOX_REPLY, "s@desk.example", one,
                                                          rawack, &reason, &error);
  g_assert_nonnull (agent);

  /* Suppressed. */
  g_assert_true (rd_store_suppression_add (store, "Alice@Example.net", "bounced", &error));
  g_assert_null (rd_relay_guard_apply (g, store, RD_OUTBOX_REPLY, "x@y", rcpts, raw, &reason, &error));
  g_assert_nonnull (strstr (reason, "suppressed (bounced)"));
  g_clear_pointer (&store, rd_store_free);
  rm_rf (dir);
}

static void
test_duration (void)
{
  gint64 s = 0;
  g_assert_true (rd_relay_parse_duration ("90", &s));
  g_assert_cmpint (s, ==, 90);
  g_assert_true (rd_relay_parse_duration ("15m", &s));
  g_assert_cmpint (s, ==, 900);
  g_assert_true (rd_relay_parse_duration ("5d", &s));
  g_assert_cmpint (s, ==, 432000);
  g_assert_true (rd_relay_parse_duration ("2h", &s));
  g_assert_cmpint (s, ==, 7200);
  g_assert_false (rd_relay_parse_duration ("", &s));
  g_assert_false (rd_relay_parse_duration ("5x", &s));
  g_assert_false (rd_relay_parse_duration ("5dd", &s));
  g_assert_false (rd_relay_parse_duration ("-1", &s));
  g_assert_false (rd_relay_parse_duration ("99999999999", &s));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_log_set_level (RD_LOG_WARN);
  g_test_add_func ("/relay/guard/address-reasons", test_address_reasons);
  g_test_add_func ("/relay/guard/loop-marker", test_loop_marker);
  g_test_add_func ("/relay/guard/apply", test_apply);
  g_test_add_func ("/relay/duration", test_duration);
  return g_test_run ();
}
