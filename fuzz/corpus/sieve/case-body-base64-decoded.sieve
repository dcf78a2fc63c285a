require ["body", "fileinto"];
if body :content "text" :contains "refund please" { fileinto "decoded"; }
if body :text :contains "refund please" { fileinto "text-decoded"; }
if body :raw :contains "refund please" { fileinto "raw-not-decoded"; }
if body :raw :contains "cmVmdW5k" { fileinto "raw-base64"; }

--message--
From: alice@example.com
To: support@example.org
Subject: b64
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

cmVmdW5kIHBsZWFzZQ==
