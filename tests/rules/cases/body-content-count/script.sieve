require ["body", "fileinto", "relational", "comparator-i;ascii-numeric"];
if body :content "text" :count "eq" :comparator "i;ascii-numeric" "2" { fileinto "two-text-parts"; }
if body :content "image" :count "eq" :comparator "i;ascii-numeric" "0" { fileinto "no-images"; }
