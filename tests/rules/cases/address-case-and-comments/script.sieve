require "fileinto";
if address :is :domain "from" "example.com" { fileinto "dom"; }
if address :is :localpart "from" "Alice.Smith" { fileinto "local"; }
if address :is :comparator "i;octet" :localpart "from" "alice.smith" { fileinto "octet-local"; }
