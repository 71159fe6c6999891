"""One-shot Lambda and local command: bring the database to the schema spec."""

import sys

from shared.jobs.runner import cli, lambda_handler, migrate_job

handler = lambda_handler(migrate_job)

if __name__ == "__main__":
    sys.exit(cli(migrate_job))
