"""The one exception type users see.

Every error caused by input (a file, an argument, a download) is raised as `BagelError` with a
one-line message naming what was read, what was expected and what was found. The CLI prints it as
``error: <message>`` and exits with status 2; anything else is a bug and keeps its traceback.
"""


class BagelError(Exception):
    """A user-facing error with a one-line message."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
