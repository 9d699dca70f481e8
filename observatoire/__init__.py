"""observatoire: toolkit of the territorial social observatories of homelessness."""

__version__ = "0.1.0"
