require ["body", "fileinto"];
if body :content "text" :contains "refund please" { fileinto "decoded"; }
if body :text :contains "refund please" { fileinto "text-decoded"; }
if body :raw :contains "refund please" { fileinto "raw-not-decoded"; }
if body :raw :contains "cmVmdW5k" { fileinto "raw-base64"; }
