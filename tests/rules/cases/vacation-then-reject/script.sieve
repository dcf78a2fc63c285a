require ["vacation", "reject"];
vacation "We got it";
reject "No thanks";
