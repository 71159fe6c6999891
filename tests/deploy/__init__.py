"""Deployment: serverless.yml, the packages it builds, and infra/deploy/deployer.py."""
