require ["variables", "fileinto", "regex"];
if header :regex "subject" "^(.)-(.)-(.)-(.)-(.)-(.)-(.)-(.)-(.)-(.)-(.)$" {
  fileinto "${0}/${10}${11}";
}
