require "fileinto";
if address :all :matches "to" "*" { fileinto "any-address"; }
if address :all :contains "to" "undisclosed" { fileinto "group-name"; }
if exists "to" { fileinto "has-to"; }
if header :contains "to" "undisclosed-recipients" { fileinto "header-text"; }

--message--
From: alice@example.com
To: undisclosed-recipients:;
Subject: bcc'd

hi
