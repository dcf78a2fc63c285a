require ["date", "relational", "comparator-i;ascii-numeric", "fileinto"];
if date :count "eq" :comparator "i;ascii-numeric" "date" "year" "1" { fileinto "count-1"; }
if date :count "eq" :comparator "i;ascii-numeric" "x-missing" "year" "0" { fileinto "absent-count-0"; }
if date :value "eq" "date" "year" "2024" { fileinto "year"; }
if date :zone "+0200" :is "date" "hour" "11" { fileinto "zone-hour"; }
if date :originalzone :is "date" "zone" "+0000" { fileinto "orig-zone"; }
