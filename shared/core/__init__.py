"""What every function needs first: settings, the exception hierarchy, logging and metrics."""
