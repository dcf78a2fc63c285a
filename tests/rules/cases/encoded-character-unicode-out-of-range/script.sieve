require ["encoded-character", "fileinto"];
fileinto "x${unicode:D800}y";
