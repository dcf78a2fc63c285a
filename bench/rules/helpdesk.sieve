# A realistic helpdesk script for bench/rules: spam, loops, VIPs,
# routing by address, subject and body, priorities, acknowledgement.
# (Generated once by a small script; 100 rules.)
require ["fileinto", "envelope", "variables", "vacation", "relational",
         "comparator-i;ascii-numeric", "subaddress", "body", "copy", "regex",
         "imap4flags", "date", "vnd.relaydesk.ticket"];
if header :is "x-spam-flag" "YES" { discard; stop; }
if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "8" { discard; stop; }
if header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "5" { fileinto "junk"; stop; }
if header :contains "subject" ["viagra", "casino", "lottery", "crypto giveaway"] { discard; stop; }
if address :localpart :is "from" ["mailer-daemon", "postmaster"] { fileinto "bounces"; stop; }
if header :contains "content-type" "report-type=delivery-status" { fileinto "bounces"; stop; }
if exists "list-id" { fileinto "lists"; stop; }
if header :is "precedence" ["bulk", "junk", "list"] { fileinto "bulk"; stop; }
if header :matches "auto-submitted" "auto-*" { fileinto "automated"; stop; }
if address :domain :is "from" ["spam.example", "phish.example", "junkmail.example"] { discard; stop; }
if envelope :detail :matches "to" "*" { set "ticket" "${1}"; }
if header :regex "subject" "\\[Ticket #([0-9]+)\\]" { set "ticket" "${1}"; }
if not string :is "${ticket}" "" { fileinto "followups"; }
if header :matches "subject" ["Re: *", "RE: *", "Fwd: *", "AW: *"] { set "reply" "yes"; }
if exists "in-reply-to" { set "reply" "yes"; }
if address :domain :is "from" "bigcorp.example" { set "vip" "yes"; addflag "$vip"; }
if address :domain :is "from" "acme.example" { set "vip" "yes"; addflag "$vip"; }
if address :domain :is "from" "globex.example" { set "vip" "yes"; addflag "$vip"; }
if address :domain :is "from" "initech.example" { set "vip" "yes"; addflag "$vip"; }
if address :domain :is "from" "umbrella.example" { set "vip" "yes"; addflag "$vip"; }
if address :domain :is "from" "hooli.example" { set "vip" "yes"; addflag "$vip"; }
if address :domain :is "from" "stark.example" { set "vip" "yes"; addflag "$vip"; }
if address :domain :is "from" "wayne.example" { set "vip" "yes"; addflag "$vip"; }
if address :domain :is "from" "wonka.example" { set "vip" "yes"; addflag "$vip"; }
if address :domain :is "from" "cyberdyne.example" { set "vip" "yes"; addflag "$vip"; }
if header :contains "subject" ["invoice", "refund", "billing", "payment", "charge"] { set "queue" "billing"; }
if header :contains "subject" ["password", "login", "account locked", "2fa", "sign in"] { set "queue" "accounts"; }
if header :contains "subject" ["delivery", "shipment", "tracking", "parcel", "courier"] { set "queue" "shipping"; }
if header :contains "subject" ["return", "exchange", "rma", "damaged", "wrong item"] { set "queue" "returns"; }
if header :contains "subject" ["api", "webhook", "rate limit", "token", "sdk"] { set "queue" "api"; }
if header :contains "subject" ["outage", "down", "urgent", "not working", "error 500"] { set "queue" "incidents"; }
if header :contains "subject" ["gdpr", "dpa", "subpoena", "privacy", "data request"] { set "queue" "legal"; }
if header :contains "subject" ["quote", "pricing", "demo", "trial", "enterprise"] { set "queue" "sales"; }
if header :contains "subject" ["reseller", "partner", "affiliate", "referral", "integration"] { set "queue" "partners"; }
if header :contains "subject" ["feedback", "suggestion", "feature request", "idea", "survey"] { set "queue" "feedback"; }
if allof (string :is "${queue}" "", body :text :contains ["invoice", "refund", "billing"]) { set "queue" "billing"; }
if allof (string :is "${queue}" "", body :text :contains ["password", "login", "account locked"]) { set "queue" "accounts"; }
if allof (string :is "${queue}" "", body :text :contains ["delivery", "shipment", "tracking"]) { set "queue" "shipping"; }
if allof (string :is "${queue}" "", body :text :contains ["return", "exchange", "rma"]) { set "queue" "returns"; }
if allof (string :is "${queue}" "", body :text :contains ["api", "webhook", "rate limit"]) { set "queue" "api"; }
if allof (string :is "${queue}" "", body :text :contains ["outage", "down", "urgent"]) { set "queue" "incidents"; }
if allof (string :is "${queue}" "", body :text :contains ["gdpr", "dpa", "subpoena"]) { set "queue" "legal"; }
if allof (string :is "${queue}" "", body :text :contains ["quote", "pricing", "demo"]) { set "queue" "sales"; }
if allof (string :is "${queue}" "", body :text :contains ["reseller", "partner", "affiliate"]) { set "queue" "partners"; }
if allof (string :is "${queue}" "", body :text :contains ["feedback", "suggestion", "feature request"]) { set "queue" "feedback"; }
if address :localpart :is "to" "billing" { set "queue" "billing"; }
if address :localpart :is "to" "accounts" { set "queue" "accounts"; }
if address :localpart :is "to" "shipping" { set "queue" "shipping"; }
if address :localpart :is "to" "returns" { set "queue" "returns"; }
if address :localpart :is "to" "api" { set "queue" "api"; }
if address :localpart :is "to" "incidents" { set "queue" "incidents"; }
if address :localpart :is "to" "legal" { set "queue" "legal"; }
if address :localpart :is "to" "sales" { set "queue" "sales"; }
if address :localpart :is "to" "partners" { set "queue" "partners"; }
if address :localpart :is "to" "feedback" { set "queue" "feedback"; }
if header :contains "subject" ["bitte", "danke", "rechnung"] { set "lang" "de"; }
if address :domain :matches "from" "*.de" { set "lang" "de"; }
if header :contains "subject" ["merci", "facture", "bonjour"] { set "lang" "fr"; }
if address :domain :matches "from" "*.fr" { set "lang" "fr"; }
if header :contains "subject" ["gracias", "factura", "hola"] { set "lang" "es"; }
if address :domain :matches "from" "*.es" { set "lang" "es"; }
if header :contains "subject" ["grazie", "fattura", "ciao"] { set "lang" "it"; }
if address :domain :matches "from" "*.it" { set "lang" "it"; }
if header :contains "subject" ["bedankt", "factuur", "hallo"] { set "lang" "nl"; }
if address :domain :matches "from" "*.nl" { set "lang" "nl"; }
if header :is "x-priority" ["1", "2"] { set "prio" "high"; }
if header :is "importance" "high" { set "prio" "high"; }
if header :contains "subject" ["asap", "critical", "emergency"] { set "prio" "urgent"; }
if string :is "${queue}" "incidents" { set "prio" "urgent"; }
if string :is "${vip}" "yes" { set "prio" "high"; }
if size :over 5M { addflag "$large"; }
if header :contains "content-type" "multipart/mixed" { addflag "$attachment"; }
if date :value "ge" "date" "hour" "18" { addflag "$after-hours"; }
if date :value "lt" "date" "hour" "08" { addflag "$after-hours"; }
if date :is "date" "weekday" ["0", "6"] { addflag "$weekend"; }
if address :is "from" ["ceo@bigcorp.example", "cto@acme.example"] { ticket :priority "urgent" :assign "lead"; }
if header :matches "subject" "*order #*" { set "order" "${2}"; }
if not string :is "${order}" "" { addflag "$order"; }
if header :regex "subject" "[A-Z]{3}-[0-9]{4,}" { addflag "$reference"; }
if address :domain :contains "from" ".gov" { set "queue" "legal"; }
if address :domain :contains "from" ".edu" { addflag "$education"; }
if header :contains "x-mailer" ["outlook", "thunderbird", "apple mail"] { addflag "$human"; }
if header :contains "user-agent" "mutt" { addflag "$human"; }
if envelope :domain :is "from" "partner.example" { set "queue" "partners"; }
if envelope :all :is "from" "" { fileinto "bounces"; stop; }
if header :count "ge" :comparator "i;ascii-numeric" "received" "15" { fileinto "loops"; stop; }
if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "10" { addflag "$many-recipients"; }
if body :text :contains ["unsubscribe", "opt out"] { addflag "$newsletter"; }
if header :contains "subject" "[ext]" { addflag "$external"; }
if header :contains "subject" ["cancel", "cancellation", "terminate"] { addflag "$churn-risk"; }
if header :matches "from" "*noreply*" { addflag "$noreply"; }
if body :text :contains ["lawyer", "attorney", "court"] { set "queue" "legal"; }
if address :user :is "to" "support" { addflag "$support-alias"; }
if header :is :comparator "i;octet" "x-customer-tier" ["gold", "platinum"] { set "vip" "yes"; }
if string :is "${queue}" "" { set "queue" "general"; }
if string :is "${prio}" "urgent" { ticket :priority "urgent" :tags ["${queue}"]; } elsif string :is "${prio}" "high" { ticket :priority "high" :tags ["${queue}"]; } else { ticket :tags ["${queue}"]; }
if string :is "${lang}" ["de", "fr", "es", "it", "nl"] { ticket :tags ["lang-${lang}"]; }
if string :is "${queue}" "incidents" { redirect :copy "oncall@helpdesk.example.net"; }
fileinto "${queue}";
if allof (not exists "in-reply-to", string :is "${reply}" "") { vacation :days 1 :from "Support <support@example.org>" :subject "Received: ${ticket.tag}" "Thank you, we received your request (${queue})."; }
# 100 rules
