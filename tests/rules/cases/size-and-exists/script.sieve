require "fileinto";
if size :over 100 { fileinto "over"; }
if size :under 100000 { fileinto "under"; }
if exists ["from", "date", "x-nothing"] { fileinto "all-exist"; }
if exists ["from", "date"] { fileinto "both-exist"; }
