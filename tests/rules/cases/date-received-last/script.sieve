require ["date", "fileinto"];
if date :is "received" "date" "2024-01-15" { fileinto "received"; }
