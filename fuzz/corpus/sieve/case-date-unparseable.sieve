require ["date", "relational", "comparator-i;ascii-numeric", "fileinto"];
if date :matches "date" "year" "*" { fileinto "matched"; }
if date :count "eq" :comparator "i;ascii-numeric" "date" "year" "0" { fileinto "count-0"; }
if date :is "x-date" "year" "2024" { fileinto "second-ok"; }
if header :contains "date" "yesterday" { fileinto "header-still"; }

--message--
From: alice@example.com
To: support@example.org
Subject: bad date
Date: yesterday afternoon
X-Date: Mon, 15 Jan 2024 09:29:55 +0000

hi
