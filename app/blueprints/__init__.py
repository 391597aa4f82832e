"""One blueprint per feature; views parse input → check access → call a service → respond."""
