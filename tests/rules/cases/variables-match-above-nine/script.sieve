require ["variables", "fileinto"];
if header :matches "subject" "*-*-*-*-*-*-*-*-*-*-*-*" {
  fileinto "${1}${9}${10}${11}${12}${13}";
}
