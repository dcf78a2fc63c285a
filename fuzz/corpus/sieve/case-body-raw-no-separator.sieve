require ["body", "fileinto"];
if body :raw :is "" { fileinto "raw-empty"; }
if body :raw :contains "" { fileinto "raw-contains-empty"; }

--message--
From: alice@example.com
To: support@example.org
Subject: headers only
