require ["body", "fileinto", "relational", "comparator-i;ascii-numeric"];
if body :content "text" :count "eq" :comparator "i;ascii-numeric" "2" { fileinto "two-text-parts"; }
if body :content "image" :count "eq" :comparator "i;ascii-numeric" "0" { fileinto "no-images"; }

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
