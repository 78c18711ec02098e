"""Debian's festival voices: speech from units a human speaker recorded, many sentences per process.

Each voice is a festvox package (diphone, unit selection or HTS); ``tools/install.sh`` installs them.
Festival reads its text in the voice's encoding (the Indic and Russian voices UTF-8, the others
ISO-8859-1) and loads a voice in up to a second, so ``synthesise`` voices a batch of sentences in one
``festival --pipe`` process.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from speechxl.errors import SpeechxlError


@dataclass(frozen=True)
class Voice:
    name: str
    """festival's name, e.g. 'msu_ru_nsh_clunits' (selected by ``(voice_<name>)``)."""
    package: str
    """The Debian package that holds it."""
    encoding: str = "iso-8859-1"


VOICES: dict[str, tuple[Voice, ...]] = {
    "hi": (Voice("hindi_NSK_diphone", "festvox-hi-nsk", "utf-8"),),
    "mr": (Voice("marathi_NSK_diphone", "festvox-mr-nsk", "utf-8"),),
    "te": (Voice("telugu_NSK_diphone", "festvox-te-nsk", "utf-8"),),
    "ru": (Voice("msu_ru_nsh_clunits", "festvox-ru", "utf-8"),),
    "it": (Voice("lp_diphone", "festvox-italp16k"), Voice("pc_diphone", "festvox-itapc16k")),
    "fi": (Voice("suo_fi_lj_diphone", "festvox-suopuhe-lj"), Voice("hy_fi_mv_diphone", "festvox-suopuhe-mv")),
    "en": (Voice("kal_diphone", "festvox-kallpc16k"), Voice("ked_diphone", "festvox-kdlpc16k"),
           Voice("cmu_us_slt_arctic_hts", "festvox-us-slt-hts")),
    "ca": (Voice("upc_ca_ona_hts", "festvox-ca-ona-hts"),),
}
"""The festival voices of each language (ISO 639-1)."""
TIMEOUT_S = 600


def voices_of(lang: str) -> tuple[Voice, ...]:
    if lang not in VOICES:
        raise ValueError(f"no festival voice for {lang!r}; festival voices: {', '.join(sorted(VOICES))}")
    return VOICES[lang]


def require_festival(voices: list[Voice]) -> None:
    """Refuse, in one line, when festival or one of ``voices`` is not installed."""
    if shutil.which("festival") is None:
        raise SpeechxlError("festival is not installed: bash tools/install.sh installs it and its voices "
                            "(apt-get install festival " + " ".join(sorted({v.package for v in voices})) + ")")
    out = subprocess.run(["festival", "--pipe"], input=b"(print (voice.list))\n", capture_output=True,
                         timeout=TIMEOUT_S).stdout.decode("utf-8", "replace")
    missing = sorted({v.package for v in voices if v.name not in out})
    if missing:
        raise SpeechxlError(f"festival voices not installed: apt-get install {' '.join(missing)} (bash tools/install.sh)")


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def synthesise(voice: Voice, items: list[tuple[str, float]]) -> list[tuple[np.ndarray, int]]:
    """Each (sentence, duration stretch) of ``items`` voiced by ``voice``: (samples (S,), rate) each."""
    with tempfile.TemporaryDirectory(prefix="speechxl-festival-") as tmp:
        lines = [f"(voice_{voice.name})"]
        for n, (text, stretch) in enumerate(items):
            lines.append(f"(Parameter.set 'Duration_Stretch {stretch:.3f})")
            lines.append(f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(text)})) "
                         f"{_scheme_string(str(Path(tmp) / f'{n}.wav'))} 'riff)")
        try:
            script = ("\n".join(lines) + "\n").encode(voice.encoding)
        except UnicodeEncodeError as e:
            raise ValueError(f"festival voice {voice.name} reads {voice.encoding}: {e.object[e.start:e.end]!r} "
                             "is not in it") from None
        done = subprocess.run(["festival", "--pipe"], input=script, capture_output=True, timeout=TIMEOUT_S)
        waves = [Path(tmp) / f"{n}.wav" for n in range(len(items))]
        missing = [n for n, wav in enumerate(waves) if not wav.is_file()]
        if done.returncode != 0 or missing:
            which = f" on {items[missing[0]][0]!r}" if missing else ""
            raise SpeechxlError(f"festival ({voice.name}) failed{which} (exit {done.returncode}): "
                                + done.stderr.decode("utf-8", "replace").strip()[-300:])
        out = []
        for wav in waves:
            x, rate = sf.read(str(wav), dtype="float32")
            out.append((x if x.ndim == 1 else x.mean(axis=1), rate))
        return out


@dataclass(frozen=True)
class Speaker:
    """A voice made into one of several speakers: its tempo and the length of its vocal tract changed."""

    voice: Voice
    stretch: float
    """festival's Duration_Stretch: above 1, slower."""
    scale: float
    """The voice's pitch and formants times ``scale``, its duration divided by it (played faster or slower)."""

    def describe(self) -> str:
        return f"{self.voice.name} stretch {self.stretch:.2f} scale {self.scale:.2f}"


def speakers(lang: str, n: int, rng: np.random.Generator) -> list[Speaker]:
    """``n`` speakers of ``lang``'s voices, in turn, each with a tempo and a scale of its own."""
    voices = voices_of(lang)
    return [Speaker(voices[i % len(voices)], round(float(rng.uniform(0.8, 1.3)), 3),
                    round(float(rng.uniform(0.88, 1.12)), 3)) for i in range(n)]


def speak(lines: list[tuple[Speaker, str]], rate: int) -> list[np.ndarray]:
    """Each (speaker, sentence) of ``lines``, all of one voice: (S,) at ``rate`` each."""
    import soxr

    voices = {speaker.voice for speaker, _ in lines}
    if len(voices) > 1:
        raise ValueError(f"speak: one voice per call, not {sorted(v.name for v in voices)}")
    voiced = synthesise(lines[0][0].voice, [(text, speaker.stretch) for speaker, text in lines]) if lines else []
    return [soxr.resample(x, r * speaker.scale, rate).astype(np.float32)
            for (speaker, _), (x, r) in zip(lines, voiced)]
