require ["fileinto", "vnd.relaydesk.ticket"];
ticket :priority "high" :tags ["billing"];
fileinto "Billing";
