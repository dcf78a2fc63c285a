require ["fileinto", "variables"];
if header :matches "subject" "*\\?*" { fileinto "question"; }
if header :matches "subject" "Re: *" { set "rest" "${1}"; fileinto "re-${rest}"; }
