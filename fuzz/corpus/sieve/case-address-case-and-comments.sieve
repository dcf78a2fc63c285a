require "fileinto";
if address :is :domain "from" "example.com" { fileinto "dom"; }
if address :is :localpart "from" "Alice.Smith" { fileinto "local"; }
if address :is :comparator "i;octet" :localpart "from" "alice.smith" { fileinto "octet-local"; }

--message--
From: "Smith, Alice" <Alice.Smith@EXAMPLE.COM> (work)
To: support@example.org
Subject: x

hi
