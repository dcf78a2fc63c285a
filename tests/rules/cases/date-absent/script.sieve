require ["date", "relational", "comparator-i;ascii-numeric", "fileinto"];
if date :matches "date" "year" "*" { fileinto "matched"; }
if not date :matches "date" "date" "*" { fileinto "not-matched"; }
if date :count "eq" :comparator "i;ascii-numeric" "date" "date" "0" { fileinto "count-0"; }
if date :value "lt" :comparator "i;ascii-numeric" "date" "year" "3000" { fileinto "value-lt"; }
