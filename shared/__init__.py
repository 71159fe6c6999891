"""Code shared by every Lambda function: settings, the data layer and the HTTP API."""
