require "reject";
reject text:
We do not take mail here.  
Please use the form:
  https://example.org/help
.
;
