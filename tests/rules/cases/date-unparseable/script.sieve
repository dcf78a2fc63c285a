require ["date", "relational", "comparator-i;ascii-numeric", "fileinto"];
if date :matches "date" "year" "*" { fileinto "matched"; }
if date :count "eq" :comparator "i;ascii-numeric" "date" "year" "0" { fileinto "count-0"; }
if date :is "x-date" "year" "2024" { fileinto "second-ok"; }
if header :contains "date" "yesterday" { fileinto "header-still"; }
