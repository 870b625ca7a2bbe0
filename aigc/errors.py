"""Errors about something a user gave (a weights file, an image) that cannot be used.

Each carries two texts: ``str(e)`` is one English line for the CLI and the logs, with the
technical detail; ``e.code`` names the plain-words explanation a page shows instead (its
catalogue entry ``errors.<code>``, in the page's language), and ``e.fields`` fill it in.
"""

from __future__ import annotations


class InputError(ValueError):
    """Something a user gave that cannot be used.

    Args:
        message: one English line, for the CLI and logs.
        code: names the page's explanation (``errors.<code>``); the class's own by default.
        fields: the values that explanation names.
    """

    default_code = "input_unusable"

    def __init__(self, message: str, code: str | None = None, **fields: object) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.fields = fields

    def named(self, name: str) -> InputError:
        """The same error with `name` (the file) in front of its line."""
        return type(self)(f"{name}: {self}", self.code, **self.fields)
