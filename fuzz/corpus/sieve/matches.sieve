if header :matches "subject" "*a*a*a*a*?*\\*b" { keep; } elsif exists "x" { stop; } else { discard; }
