require "fileinto";
if address :domain :matches "from" "*" { fileinto "domain"; }
if address :localpart :matches "from" "?*" { fileinto "localpart"; }
