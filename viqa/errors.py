"""Errors that carry a message meant for the user (the CLI prints it on one line, the API returns it as 4xx)."""

from __future__ import annotations


class ViqaError(Exception):
    """Base class: bad input or state the user can fix. ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    @property
    def public(self) -> str:
        """The message for a client that must not see filesystem paths: the message itself unless a subclass
        says less."""
        return str(self)


class InputError(ViqaError):
    """A file, question or argument that viqa refuses, with the reason."""

    exit_code = 2


class NotFoundError(ViqaError):
    """An unknown collection or document, or a collection with no index yet."""

    exit_code = 3


class QuestionTooLongError(InputError):
    """A question longer than the reader reads (``max_question_tokens``); the message names the limit in tokens."""


class ReaderError(ViqaError):
    """The reader failed on a question and its passages (a tokenizer panic, say), told in one line; the cause is
    chained (``__cause__``) for the log."""

    @property
    def public(self) -> str:
        return "the reader could not read this question and its passages; rephrase or shorten the question"


class StoreUnavailableError(ViqaError):
    """The store (a Milvus server) could not be reached or refused a call, told in one line; retry later."""

    exit_code = 4

    @property
    def public(self) -> str:
        return "the document store is unavailable; try again shortly"
