"""The tasks entity: its generated SQLModel family, validation and data functions."""
