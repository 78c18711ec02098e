"""Errors the ``speechxl`` command reports as one line, without a traceback."""


class SpeechxlError(Exception):
    """A problem with the user's input or run that its message explains: the root of every
    speechxl error (ConfigError, AudioError, RejectError, NonFiniteError, ...)."""
