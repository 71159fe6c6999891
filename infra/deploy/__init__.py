"""For operators: deploying a stage (then its migrate and verify) and the offline rehearsal."""
