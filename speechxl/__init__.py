"""speechxl: self-supervised multilingual speech recognition."""

__version__ = "0.1.0"
