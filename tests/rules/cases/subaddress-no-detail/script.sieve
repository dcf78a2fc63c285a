require ["subaddress", "envelope", "fileinto"];
if envelope :detail :matches "to" "*" { fileinto "has-detail"; }
if envelope :user :is "to" "support" { fileinto "user"; }
if address :detail :is "to" "" { fileinto "empty-detail"; }
