"""speechxl: self-supervised multilingual speech recognition.

    import speechxl
    asr = speechxl.load("exp/ctc_chars", lm="data/lang_word")
    asr.transcribe("clip.mp3", lang="es")
"""

__version__ = "0.1.0"


def load(model, lm=None, device="cpu", **options):
    """A fine-tuned model ready to transcribe files or arrays (speechxl.decode.recognizer.load)."""
    from speechxl.decode.recognizer import load as load_recognizer  # torch is imported on first use only

    return load_recognizer(model, lm, device, **options)
