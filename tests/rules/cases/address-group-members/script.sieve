require "fileinto";
if address :is "to" "bob@example.net" { fileinto "bob"; }
if address :domain :is "to" "EXAMPLE.COM" { fileinto "example-com"; }
if address :localpart :is "to" "team" { fileinto "group-name"; }
if address :all :is "cc" "carol@example.org" { fileinto "cc-after-group"; }
