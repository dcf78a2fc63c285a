require ["vacation", "reject"];
reject "No thanks";
if true { vacation "We got it"; }
