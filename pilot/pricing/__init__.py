"""Model prices and the cost of a call: a layer below ingest (which prices each stored call) and
analytics (which prices what-ifs); it imports no capability."""
