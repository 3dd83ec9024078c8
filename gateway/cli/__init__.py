"""The `quantgate` command line."""
