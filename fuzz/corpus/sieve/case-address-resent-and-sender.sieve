require "fileinto";
if address :domain :is "resent-from" "example.net" { fileinto "resent-from"; }
if address :localpart :is "sender" "list-bounces" { fileinto "sender"; }
if address :all :is "reply-to" "help@example.org" { fileinto "reply-to"; }

--message--
From: alice@example.com
Sender: list-bounces@lists.example.org
Resent-From: Bob <bob@EXAMPLE.NET>
Reply-To: <help@example.org>
To: support@example.org
Subject: x

hi
