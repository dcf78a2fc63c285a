require ["body", "fileinto"];
if body :content "text" :contains "html-word" { fileinto "text-html"; }
if body :content "text" :contains "plain-word" { fileinto "text-plain"; }
if body :content "text/plain" :contains "html-word" { fileinto "plain-has-html"; }
if body :content "text/html" :contains "html-word" { fileinto "exact-html"; }
if body :content "TEXT/PLAIN" :contains "plain-word" { fileinto "exact-case"; }
if body :content "text/" :contains "plain-word" { fileinto "trailing-slash"; }
if body :content "/plain" :contains "plain-word" { fileinto "leading-slash"; }
