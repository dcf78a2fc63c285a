require ["variables", "fileinto", "regex"];
if header :regex "subject" "^(.)-(.)-(.)-(.)-(.)-(.)-(.)-(.)-(.)-(.)-(.)$" {
  fileinto "${0}/${10}${11}";
}

--message--
From: alice@example.com
To: support@example.org
Subject: a-b-c-d-e-f-g-h-i-j-k

hi
