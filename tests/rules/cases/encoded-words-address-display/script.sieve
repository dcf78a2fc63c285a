require "fileinto";
if header :contains "from" "Müller" { fileinto "decoded-name"; }
if address :is "from" "jm@example.de" { fileinto "addr"; }
