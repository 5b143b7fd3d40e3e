"""Personal data: consent, export and erasure requests, and the retention sweep."""
