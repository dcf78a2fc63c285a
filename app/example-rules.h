/* relaydesk — the example rule file `serve` writes into a new data
 * directory (DESIGN.md "Defaults"): not active until [rules] names it. */
#pragma once

#define RD_EXAMPLE_RULES_NAME "example.sieve"
#define RD_EXAMPLE_RULES \
  "# An example relaydesk rule file (Sieve, RFC 5228): not active.\n" \
  "# To use it, copy it, edit it, check it with\n" \
  "#   relaydesk rules check FILE\n" \
  "# try it on a saved message with\n" \
  "#   relaydesk rules test --script FILE --message MESSAGE.eml\n" \
  "# and name it in relaydesk.conf:\n" \
  "#   [rules]\n" \
  "#   default = /path/to/FILE\n" \
  "# then start serve with --config, or send it SIGHUP. See docs/rules.md.\n" \
  "\n" \
  "require [\"fileinto\", \"vacation\", \"variables\", \"vnd.relaydesk.ticket\"];\n" \
  "\n" \
  "# Invoices and refunds go to the billing queue.\n" \
  "if header :contains \"subject\" [\"invoice\", \"refund\"] {\n" \
  "  fileinto \"billing\";\n" \
  "}\n" \
  "\n" \
  "# Urgent mail from the VIP domain gets a high priority.\n" \
  "if address :domain :is \"from\" \"vip.example.com\" {\n" \
  "  ticket :priority \"high\";\n" \
  "}\n" \
  "\n" \
  "# Acknowledge new tickets only, quoting the ticket's tag.\n" \
  "if not followup {\n" \
  "  vacation :days 1 :subject \"Received: ${ticket.tag}\"\n" \
  "    \"Thank you. Your request is ticket ${ticket.number}; we will answer soon.\";\n" \
  "}\n"
