require "fileinto";
stop;
keep;
if true { discard; }
