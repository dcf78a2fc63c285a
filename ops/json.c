/* relaydesk — ops: the JSON of every entity (see json.h). */
#include "ops-private.h"
#include "json.h"

#include <stdio.h>

void
rd_json_add_str (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

void
rd_json_add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

void
rd_json_add_bool (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

void
rd_json_add_id (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  if (value > 0)
    json_builder_add_int_value (b, value);
  else
    json_builder_add_null_value (b);
}

void
rd_json_add_time (JsonBuilder *b, const char *name, gint64 unix_seconds)
{
  g_autofree char *iso = unix_seconds > 0 ? rd_time_iso8601 (unix_seconds) : NULL;
  rd_json_add_str (b, name, iso);
}

void
rd_json_add_strv (JsonBuilder *b, const char *name, const char *const *v, guint n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; v && (n ? i < n : v[i] != NULL); i++)
    json_builder_add_string_value (b, v[i]);
  json_builder_end_array (b);
}

char *
rd_json_to_string (JsonBuilder *b, gboolean pretty)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, pretty);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

void
rd_json_print (JsonBuilder *b)
{
  g_autofree char *text = rd_json_to_string (b, TRUE);
  printf ("%s\n", text);
}

static void
add_person (JsonBuilder *b, const char *member, const char *name, const char *addr)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_object (b);
  rd_json_add_str (b, "name", name ? name : "");
  rd_json_add_str (b, "addr", addr);
  json_builder_end_object (b);
}

/* The members every ticket object has. */
static void
ticket_members (JsonBuilder *b, const RdTicket *t, const char *subject_tag, const char *reply_address)
{
  rd_json_add_int (b, "number", t->number);
  rd_json_add_str (b, "queue", t->queue);
  rd_json_add_str (b, "status", rd_ticket_status_to_string (t->status));
  rd_json_add_str (b, "priority", rd_ticket_priority_to_string (t->priority));
  rd_json_add_str (b, "assignee", t->assignee);
  rd_json_add_strv (b, "tags", (const char *const *) t->tags, 0);
  rd_json_add_str (b, "subject", t->subject);
  add_person (b, "requester", t->requester_name, t->requester_addr);
  rd_json_add_str (b, "subject_tag", subject_tag);
  rd_json_add_str (b, "reply_address", reply_address);
  rd_json_add_time (b, "created_at", t->created_at);
  rd_json_add_time (b, "updated_at", t->updated_at);
  rd_json_add_int (b, "message_count", t->message_count);
}

void
rd_json_ticket (RdOps *ops, JsonBuilder *b, const RdTicket *t)
{
  RdTicketIds *ids = rd_ops_ids (ops, NULL);
  g_autofree char *tag = ids ? rd_ticket_ids_subject_tag (ids, t->number) : NULL;
  g_autofree char *ra = ids ? rd_ticket_ids_reply_address (ids, t->queue, t->number) : NULL;
  json_builder_begin_object (b);
  ticket_members (b, t, tag, ra);
  json_builder_end_object (b);
}

static void
attachment_members (JsonBuilder *b, const RdStoredAttachment *a)
{
  rd_json_add_int (b, "id", a->id);
  rd_json_add_str (b, "filename", a->filename);
  rd_json_add_str (b, "content_type", a->content_type);
  rd_json_add_int (b, "size", a->size);
  rd_json_add_str (b, "sha256", a->sha256);
}

void
rd_json_message (JsonBuilder *b, const RdTicketMessage *m, GPtrArray *attachments)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", m->id);
  rd_json_add_str (b, "direction", rd_message_direction_to_string (m->direction));
  rd_json_add_str (b, "message_id", m->message_id);
  add_person (b, "from", m->from_name, m->from_addr);
  rd_json_add_str (b, "to", m->to_addrs);
  rd_json_add_str (b, "cc", m->cc_addrs);
  rd_json_add_str (b, "author", m->author);
  rd_json_add_str (b, "subject", m->subject);
  rd_json_add_str (b, "body_text", m->body_text);
  guint folded = 0;
  g_autofree char *kept = rd_ops_fold_quoted (m->body_text, &folded);
  rd_json_add_str (b, "body_unquoted", kept);
  rd_json_add_int (b, "quoted_lines", folded);
  rd_json_add_str (b, "delivery_status", m->has_delivery ? rd_outbox_state_to_string (m->delivery) : NULL);
  rd_json_add_str (b, "delivery_code", m->delivery_code);
  /* Inbound: what sender authentication found (auth/); null when not
   * known (other directions, or recorded before it existed). The
   * "sender verified" mark of every front end is "verified". */
  json_builder_set_member_name (b, "authentication");
  if (m->direction == RD_MESSAGE_INBOUND && m->has_auth)
    {
      json_builder_begin_object (b);
      rd_json_add_str (b, "spf", rd_auth_result_to_string (m->auth.spf));
      rd_json_add_str (b, "dkim", rd_auth_result_to_string (m->auth.dkim));
      rd_json_add_str (b, "dmarc", rd_auth_result_to_string (m->auth.dmarc));
      rd_json_add_str (b, "from_domain", m->auth.from_domain[0] ? m->auth.from_domain : NULL);
      rd_json_add_bool (b, "verified", m->auth.verified);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  rd_json_add_time (b, "created_at", m->created_at);
  json_builder_set_member_name (b, "attachments");
  json_builder_begin_array (b);
  for (guint k = 0; k < attachments->len; k++)
    {
      const RdStoredAttachment *a = g_ptr_array_index (attachments, k);
      if (a->message_row != m->id)
        continue;
      json_builder_begin_object (b);
      attachment_members (b, a);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

void
rd_json_ticket_view (JsonBuilder *b, const RdTicketView *v)
{
  const RdTicket *t = v->ticket;
  json_builder_begin_object (b);
  ticket_members (b, t, v->subject_tag, v->reply_address);
  rd_json_add_strv (b, "participants", (const char *const *) t->participants->pdata, t->participants->len);
  json_builder_set_member_name (b, "links");
  json_builder_begin_array (b);
  for (guint i = 0; i < t->links->len; i++)
    json_builder_add_int_value (b, g_array_index (t->links, gint64, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "messages");
  json_builder_begin_array (b);
  for (guint i = 0; i < t->messages->len; i++)
    rd_json_message (b, g_ptr_array_index (t->messages, i), v->attachments);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "audit");
  json_builder_begin_array (b);
  for (guint i = 0; i < v->audit->len; i++)
    {
      const RdAuditEntry *e = g_ptr_array_index (v->audit, i);
      json_builder_begin_object (b);
      rd_json_add_time (b, "at", e->at);
      rd_json_add_str (b, "actor", e->actor);
      rd_json_add_str (b, "action", e->action);
      rd_json_add_str (b, "old", e->old_value);
      rd_json_add_str (b, "new", e->new_value);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

void
rd_json_reply_result (JsonBuilder *b, gint64 number, const RdReplyResult *r)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "number", number);
  rd_json_add_int (b, "message", r->message_row);
  rd_json_add_int (b, "outbox_id", r->outbox_id);
  rd_json_add_str (b, "message_id", r->message_id);
  rd_json_add_str (b, "subject", r->subject);
  rd_json_add_strv (b, "recipients", (const char *const *) r->recipients->pdata, r->recipients->len);
  rd_json_add_strv (b, "suppressed", (const char *const *) r->suppressed->pdata, r->suppressed->len);
  json_builder_end_object (b);
}

void
rd_json_attachment (JsonBuilder *b, const RdStoredAttachment *a, GBytes *data)
{
  json_builder_begin_object (b);
  attachment_members (b, a);
  rd_json_add_int (b, "message", a->message_row);
  if (data)
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (data, &len);
      g_autofree char *b64 = g_base64_encode (p, len);
      rd_json_add_str (b, "content_base64", b64);
    }
  json_builder_end_object (b);
}

void
rd_json_outbox_item (JsonBuilder *b, const RdOutboxItem *it, GPtrArray *events, gboolean raw)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", it->id);
  rd_json_add_str (b, "kind", rd_outbox_kind_to_string (it->kind));
  rd_json_add_str (b, "state", rd_outbox_state_to_string (it->state));
  rd_json_add_id (b, "ticket", it->ticket_number);
  rd_json_add_str (b, "sender", it->sender);
  rd_json_add_strv (b, "recipients", (const char *const *) it->recipients->pdata, it->recipients->len);
  rd_json_add_str (b, "message_id", it->message_id);
  rd_json_add_int (b, "attempts", it->attempts);
  rd_json_add_str (b, "last_error", it->last_error);
  rd_json_add_str (b, "relay_reply", it->relay_reply);
  rd_json_add_time (b, "created_at", it->created_at);
  rd_json_add_time (b, "next_attempt_at", it->state == RD_OUTBOX_QUEUED ? it->next_attempt_at : 0);
  rd_json_add_time (b, "sent_at", it->sent_at);
  if (events)
    {
      json_builder_set_member_name (b, "events");
      json_builder_begin_array (b);
      for (guint i = 0; i < events->len; i++)
        {
          RdOutboxEvent *ev = g_ptr_array_index (events, i);
          json_builder_begin_object (b);
          rd_json_add_time (b, "at", ev->at);
          rd_json_add_str (b, "event", ev->event);
          rd_json_add_str (b, "detail", ev->detail);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  if (raw && it->raw)
    {
      gsize len;
      const char *d = g_bytes_get_data (it->raw, &len);
      g_autofree char *text = g_utf8_make_valid (d, (gssize) len);
      rd_json_add_str (b, "raw", text);
    }
  json_builder_end_object (b);
}

void
rd_json_allowlist_item (JsonBuilder *b, const RdAllowlistItem *item)
{
  const RdAllowlistEntry *e = item->entry;
  json_builder_begin_object (b);
  rd_json_add_id (b, "id", item->from_config ? 0 : e->id);
  rd_json_add_str (b, "cidr", e->cidr);
  rd_json_add_str (b, "source", item->from_config ? "config" : "store");
  rd_json_add_time (b, "created_at", e->created_at);
  rd_json_add_time (b, "expires_at", e->expires_at);
  rd_json_add_bool (b, "expired", item->expired);
  rd_json_add_bool (b, "staging", e->staging);
  rd_json_add_str (b, "application", e->application);
  rd_json_add_str (b, "admin_name", e->admin_name);
  rd_json_add_str (b, "admin_email", e->admin_email);
  rd_json_add_str (b, "location", e->location);
  rd_json_add_str (b, "note", e->note);
  json_builder_end_object (b);
}

void
rd_json_agent (JsonBuilder *b, const RdAgent *a)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", a->id);
  rd_json_add_str (b, "email", a->email);
  rd_json_add_str (b, "name", a->name);
  rd_json_add_str (b, "role", a->admin ? "admin" : "agent");
  rd_json_add_strv (b, "queues", (const char *const *) a->queues, 0);
  rd_json_add_bool (b, "totp", a->totp_secret != NULL);
  rd_json_add_time (b, "created_at", a->created_at);
  json_builder_end_object (b);
}

void
rd_json_api_token (JsonBuilder *b, const RdApiToken *t)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", t->id);
  rd_json_add_str (b, "email", t->email);
  rd_json_add_str (b, "label", t->label);
  rd_json_add_time (b, "created_at", t->created_at);
  rd_json_add_time (b, "last_used_at", t->last_used_at);
  rd_json_add_time (b, "revoked_at", t->revoked_at);
  json_builder_end_object (b);
}

void
rd_json_spool_summary (JsonBuilder *b, const RdSpoolSummary *s)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", s->id);
  rd_json_add_str (b, "queue_id", s->queue_id);
  rd_json_add_time (b, "received_at", s->received_at);
  rd_json_add_str (b, "sender", s->sender);
  rd_json_add_str (b, "client_addr", s->client_addr);
  rd_json_add_str (b, "message_id", s->message_id);
  rd_json_add_str (b, "reason", s->reason);
  rd_json_add_int (b, "size", s->size);
  json_builder_end_object (b);
}

void
rd_json_admin_audit_entry (JsonBuilder *b, const RdAdminAuditEntry *e)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", e->id);
  rd_json_add_time (b, "at", e->at);
  rd_json_add_str (b, "actor", e->actor);
  rd_json_add_str (b, "action", e->action);
  rd_json_add_str (b, "target", e->target);
  rd_json_add_str (b, "detail", e->detail);
  json_builder_end_object (b);
}

void
rd_json_rule_script (JsonBuilder *b, const RdRuleScript *s)
{
  json_builder_begin_object (b);
  rd_json_add_str (b, "name", s->name);
  rd_json_add_str (b, "role", s->role);
  rd_json_add_str (b, "inbox", s->inbox);
  rd_json_add_int (b, "size", s->size);
  rd_json_add_bool (b, "exists", s->exists);
  json_builder_end_object (b);
}

void
rd_json_rule_version (JsonBuilder *b, const RdRuleVersion *v)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "id", v->id);
  rd_json_add_time (b, "saved_at", v->saved_at);
  rd_json_add_str (b, "saved_by", v->saved_by);
  rd_json_add_int (b, "size", v->size);
  json_builder_end_object (b);
}

void
rd_json_rules_diagnostic (JsonBuilder *b, const RdRulesDiagnostic *d)
{
  json_builder_begin_object (b);
  rd_json_add_int (b, "line", d->line);
  rd_json_add_int (b, "column", d->col);
  rd_json_add_str (b, "severity", d->warning ? "warning" : "error");
  rd_json_add_str (b, "message", d->message);
  rd_json_add_str (b, "file", d->file);
  json_builder_end_object (b);
}
