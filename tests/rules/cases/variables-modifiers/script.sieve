require ["variables", "fileinto"];
set :upperfirst :lower "q" "BILLING";
set :length "n" "${q}";
set :quotewildcard "w" "a*b?";
fileinto "${q}-${n}";
if string :is "${w}" "a\\*b\\?" { fileinto "quoted"; }
