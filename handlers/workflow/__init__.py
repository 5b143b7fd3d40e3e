"""One workflow engine for every approval: definitions as data, a generic case, typed actions."""
