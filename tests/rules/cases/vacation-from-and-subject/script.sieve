require ["vacation", "variables"];
if header :matches "subject" "*" { set "s" "${1}"; }
vacation :from "Help Desk <help@example.org>" :subject "Re: ${s}" :addresses "help@example.org" "Thanks, we will answer soon.";
