require ["body", "fileinto"];
if body :content "" :contains "json-word" { fileinto "any-type"; }
if body :content "application" :contains "json-word" { fileinto "application"; }
if body :content "text" :contains "json-word" { fileinto "text"; }
