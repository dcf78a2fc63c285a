require ["date", "relational", "comparator-i;ascii-numeric", "fileinto"];
if currentdate :count "eq" :comparator "i;ascii-numeric" "year" "1" { fileinto "count-1"; }
if currentdate :value "ge" :comparator "i;ascii-numeric" "year" "2000" { fileinto "after-2000"; }
if currentdate :matches "iso8601" "*T*" { fileinto "iso"; }
if currentdate :count "eq" :comparator "i;ascii-numeric" "year" "0" { fileinto "count-0"; }
