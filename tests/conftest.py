"""Shared test helpers: synthetic audio and tiny CommonVoice releases made on the fly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

NEW_HEADER = ["client_id", "path", "sentence_id", "sentence", "sentence_domain", "up_votes",
              "down_votes", "age", "gender", "accents", "variant", "locale", "segment"]
OLD_HEADER = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accent"]


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    """A sine tone, (S,) or (S, C), amplitude 0.5."""
    t = np.arange(int(seconds * rate)) / rate
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def write_release(root: Path, lang: str, splits: dict[str, list[tuple[str, str, str]]],
                  header: list[str] = NEW_HEADER, seconds: float = 2.0, rate: int = 48000,
                  audio: dict[str, tuple[np.ndarray, int] | bytes] | None = None) -> Path:
    """A CommonVoice locale dir: splits maps 'train' etc. to (client_id, clip, sentence) rows.

    Clips get a tone of ``seconds`` at ``rate`` unless ``audio`` gives (samples, rate) or raw
    bytes; the format follows the clip's suffix.
    """
    d = root / lang
    (d / "clips").mkdir(parents=True, exist_ok=True)
    audio = audio or {}
    for rows in splits.values():
        for _, clip, _ in rows:
            path = d / "clips" / clip
            if path.exists():
                continue
            data = audio.get(clip)
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                x, r = (tone(seconds, rate), rate) if data is None else data
                sf.write(str(path), x, r, format=path.suffix[1:].upper())
    for split, rows in splits.items():
        with open(d / f"{split}.tsv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar=None, quotechar=None)
            w.writerow(header)
            for client, clip, sentence in rows:
                row = {"client_id": client, "path": clip, "sentence": sentence, "locale": lang,
                       "sentence_id": f"s{abs(hash(sentence))}", "up_votes": "2", "down_votes": "0"}
                w.writerow([row.get(h, "") for h in header])
    return d


@pytest.fixture
def run_cli():
    """Call the speechxl command in-process."""
    from speechxl.cli import main

    return lambda *args: main([str(a) for a in args])


def prepared_demo(root: Path, langs: tuple[str, ...], sizes, seed: int) -> Path:
    """A demo corpus of ``sizes`` (speechxl.corpora.demo.Sizes) in ``langs`` synthesised under
    root/cv and prepared by stage 1 into root/data; returns root/data."""
    from speechxl.corpora.commonvoice import prepare_commonvoice
    from speechxl.corpora.demo import make_demo_corpus

    make_demo_corpus(root / "cv", langs, (), sizes, seed=seed, jobs=2)
    prepare_commonvoice(root / "cv", root / "data", list(langs), jobs=2)
    return root / "data"


def write_audio_set(root: Path, n: int = 12, langs: tuple[str, ...] = ("aa", "bb"), seconds=(1.0, 2.5),
                    seed: int = 0) -> Path:
    """A data dir of ``n`` short utterances of noisy tones (FLAC), spread over ``langs``."""
    from speechxl.data.manifest import Utterance, write_manifest

    rng = np.random.default_rng(seed)
    audio = root / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    utts = []
    for i in range(n):
        dur = float(rng.uniform(*seconds))
        t = np.arange(int(dur * 16000)) / 16000
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t) * (1 + np.sin(2 * np.pi * 3 * t))
        x = (x + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
        path = audio / f"u{i:03d}.flac"
        sf.write(str(path), x, 16000)
        lang = langs[i % len(langs)]
        utts.append(Utterance(id=f"{lang}-u{i:03d}", audio=str(path), duration=t.size / 16000, lang=lang,
                              speaker=f"{lang}-s{i % 3}", text="a b"))
    write_manifest(utts, root / "set")
    return root / "set"


# a wav2vec 2.0 small enough for unit tests (about 40k parameters)
TINY_W2V = [
    "model.frontend.conv_dim=[32,32,32,32]", "model.frontend.conv_kernel=[10,3,3,2]",
    "model.frontend.conv_stride=[5,2,2,2]", "model.encoder.hidden_size=32", "model.encoder.num_layers=2",
    "model.encoder.num_heads=2", "model.encoder.intermediate_size=64", "model.encoder.pos_conv_kernel=16",
    "model.encoder.pos_conv_groups=2", "model.quantizer.entries=8", "model.quantizer.dim=16",
    "model.objective.final_dim=16", "model.objective.num_negatives=5",
    "batch.max_samples=64000", "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0",
    "schedule.warmup_steps=2", "train.log_every=1", "train.valid_every=100", "train.save_every=100",
]

# a Conformer small enough for unit tests, and the w2v-BERT (the demo's default method) built on it
TINY_CONFORMER = ["model.encoder.hidden_size=32", "model.encoder.num_layers=2", "model.encoder.num_heads=2",
                  "model.encoder.intermediate_size=64", "model.encoder.conv_kernel=5"]
TINY_W2V_BERT = TINY_CONFORMER + [
    "model.quantizer.entries=16", "model.quantizer.dim=16", "model.objective.final_dim=16",
    "model.objective.num_negatives=5", "model.contrastive_layers=1"]

# CTC fine-tuning of TINY_W2V's architecture from random weights, a few updates
TINY_CTC = [o for o in TINY_W2V if not o.startswith(("model.quantizer", "model.objective"))] + [
    "batch.crop_to_shortest=false", "batch.max_seconds=4.0", "batch.max_samples=96000",
    "ctc.freeze_encoder_steps=0", "schedule.kind=constant", "schedule.warmup_steps=0", "optim.lr=1e-3",
    "require_learning=false",  # a few updates learn nothing; these tests check the plumbing
]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny fine-tuned character model on a two-language espeak corpus, shared by the decode and
    fault tests: (root, data dir, final figures); root/ctc is the model; data has lang_char,
    lang_phone, lang_word."""
    from speechxl.corpora.demo import Sizes
    from speechxl.text.lang_dir import make_lang_dir, make_word_lms
    from speechxl.train.finetune import finetune, load_finetune_config

    root = tmp_path_factory.mktemp("pipe")
    sizes = Sizes(train=16, dev=3, test=4, unlabelled=0, heldout_test=2, heldout_unlabelled=1, text_only=30,
                  speakers=(2, 1, 1))
    data = prepared_demo(root, ("es", "ru"), sizes, seed=1)
    for kind in ("chars", "phones"):
        make_lang_dir(kind, data / "train", data / f"lang_{kind[:-1] if kind != 'phones' else 'phone'}",
                      eval_dirs=[data / "test"], lm_text=data / "lm_text")
    make_word_lms(data / "train", data / "lang_word", data / "lm_text", 2, eval_dirs=[data / "test"])
    cfg = load_finetune_config(None, TINY_CTC + [f"data={data / 'train'}", f"valid_data={data / 'dev'}",
                                                 f"out={root / 'ctc'}", "units=chars", "train.max_steps=4",
                                                 "train.valid_every=2", "train.save_every=2"])
    figures = finetune(cfg)
    return root, data, figures
