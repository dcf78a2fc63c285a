require ["body", "fileinto"];
if body :text :contains "Invoice 42" { fileinto "text-from-html"; }
if body :text :contains "<b>" { fileinto "tags-kept"; }
if body :content "text/html" :contains "<b>" { fileinto "content-html-raw"; }

--message--
From: alice@example.com
To: support@example.org
Subject: html
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><title>t</title></head><body><p>Invoice <b>42</b> is due</p></body></html>
