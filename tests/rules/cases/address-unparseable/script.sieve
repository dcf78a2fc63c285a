require "fileinto";
if address :localpart :matches "from" "*" { fileinto "localpart"; }
if address :domain :matches "from" "*" { fileinto "domain"; }
if address :all :contains "to" "support@example.org" { fileinto "valid-still-seen"; }
if address :domain :is "to" "example.org" { fileinto "valid-domain"; }
