"""The built-in demo corpus: espeak-ng voices, written as a CommonVoice release.

``make_demo_corpus`` synthesises a small multilingual corpus in the layout of a current
CommonVoice release (``<locale>/clips/*.mp3``, ``train.tsv``, ``dev.tsv``, ``test.tsv``,
``validated.tsv``, ``other.tsv``, ``invalidated.tsv``, ``clip_durations.tsv``,
``validated_sentences.tsv``), so that the recipe's stage 1 runs the CommonVoice code path on it.

- Text: sentences of 3-8 words drawn by frequency from wordfreq's word lists (letters of the
  language's main script only), capitalised and punctuated in the language's style.
  ``validated_sentences.tsv`` also holds sentences nobody recorded: text for a language model.
- Untranscribed speech is more plentiful and more varied than transcribed speech, as it is for
  the languages pretraining is for: about 8 minutes transcribed per language from 8 speakers,
  three times as much untranscribed from those and 8 more speakers, with wider speaking rates
  and pitches, more noise, and telephone-band and muffled channels.
- Speakers: espeak-ng voice variants, each with its own pitch and speed; train, dev and test
  speakers are disjoint, as in CommonVoice. Clips get random gain and white noise (20-40 dB SNR;
  untranscribed clips 5-40 dB, and half of them a band-limited channel).
- Splits are sentence-disjoint. Held-out languages (for zero-shot tests) get a test split and
  unlabelled clips, no train split.
- Other voices: ``voices/`` holds speech of Debian's festival voices (corpora/festival.py), units a
  human speaker recorded, as two folders that ``speechxl prepare folder`` reads:
  ``pretrain_voices/`` untranscribed clips in hi and ru (training languages) and mr, te, fi and en
  (no transcript covers them), varied as the untranscribed espeak-ng clips are, listed in
  ``untranscribed.tsv`` (path, speaker, lang: no text is written anywhere); ``test_voices/`` the
  test sentences of hi and ru, and ``test_voices_heldout/`` those of held-out it, spoken by other
  festival speakers, each with ``transcripts.tsv``. The transcribed training set stays espeak-ng only: labels from one kind of
  voice, audio from many (the setting of "Robust wav2vec 2.0", Hsu et al. 2021). A festival speaker
  is a voice with its own tempo and vocal-tract scale; the test's speakers are other variants of
  the same recorded voices. Marathi and Telugu sentences are pseudo-words of their scripts
  (wordfreq has no word list for them).
- Three clips of every training language's train split are defective on purpose, so that the
  rejects path runs on the demo: an empty file, digital silence, and a clip cut short of its
  sentence. ``demo.json`` lists them.
Everything is seeded: the same arguments give the same corpus.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import subprocess
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from speechxl.atomic import atomic_path, atomic_write
from speechxl.corpora import festival
from speechxl.errors import SpeechxlError
from speechxl.options import key_values, option, words
from speechxl.workers import process_map

log = logging.getLogger(__name__)

TRAIN_LANGS = ("es", "ru", "el", "hi", "fa", "tr")
HELDOUT_LANGS = ("it", "pl")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "klatt", "klatt2", "klatt3")
# festival's voices (corpora/festival.py): untranscribed speech in two training languages and four that no
# transcript covers, and a second test condition in two training languages and a held-out one
VOICE_UNLABELLED_LANGS = ("hi", "ru", "mr", "te", "fi", "en")
VOICE_TEST_LANGS = ("hi", "ru", "it")
VOICE_SPEAKERS = {"pretrain_voices": 6, "test_voices": 3, "test_voices_heldout": 3}
"""festival speakers per language and set (voice variants: corpora/festival.py's Speaker)."""
SYLLABLE_BLOCKS = {"mr": 0x0900, "te": 0x0C00}
"""Unicode blocks (Devanagari, Telugu) of the languages wordfreq has no word list for: their sentences are
pseudo-words of the script's syllables."""
# Sentence punctuation per language: (full stop, question mark, comma).
PUNCTUATION = {"hi": ("।", "?", ","), "el": (".", ";", ","), "fa": (".", "؟", "،"), "ar": (".", "؟", "،")}
TSV_HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes",
              "down_votes", "age", "gender", "accents", "variant", "locale", "segment"]
SENTENCES_HEADER = ["sentence_id", "sentence", "sentence_domain", "source", "is_used", "clips_count"]


@dataclass(frozen=True)
class Sizes:
    """Clips per language and split."""

    train: int = 250
    dev: int = 40
    test: int = 60
    unlabelled: int = 700
    """Validated clips in no split: audio for pretraining."""
    heldout_test: int = 100
    heldout_unlabelled: int = 200
    text_only: int = 2000
    """Sentences in validated_sentences.tsv that nobody recorded (language-model text)."""
    voices_unlabelled: int = 250
    """festival clips per language of VOICE_UNLABELLED_LANGS, untranscribed (voices/pretrain_voices)."""
    voices_test: int = 60
    """festival clips per language of VOICE_TEST_LANGS: its test sentences (voices/test_voices)."""
    speakers: tuple[int, int, int] = (8, 2, 3)
    """Speakers for (train + unlabelled, dev, test)."""
    unlabelled_speakers: int = 8
    """Speakers heard only in unlabelled clips, with wider ranges of pitch and speed."""


@dataclass(frozen=True)
class Speaker:
    client_id: str
    voice: str
    """espeak-ng voice with variant, e.g. 'es+f3'."""
    pitch: int
    speed: int
    """Words per minute."""


@dataclass
class _Clip:
    lang: str
    split: str  # train | dev | test | unlabelled
    sentence: str
    speaker: Speaker
    path: str = ""
    seconds: float = 0.0
    defect: str = ""
    seed: int = 0


@dataclass
class _Language:
    code: str
    voice: str
    clips: list[_Clip] = field(default_factory=list)
    text_only: list[str] = field(default_factory=list)


def _main_script(words: list[str]) -> str:
    counts = Counter(unicodedata.name(ch, "?").split()[0] for w in words for ch in w if ch.isalpha())
    return counts.most_common(1)[0][0]


def _vocabulary(lang: str, n: int = 2000) -> tuple[list[str], np.ndarray]:
    """Words of the language's main script and their relative frequencies."""
    from wordfreq import top_n_list, word_frequency

    words = top_n_list(lang, n)
    script = _main_script(words)

    def ok(w: str) -> bool:
        return all(unicodedata.category(c)[0] == "M" or
                   (c.isalpha() and unicodedata.name(c, "?").startswith(script)) for c in w)

    words = [w for w in words if ok(w)]
    if lang == "el":  # wordfreq folds final sigma; written Greek ends words with ς
        words = [w[:-1] + "ς" if w.endswith("σ") else w for w in words]
    freq = np.array([word_frequency(w, lang) for w in words], dtype=np.float64)
    return words, freq / freq.sum()


def _sentences(lang: str, count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct sentences of 3-8 words, capitalised and punctuated."""
    words, p = _vocabulary(lang)
    stop, question, comma = PUNCTUATION.get(lang, (".", "?", ","))
    out, seen = [], set()
    while len(out) < count:
        ws = list(rng.choice(words, size=int(rng.integers(3, 9)), p=p))
        if len(ws) > 4 and rng.random() < 0.3:
            ws[int(rng.integers(1, len(ws) - 2))] += comma
        s = " ".join(ws)
        if rng.random() < 0.15:
            s = ("¿" if lang == "es" else "") + s[0].upper() + s[1:] + question
        else:
            s = s[0].upper() + s[1:] + stop
        key = s.lower()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _syllable_sentences(block: int, count: int, rng: np.random.Generator) -> list[str]:
    """``count`` sentences of 3-8 pseudo-words of 2-4 syllables (a consonant, mostly with a vowel sign)
    in the Indic script of Unicode ``block``."""
    def assigned(a: int, b: int) -> list[str]:
        return [chr(c) for c in range(block + a, block + b + 1) if unicodedata.name(chr(c), "")]

    consonants, vowels = assigned(0x15, 0x39), assigned(0x3E, 0x4C)

    def word() -> str:
        return "".join(str(rng.choice(consonants)) + (str(rng.choice(vowels)) if rng.random() < 0.7 else "")
                       for _ in range(int(rng.integers(2, 5))))
    return [" ".join(word() for _ in range(int(rng.integers(3, 9)))) + "." for _ in range(count)]


def _speakers(lang: str, voice: str, n: int, varied: int, rng: np.random.Generator, seed: int) -> list[Speaker]:
    """``n`` speakers, then ``varied`` more with wider pitch and speed ranges."""
    variants = rng.permutation(VARIANTS)
    return [Speaker(
        client_id=hashlib.sha512(f"speechxl-demo/{seed}/{lang}/{i}".encode()).hexdigest(),
        voice=f"{voice}+{variants[i % len(variants)]}",
        pitch=int(rng.integers(25, 76) if i < n else rng.integers(10, 91)),
        speed=int(rng.integers(140, 196) if i < n else rng.integers(115, 231)),
    ) for i in range(n + varied)]


def _plan_language(lang: str, heldout: bool, sizes: Sizes, seed: int) -> _Language:
    from speechxl.text.g2p import espeak_voice

    rng = np.random.default_rng([seed, *lang.encode()])
    voice = espeak_voice(lang)
    if heldout:
        plan = {"test": sizes.heldout_test, "unlabelled": sizes.heldout_unlabelled}
    else:
        plan = {"train": sizes.train, "dev": sizes.dev, "test": sizes.test, "unlabelled": sizes.unlabelled}
    n_train, n_dev, n_test = sizes.speakers
    n = n_train + n_dev + n_test
    spk = _speakers(lang, voice, n, sizes.unlabelled_speakers, rng, seed)
    pools = {"train": spk[:n_train], "unlabelled": spk[:n_train] + spk[n:],
             "dev": spk[n_train:n_train + n_dev], "test": spk[n_train + n_dev:n]}
    sentences = _sentences(lang, sum(plan.values()) + sizes.text_only, rng)
    out = _Language(lang, voice, text_only=sentences[sum(plan.values()):])
    i = 0
    for split, n in plan.items():
        for _ in range(n):
            speaker = pools[split][int(rng.integers(len(pools[split])))]
            out.clips.append(_Clip(lang, split, sentences[i], speaker, seed=int(rng.integers(2**31))))
            i += 1
    if not heldout:
        train = [c for c in out.clips if c.split == "train"]
        for clip, defect in zip(sorted(train, key=lambda c: -len(c.sentence)), ("truncated", "silent", "empty")):
            clip.defect = defect
    for n, clip in enumerate(out.clips):
        clip.path = f"common_voice_{lang}_{10_000_000 + n}.mp3"
    return out


VOICES_DIR = "voices"
VOICE_RATE = 16000
# Channels of untranscribed clips: (low, high) edge of the pass band in Hz; None passes all.
CHANNELS = {"full": None, "telephone": (300.0, 3400.0), "muffled": (0.0, 2500.0)}


def _band(x: np.ndarray, rate: int, band: tuple[float, float]) -> np.ndarray:
    """``x`` with the frequencies outside ``band`` removed."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.size, 1 / rate)
    spectrum[(freqs < band[0]) | (freqs > band[1])] = 0
    return np.fft.irfft(spectrum, n=x.size).astype(np.float32)


def _degrade(x: np.ndarray, rate: int, rng: np.random.Generator, varied: bool) -> np.ndarray:
    """``x`` with a random gain and white noise (SNR 20-40 dB); ``varied``: 5-40 dB, and half the time a
    band-limited channel (the untranscribed clips)."""
    if varied:
        band = CHANNELS[str(rng.choice(["full", "full", "telephone", "muffled"]))]
        x = _band(x, rate, band) if band else x
    x = x / max(float(np.abs(x).max()), 1e-6) * rng.uniform(0.3, 0.9)
    snr_db = rng.uniform(5 if varied else 20, 40)
    noise = rng.standard_normal(x.size).astype(np.float32)
    return x + noise * float(np.sqrt(np.mean(x ** 2))) * 10 ** (-snr_db / 20)


def _synthesise(clip: _Clip) -> np.ndarray:
    """espeak-ng audio of the clip's sentence, with the clip's gain, noise and (untranscribed
    clips) channel; (S,) at 22050 Hz."""
    cmd = ["espeak-ng", "-v", clip.speaker.voice, "-p", str(clip.speaker.pitch),
           "-s", str(clip.speaker.speed), "--stdin", "--stdout"]
    wav = subprocess.run(cmd, input=clip.sentence.encode(), capture_output=True, check=True).stdout
    x, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return _degrade(x, rate, np.random.default_rng(clip.seed), clip.split == "unlabelled")


def _render(args: tuple[_Clip, Path]) -> tuple[str, float]:
    """Write one clip's MP3 (kept if already there); returns (path, seconds)."""
    clip, clips_dir = args
    path = clips_dir / clip.path
    rate = 22050
    if path.exists():
        return clip.path, sf.info(str(path)).duration if path.stat().st_size else 0.0
    if clip.defect == "empty":
        with atomic_path(path) as tmp:
            tmp.write_bytes(b"")
        return clip.path, 0.0
    x = _synthesise(clip)
    if clip.defect == "silent":
        x = np.zeros_like(x)
    elif clip.defect == "truncated":
        x = x[: int(0.6 * rate)]
    with atomic_path(path) as tmp:
        sf.write(str(tmp), x, rate, format="MP3")
    return clip.path, x.size / rate


def _render_crashed(args: tuple[_Clip, Path]) -> tuple[str, float]:
    raise SpeechxlError(f"synthesising {args[1] / args[0].path} killed its process (espeak-ng or out of memory)")


@dataclass
class _VoiceClip:
    """A festival clip of ``voices/<split>/``."""

    lang: str
    split: str  # pretrain_voices | test_voices | test_voices_heldout
    sentence: str
    speaker: festival.Speaker
    speaker_id: str
    path: str  # below voices/<split>/
    seed: int
    seconds: float = 0.0


def _plan_voices(plans: list[_Language], sizes: Sizes, seed: int) -> list[_VoiceClip]:
    """The festival clips: untranscribed sentences no espeak-ng clip speaks, and the test sentences of
    VOICE_TEST_LANGS (those of the corpus) spoken by other speakers (test_voices_heldout: those of
    held-out languages)."""
    by_lang = {p.code: p for p in plans}
    heldout = {p.code for p in plans if not any(c.split == "train" for c in p.clips)}
    wanted = {"pretrain_voices": [(lang, sizes.voices_unlabelled) for lang in VOICE_UNLABELLED_LANGS],
              "test_voices": [(lang, sizes.voices_test) for lang in VOICE_TEST_LANGS
                              if lang in by_lang and lang not in heldout],
              "test_voices_heldout": [(lang, sizes.voices_test) for lang in VOICE_TEST_LANGS if lang in heldout]}
    out = []
    for split, langs in wanted.items():
        for lang, n in langs:
            if n <= 0:
                continue
            rng = np.random.default_rng([seed, *split.encode(), *lang.encode()])
            if split != "pretrain_voices":
                sentences = [c.sentence for c in by_lang[lang].clips if c.split == "test"][:n]
            else:
                spoken = {c.sentence for c in by_lang[lang].clips} if lang in by_lang else set()
                drawn = (_syllable_sentences(SYLLABLE_BLOCKS[lang], 2 * n, rng) if lang in SYLLABLE_BLOCKS
                         else _sentences(lang, 2 * n, rng))
                sentences = [x for x in drawn if x not in spoken][:n]
            speakers = festival.speakers(lang, VOICE_SPEAKERS[split], rng)
            for i, sentence in enumerate(sentences):
                k = int(rng.integers(len(speakers)))
                speaker_id = hashlib.sha512(f"speechxl-demo/{seed}/{lang}/{split}/{k}".encode()).hexdigest()
                out.append(_VoiceClip(lang, split, sentence, speakers[k], speaker_id,
                                      f"{lang}/{split}_{lang}_{i:05d}.flac", int(rng.integers(2**31))))
    return out


def _voice_batches(clips: list[_VoiceClip], per_batch: int = 100) -> list[list[_VoiceClip]]:
    """``clips`` in batches of one voice each (one festival process per batch)."""
    by_voice: dict[str, list[_VoiceClip]] = {}
    for c in clips:
        by_voice.setdefault(c.speaker.voice.name, []).append(c)
    return [group[i:i + per_batch] for group in by_voice.values() for i in range(0, len(group), per_batch)]


def _render_voices(args: tuple[list[_VoiceClip], Path]) -> list[tuple[str, float]]:
    """Write one batch's FLACs (those already there are kept); returns (split/path, seconds) each."""
    batch, voices_dir = args
    todo = [c for c in batch if not (voices_dir / c.split / c.path).exists()]
    for clip, x in zip(todo, festival.speak([(c.speaker, c.sentence) for c in todo], VOICE_RATE)):
        x = _degrade(x, VOICE_RATE, np.random.default_rng(clip.seed), clip.split == "pretrain_voices")
        with atomic_path(voices_dir / clip.split / clip.path) as tmp:
            sf.write(str(tmp), x, VOICE_RATE, format="FLAC")
    return [(f"{c.split}/{c.path}", sf.info(str(voices_dir / c.split / c.path)).duration) for c in batch]


def _render_voices_crashed(args: tuple[list[_VoiceClip], Path]) -> list[tuple[str, float]]:
    raise SpeechxlError(f"voicing {args[0][0].split}/{args[0][0].path} and the rest of its batch killed its "
                        "process (festival or out of memory)")


def _make_voices(root: Path, plans: list[_Language], sizes: Sizes, seed: int, jobs: int) -> dict:
    """``root/voices/``: the festival clips of ``_plan_voices`` and their TSVs (module doc); returns
    what demo.json says of them."""
    clips = _plan_voices(plans, sizes, seed)
    if not clips:
        return {}
    festival.require_festival(sorted({c.speaker.voice for c in clips}, key=lambda v: v.name))
    voices_dir = root / VOICES_DIR
    batches = _voice_batches(clips)
    by_path = {f"{c.split}/{c.path}": c for c in clips}
    bar = tqdm(total=len(clips), desc="festival voices", unit="clip", dynamic_ncols=True, mininterval=1.0)
    for _, done in process_map(_render_voices, [(b, voices_dir) for b in batches], jobs,
                               on_crash=_render_voices_crashed):
        for path, seconds in done:
            by_path[path].seconds = seconds
        bar.update(len(done))
    bar.close()
    listing = [[c.path, c.speaker_id, c.lang] for c in clips if c.split == "pretrain_voices"]
    if listing:  # untranscribed: no text column, no transcript anywhere
        _write_tsv(voices_dir / "pretrain_voices" / "untranscribed.tsv", ["path", "speaker", "lang"], listing)
    for split in ("test_voices", "test_voices_heldout"):
        tests = [[c.path, c.sentence, c.speaker_id, c.lang] for c in clips if c.split == split]
        if tests:
            _write_tsv(voices_dir / split / "transcripts.tsv", ["path", "text", "speaker", "lang"], tests)
    return {split: {"hours": round(sum(c.seconds for c in clips if c.split == split) / 3600, 3),
                    "clips": sum(c.split == split for c in clips),
                    "speakers": {lang: sorted({c.speaker.describe() for c in clips if c.split == split and c.lang == lang})
                                 for lang in sorted({c.lang for c in clips if c.split == split})}}
            for split in VOICE_SPEAKERS if any(c.split == split for c in clips)}


def _row(clip: _Clip, sentence_id: str) -> list[str]:
    return [clip.speaker.client_id, clip.path, sentence_id, clip.sentence, "", "2", "0", "", "",
            "", "", clip.lang, ""]


def _write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, quotechar=None,
                   escapechar=None)
    w.writerow(header)
    w.writerows(rows)
    atomic_write(path, buf.getvalue())


def _write_locale(root: Path, lang: _Language) -> None:
    d = root / lang.code
    sid = {c.sentence: hashlib.sha256(c.sentence.encode()).hexdigest() for c in lang.clips}
    for split in ("train", "dev", "test"):
        _write_tsv(d / f"{split}.tsv", TSV_HEADER, [_row(c, sid[c.sentence]) for c in lang.clips if c.split == split])
    _write_tsv(d / "validated.tsv", TSV_HEADER, [_row(c, sid[c.sentence]) for c in lang.clips])
    for name in ("other.tsv", "invalidated.tsv"):
        _write_tsv(d / name, TSV_HEADER, [])
    _write_tsv(d / "clip_durations.tsv", ["clip", "duration[ms]"],
               [[c.path, str(int(round(c.seconds * 1000)))] for c in lang.clips])
    sentences = [[sid[c.sentence], c.sentence, "", "speechxl-demo", "1", "1"] for c in lang.clips]
    sentences += [[hashlib.sha256(s.encode()).hexdigest(), s, "", "speechxl-demo", "0", "0"]
                  for s in lang.text_only]
    _write_tsv(d / "validated_sentences.tsv", SENTENCES_HEADER, sentences)


def make_demo_corpus(
    out_dir: str | Path,
    langs: tuple[str, ...] = TRAIN_LANGS,
    heldout_langs: tuple[str, ...] = HELDOUT_LANGS,
    sizes: Sizes = Sizes(),
    seed: int = 0,
    jobs: int = 2,
) -> Path:
    """Synthesise the demo corpus under ``out_dir`` (see the module doc); returns ``out_dir``.

    Clips already on disk are kept, so a killed run resumes where it stopped.
    """
    root = Path(out_dir)
    plans = [_plan_language(lang, False, sizes, seed) for lang in langs]
    plans += [_plan_language(lang, True, sizes, seed) for lang in heldout_langs]
    work = [(c, root / p.code / "clips") for p in plans for c in p.clips]
    by_path = {c.path: c for p in plans for c in p.clips}
    bar = tqdm(total=len(work), desc="synthesise", unit="clip", dynamic_ncols=True, mininterval=1.0)
    for _, (path, seconds) in process_map(_render, work, jobs, on_crash=_render_crashed):
        by_path[path].seconds = seconds
        bar.update()
    bar.close()
    for p in plans:
        _write_locale(root, p)
    hours = sum(c.seconds for p in plans for c in p.clips) / 3600
    meta = {
        "seed": seed, "langs": list(langs), "heldout_langs": list(heldout_langs), "sizes": asdict(sizes),
        "espeak_ng": subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip(),
        "hours": round(hours, 3), "clips": len(work),
        "speakers": {p.code: sorted({asdict(c.speaker)["voice"] + f" p{c.speaker.pitch} s{c.speaker.speed}"
                                     for c in p.clips}) for p in plans},
        "defects": {c.path: c.defect for p in plans for c in p.clips if c.defect},
    }
    meta["festival"] = _make_voices(root, plans, sizes, seed, jobs)
    atomic_write(root / "demo.json", json.dumps(meta, ensure_ascii=False, indent=1) + "\n")
    log.info("demo corpus %s: %d clips, %.2f h, %d languages (%d held out)", root, len(work), hours,
             len(langs) + len(heldout_langs), len(heldout_langs))
    return root


HELP = "synthesise the built-in demo corpus (CommonVoice layout)"


def add_arguments(p) -> None:
    """``speechxl prepare demo`` options."""
    option(p, "--out", required=True, help="directory for the corpus")
    option(p, "--langs", nargs="+", help="training languages (default: es ru el hi fa tr)")
    option(p, "--heldout_langs", nargs="+", help="held-out languages (default: it pl)")
    option(p, "--scale", type=float, default=1.0, help="multiply every clip count")
    option(p, "--sizes", nargs="+", help="clip counts as key=value, e.g. train=20 test=5")
    option(p, "--seed", type=int, default=0)
    option(p, "--jobs", type=int, default=2, help="processes")


def run(args) -> None:
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"--out {args.out}: a file, not a directory for the demo corpus")
    sizes = Sizes()
    overrides = {k: int(v) for k, v in key_values(args.sizes, "--sizes").items()}
    unknown = set(overrides) - {f.name for f in fields(sizes)} | ({"speakers"} & set(overrides))
    if unknown:
        raise SystemExit(f"speechxl: --sizes: unknown {sorted(unknown)}")
    scaled = {f.name: max(1, round(getattr(sizes, f.name) * args.scale))  # clip counts, not speakers
              for f in fields(sizes) if "speakers" not in f.name}
    sizes = replace(sizes, **{**scaled, **overrides})
    make_demo_corpus(args.out, tuple(words(args.langs)) or TRAIN_LANGS,
                     tuple(words(args.heldout_langs)) if args.heldout_langs is not None else HELDOUT_LANGS,
                     sizes=sizes, seed=args.seed, jobs=args.jobs)
