require ["body", "fileinto"];
if body :raw :is "" { fileinto "raw-empty"; }
if body :raw :contains "" { fileinto "raw-contains-empty"; }
