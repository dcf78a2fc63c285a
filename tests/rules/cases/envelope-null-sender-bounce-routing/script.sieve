require ["fileinto", "envelope"];
if envelope :all :is "from" "" { fileinto "Bounces"; stop; }
fileinto "Tickets";
