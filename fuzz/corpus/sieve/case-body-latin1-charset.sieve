require ["body", "fileinto"];
if body :text :contains "cafÃ©" { fileinto "converted"; }

--message--
From: alice@example.com
To: support@example.org
Subject: l1
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

café
