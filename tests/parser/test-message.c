/* relaydesk — tests for parser/: the message view, one behaviour per case. */
#include "message.h"
#include "rd-common.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static RdMessage *
parse (const char *text)
{
  g_autoptr(GBytes) raw = g_bytes_new (text, strlen (text));
  g_autoptr(GError) error = NULL;
  RdMessage *m = rd_message_parse (raw, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  return m;
}

static const RdAddress *
addr (GPtrArray *list, guint i)
{
  g_assert_cmpuint (list->len, >, i);
  return g_ptr_array_index (list, i);
}

static void
test_headers (void)
{
  g_autoptr(RdMessage) m = parse (
      "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>\n"
      "To: undisclosed-recipients:;, Team: a@x.example, \"B, Bee\" <b@x.example>;, c@x.example (Cee)\n"
      "Cc: \"J\xc3\xbcrgen\" <j@x.example>, <>\n"
      "Subject: =?utf-8?B?SGVsbG8g?=\n =?utf-8?B?d29ybGQ=?= and\n more\n"
      "Date: Tue, 1 Jul 2003 10:52:37 +0200\n"
      "Message-ID: < abc@def >\n"
      "In-Reply-To: <x@y> <z@w>\n"
      "References: <1@a>\n <2@b> <3@c>\n"
      "\n"
      "body\n");
  g_assert_cmpstr (rd_message_get_subject (m), ==, "Hello world and more");
  g_assert_cmpstr (addr (rd_message_get_from (m), 0)->name, ==, "Andr\xc3\xa9 Pirard");
  g_assert_cmpstr (addr (rd_message_get_from (m), 0)->addr, ==, "PIRARD@vm1.ulg.ac.be");
  GPtrArray *to = rd_message_get_to (m);
  g_assert_cmpuint (to->len, ==, 3);
  g_assert_cmpstr (addr (to, 0)->addr, ==, "a@x.example");
  g_assert_cmpstr (addr (to, 1)->name, ==, "B, Bee");
  g_assert_cmpstr (addr (to, 2)->addr, ==, "c@x.example");
  g_assert_cmpstr (addr (to, 2)->name, ==, ""); /* a comment is not a name */
  g_assert_cmpstr (addr (rd_message_get_cc (m), 0)->name, ==, "J\xc3\xbcrgen"); /* RFC 6532 */
  g_assert_cmpstr (addr (rd_message_get_cc (m), 1)->addr, ==, "<>");
  gint64 t = 0;
  g_assert_true (rd_message_get_date (m, &t));
  g_assert_cmpint (t, ==, 1057049557);
  g_assert_cmpstr (rd_message_get_message_id (m), ==, "abc@def");
  g_assert_cmpstr (rd_message_get_in_reply_to (m), ==, "x@y");
  const char *const *refs = rd_message_get_references (m);
  g_assert_cmpstr (refs[0], ==, "1@a");
  g_assert_cmpstr (refs[2], ==, "3@c");
  g_assert_null (refs[3]);
}

static void
test_dates (void)
{
  static const struct { const char *date; gint64 t; gboolean ok; } cases[] = {
    { "Thu, 01 Jan 1970 00:00:00 -0000", 0, TRUE },
    { "1 Jan 70 01:00 +0100", 0, TRUE },
    { "Thu, 1 Jan 1970 00:00:00 EST", 18000, TRUE },
    { "Thursday, 01-Jan-70 00:00:00 GMT", 0, TRUE },
    { "Jan 1 1970 00:00:00", 0, TRUE },
    { "not a date", 0, FALSE },
    { "31 Feb 2020 10:00:00 +0000", 0, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("From: a@b\nDate: %s\n\nx\n", cases[i].date);
      g_autoptr(RdMessage) m = parse (text);
      gint64 t = -1;
      g_assert_cmpint (rd_message_get_date (m, &t), ==, cases[i].ok);
      if (cases[i].ok)
        g_assert_cmpint (t, ==, cases[i].t);
    }
}

static void
test_framing (void)
{
  /* BOM, mbox "From " line, CR-only line ends */
  g_autoptr(RdMessage) crlf = parse ("Subject: x\r\n\r\na  \r\n\r\nb\t\r\n\r\n\r\n");
  g_assert_cmpstr (rd_message_get_body_text (crlf), ==, "a\n\nb");
  g_autoptr(RdMessage) m = parse ("\xef\xbb\xbf" "From someone Thu Jan  1 00:00:00 1970\r"
                                  "Subject: old mac\rFrom: a@b\r\rline one\rline two\r");
  g_assert_cmpstr (rd_message_get_subject (m), ==, "old mac");
  g_assert_cmpstr (rd_message_get_body_text (m), ==, "line one\nline two");
  g_assert_cmpuint (rd_message_get_headers (m)->len, ==, 2);
}

static void
test_body_choice (void)
{
  g_autoptr(RdMessage) m = parse (
      "Content-Type: multipart/mixed; boundary=X\n\n"
      "--X\nContent-Type: multipart/alternative; boundary=Y\n\n"
      "--Y\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
      "caf=E9 \n\n"
      "--Y\nContent-Type: text/html\n\n<p>caf&eacute;</p>\n"
      "--Y--\n"
      "--X\nContent-Type: application/pdf; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\n"
      "Content-Disposition: attachment\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n"
      "--X\nContent-Type: image/png\nContent-Disposition: inline;\n filename*=utf-8''%E2%82%AC.png\n"
      "Content-ID: <img1@x>\nContent-Transfer-Encoding: base64\n\niVBORw\n"
      "--X\nContent-Type: message/rfc822\n\nSubject: inner\nFrom: c@d\n\ninner body\n"
      "--X--\n");
  g_assert_cmpstr (rd_message_get_body_source (m), ==, "plain");
  g_assert_cmpstr (rd_message_get_body_text (m), ==, "caf\xc3\xa9");
  GPtrArray *atts = rd_message_get_attachments (m);
  g_assert_cmpuint (atts->len, ==, 3);
  RdAttachment *a = g_ptr_array_index (atts, 0);
  g_assert_cmpstr (a->filename, ==, "r\xc3\xa9sum\xc3\xa9.pdf");
  g_assert_cmpstr (a->content_type, ==, "application/pdf");
  g_assert_cmpint (a->size, ==, 9);
  g_assert_cmpstr (a->disposition, ==, "attachment");
  a = g_ptr_array_index (atts, 1);
  g_assert_cmpstr (a->filename, ==, "\xe2\x82\xac.png");
  g_assert_cmpstr (a->content_id, ==, "img1@x");
  g_assert_cmpint (a->size, ==, 4); /* unpadded base64: last quantum kept */
  a = g_ptr_array_index (atts, 2);
  g_assert_cmpstr (a->content_type, ==, "message/rfc822");
  g_assert_cmpint (a->size, ==, -1);
  g_assert_cmpstr (a->embedded_subject, ==, "inner");
}

static void
test_html (void)
{
  g_autoptr(RdMessage) m = parse (
      "Content-Type: text/html; charset=windows-1252\n\n"
      "<html><head><title>T</title><style>p{}</style></head><body>"
      "<p>Hello\n  <a href=\"http://x\">link</a>&nbsp;text</p><script>evil()</script>"
      "<div>line \x93two\x94</div><br>three<!-- hidden --></body></html>\n");
  g_assert_cmpstr (rd_message_get_body_source (m), ==, "html");
  g_assert_cmpstr (rd_message_get_body_text (m), ==, "Hello link text\n\nline \xe2\x80\x9ctwo\xe2\x80\x9d\n\nthree");

  /* stray "&" and "<?" (rewritten before libxml2 sees them) */
  g_autoptr(RdMessage) m2 = parse ("Content-Type: text/html\n\n<p>Tom & Jerry &amp; 5&6 &#65;<?<> &</p><?php x ?>\n");
  g_assert_cmpstr (rd_message_get_body_text (m2), ==, "Tom & Jerry & 5&6 A<> &");
}

static void
test_charsets (void)
{
  static const struct { const char *cs; const char *body; const char *want; } cases[] = {
    { "koi8-r", "\xf0\xd2\xc9\xd7\xc5\xd4", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82" },
    { "iso8859-1", "caf\xe9", "caf\xc3\xa9" },            /* misspelled */
    { "fakescii", "caf\xc3\xa9", "caf\xc3\xa9" },          /* unknown, valid UTF-8 */
    { "invalid-charset", "caf\xe9", "caf\xc3\xa9" },       /* unknown, windows-1252 */
    { "us-ascii", "caf\xe9", "caf\xc3\xa9" },              /* 8-bit in ASCII */
    { "utf-8", "a\xffz", "a\xef\xbf\xbdz" },
    { "iso-2022-jp", "\x1b$B$3$s\x1b(B", "\xe3\x81\x93\xe3\x82\x93" },
    { "ks_c_5601-1987", "\xc7\xd1", "\xed\x95\x9c" },
    { "unicode-1-1-utf-7", "+AOk-", "\xc3\xa9" },
    { "\"charset=us-ascii\"", "plain", "plain" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("Content-Type: text/plain; charset=%s\n\n%s\n", cases[i].cs, cases[i].body);
      g_autoptr(RdMessage) m = parse (text);
      g_assert_cmpstr (rd_message_get_body_text (m), ==, cases[i].want);
    }
}

static void
test_quotes (void)
{
  static const struct { const char *body; const char *new_text; } cases[] = {
    { "Thanks!\n\nOn Mon, 1 Jan 2024 at 10:00, Ann <a@b> wrote:\n> question\n", "Thanks!\n\n" },
    { "Yes.\nOn Mon, Jan 1, 2024 at 10:00 AM Ann Example <\na@b> wrote:\n> q\n", "Yes.\n" },
    { "Fine\n\n-----Original Message-----\nFrom: x\n", "Fine\n\n" },
    { "Ok\n________________________________\nFrom: Ann\nSent: Monday\nTo: me\n", "Ok\n" },
    { "Ok\n\nFrom: Ann <a@b>\nSent: Monday\nSubject: q\n", "Ok\n\n" },
    { "See below\n\n-------- Original Message --------\nSubject: q\n", "See below\n\n" },
    { "FYI\n\nBegin forwarded message:\n\nFrom: x\n", "FYI\n\n" },
    { "top\n> quoted\nmore\n", "top\n" },
    { "> only quote\nreply below\n", "> only quote\nreply below" },
    { "no quote at all\n", "no quote at all" },
    /* Localized client strings: Gmail (G), Outlook (O), Apple Mail (A),
     * Thunderbird (T). */
    /* es */
    { "Gracias\n\nEl lun, 1 ene 2024 a las 10:00, Ana (<a@b.es>) escribió:\n> hola\n", "Gracias\n\n" }, /* G */
    { "Gracias\n\nEl 1 ene 2024, a las 10:00, Ana <a@b.es> escribió:\n\n> hola\n", "Gracias\n\n" },   /* A */
    { "Listo\n\n-----Mensaje original-----\nDe: Ana\nEnviado: lunes\n", "Listo\n\n" },                 /* O */
    { "Listo\n\nDe: Ana <a@b.es>\nEnviado: lunes, 1 de enero de 2024 10:00\nPara: yo\n", "Listo\n\n" }, /* O */
    { "Mira\n\n---------- Mensaje reenviado ---------\nDe: Ana\n", "Mira\n\n" },                       /* G */
    { "Mira\n\nInicio del mensaje reenviado:\n\nDe: Ana\n", "Mira\n\n" },                               /* A */
    /* pt */
    { "Obrigado\n\nEm seg., 1 de jan. de 2024 às 10:00, Ana <a@b.pt> escreveu:\n> oi\n", "Obrigado\n\n" }, /* G */
    { "Ok\n\nDe: Ana <a@b.pt>\nEnviada em: segunda-feira, 1 de janeiro de 2024 10:00\n", "Ok\n\n" },     /* O */
    { "Veja\n\n-------- Mensagem encaminhada --------\nAssunto: x\n", "Veja\n\n" },                        /* T */
    { "Veja\n\nInício da mensagem reencaminhada:\n\nDe: Ana\n", "Veja\n\n" },                               /* A */
    /* it */
    { "Grazie\n\nIl giorno lun 1 gen 2024 alle ore 10:00 Anna <a@b.it> ha scritto:\n> ciao\n", "Grazie\n\n" }, /* G */
    { "Ok\n\nDa: Anna <a@b.it>\nInviato: lunedì 1 gennaio 2024 10:00\n", "Ok\n\n" },                          /* O */
    { "Vedi\n\n---------- Messaggio inoltrato ---------\nDa: Anna\n", "Vedi\n\n" },                              /* G */
    { "Vedi\n\n-----Messaggio originale-----\nDa: Anna\n", "Vedi\n\n" },                                        /* O */
    /* nl */
    { "Dank\n\nOp ma 1 jan. 2024 om 10:00 schreef Anna <a@b.nl>:\n> hoi\n", "Dank\n\n" },                   /* G */
    { "Dank\n\nOp 01-01-2024 om 10:00 schreef Anna:\n> hoi\n", "Dank\n\n" },                                /* T */
    { "Ok\n\nVan: Anna <a@b.nl>\nVerzonden: maandag 1 januari 2024 10:00\n", "Ok\n\n" },                      /* O */
    { "Zie\n\n---------- Doorgestuurd bericht ---------\nVan: Anna\n", "Zie\n\n" },                             /* G */
    /* ru */
    { "Спасибо\n\nпн, 1 янв. 2024 г. в 10:00, Анна <a@b.ru>:\n> привет\n", "Спасибо\n\n" },                /* G */
    { "Спасибо\n\n01.01.2024 10:00, Анна пишет:\n> привет\n", "Спасибо\n\n" },                               /* T */
    { "Спасибо\n\n1 янв. 2024 г., в 10:00, Анна <a@b.ru> написал(а):\n\n", "Спасибо\n\n" },                  /* A */
    { "Да\n\nОт: Анна <a@b.ru>\nОтправлено: 1 января 2024 г. 10:00\n", "Да\n\n" },                            /* O */
    { "См.\n\n---------- Пересылаемое сообщение ---------\nОт: Анна\n", "См.\n\n" },                           /* G */
    { "См.\n\n-----Исходное сообщение-----\nОт: Анна\n", "См.\n\n" },                                         /* O */
    /* pl */
    { "Dzięki\n\nW dniu pon., 1 sty 2024 o 10:00 Anna <a@b.pl> napisał(a):\n> cześć\n", "Dzięki\n\n" },   /* G */
    { "Dzięki\n\nW dniu 01.01.2024 o 10:00, Anna pisze:\n> cześć\n", "Dzięki\n\n" },                         /* T */
    { "Ok\n\nOd: Anna <a@b.pl>\nWysłane: poniedziałek, 1 stycznia 2024 10:00\n", "Ok\n\n" },                  /* O */
    { "Zobacz\n\n---------- Przekazana wiadomość ---------\nOd: Anna\n", "Zobacz\n\n" },                       /* G */
    /* zh */
    { "谢谢\n\nAnna <a@b.cn> 于2024年1月1日周一 10:00写道：\n> 你好\n", "谢谢\n\n" },                             /* G */
    { "好的\n\n发件人: Anna <a@b.cn>\n发送时间: 2024年1月1日 10:00\n", "好的\n\n" },                              /* O */
    { "好的\n\n发件人：Anna <a@b.cn>\n日期：2024年1月1日 10:00\n", "好的\n\n" },                                  /* O web */
    { "请看\n\n---------- 转发的邮件 ---------\n发件人: Anna\n", "请看\n\n" },                                   /* G */
    { "请看\n\n-----原始邮件-----\n发件人: Anna\n", "请看\n\n" },                                               /* O */
    /* ja */
    { "了解です\n\n2024年1月1日(月) 10:00 Anna <a@b.jp>:\n> こんにちは\n", "了解です\n\n" },                      /* G */
    { "了解です\n\n2024/01/01 10:00、Anna <a@b.jp>のメール:\n\n> こんにちは\n", "了解です\n\n" },               /* A */
    { "了解です\n\n差出人: Anna <a@b.jp>\n送信日時: 2024年1月1日 10:00\n", "了解です\n\n" },                       /* O */
    { "ご覧ください\n\n---------- 転送されたメッセージ ---------\n差出人: Anna\n", "ご覧ください\n\n" },          /* G */
    { "ご覧ください\n\n-------- 転送メッセージ --------\n件名: x\n", "ご覧ください\n\n" },                       /* T */
    /* hi */
    { "धन्यवाद\n\nसोम, 1 जन॰ 2024 को 10:00 am बजे Anna <a@b.in> ने लिखा:\n> नमस्ते\n", "धन्यवाद\n\n" },       /* G */
    { "ठीक है\n\nप्रेषक: Anna <a@b.in>\nभेजा गया: सोमवार, 1 जनवरी 2024 10:00\n", "ठीक है\n\n" },                 /* O */
    { "देखें\n\n---------- अग्रेषित संदेश ---------\nप्रेषक: Anna\n", "देखें\n\n" },                             /* G */
    /* not markers: a sentence ending in a localized word, a time without a year */
    { "Ana escribió:\nmore text\n", "Ana escribió:\nmore text" },
    { "Reunión a las 10:00 con Ana <a@b.es>:\ntexto\n", "Reunión a las 10:00 con Ana <a@b.es>:\ntexto" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("From: a@b\n\n%s", cases[i].body);
      g_autoptr(RdMessage) m = parse (text);
      const char *full = rd_message_get_body_text (m);
      g_assert_cmpstr (rd_message_get_body_new_text (m), ==, cases[i].new_text);
      g_autofree char *joined = g_strconcat (rd_message_get_body_new_text (m), rd_message_get_body_quoted (m), NULL);
      g_assert_cmpstr (joined, ==, full);
    }
}

static void
test_automation (void)
{
  g_autoptr(RdMessage) m = parse (
      "From: MAILER-DAEMON@x.example (Mail Delivery System)\n"
      "Auto-Submitted:  Auto-Replied \nPrecedence: BULK\n"
      "List-Id: Some list <list.example.org>\nList-Unsubscribe: <mailto:u@x>\n"
      "X-Auto-Response-Suppress: All\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
      "--B\nContent-Type: text/plain\n\nFailed.\n"
      "--B\nContent-Type: message/delivery-status\n\n"
      "Reporting-MTA: dns; mx.example\n\n"
      "Final-Recipient: rfc822; gone@y.example\nAction: failed\nStatus: 5.1.1 (user unknown)\n"
      "Diagnostic-Code: smtp; 550 5.1.1 no such\n user\n\n"
      "Final-Recipient: rfc822;<full@y.example>\nAction: delayed\nStatus: 4.2.2\n\n"
      "--B\nContent-Type: text/rfc822-headers\n\nMessage-ID: <orig@z.example>\nSubject: hi\n\n"
      "--B--\n");
  g_assert_cmpstr (rd_message_get_auto_submitted (m), ==, "auto-replied");
  g_assert_cmpstr (rd_message_get_precedence (m), ==, "bulk");
  g_assert_cmpstr (rd_message_get_list_id (m), ==, "list.example.org");
  g_assert_cmpstr (rd_message_get_list_unsubscribe (m), ==, "<mailto:u@x>");
  g_assert_cmpstr (rd_message_get_x_auto_response_suppress (m), ==, "All");
  g_assert_true (rd_message_is_bounce (m));
  g_assert_true (rd_message_is_automated (m));
  g_assert_cmpstr (rd_message_get_dsn_original_message_id (m), ==, "orig@z.example");
  GPtrArray *r = rd_message_get_dsn_recipients (m);
  g_assert_cmpuint (r->len, ==, 2);
  RdDsnRecipient *d = g_ptr_array_index (r, 0);
  g_assert_cmpstr (d->addr, ==, "gone@y.example");
  g_assert_cmpstr (d->action, ==, "failed");
  g_assert_cmpstr (d->status, ==, "5.1.1");
  g_assert_cmpstr (d->diagnostic, ==, "550 5.1.1 no such user");
  d = g_ptr_array_index (r, 1);
  g_assert_cmpstr (d->addr, ==, "full@y.example");
  g_assert_cmpstr (d->status, ==, "4.2.2");

  /* no per-message block, blank lines first (seen from real MTAs) */
  g_autoptr(RdMessage) m2 = parse (
      "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
      "--B\nContent-Type: message/delivery-status\n\n\n"
      "Action: failed\nFinal-Recipient: rfc822;k@n.example\nStatus: 5.0.0\n\n\n--B--\n");
  r = rd_message_get_dsn_recipients (m2);
  g_assert_cmpuint (r->len, ==, 1);
  d = g_ptr_array_index (r, 0);
  g_assert_cmpstr (d->addr, ==, "k@n.example");
  g_assert_cmpstr (d->status, ==, "5.0.0");
}

static const RdAttachment *
attachment (RdMessage *m, guint i)
{
  GPtrArray *atts = rd_message_get_attachments (m);
  g_assert_cmpuint (atts->len, >, i);
  return g_ptr_array_index (atts, i);
}

static void
assert_bytes (GBytes *b, const char *want)
{
  g_assert_nonnull (b);
  g_autofree char *got = g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  g_assert_cmpstr (got, ==, want);
}

/* The desk stores what the view lists, bytes included (formerly
 * desk/mime-extras.c read them with a second GMime walk). */
static void
test_attachment_bytes (void)
{
  g_autoptr(RdMessage) m = parse (
      "From: a@b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n"
      "--m\r\nContent-Type: multipart/alternative; boundary=n\r\n\r\n"
      "--n\r\nContent-Type: text/plain\r\n\r\nhello\r\n--n\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--n--\r\n"
      "--m\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
      "Content-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "AAECAw==\r\n"
      "--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n\r\nnotes\r\n"
      "--m\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: inner\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
      "--i\r\nContent-Type: text/plain\r\n\r\ninner body\r\n\r\n--i--\r\nepilogue\r\n"
      "--m \r\nContent-Type: message/rfc822\r\n\r\nSubject: second\r\n\r\nlast\r\n"
      "--m--\r\n");
  g_assert_cmpuint (rd_message_get_attachments (m)->len, ==, 4);
  const RdAttachment *bin = attachment (m, 0);
  g_assert_cmpstr (bin->filename, ==, "data.bin");
  g_assert_cmpuint (g_bytes_get_size (bin->content), ==, 4);
  g_assert_cmpint (memcmp (g_bytes_get_data (bin->content, NULL), "\0\1\2\3", 4), ==, 0);
  g_assert_cmpstr (attachment (m, 1)->filename, ==, "notes.txt");
  assert_bytes (attachment (m, 1)->content, "notes");
  /* attached messages as written, the line end before the delimiter
   * excluded (RFC 2046 5.1.1); the inner multipart's own delimiters and
   * epilogue are part of it; size and hash stay unset (the contract) */
  const RdAttachment *inner = attachment (m, 2);
  g_assert_cmpstr (inner->content_type, ==, "message/rfc822");
  g_assert_cmpstr (inner->embedded_subject, ==, "inner");
  g_assert_cmpint (inner->size, ==, -1);
  g_assert_null (inner->sha256);
  assert_bytes (inner->content, "Subject: inner\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
                                "--i\r\nContent-Type: text/plain\r\n\r\ninner body\r\n\r\n--i--\r\nepilogue");
  assert_bytes (attachment (m, 3)->content, "Subject: second\r\n\r\nlast");

  /* a message that is one attached message; LF line ends */
  g_autoptr(RdMessage) top = parse ("From: a@b\nContent-Type: message/rfc822\n\nSubject: fwd\n\nbody\n");
  assert_bytes (attachment (top, 0)->content, "Subject: fwd\n\nbody\n");
  /* a digest's parts are messages by default (RFC 2046 5.1.5) */
  g_autoptr(RdMessage) digest = parse ("Content-Type: multipart/digest; boundary=d\n\n"
                                       "--d\n\nSubject: one\n\n1\n--d\n\nSubject: two\n\n2\n--d--\n");
  g_assert_cmpuint (rd_message_get_attachments (digest)->len, ==, 2);
  assert_bytes (attachment (digest, 1)->content, "Subject: two\n\n2");
  /* a repaired copy (lone CRs): the bytes of the copy GMime read */
  g_autoptr(RdMessage) mac = parse ("Content-Type: multipart/mixed; boundary=b\r\r--b\rContent-Type: text/plain\r\r"
                                    "t\r--b\rContent-Type: message/rfc822\r\rSubject: mac\r\rold\r--b--\r");
  assert_bytes (attachment (mac, 0)->content, "Subject: mac\n\nold");
  /* truncated: no closing delimiter, the message runs to the end */
  g_autoptr(RdMessage) cut = parse ("Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                                    "Content-Type: message/rfc822\n\nSubject: cut\n\nno end");
  assert_bytes (attachment (cut, 0)->content, "Subject: cut\n\nno end");
  /* a single-part text message has no attachment */
  g_autoptr(RdMessage) single = parse ("From: a@b\r\nSubject: x\r\n\r\njust text\r\n");
  g_assert_cmpuint (rd_message_get_attachments (single)->len, ==, 0);
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

/* The DSN fields the desk takes from the view for bounce handling
 * (moved from tests/desk/test-mime-extras.c). */
static void
test_dsn_fields (void)
{
  g_autoptr(RdMessage) msg = parse (dsn_text);
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
  g_autoptr(RdMessage) m1 = parse ("From: a@b\r\nSubject: hi\r\n\r\nbody\r\n");
  g_assert_null (rd_message_get_dsn_original_message_id (m1));
  g_autoptr(RdMessage) m2 = parse ("Content-Type: multipart/report; report-type=disposition-notification;"
                                   " boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nread\r\n--x--\r\n");
  g_assert_null (rd_message_get_dsn_original_message_id (m2));
}

/* Free-text bounces (parser/dsn.c): recipients, codes and the original's
 * id from the text; nothing from a message that only looks like one. */
static void
test_dsn_free_text (void)
{
  /* Postfix without a report; the bounce's own To is not a recipient */
  g_autoptr(RdMessage) pf = parse (
      "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\nTo: support@desk.test\n"
      "Subject: Undelivered Mail Returned to Sender\n\n"
      "This is the mail system at host mx.example.org.\n\n"
      "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n"
      "For further assistance, please send mail to <postmaster@mx.example.org>\n\n"
      "<alice@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1\n"
      "    <alice@example.org>: Recipient address rejected: User unknown (in reply to RCPT TO command)\n"
      "<bob@example.org>: host mx.example.org[192.0.2.1] said: 452 4.2.2 Mailbox full\n\n"
      "--- Below this line is a copy of the message.\n\n"
      "Return-Path: <support@desk.test>\nFrom: support@desk.test\nTo: alice@example.org, bob@example.org\n"
      "Message-ID: <rd-7@desk.test>\nSubject: Re: x\n\nhello\n");
  g_assert_false (rd_message_is_bounce (pf)); /* the contract: multipart/report only */
  g_assert_cmpstr (rd_message_get_dsn_original_message_id (pf), ==, "rd-7@desk.test");
  GPtrArray *r = rd_message_get_dsn_recipients (pf);
  g_assert_cmpuint (r->len, ==, 2);
  const RdDsnRecipient *a = g_ptr_array_index (r, 0), *b = g_ptr_array_index (r, 1);
  g_assert_cmpstr (a->addr, ==, "alice@example.org");
  g_assert_cmpstr (a->action, ==, "failed");
  g_assert_cmpstr (a->status, ==, "5.1.1");
  g_assert_nonnull (strstr (a->diagnostic, "550 5.1.1"));
  g_assert_cmpstr (b->addr, ==, "bob@example.org");
  g_assert_cmpstr (b->status, ==, "4.2.2");

  /* Exim: X-Failed-Recipients names them, the text gives the code */
  g_autoptr(RdMessage) ex = parse (
      "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: support@desk.test\n"
      "X-Failed-Recipients: carol@example.org\nSubject: Mail delivery failed: returning message to sender\n\n"
      "A message that you sent could not be delivered to one or more of its\n"
      "recipients. This is a permanent error. The following address(es) failed:\n\n"
      "  carol@example.org\n    SMTP error from remote mail server after MAIL FROM:<support@desk.test>:\n"
      "    550 5.7.1 relaying denied\n");
  r = rd_message_get_dsn_recipients (ex);
  g_assert_cmpuint (r->len, ==, 1);
  a = g_ptr_array_index (r, 0);
  g_assert_cmpstr (a->addr, ==, "carol@example.org");
  g_assert_cmpstr (a->status, ==, "5.7.1");

  /* A person writing from a postmaster address, a forwarded message from
   * anyone: no failed recipient */
  g_autoptr(RdMessage) human = parse (
      "From: postmaster@customer.example\nTo: support@desk.test\nSubject: Re: new mailbox\n\n"
      "Hello, please write to dave@customer.example from now on.\n");
  g_assert_cmpuint (rd_message_get_dsn_recipients (human)->len, ==, 0);
  g_autoptr(RdMessage) fwd = parse (
      "From: erin@customer.example\nTo: support@desk.test\nSubject: Fwd: failure notice\n\n"
      "see below\n\n<frank@example.org>: 550 5.1.1 user unknown\n");
  g_assert_cmpuint (rd_message_get_dsn_recipients (fwd)->len, ==, 0);
}

static void
test_limits (void)
{
  GString *s = g_string_new ("From: a@b\nContent-Type: multipart/mixed; boundary=b0\n\n");
  for (int i = 1; i < 12; i++)
    g_string_append_printf (s, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i - 1, i);
  g_string_append (s, "--b11\nContent-Type: application/octet-stream\n\nx\n");
  g_autoptr(GBytes) raw = g_bytes_new (s->str, s->len);
  g_string_free (s, TRUE);
  RdParserLimits limits;
  rd_parser_limits_init (&limits);
  limits.max_depth = 5;
  g_autoptr(RdMessage) m = rd_message_parse_with_limits (raw, &limits, NULL);
  g_assert_nonnull (m);
  g_assert_true (rd_message_get_limits_hit (m));
  g_assert_cmpuint (rd_message_get_attachments (m)->len, ==, 0);
  g_assert_cmpuint (rd_message_get_warnings (m)->len, >, 0);

  /* a header block over the cap: later fields dropped, body kept */
  GString *h = g_string_new ("Subject: first\n");
  for (int i = 0; i < 200; i++)
    g_string_append_printf (h, "X-Filler-%d: %0100d\n", i, 0);
  g_string_append (h, "X-Last: yes\n\nthe body\n");
  g_autoptr(GBytes) raw2 = g_bytes_new (h->str, h->len);
  g_string_free (h, TRUE);
  limits.max_header_bytes = 4096;
  g_autoptr(RdMessage) m2 = rd_message_parse_with_limits (raw2, &limits, NULL);
  g_assert_true (rd_message_get_limits_hit (m2));
  g_assert_cmpstr (rd_message_get_subject (m2), ==, "first");
  g_assert_null (rd_message_get_header (m2, "X-Last"));
  g_assert_cmpstr (rd_message_get_body_text (m2), ==, "the body");

  /* the header block of an attached message has the same cap */
  GString *e = g_string_new ("Subject: outer\nContent-Type: multipart/mixed; boundary=B\n\n"
                             "--B\nContent-Type: text/plain\n\nhi\n"
                             "--B\nContent-Type: message/rfc822\n\nSubject: inner\n");
  for (int i = 0; i < 100; i++)
    g_string_append_printf (e, "X-Filler-%d: %0100d\n", i, 0);
  g_string_append (e, "\ninner body\n--B--\n");
  g_autoptr(GBytes) raw3 = g_bytes_new (e->str, e->len);
  g_string_free (e, TRUE);
  g_autoptr(RdMessage) m3 = rd_message_parse_with_limits (raw3, &limits, NULL);
  g_assert_true (rd_message_get_limits_hit (m3));
  GPtrArray *atts = rd_message_get_attachments (m3);
  g_assert_cmpuint (atts->len, ==, 1);
  g_assert_cmpstr (((RdAttachment *) g_ptr_array_index (atts, 0))->embedded_subject, ==, "inner");
  g_assert_cmpstr (rd_message_get_body_text (m3), ==, "hi");
}

static void
test_limits_config (void)
{
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("rd-parser-XXXXXX.conf", &path, NULL);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  g_assert_true (g_file_set_contents (path, "[parser]\nmax_mime_depth = 3\nmax_mime_parts = 1\n"
                                            "max_header_bytes = 8K\nmax_text_bytes = 1M\n", -1, NULL));
  g_autoptr(GError) error = NULL;
  g_autoptr(RdConfig) config = rd_config_load (path, &error);
  g_assert_no_error (error);
  RdParserLimits l;
  rd_parser_limits_from_config (&l, config);
  g_assert_cmpuint (l.max_depth, ==, 3);
  g_assert_cmpuint (l.max_parts, ==, 1);
  g_assert_cmpuint (l.max_header_bytes, ==, 8192);
  g_assert_cmpuint (l.max_text_bytes, ==, 1024 * 1024);
  rd_parser_limits_from_config (&l, NULL);
  g_assert_cmpuint (l.max_depth, ==, RD_PARSER_DEFAULT_MAX_DEPTH);
  /* Out of range is refused when the file is loaded, not clamped. */
  g_assert_true (g_file_set_contents (path, "[parser]\nmax_mime_parts = 0\n", -1, NULL));
  g_autoptr(RdConfig) bad = rd_config_load (path, &error);
  g_assert_null (bad);
  g_assert_error (error, RD_ERROR, RD_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "max_mime_parts"));
  g_unlink (path);
}

static void
test_malformed (void)
{
  /* no boundary, junk, and no header/body separator: parsed, never NULL */
  static const char *const cases[] = {
    "Content-Type: multipart/mixed\n\n--x\nhello\n",
    "Subject: no separator",
    "Content-Type: text/plain; charset=\n\n\xff\xfe\n",
    "Content-Transfer-Encoding: base64\n\n!!!!\n",
    "From: \"unterminated <a@b\nTo: ((((\n\nx\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(RdMessage) m = parse (cases[i]);
      g_assert_nonnull (rd_message_get_body_source (m));
    }
  g_autoptr(GBytes) empty = g_bytes_new ("", 0);
  g_autoptr(GError) error = NULL;
  g_assert_null (rd_message_parse (empty, &error));
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  rd_parser_init ();
  g_test_add_func ("/parser/headers", test_headers);
  g_test_add_func ("/parser/dates", test_dates);
  g_test_add_func ("/parser/framing", test_framing);
  g_test_add_func ("/parser/body-choice", test_body_choice);
  g_test_add_func ("/parser/html", test_html);
  g_test_add_func ("/parser/charsets", test_charsets);
  g_test_add_func ("/parser/quotes", test_quotes);
  g_test_add_func ("/parser/dsn-free-text", test_dsn_free_text);
  g_test_add_func ("/parser/automation", test_automation);
  g_test_add_func ("/parser/attachment-bytes", test_attachment_bytes);
  g_test_add_func ("/parser/dsn-fields", test_dsn_fields);
  g_test_add_func ("/parser/limits", test_limits);
  g_test_add_func ("/parser/limits-config", test_limits_config);
  g_test_add_func ("/parser/malformed", test_malformed);
  return g_test_run ();
}
