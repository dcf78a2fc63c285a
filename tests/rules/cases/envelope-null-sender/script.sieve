require ["fileinto", "envelope"];
if envelope :is "from" "" { fileinto "null-all"; }
if envelope :localpart :is "from" "" { fileinto "null-localpart"; }
if envelope :domain :is "from" "" { fileinto "null-domain"; }
if envelope :domain :matches "from" "*" { fileinto "null-domain-star"; }
if envelope :is "from" "<>" { fileinto "angle-brackets"; }
if envelope :contains "from" "@" { fileinto "has-at"; }
