require ["body", "fileinto"];
if body :content "text/plain" :contains "inner-plain-word" { fileinto "inner-plain"; }
if body :content "text/html" :contains "inner-html-word" { fileinto "inner-html"; }
if body :content "text/plain" :contains "forwarded-body-word" { fileinto "forwarded-body"; }
if body :text :contains "forwarded-body-word" { fileinto "text-forwarded"; }
if body :content "text" :contains "forwarded-subject-word" { fileinto "text-has-header"; }
