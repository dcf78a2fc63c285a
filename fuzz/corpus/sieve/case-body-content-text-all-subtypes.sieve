require ["body", "fileinto"];
if body :content "text" :contains "html-word" { fileinto "text-html"; }
if body :content "text" :contains "plain-word" { fileinto "text-plain"; }
if body :content "text/plain" :contains "html-word" { fileinto "plain-has-html"; }
if body :content "text/html" :contains "html-word" { fileinto "exact-html"; }
if body :content "TEXT/PLAIN" :contains "plain-word" { fileinto "exact-case"; }
if body :content "text/" :contains "plain-word" { fileinto "trailing-slash"; }
if body :content "/plain" :contains "plain-word" { fileinto "leading-slash"; }

--message--
From: alice@example.com
To: support@example.org
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

preamble-word
--b1
Content-Type: text/plain; charset=us-ascii

plain-word here
--b1
Content-Type: text/html; charset=us-ascii

<html><body><p>html-word <b>bold-word</b></p></body></html>
--b1--
epilogue-word
