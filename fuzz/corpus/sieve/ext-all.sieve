require ["fileinto", "envelope", "encoded-character", "variables", "vacation", "vacation-seconds",
         "relational", "comparator-i;ascii-numeric", "subaddress", "body", "copy", "regex", "date",
         "index", "imap4flags", "include", "duplicate", "reject", "vnd.relaydesk.ticket"];
global "g";
include :optional :once "self";
if duplicate :handle "h" :seconds 60 { discard; stop; }
if allof (date :zone "+0200" :value "ge" "date" "hour" "09", currentdate :is "weekday" "4",
          date :originalzone :index 1 :last "date" "iso8601" "2024-01-18T19:30:00+01:00") { addflag "\\Seen"; }
if header :index 1 :regex "subject" "#([0-9]+)" { set :upper :quotewildcard "n" "${1}${hex:41}${unicode:263a}"; }
if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "2" { setflag "v" "a b"; removeflag "v" "a"; }
if hasflag :matches "v" "*" { fileinto :copy :flags "${v}" "Q/${n}"; }
if body :content "text" :contains "refund" { ticket :priority "high" :assign "bob" :status "open" :tags ["x", "${g}"]; }
if envelope :detail :matches "to" "*" { redirect :copy "x+${1}@example.net"; }
if not followup { vacation :seconds 0 :addresses ["a@b.example"] :mime :handle "v"
  :from "Desk <desk@example.org>" :subject "Re [${ticket.number}] ${ticket.tag}" text:
Content-Type: text/plain

Hi ${ticket.queue}
..
.
; }
set :length "l" "${n}"; if string :value "gt" :comparator "i;ascii-numeric" "${l}" "3" { return; }
if size :over 1K { reject "too big"; }
