require ["imap4flags"];
addflag "\\Seen";
addflag ["$Label1", "\\seen"];
removeflag "$label1";
