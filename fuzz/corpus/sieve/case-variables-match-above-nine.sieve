require ["variables", "fileinto"];
if header :matches "subject" "*-*-*-*-*-*-*-*-*-*-*-*" {
  fileinto "${1}${9}${10}${11}${12}${13}";
}

--message--
From: alice@example.com
To: support@example.org
Subject: a-b-c-d-e-f-g-h-i-j-k-l

hi
