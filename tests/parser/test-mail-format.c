/* relaydesk — tests for parser/mail-format.h: header scanning, address
 * lists, the automated-sender policy, CRLF text, and RdMailDraft output
 * read back with the parser's view. */
#include "mail-format.h"
#include "message.h"

#include <string.h>

static RdMessage *
parse_bytes (GBytes *raw)
{
  g_autoptr(GError) error = NULL;
  RdMessage *m = rd_message_parse (raw, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  return m;
}

static RdMessage *
parse (const char *text)
{
  g_autoptr(GBytes) raw = g_bytes_new (text, strlen (text));
  return parse_bytes (raw);
}

static char *
sha256_hex (GBytes *b)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, b);
}

/* ---- header scanning ---------------------------------------------------- */

static void
test_header_length (void)
{
  static const struct {
    const char *raw;
    gsize header, body;
  } cases[] = {
    { "A: 1\r\nB: 2\r\n\r\nbody\r\n", 12, 14 },
    { "A: 1\nB: 2\n\nbody\n", 10, 11 },            /* bare LF */
    { "A: 1\r\n folded\r\n\r\n", 15, 17 },         /* folding is no end */
    { "A: 1\r\nB: 2\r\n", 12, 12 },                /* a header block alone */
    { "A: 1", 4, 4 },                              /* not even a line end */
    { "\r\nbody", 0, 2 },                          /* no header at all */
    { "A: 1\n\r\nbody", 5, 7 },                    /* LF header, CRLF empty line */
    { "", 0, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize body = 99;
      gsize h = rd_mail_header_length (cases[i].raw, strlen (cases[i].raw), &body);
      g_test_message ("case %u", i);
      g_assert_cmpuint (h, ==, cases[i].header);
      g_assert_cmpuint (body, ==, cases[i].body);
    }
  g_assert_cmpuint (rd_mail_header_length ("X: y\n\n", 6, NULL), ==, 5);
}

static void
test_header_fields (void)
{
  const char *raw = "From b@x Mon Jan  1 00:00:00 2024\r\n"   /* mbox line: no field */
                    "Subject: one\r\n two\r\n\tthree\r\n"
                    "garbage line\r\n"
                    "Auto-Submitted :  auto-replied \r\n"    /* obsolete blank before ':' */
                    "X-Empty:\r\n"
                    "\r\n"
                    "Body-Field: not a header\r\n";
  gsize len = strlen (raw), pos = 0;
  RdMailField f;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  while (rd_mail_header_next (raw, len, &pos, &f))
    {
      g_ptr_array_add (names, g_strndup (f.name, f.name_len));
      g_ptr_array_add (values, rd_mail_field_value (&f));
    }
  g_assert_cmpuint (names->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "Subject");
  /* RFC 5322 3.2.2: unfolding removes the line breaks, not the blanks */
  g_assert_cmpstr (g_ptr_array_index (values, 0), ==, "one two\tthree");
  g_assert_cmpstr (g_ptr_array_index (names, 1), ==, "Auto-Submitted");
  g_assert_cmpstr (g_ptr_array_index (values, 1), ==, "auto-replied");
  g_assert_cmpstr (g_ptr_array_index (values, 2), ==, "");
  g_assert_cmpstr (raw + pos, ==, "\r\nBody-Field: not a header\r\n");

  g_autofree char *s = rd_mail_header_get (raw, len, "SUBJECT");
  g_assert_cmpstr (s, ==, "one two\tthree");
  g_assert_null (rd_mail_header_get (raw, len, "Body-Field"));
  g_assert_null (rd_mail_header_get (raw, len, "Subjec"));
  /* LF only, no body, no final line end */
  const char *lf = "To: a@b\nCc: c@d,\n e@f";
  g_autofree char *cc = rd_mail_header_get (lf, strlen (lf), "cc");
  g_assert_cmpstr (cc, ==, "c@d, e@f");
  /* a line without a colon, and no end of the header block at all */
  const char *odd = "garbage line\r\nTo: x@y";
  g_autofree char *t = rd_mail_header_get (odd, strlen (odd), "To");
  g_assert_cmpstr (t, ==, "x@y");
  /* a continuation before any field continues nothing */
  const char *cont = " stray: x\r\nTo: t@x\r\n\r\n";
  g_autofree char *to = rd_mail_header_get (cont, strlen (cont), "To");
  g_assert_cmpstr (to, ==, "t@x");
  g_assert_null (rd_mail_header_get (cont, strlen (cont), "stray"));
  /* bounded by @len: a field cut short is read as far as it goes */
  g_autofree char *cut = rd_mail_header_get ("To: abcdef\r\n", 6, "To");
  g_assert_cmpstr (cut, ==, "ab");
  pos = 0;
  g_assert_false (rd_mail_header_next ("", 0, &pos, &f));
}

/* ---- address lists ------------------------------------------------------- */

static void
check_list (const char *value, const char *const *expected)
{
  g_autoptr(GPtrArray) l = rd_mail_address_list_parse (value);
  g_autoptr(GString) got = g_string_new (NULL);
  for (guint i = 0; i < l->len; i++)
    {
      const RdAddress *a = g_ptr_array_index (l, i);
      g_string_append_printf (got, "%s%s|%s", i ? " " : "", a->name, a->addr);
    }
  g_autofree char *want = g_strjoinv (" ", (char **) expected);
  g_test_message ("%s", value);
  g_assert_cmpstr (got->str, ==, want);
}

static void
test_address_lists (void)
{
  check_list ("Team: a@x.example, \"B, Bee\" <b@x.example>;, c@x.example (Cee)",
              (const char *[]) { "|a@x.example", "B, Bee|b@x.example", "|c@x.example", NULL });
  check_list ("undisclosed-recipients:;", (const char *[]) { NULL });
  check_list ("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
              (const char *[]) { "Andr\xc3\xa9 Pirard|PIRARD@vm1.ulg.ac.be", NULL });
  check_list ("\"John \\\"JJ\\\" Doe\" <\"john doe\"@example.org>",
              (const char *[]) { "John \"JJ\" Doe|\"john doe\"@example.org", NULL });
  check_list ("<@route1.example,@route2.example:user@final.example>, <>",
              (const char *[]) { "|user@final.example", "|<>", NULL });
  check_list ("a@b.example,\r\n\tName\r\n <e@f.example>",
              (const char *[]) { "|a@b.example", "Name|e@f.example", NULL });
  check_list ("J\xfcrgen <j@x.example>", (const char *[]) { "J\xc3\xbcrgen|j@x.example", NULL });
  check_list ("", (const char *[]) { NULL });
  check_list (",, ,", (const char *[]) { NULL });
  g_autoptr(GPtrArray) none = rd_mail_address_list_parse (NULL);
  g_assert_cmpuint (none->len, ==, 0);
  /* garbage: something, valid UTF-8, no crash */
  g_autoptr(GPtrArray) g = rd_mail_address_list_parse ("<<<>>>@@@,,,;;;:::\"\"\"((()))\xff\xfe");
  for (guint i = 0; i < g->len; i++)
    g_assert_true (g_utf8_validate (((RdAddress *) g_ptr_array_index (g, i))->addr, -1, NULL));
  /* the view reads From with the same function */
  g_autoptr(RdMessage) m = parse ("From: Team: a@x.example, \"B, Bee\" <b@x.example>;\r\n\r\nx\r\n");
  g_assert_cmpuint (rd_message_get_from (m)->len, ==, 2);
}

/* ---- the automated-sender policy ----------------------------------------- */

static void
test_auto_address (void)
{
  static const struct {
    const char *addr;
    RdMailAuto want;
  } cases[] = {
    { "", RD_MAIL_AUTO_NULL_SENDER },
    { "<>", RD_MAIL_AUTO_NULL_SENDER },
    { NULL, RD_MAIL_AUTO_NULL_SENDER },
    { "MAILER-DAEMON@mx.example", RD_MAIL_AUTO_MAILER_DAEMON },
    { "mailer-daemon", RD_MAIL_AUTO_MAILER_DAEMON },
    { "<Mailer_Daemon@mx.example>", RD_MAIL_AUTO_MAILER_DAEMON },
    { "Postmaster@example.net", RD_MAIL_AUTO_POSTMASTER },
    { "postmaster", RD_MAIL_AUTO_POSTMASTER },
    { "postmaster-team-lead.x@example.net", RD_MAIL_AUTO_NONE },
    { "noreply@example.net", RD_MAIL_AUTO_NOREPLY },
    { "No_Reply@example.net", RD_MAIL_AUTO_NOREPLY },
    { "do-not-reply@example.net", RD_MAIL_AUTO_NOREPLY },
    { "Do.Not.Reply@example.net", RD_MAIL_AUTO_NOREPLY },
    { "noreply-billing@example.net", RD_MAIL_AUTO_NOREPLY },
    { "\"no-reply\"@example.net", RD_MAIL_AUTO_NOREPLY },
    { "bounces+1234-abc@example.net", RD_MAIL_AUTO_NOREPLY },
    { "bounce@example.net", RD_MAIL_AUTO_NOREPLY },
    { "owner-users@lists.example", RD_MAIL_AUTO_LIST_ADDRESS },
    { "users-request@lists.example", RD_MAIL_AUTO_LIST_ADDRESS },
    { "users-request-x@lists.example", RD_MAIL_AUTO_LIST_ADDRESS },
    { "LISTSERV@lists.example", RD_MAIL_AUTO_LIST_ADDRESS },
    { "majordomo@lists.example", RD_MAIL_AUTO_LIST_ADDRESS },
    { "alice@example.net", RD_MAIL_AUTO_NONE },
    { "noah@example.net", RD_MAIL_AUTO_NONE },
    { "reply@example.net", RD_MAIL_AUTO_NONE },
    { "request@example.net", RD_MAIL_AUTO_NONE },
    { "bouncer@example.net", RD_MAIL_AUTO_NONE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].addr ? cases[i].addr : "(null)");
      g_assert_cmpint (rd_mail_auto_address (cases[i].addr), ==, cases[i].want);
    }
  g_assert_cmpstr (rd_mail_auto_name (RD_MAIL_AUTO_NULL_SENDER), ==, "null-sender");
  g_assert_cmpstr (rd_mail_auto_name (RD_MAIL_AUTO_NOREPLY | RD_MAIL_AUTO_LIST), ==, "mailing-list");
  g_assert_cmpstr (rd_mail_auto_name (RD_MAIL_AUTO_NOREPLY), ==, "noreply-address");
  g_assert_null (rd_mail_auto_name (RD_MAIL_AUTO_NONE));
  g_assert_cmpint (RD_MAIL_AUTO_ADDRESS_BITS & RD_MAIL_AUTO_SUBMITTED, ==, 0);
}

static void
test_auto_message (void)
{
  static const struct {
    const char *headers;
    const char *sender;   /* NULL: Return-Path */
    RdMailAuto want;
  } cases[] = {
    { "From: a@x.example\n", "a@x.example", RD_MAIL_AUTO_NONE },
    { "From: a@x.example\n", NULL, RD_MAIL_AUTO_NONE },
    { "From: a@x.example\n", "", RD_MAIL_AUTO_NULL_SENDER },
    { "Return-Path: <>\n", NULL, RD_MAIL_AUTO_NULL_SENDER },
    { "Return-Path: <MAILER-DAEMON@mx.example>\n", NULL, RD_MAIL_AUTO_MAILER_DAEMON },
    { "Return-Path: <MAILER-DAEMON@mx.example>\n", "a@x.example", RD_MAIL_AUTO_NONE }, /* the envelope wins */
    { "Auto-Submitted: auto-replied\n", "a@x", RD_MAIL_AUTO_SUBMITTED },
    { "Auto-Submitted: Auto-Generated (daily)\n", "a@x", RD_MAIL_AUTO_SUBMITTED },
    { "Auto-Submitted: no\n", "a@x", RD_MAIL_AUTO_NONE },
    { "Auto-Submitted: No; reason=x\n", "a@x", RD_MAIL_AUTO_NONE },
    { "Auto-Submitted: nobody\n", "a@x", RD_MAIL_AUTO_SUBMITTED },
    { "Precedence: BULK\n", "a@x", RD_MAIL_AUTO_PRECEDENCE },
    { "Precedence: list\n", "a@x", RD_MAIL_AUTO_PRECEDENCE },
    { "Precedence: junk\n", "a@x", RD_MAIL_AUTO_PRECEDENCE },
    { "Precedence: normal\n", "a@x", RD_MAIL_AUTO_NONE },
    { "List-Id: Users <users.lists.example>\n", "a@x", RD_MAIL_AUTO_LIST },
    { "List-Unsubscribe: <mailto:u@x>\n", "a@x", RD_MAIL_AUTO_LIST },
    { "list-post: <mailto:l@x>\n", "a@x", RD_MAIL_AUTO_LIST },
    { "X-Auto-Response-Suppress: All\n", "a@x", RD_MAIL_AUTO_SUPPRESS },
    { "X-Auto-Response-Suppress: DR, OOF, AutoReply\n", "a@x", RD_MAIL_AUTO_SUPPRESS },
    { "X-Auto-Response-Suppress: None\n", "a@x", RD_MAIL_AUTO_NONE },
    { "X-Auto-Response-Suppress: DR, RN, NRN\n", "a@x", RD_MAIL_AUTO_NONE },
    { "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n", "",
      RD_MAIL_AUTO_NULL_SENDER | RD_MAIL_AUTO_REPORT },
    { "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n", "a@x",
      RD_MAIL_AUTO_NONE },
    { "Auto-Submitted: auto-replied\nPrecedence: bulk\nList-Id: <l.x>\n", "owner-l@x",
      RD_MAIL_AUTO_SUBMITTED | RD_MAIL_AUTO_PRECEDENCE | RD_MAIL_AUTO_LIST | RD_MAIL_AUTO_LIST_ADDRESS },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strconcat (cases[i].headers, "Subject: s\n\n--b\n\nx\n--b--\n", NULL);
      g_autoptr(RdMessage) m = parse (text);
      g_test_message ("case %u", i);
      g_assert_cmpint (rd_mail_auto_message (m, cases[i].sender), ==, cases[i].want);
      if (cases[i].sender == NULL)
        g_assert_cmpint (rd_message_is_automated (m), ==, cases[i].want != RD_MAIL_AUTO_NONE);
    }
}

/* ---- CRLF ---------------------------------------------------------------- */

static void
test_crlf (void)
{
  static const char *const cases[][2] = {
    { "a\nb\n", "a\r\nb\r\n" },
    { "a\r\nb", "a\r\nb\r\n" },
    { "a\rb\r", "a\r\nb\r\n" },
    { "a\n\r\n\n", "a\r\n\r\n\r\n" },
    { ".\n..\n", ".\r\n..\r\n" },   /* no dot-stuffing here */
    { "", "" },
    { "x", "x\r\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = rd_mail_text_crlf (cases[i][0]);
      g_assert_cmpstr (out, ==, cases[i][1]);
    }
  g_autofree char *null = rd_mail_text_crlf (NULL);
  g_assert_cmpstr (null, ==, "");
}

/* ---- composing ------------------------------------------------------------ */

/* Every line end of @b is CRLF. */
static void
assert_crlf_only (GBytes *b)
{
  gsize len;
  const char *p = g_bytes_get_data (b, &len);
  for (gsize i = 0; i < len; i++)
    {
      if (p[i] == '\n')
        g_assert_true (i > 0 && p[i - 1] == '\r');
      if (p[i] == '\r')
        g_assert_true (i + 1 < len && p[i + 1] == '\n');
    }
  g_assert_true (len >= 2 && p[len - 2] == '\r' && p[len - 1] == '\n');
}

static void
test_draft_headers (void)
{
  g_autoptr(RdMailDraft) d = rd_mail_draft_new ();
  rd_mail_draft_set_from (d, "Zo\xc3\xab's Desk, Support", "support@desk.example");
  rd_mail_draft_set_reply_to (d, NULL, "reply+t1@desk.example");
  rd_mail_draft_add_to (d, "Alice", "alice@example.net");
  rd_mail_draft_add_cc (d, NULL, "bob@example.net");
  rd_mail_draft_set_subject (d, "Re: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln [RD #7]");
  rd_mail_draft_set_message_id (d, "rd-7-abc@desk.example");
  rd_mail_draft_set_date (d, 1700000000);
  rd_mail_draft_set_in_reply_to (d, "p2@example.net");
  const char *refs[] = { "p1@example.net", "p2@example.net" };
  rd_mail_draft_set_references (d, refs, 2);
  rd_mail_draft_add_header (d, "Auto-Submitted", "auto-replied");
  rd_mail_draft_add_header (d, "X-Auto-Response-Suppress", "All");
  rd_mail_draft_set_text (d, "Hello\nthe second line, with \xc3\xbc.\n.\nend");
  g_autoptr(GBytes) raw = rd_mail_draft_to_bytes (d);
  assert_crlf_only (raw);
  g_autoptr(RdMessage) m = parse_bytes (raw);
  const RdAddress *from = g_ptr_array_index (rd_message_get_from (m), 0);
  g_assert_cmpstr (from->name, ==, "Zo\xc3\xab's Desk, Support");
  g_assert_cmpstr (from->addr, ==, "support@desk.example");
  g_assert_cmpstr (((RdAddress *) g_ptr_array_index (rd_message_get_reply_to (m), 0))->addr, ==,
                   "reply+t1@desk.example");
  g_assert_cmpstr (((RdAddress *) g_ptr_array_index (rd_message_get_to (m), 0))->name, ==, "Alice");
  g_assert_cmpstr (((RdAddress *) g_ptr_array_index (rd_message_get_cc (m), 0))->addr, ==, "bob@example.net");
  g_assert_cmpstr (rd_message_get_subject (m), ==, "Re: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln [RD #7]");
  /* RFC 2047 on the wire: no raw 8-bit byte in the header block */
  gsize len;
  const char *p = g_bytes_get_data (raw, &len);
  gsize hlen = rd_mail_header_length (p, len, NULL);
  for (gsize i = 0; i < hlen; i++)
    g_assert_cmpuint ((guchar) p[i], <, 0x80);
  g_assert_cmpstr (rd_message_get_message_id (m), ==, "rd-7-abc@desk.example");
  gint64 t = 0;
  g_assert_true (rd_message_get_date (m, &t));
  g_assert_cmpint (t, ==, 1700000000);
  g_assert_cmpstr (rd_message_get_in_reply_to (m), ==, "p2@example.net");
  const char *const *r = rd_message_get_references (m);
  g_assert_cmpstr (r[0], ==, "p1@example.net");
  g_assert_cmpstr (r[1], ==, "p2@example.net");
  g_assert_null (r[2]);
  g_assert_cmpstr (rd_message_get_auto_submitted (m), ==, "auto-replied");
  g_assert_cmpstr (rd_message_get_x_auto_response_suppress (m), ==, "All");
  g_assert_cmpstr (rd_message_get_body_text (m), ==, "Hello\nthe second line, with \xc3\xbc.\n.\nend");
  g_assert_cmpstr (rd_message_get_body_charset (m), ==, "utf-8");
  g_assert_true (rd_message_is_automated (m));
}

static void
test_draft_threading (void)
{
  /* References: the parent's plus its id; capped with the oldest dropped */
  GString *s = g_string_new ("Message-ID: <parent@example.net>\r\nReferences:");
  for (int i = 0; i < 100; i++)
    g_string_append_printf (s, " <ref-%03d-0123456789@example.net>", i);
  g_string_append (s, "\r\nSubject: p\r\n\r\nbody\r\n");
  g_autoptr(RdMessage) parent = parse (s->str);
  g_string_free (s, TRUE);
  g_autoptr(RdMailDraft) d = rd_mail_draft_new ();
  rd_mail_draft_set_from (d, NULL, "a@desk.example");
  rd_mail_draft_set_parent (d, parent);
  rd_mail_draft_set_text (d, "x");
  g_autoptr(GBytes) raw = rd_mail_draft_to_bytes (d);
  g_autoptr(RdMessage) m = parse_bytes (raw);
  g_assert_cmpstr (rd_message_get_in_reply_to (m), ==, "parent@example.net");
  const char *const *r = rd_message_get_references (m);
  guint n = g_strv_length ((char **) r);
  g_assert_cmpuint (n, >, 10);
  g_assert_cmpstr (r[n - 1], ==, "parent@example.net");
  g_assert_cmpstr (r[n - 2], ==, "ref-099-0123456789@example.net");
  g_assert_cmpstr (r[0], !=, "ref-000-0123456789@example.net");
  g_autofree char *field = rd_mail_header_get (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), "References");
  g_assert_cmpuint (strlen (field), <=, RD_MAIL_REFERENCES_MAX);
  /* a parent with In-Reply-To only */
  g_autoptr(RdMessage) p2 = parse ("Message-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\n\r\nx\r\n");
  g_autoptr(RdMailDraft) d2 = rd_mail_draft_new ();
  rd_mail_draft_set_parent (d2, p2);
  g_autoptr(GBytes) raw2 = rd_mail_draft_to_bytes (d2);
  g_autoptr(RdMessage) m2 = parse_bytes (raw2);
  r = rd_message_get_references (m2);
  g_assert_cmpstr (r[0], ==, "b@x");
  g_assert_cmpstr (r[1], ==, "c@x");
}

static void
test_draft_no_injection (void)
{
  g_autoptr(RdMailDraft) d = rd_mail_draft_new ();
  rd_mail_draft_set_from (d, "Evil\r\nBcc: x1@evil.example", "a@desk.example\r\nBcc: x2@evil.example");
  rd_mail_draft_add_to (d, NULL, "b@example.net\nBcc: x3@evil.example");
  rd_mail_draft_set_subject (d, "hi\r\nBcc: x4@evil.example\r\n\r\nbody injected");
  rd_mail_draft_set_message_id (d, "id@x\r\nBcc: x5@evil.example");
  rd_mail_draft_add_header (d, "X-Note", "n\rBcc: x6@evil.example\n\tmore");
  rd_mail_draft_set_text (d, "text");
  g_autoptr(GBytes) raw = rd_mail_draft_to_bytes (d);
  assert_crlf_only (raw);
  g_autoptr(RdMessage) m = parse_bytes (raw);
  g_assert_null (rd_message_get_header (m, "Bcc"));
  GPtrArray *h = rd_message_get_headers (m);
  for (guint i = 0; i < h->len; i++)
    g_assert_cmpstr (((RdHeader *) g_ptr_array_index (h, i))->name, !=, "Bcc");
  g_assert_cmpstr (rd_message_get_body_text (m), ==, "text");
  /* no line of the header block starts with "Bcc" */
  gsize len;
  const char *p = g_bytes_get_data (raw, &len);
  gsize pos = 0;
  RdMailField f;
  while (rd_mail_header_next (p, len, &pos, &f))
    g_assert_false (rd_mail_field_is (&f, "Bcc"));
  g_assert_nonnull (strstr (rd_message_get_subject (m), "body injected"));
  if (g_test_undefined ())
    {
      g_test_expect_message ("relaydesk", G_LOG_LEVEL_CRITICAL, "*is_field_name*");
      rd_mail_draft_add_header (d, "Bad\r\nName", "x");
      g_test_assert_expected_messages ();
    }
}

static void
test_draft_attachments (void)
{
  guint8 bin[4096];
  for (guint i = 0; i < sizeof bin; i++)
    bin[i] = (guint8) (i * 7 + (i >> 8)); /* every byte value, CR and LF among them */
  g_autoptr(GBytes) b1 = g_bytes_new (bin, sizeof bin);
  g_autoptr(GBytes) b2 = g_bytes_new ("line one\nline two\r\nno end", 26);
  g_autoptr(GBytes) b3 = g_bytes_new (NULL, 0);
  g_autoptr(RdMailDraft) d = rd_mail_draft_new ();
  rd_mail_draft_set_from (d, NULL, "a@desk.example");
  rd_mail_draft_set_text (d, "see attached");
  rd_mail_draft_add_attachment (d, "data.bin", "application/octet-stream", b1);
  rd_mail_draft_add_attachment (d, "r\xc3\xa9sum\xc3\xa9 \"final\".txt", "text/plain", b2);
  rd_mail_draft_add_attachment (d, NULL, "not a type", b3);
  g_autoptr(GBytes) raw = rd_mail_draft_to_bytes (d);
  assert_crlf_only (raw);
  g_autoptr(RdMessage) m = parse_bytes (raw);
  g_assert_cmpstr (rd_message_get_body_text (m), ==, "see attached");
  GPtrArray *a = rd_message_get_attachments (m);
  g_assert_cmpuint (a->len, ==, 3);
  GBytes *want[] = { b1, b2, b3 };
  const char *names[] = { "data.bin", "r\xc3\xa9sum\xc3\xa9 \"final\".txt", NULL };
  const char *types[] = { "application/octet-stream", "text/plain", "application/octet-stream" };
  for (guint i = 0; i < 3; i++)
    {
      const RdAttachment *x = g_ptr_array_index (a, i);
      g_autofree char *sha = sha256_hex (want[i]);
      g_assert_cmpstr (x->sha256, ==, sha);
      g_assert_cmpint (x->size, ==, (gint64) g_bytes_get_size (want[i]));
      g_assert_cmpstr (x->filename, ==, names[i]);
      g_assert_cmpstr (x->content_type, ==, types[i]);
      g_assert_cmpstr (x->disposition, ==, "attachment");
    }
}

static void
test_draft_mdn (void)
{
  const char *orig = "From: carl@example.com\r\nTo: support@desk.example\r\nSubject: hi\r\n"
                     "Message-ID: <o@example.com>\r\n\r\nthe body is not returned\r\n";
  g_autoptr(GBytes) ob = g_bytes_new_static (orig, strlen (orig));
  g_autoptr(RdMailDraft) d = rd_mail_draft_new ();
  rd_mail_draft_set_from (d, NULL, "MAILER-DAEMON@desk.example");
  rd_mail_draft_add_to (d, NULL, "carl@example.com");
  rd_mail_draft_set_subject (d, "Rejected: hi");
  rd_mail_draft_add_header (d, "Auto-Submitted", "auto-replied (rejected)");
  rd_mail_draft_set_text (d, "Your message to <support@desk.example> was rejected:\n\nNo thanks.");
  RdMailMdn mdn = {
    .reporting_ua = "desk.example; relaydesk",
    .final_recipient = "support@desk.example",
    .original_message_id = "o@example.com",
    .disposition = "automatic-action/MDN-sent-automatically; deleted",
    .original = ob,
  };
  rd_mail_draft_set_mdn (d, &mdn);
  g_autoptr(GBytes) raw = rd_mail_draft_to_bytes (d);
  assert_crlf_only (raw);
  g_autoptr(RdMessage) m = parse_bytes (raw);
  g_autofree char *ct = rd_mail_header_get (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), "Content-Type");
  g_assert_true (g_str_has_prefix (ct, "multipart/report;"));
  g_assert_nonnull (strstr (ct, "report-type=disposition-notification"));
  g_assert_cmpstr (rd_message_get_body_text (m), ==, "Your message to <support@desk.example> was rejected:\n\nNo thanks.");
  GPtrArray *a = rd_message_get_attachments (m);
  g_assert_cmpuint (a->len, ==, 2);
  const RdAttachment *fields = g_ptr_array_index (a, 0);
  g_assert_cmpstr (fields->content_type, ==, "message/disposition-notification");
  g_assert_nonnull (fields->content);
  g_autofree char *ftext = g_strndup (g_bytes_get_data (fields->content, NULL), g_bytes_get_size (fields->content));
  g_assert_nonnull (strstr (ftext, "Reporting-UA: desk.example; relaydesk\r\n"));
  g_assert_nonnull (strstr (ftext, "Final-Recipient: rfc822; support@desk.example\r\n"));
  g_assert_nonnull (strstr (ftext, "Original-Message-ID: <o@example.com>\r\n"));
  g_assert_nonnull (strstr (ftext, "Disposition: automatic-action/MDN-sent-automatically; deleted\r\n"));
  const RdAttachment *hdrs = g_ptr_array_index (a, 1);
  g_assert_cmpstr (hdrs->content_type, ==, "text/rfc822-headers");
  g_autofree char *htext = g_strndup (g_bytes_get_data (hdrs->content, NULL), g_bytes_get_size (hdrs->content));
  g_assert_nonnull (strstr (htext, "Message-ID: <o@example.com>"));
  g_assert_null (strstr (htext, "not returned"));
  g_assert_cmpstr (rd_message_get_dsn_original_message_id (m), ==, "o@example.com");

  /* a header block over the cap is cut at a field boundary */
  GString *big = g_string_new (NULL);
  while (big->len < RD_MAIL_MDN_HEADERS_MAX + 1000)
    g_string_append_printf (big, "X-Filler-%05u: %s\r\n", (guint) big->len, "abcdefghijklmnopqrstuvwxyz0123456789");
  g_string_append (big, "\r\nbody\r\n");
  g_autoptr(GBytes) bigb = g_string_free_to_bytes (big);
  mdn.original = bigb;
  rd_mail_draft_set_mdn (d, &mdn);
  g_autoptr(GBytes) raw2 = rd_mail_draft_to_bytes (d);
  g_autoptr(RdMessage) m2 = parse_bytes (raw2);
  const RdAttachment *h2 = g_ptr_array_index (rd_message_get_attachments (m2), 1);
  gsize hl = g_bytes_get_size (h2->content);
  g_assert_cmpuint (hl, <=, RD_MAIL_MDN_HEADERS_MAX);
  g_assert_cmpuint (hl, >, RD_MAIL_MDN_HEADERS_MAX - 100);
  g_assert_cmpint (((const char *) g_bytes_get_data (h2->content, NULL))[hl - 1], ==, '\n');
}

static void
test_draft_mime_entity (void)
{
  /* RFC 5230 4.4: the reason is a MIME entity, its header included */
  g_autoptr(RdMailDraft) d = rd_mail_draft_new ();
  rd_mail_draft_set_from (d, NULL, "a@desk.example");
  rd_mail_draft_set_mime_entity (d, "Content-Type: multipart/alternative; boundary=alt\n\n"
                                    "--alt\nContent-Type: text/plain; charset=utf-8\n\nGr\xc3\xbc\xc3\x9f" "e\n"
                                    "--alt\nContent-Type: text/html; charset=utf-8\n\n<p>Hi</p>\n--alt--\n");
  g_autoptr(GBytes) raw = rd_mail_draft_to_bytes (d);
  assert_crlf_only (raw);
  g_autoptr(RdMessage) m = parse_bytes (raw);
  g_assert_cmpstr (rd_message_get_body_text (m), ==, "Gr\xc3\xbc\xc3\x9f" "e");
  g_autofree char *ct = rd_mail_header_get (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), "Content-Type");
  g_assert_true (g_str_has_prefix (ct, "multipart/alternative"));
  g_autofree char *mv = rd_mail_header_get (g_bytes_get_data (raw, NULL), g_bytes_get_size (raw), "MIME-Version");
  g_assert_cmpstr (mv, ==, "1.0");
  /* no header at the start: the text is the body */
  g_autoptr(RdMailDraft) t = rd_mail_draft_new ();
  rd_mail_draft_set_mime_entity (t, "Just text: with a colon\n");
  g_autoptr(GBytes) raw2 = rd_mail_draft_to_bytes (t);
  g_autoptr(RdMessage) m2 = parse_bytes (raw2);
  g_assert_cmpstr (rd_message_get_body_text (m2), ==, "Just text: with a colon");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_parser_init ();
  g_test_add_func ("/mail-format/header-length", test_header_length);
  g_test_add_func ("/mail-format/header-fields", test_header_fields);
  g_test_add_func ("/mail-format/address-lists", test_address_lists);
  g_test_add_func ("/mail-format/auto-address", test_auto_address);
  g_test_add_func ("/mail-format/auto-message", test_auto_message);
  g_test_add_func ("/mail-format/crlf", test_crlf);
  g_test_add_func ("/mail-format/draft-headers", test_draft_headers);
  g_test_add_func ("/mail-format/draft-threading", test_draft_threading);
  g_test_add_func ("/mail-format/draft-no-injection", test_draft_no_injection);
  g_test_add_func ("/mail-format/draft-attachments", test_draft_attachments);
  g_test_add_func ("/mail-format/draft-mdn", test_draft_mdn);
  g_test_add_func ("/mail-format/draft-mime-entity", test_draft_mime_entity);
  return g_test_run ();
}
