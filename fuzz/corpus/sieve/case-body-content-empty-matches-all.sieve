require ["body", "fileinto"];
if body :content "" :contains "json-word" { fileinto "any-type"; }
if body :content "application" :contains "json-word" { fileinto "application"; }
if body :content "text" :contains "json-word" { fileinto "text"; }

--message--
From: alice@example.com
To: support@example.org
Subject: att
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

see attachment
--b1
Content-Type: application/json
Content-Disposition: attachment; filename="a.json"

{"key": "json-word"}
--b1--
