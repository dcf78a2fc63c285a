require ["body", "fileinto"];
if body :content "text/plain" :contains "inner-plain-word" { fileinto "inner-plain"; }
if body :content "text/html" :contains "inner-html-word" { fileinto "inner-html"; }
if body :content "text/plain" :contains "forwarded-body-word" { fileinto "forwarded-body"; }
if body :text :contains "forwarded-body-word" { fileinto "text-forwarded"; }
if body :content "text" :contains "forwarded-subject-word" { fileinto "text-has-header"; }

--message--
From: alice@example.com
To: support@example.org
Subject: nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

inner-plain-word
--inner
Content-Type: text/html

<p>inner-html-word</p>
--inner--
--outer
Content-Type: message/rfc822

From: bob@example.net
To: alice@example.com
Subject: forwarded-subject-word
Content-Type: multipart/mixed; boundary="fw"

--fw
Content-Type: text/plain

forwarded-body-word
--fw--
--outer--
