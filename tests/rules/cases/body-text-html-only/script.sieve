require ["body", "fileinto"];
if body :text :contains "Invoice 42" { fileinto "text-from-html"; }
if body :text :contains "<b>" { fileinto "tags-kept"; }
if body :content "text/html" :contains "<b>" { fileinto "content-html-raw"; }
