"""The units stage: build ``data/lang_<kind>/`` from a training set's transcripts.

A lang dir holds:
  units.txt           the shared inventory (see ``speechxl.text.units`` for the conventions)
  units_<lang>.txt    each training language's own inventory (chars and phones)
  unit_counts.tsv     unit, count in the training set, and count per language
  info.json           kind, sources, G2P voices or BPE settings, and each evaluation set's
                      coverage: the share of its tokens outside the inventory, per language
  g2p/<lang>.tsv      phones: the G2P cache (text, phones), for every set given
  bpe.model           BPE: the sentencepiece model
  lm/<lang>.arpa      an n-gram LM over the units per language (lexicon-free decoding), from the
                      training transcripts and, where given, the lm_text dir (<lang>.txt files)
  inventory/<lang>.txt  phones: each language's phone inventory (one phone a line, with counts
                      as comments) from its lm_text, for every language of the training and
                      evaluation sets; what zero-shot decoding restricts a held-out language to

The kind "words" builds ``data/lang_word/``: a word n-gram LM per language, ``<lang>.arpa``, from
the same text, for lexicon decoding and WER.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections import Counter, defaultdict
from pathlib import Path

from speechxl.atomic import atomic_write
from speechxl.data.manifest import Utterance, read_manifest
from speechxl.text.ngram import train_ngram, write_arpa
from speechxl.text.tokenize import BpeTokenizer, CharTokenizer, PhoneTokenizer, Tokenizer
from speechxl.text.units import Units
from speechxl.untrusted import inside

log = logging.getLogger(__name__)

KINDS = {"chars": "lang_char", "phones": "lang_phone", "bpe": "lang_bpe", "words": "lang_word"}
UNIT_KINDS = ("chars", "phones", "bpe")  # what a model can output; "words" makes word LMs only


def lang_dir_beside(train_dir: str | Path, kind: str) -> Path:
    """Where the units stage writes ``kind`` for a training set: data/lang_<kind> beside data/train."""
    return Path(train_dir).parent / KINDS[kind]
TOKEN_LM_ORDER = {"chars": 6, "phones": 6, "bpe": 4}


def _transcribed(data_dirs: str | Path | list) -> tuple[list[Utterance], str | list[str]]:
    """The transcribed utterances of one data dir or several, and the dirs as info.json records them."""
    dirs = [Path(d) for d in (data_dirs if isinstance(data_dirs, (list, tuple)) else [data_dirs])]
    utts = []
    for d in dirs:
        found = [u for u in read_manifest(d) if u.text]
        if not found:
            raise ValueError(f"{d}: no transcribed utterances to build units from")
        utts += found
    named = [str(d.resolve()) for d in dirs]
    return utts, named[0] if len(named) == 1 else named


def _train_bpe(texts: list[str], out_dir: Path, vocab_size: int) -> BpeTokenizer:
    import sentencepiece as spm

    out_dir.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_prefix=str(out_dir / "bpe"), model_type="bpe",
        vocab_size=vocab_size, character_coverage=1.0, hard_vocab_limit=False,
        unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, input_sentence_size=2_000_000,
        shuffle_input_sentence=True, num_threads=2, minloglevel=2,
    )
    return BpeTokenizer(out_dir / "bpe.model")


def _coverage(units: Units, utts: list[Utterance], tokens: list[list[str]]) -> dict:
    """Per language: tokens, share outside the inventory, the most frequent outsiders."""
    per: dict[str, Counter] = defaultdict(Counter)
    unknown: dict[str, Counter] = defaultdict(Counter)
    for u, toks in zip(utts, tokens):
        per[u.lang]["tokens"] += len(toks)
        out = units.unknown(toks)
        per[u.lang]["unknown"] += len(out)
        unknown[u.lang].update(out)
    return {lang: {"tokens": c["tokens"], "unknown_rate": round(c["unknown"] / max(c["tokens"], 1), 5),
                   "unknown_units": dict(unknown[lang].most_common(10))}
            for lang, c in sorted(per.items())}


def lm_sentences(utts: list[Utterance], lm_text: str | Path | None) -> dict[str, list[Utterance]]:
    """Per language: the training transcripts, plus the sentences of lm_text/<lang>.txt."""
    out: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        out[u.lang].append(u)
    for lang in list(out):
        path = Path(lm_text) / f"{lang}.txt" if lm_text else None
        if path and path.is_file():
            lines = [t for t in path.read_text(encoding="utf-8").splitlines() if t]
            out[lang] += [Utterance(id=f"lm-{i}", audio="", duration=0.0, lang=lang, speaker="", text=t)
                          for i, t in enumerate(lines)]
    return out


def _write_lms(out_dir: Path, by_lang: dict[str, list[list[str]]], order: int) -> dict:
    stats = {}
    for lang, sentences in sorted(by_lang.items()):
        model = train_ngram(sentences, order)
        write_arpa(model, inside(out_dir, f"{lang}.arpa"))
        stats[lang] = {"sentences": len(sentences), "tokens": sum(map(len, sentences)), "vocab": len(model.vocab)}
    return stats


def _write_inventories(tokenizer: PhoneTokenizer, langs: list[str], lm_text: Path, out_dir: Path) -> None:
    """inventory/<lang>.txt for each language with text in lm_text."""
    for lang in langs:
        path = lm_text / f"{lang}.txt"
        if not path.is_file():
            continue
        lines = [t for t in path.read_text(encoding="utf-8").splitlines() if t]
        counts = Counter(p for phones in tokenizer.g2p(lang)(lines) for p in phones if p != "|")
        rows = [f"# {lang}: {len(counts)} phones from {len(lines)} sentences of {path} (espeak-ng)"]
        rows += [f"{p}\t# {n}" for p, n in counts.most_common()]
        atomic_write(inside(out_dir, f"{lang}.txt"), "\n".join(rows) + "\n")


def make_word_lms(train_dir: str | Path | list, out_dir: str | Path, lm_text: str | Path | None = None,
                  order: int = 3, eval_dirs: list[str | Path] = ()) -> Path:
    """``data/lang_word``: a word n-gram LM per language (of the transcripts of ``train_dir``, one data
    dir or several, and ``lm_text``) and the eval sets' out-of-vocabulary rates."""
    out_dir = Path(out_dir)
    utts, named = _transcribed(train_dir)
    texts = lm_sentences(utts, lm_text)
    info = {"kind": "words", "order": order, "train": named,
            "lm_text": str(Path(lm_text).resolve()) if lm_text else None,
            "languages": _write_lms(out_dir, {k: [u.text.split() for u in v] for k, v in texts.items()}, order)}
    vocab = {lang: set(w for u in us for w in u.text.split()) for lang, us in texts.items()}
    info["oov_rate"] = {}
    for d in eval_dirs:
        words = [(u.lang, w) for u in read_manifest(d) if u.text and u.lang in vocab for w in u.text.split()]
        info["oov_rate"][str(Path(d).resolve())] = {
            lang: round(sum(w not in vocab[lang] for lg, w in words if lg == lang) /
                        max(sum(lg == lang for lg, _ in words), 1), 4) for lang in sorted(vocab)}
    atomic_write(out_dir / "info.json", json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    log.info("%s: %d-gram word LMs for %s", out_dir, order, ", ".join(sorted(texts)))
    return out_dir


def make_lang_dir(kind: str, train_dir: str | Path | list, out_dir: str | Path,
                  eval_dirs: list[str | Path] = (), bpe_size: int = 500,
                  voices: dict[str, str] | None = None, jobs: int = 1, lm_text: str | Path | None = None) -> Path:
    """Build the lang dir of ``kind`` (chars, phones, bpe) from the transcripts of ``train_dir`` (one
    data dir or several: a target language's and a related one's, fine-tuned together).

    ``eval_dirs`` are tokenised too (phones: phonemised into the cache) and their coverage by
    the inventory is recorded and logged. A unit LM per language goes to lm/<lang>.arpa.
    """
    if kind not in KINDS or kind == "words":
        raise ValueError(f"unknown unit kind {kind!r}; choose from chars, phones, bpe")
    out_dir = Path(out_dir)
    utts, named = _transcribed(train_dir)
    info: dict = {"kind": kind, "train": named}
    tokenizer: Tokenizer
    if kind == "chars":
        tokenizer = CharTokenizer()
    elif kind == "phones":
        from speechxl.text.g2p import espeak_voice

        seen = {u.lang for u in utts}
        for d in eval_dirs:
            seen |= {u.lang for u in read_manifest(d)}
        voices = {lang: (voices or {}).get(lang) or espeak_voice(lang) for lang in sorted(seen)}
        version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()
        info.update(voices=voices, espeak_ng=version)
        tokenizer = PhoneTokenizer(out_dir / "g2p", voices=voices, jobs=jobs)
    else:
        tokenizer = _train_bpe([u.text for u in utts], out_dir, bpe_size)
        info.update(bpe_size=bpe_size, model_type="bpe")
    tokens = tokenizer.tokenize(utts)
    if kind == "bpe":
        units = Units(Units.build([], word_boundary=False).symbols + tokenizer.pieces())
    else:
        units = Units.build([t for toks in tokens for t in toks], word_boundary=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    units.save(out_dir / "units.txt")

    counts: dict[str, Counter] = defaultdict(Counter)
    for u, toks in zip(utts, tokens):
        counts[u.lang].update(toks)
    langs = sorted(counts)
    total = sum(counts.values(), Counter())
    rows = ["unit\tcount\t" + "\t".join(langs)]
    rows += [f"{s}\t{total[s]}\t" + "\t".join(str(counts[lang][s]) for lang in langs) for s in units.symbols]
    atomic_write(out_dir / "unit_counts.tsv", "\n".join(rows) + "\n")
    if kind != "bpe":
        for lang in langs:
            Units.build(counts[lang], word_boundary=True).save(inside(out_dir, f"units_{lang}.txt"))

    info["units"] = len(units)
    info["languages"] = {lang: sum(c.values()) for lang, c in counts.items()}
    info["coverage"] = {}
    for d in eval_dirs:
        eval_utts = [u for u in read_manifest(d) if u.text]
        cov = _coverage(units, eval_utts, tokenizer.tokenize(eval_utts))
        info["coverage"][str(Path(d).resolve())] = cov
        worst = max(cov.items(), key=lambda kv: kv[1]["unknown_rate"], default=None)
        if worst and worst[1]["unknown_rate"] > 0:
            log.info("%s: %s: %.1f%% of %s tokens outside the %s units, e.g. %s", out_dir.name, d,
                     100 * worst[1]["unknown_rate"], worst[0], kind, list(worst[1]["unknown_units"])[:5])
    if kind == "phones" and lm_text:
        _write_inventories(tokenizer, sorted(info["voices"]), Path(lm_text), out_dir / "inventory")
    lm_texts = lm_sentences(utts, lm_text)
    info["lm"] = {"order": TOKEN_LM_ORDER[kind], "languages": _write_lms(
        out_dir / "lm", {lang: tokenizer.tokenize(us) for lang, us in lm_texts.items()}, TOKEN_LM_ORDER[kind])}
    atomic_write(out_dir / "info.json", json.dumps(info, ensure_ascii=False, indent=1) + "\n")
    log.info("%s: %d %s units from %d utterances in %d languages", out_dir, len(units), kind,
             len(utts), len(langs))
    return out_dir
