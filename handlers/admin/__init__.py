"""Administration from the CLI: importing the directory and positions."""
