/* Attachment bytes read with GMime (desk/mime-extras.h), and the DSN
 * fields the desk takes from the parser view for bounce handling. */
#include "mime-extras.h"
#include "message.h"

#include <string.h>

static GBytes *
bytes (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

static const char dsn_text[] =
  "From: MAILER-DAEMON@mx.example.org\r\n"
  "To: support@desk.test\r\n"
  "Subject: Undelivered\r\n"
  "MIME-Version: 1.0\r\n"
  "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n"
  "\r\n"
  "--b1\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
  "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
  "Reporting-MTA: dns; mx.example.org\r\n\r\n"
  "Final-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
  "Diagnostic-Code: smtp; 550 5.1.1 unknown\r\n\r\n"
  "Final-Recipient: rfc822;<b@example.org>\r\nAction: delayed\r\nStatus: 4.4.7 (expired)\r\n"
  "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
  "From: support@desk.test\r\nMessage-ID: <rd-1-abc@desk.test>\r\n"
  "--b1--\r\n";

static void
test_dsn (void)
{
  g_autoptr(GBytes) raw = bytes (dsn_text);
  g_autoptr(RdMessage) msg = rd_message_parse (raw, NULL);
  g_assert_nonnull (msg);
  g_assert_true (rd_message_is_bounce (msg));
  g_assert_cmpstr (rd_message_get_dsn_original_message_id (msg), ==, "rd-1-abc@desk.test");
  GPtrArray *rcpts = rd_message_get_dsn_recipients (msg);
  g_assert_cmpuint (rcpts->len, ==, 2);
  const RdDsnRecipient *r = g_ptr_array_index (rcpts, 0);
  g_assert_cmpstr (r->addr, ==, "a@example.org");
  g_assert_cmpstr (r->action, ==, "failed");
  g_assert_cmpstr (r->status, ==, "5.1.1");
  g_assert_cmpstr (r->diagnostic, ==, "550 5.1.1 unknown"); /* the type "smtp;" stripped */
  r = g_ptr_array_index (rcpts, 1);
  g_assert_cmpstr (r->addr, ==, "b@example.org");
  g_assert_cmpstr (r->status, ==, "4.4.7");
}

static void
test_not_dsn (void)
{
  g_autoptr(GBytes) plain = bytes ("From: a@b\r\nSubject: hi\r\n\r\nbody\r\n");
  g_autoptr(RdMessage) m1 = rd_message_parse (plain, NULL);
  g_assert_null (rd_message_get_dsn_original_message_id (m1));
  g_autoptr(GBytes) other = bytes ("Content-Type: multipart/report; report-type=disposition-notification;"
                                   " boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nread\r\n--x--\r\n");
  g_autoptr(RdMessage) m2 = rd_message_parse (other, NULL);
  g_assert_null (rd_message_get_dsn_original_message_id (m2));
}

static void
test_attachments (void)
{
  g_autoptr(GBytes) raw = bytes (
    "From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
    "--m\r\nContent-Type: multipart/alternative; boundary=n\r\n\r\n"
    "--n\r\nContent-Type: text/plain\r\n\r\nhello\r\n--n\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--n--\r\n"
    "--m\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
    "Content-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    "AAECAw==\r\n"
    "--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nnotes\r\n"
    "--m\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n"
    "--m--\r\n");
  g_autoptr(GPtrArray) a = rd_mime_extract_attachments (raw);
  g_assert_cmpuint (a->len, ==, 3);
  const RdMimeAttachment *bin = g_ptr_array_index (a, 0);
  g_assert_cmpstr (bin->filename, ==, "data.bin");
  g_assert_cmpuint (g_bytes_get_size (bin->data), ==, 4);
  g_assert_cmpint (memcmp (g_bytes_get_data (bin->data, NULL), "\0\1\2\3", 4), ==, 0);
  g_assert_cmpstr (((RdMimeAttachment *) g_ptr_array_index (a, 1))->filename, ==, "notes.txt");
  g_assert_cmpstr (((RdMimeAttachment *) g_ptr_array_index (a, 2))->content_type, ==, "message/rfc822");
  g_autoptr(GBytes) single = bytes ("From: a@b\r\nSubject: x\r\n\r\njust text\r\n");
  g_autoptr(GPtrArray) none = rd_mime_extract_attachments (single);
  g_assert_cmpuint (none->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_parser_init ();
  g_test_add_func ("/mime-extras/dsn", test_dsn);
  g_test_add_func ("/mime-extras/not-dsn", test_not_dsn);
  g_test_add_func ("/mime-extras/attachments", test_attachments);
  return g_test_run ();
}
