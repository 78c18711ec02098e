"""Grapheme-to-phoneme: IPA phones for normalised text through phonemizer's espeak-ng backend.

Output is one phone per token with "|" between words, e.g. "hola mundo" (es) ->
``["o", "l", "a", "|", "m", "u", "n", "d", "o"]``. espeak-ng's own tokens are tidied so that a
token is one phone (see ``clean_word``). Results are cached per language in a TSV file
(text, phones), appended as they come, so a re-run or a killed run phonemises nothing twice.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
from speechxl.untrusted import inside
from pathlib import Path

log = logging.getLogger(__name__)

WORD_SEP = "|"
# CommonVoice locales whose espeak-ng voice has another name.
VOICE_OVERRIDES = {"en": "en-us", "fr": "fr-fr", "zh-CN": "cmn", "zh-TW": "cmn", "zh-HK": "yue",
                   "pt": "pt", "pt-BR": "pt-br", "sv-SE": "sv", "ga-IE": "ga", "pa-IN": "pa",
                   "hy-AM": "hy", "ne-NP": "ne", "nan-tw": "cmn"}
IPA_VOWELS = set("aeiouyæøœɐɑɒɔəɘɛɜɞɤɨɪɯɵɶʉʊʌʏɚɝ")
_DROP = set("ˈˌ'\"^.?-_!,;:0123456789")


@functools.lru_cache(maxsize=1)
def _espeak_languages() -> dict[str, str]:
    from phonemizer.backend import EspeakBackend

    return EspeakBackend.supported_languages()


def espeak_voice(lang: str) -> str:
    """The espeak-ng voice for a language code (CommonVoice locale or ISO 639)."""
    supported = _espeak_languages()
    if lang in VOICE_OVERRIDES and VOICE_OVERRIDES[lang] in supported:
        return VOICE_OVERRIDES[lang]
    for code in (lang, lang.lower(), lang.split("-")[0].lower()):
        if code in supported:
            return code
    raise ValueError(f"no espeak-ng voice for language {lang!r}; give one with --voice {lang}=<voice> "
                     f"(espeak-ng --voices lists them)")


def clean_word(tokens: list[str]) -> list[str]:
    """One phone per token from espeak-ng's tokens for one word.

    Stress and tone digits, and espeak's own marks (^ " . ?) are dropped; a doubled token
    ("ss", "cʰcʰ") is a geminate ("sː", "cʰː"); a glide fused to its vowel ("ja") is split.
    """
    out = []
    for tok in tokens:
        tok = "".join(c for c in tok if c not in _DROP)
        if not tok:
            continue
        half = len(tok) // 2
        if len(tok) % 2 == 0 and half and tok[:half] == tok[half:]:
            tok = tok[:half] + "ː"
        if len(tok) > 1 and tok[0] in "jw" and tok[1] in IPA_VOWELS:
            out.append(tok[0])
            tok = tok[1:]
        out.append(tok)
    return out


class G2P:
    """Phonemiser for one language with an on-disk cache.

    >>> g = G2P("es", cache_dir=None)  # doctest: +SKIP
    >>> g(["hola"])                    # doctest: +SKIP
    [['o', 'l', 'a']]
    """

    def __init__(self, lang: str, cache_dir: str | Path | None, voice: str | None = None, jobs: int = 1):
        from phonemizer.backend import EspeakBackend

        self.lang = lang
        self.voice = voice or espeak_voice(lang)
        self.jobs = jobs
        self.backend = EspeakBackend(self.voice, preserve_punctuation=False, with_stress=False,
                                     language_switch="remove-flags", words_mismatch="ignore")
        self.cache: dict[str, list[str]] = {}
        self.cache_file = inside(cache_dir, f"{lang}.tsv") if cache_dir else None
        if self.cache_file and self.cache_file.is_file():
            with open(self.cache_file, encoding="utf-8") as f:
                for line in f:
                    text, tab, phones = line.rstrip("\n").partition("\t")
                    if tab and line.endswith("\n"):  # a killed run may leave half a line
                        self.cache[text] = phones.split(" ") if phones else []

    def _append(self, new: dict[str, list[str]]) -> None:
        """Add a batch to the cache file in one write under an exclusive lock (O_APPEND), so that two
        processes never interleave their lines; a text that could not be read back as one line is
        not cached."""
        lines = "".join(f"{t}\t{' '.join(p)}\n" for t, p in new.items() if "\t" not in t and "\n" not in t)
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.cache_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, lines.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)  # the lock goes with it

    def __call__(self, texts: list[str]) -> list[list[str]]:
        """Phones (with "|" between words) for each normalised text."""
        from phonemizer.separator import Separator

        todo = sorted({t for t in texts if t not in self.cache})
        if todo:
            sep = Separator(phone=" ", word=" | ", syllable=None)
            raw = self.backend.phonemize(todo, separator=sep, strip=True, njobs=self.jobs)
            new = {}
            for text, out in zip(todo, raw):
                words = [clean_word(w.split()) for w in out.split(" | ")]
                phones = [p for w in words if w for p in [*w, WORD_SEP]][:-1]
                new[text] = phones
            self.cache.update(new)
            if self.cache_file:
                self._append(new)
        return [self.cache[t] for t in texts]
