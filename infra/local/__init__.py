"""What `make run` uses: the Neon-like database stack, the API Gateway stand-in and the
Lambda runtime emulator, all on loopback."""
