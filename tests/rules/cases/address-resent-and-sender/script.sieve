require "fileinto";
if address :domain :is "resent-from" "example.net" { fileinto "resent-from"; }
if address :localpart :is "sender" "list-bounces" { fileinto "sender"; }
if address :all :is "reply-to" "help@example.org" { fileinto "reply-to"; }
