"""The one error base class. The CLI catches only this, prints the message, exits 1."""


class AluregError(Exception):
    """An error with a message fit for a user; never shown with a traceback."""
