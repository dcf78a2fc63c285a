require ["body", "fileinto"];
if body :text :contains "café" { fileinto "converted"; }
