require ["date", "fileinto"];
if date :is "received" "date" "2024-01-15" { fileinto "received"; }

--message--
Received: from a by b; Mon, 15 Jan 2024 09:30:00 +0000
From: alice@example.com
To: support@example.org
Subject: x

hi
