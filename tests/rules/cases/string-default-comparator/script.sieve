require ["variables", "fileinto"];
set "queue" "Billing";
if string :is "${queue}" "billing" { fileinto "casemap"; }
if string :is :comparator "i;octet" "${queue}" "billing" { fileinto "octet"; }
