require ["body", "fileinto"];
if body :text :contains "softbreakword" { fileinto "soft-break"; }
if body :text :contains "café" { fileinto "utf8"; }
if body :text :contains "=C3=A9" { fileinto "still-encoded"; }
