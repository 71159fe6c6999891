"""One-shot Lambda and local command: check the live tables against the schema spec."""

import sys

from shared.jobs.runner import cli, lambda_handler, verify_job

handler = lambda_handler(verify_job)

if __name__ == "__main__":
    sys.exit(cli(verify_job))
