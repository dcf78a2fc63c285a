require ["vacation", "reject"];
if header :contains "subject" "nomatch" { reject "No thanks"; } else { vacation "We got it"; }
