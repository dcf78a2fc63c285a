/* relaydesk — relay: the SMTP client that hands messages to the relay.
 *
 * libcurl's SMTP: smtps:// (implicit TLS, RFC 8314) or smtp:// with
 * STARTTLS (RFC 3207) required or opportunistic, optional AUTH, a CA file,
 * certificate and host name verification always on, timeouts. One client
 * keeps one CURL handle, so consecutive messages reuse one connection
 * (RSET-free: each transaction is MAIL/RCPT/DATA on the open session).
 *
 * The server's reply lines are captured through CURLOPT_DEBUGFUNCTION:
 * the final reply to the end of DATA is kept (with the relay's queue id,
 * e.g. Postfix's "250 2.0.0 Ok: queued as 4Xq..."), and every failure is
 * classified by the command it answered: a 5xx to MAIL/RCPT/DATA is the
 * message's permanent failure; anything else (4xx, a 554 greeting from a
 * relay that has not allowlisted us, TLS, AUTH, connection errors) is a
 * temporary failure of the path to the relay.
 */
#pragma once

#include <glib.h>
#include "rd-config.h"

G_BEGIN_DECLS

typedef struct {
  char *url;             /* smtp://host:port or smtps://host:port */
  char *ca_file;         /* NULL: system store */
  char *username;        /* NULL: no AUTH */
  char *password;
  gboolean starttls_required; /* smtp:// only; FALSE: opportunistic */
  guint timeout;         /* seconds: connect, and each stall */
  char *source_address;  /* bind the client to this address, or NULL */
  char *helo_name;       /* our EHLO name */
  gboolean reuse_connection;
} RdSmtpClientOptions;

/* Reads [relay] url, ca_file, username, password, starttls, timeout,
 * source_address, helo_name, reuse_connection; @url / @ca_file, when not
 * NULL, win (--relay, --relay-ca). RD_ERROR_CONFIG when no relay is set
 * or the URL is not smtp:// or smtps://. */
gboolean rd_smtp_client_options_load (RdConfig *config, const char *url, const char *ca_file,
                                      RdSmtpClientOptions *out, GError **error);
void rd_smtp_client_options_clear (RdSmtpClientOptions *o);

/* Host and port of the relay URL (default ports 25 and 465). */
gboolean rd_smtp_client_url_split (const char *url, gboolean *implicit_tls, char **host,
                                   guint16 *port, GError **error);

typedef enum {
  RD_SMTP_OK,        /* the relay answered 250 to the end of DATA */
  RD_SMTP_TEMPFAIL,  /* try again later */
  RD_SMTP_PERMFAIL,  /* 5xx to MAIL, RCPT or DATA: this message fails */
} RdSmtpStatus;

typedef struct {
  RdSmtpStatus status;
  guint code;              /* last reply code, 0 when none */
  gboolean path_problem;   /* the failure is the relay's or the path's, not the message's */
  char *reply;             /* the last reply, lines joined with " / " */
  char *queue_id;          /* from "queued as X", or NULL */
  char *error;             /* human-readable summary */
} RdSmtpOutcome;

void rd_smtp_outcome_clear (RdSmtpOutcome *o);

typedef struct _RdSmtpClient RdSmtpClient;

/* (transfer full); copies @options. */
RdSmtpClient *rd_smtp_client_new (const RdSmtpClientOptions *options, GError **error);
void rd_smtp_client_free (RdSmtpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (RdSmtpClient, rd_smtp_client_free)

/* Sends one message (CRLF line ends; libcurl dot-stuffs it). @sender ""
 * means <>. Reuses the open connection when there is one. */
void rd_smtp_client_send (RdSmtpClient *client, const char *sender, const char *const *recipients,
                          GBytes *data, RdSmtpOutcome *outcome);
/* Closes the connection (QUIT), e.g. after idling. */
void rd_smtp_client_close (RdSmtpClient *client);
/* Connections opened so far (for tests and figures). */
guint rd_smtp_client_connections (RdSmtpClient *client);

G_END_DECLS
