require ["body", "fileinto"];
if body :raw :is "" { fileinto "raw-empty"; }
if body :raw :matches "*" { fileinto "raw-star"; }
if body :raw :contains "x" { fileinto "raw-x"; }
if body :text :is "" { fileinto "text-empty"; }
