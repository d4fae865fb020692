"""Errors that carry a message meant for the user (the CLI prints it on one line, the API returns it as 4xx)."""

from __future__ import annotations


class ViqaError(Exception):
    """Base class: bad input or state the user can fix. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InputError(ViqaError):
    """A file, question or argument that viqa refuses, with the reason."""

    exit_code = 2


class NotFoundError(ViqaError):
    """An unknown collection or document, or a collection with no index yet."""

    exit_code = 3
