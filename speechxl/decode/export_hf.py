"""Export a fine-tuned CTC model as a transformers ``Wav2Vec2ForCTC`` directory with its processor
(``Wav2Vec2ConformerForCTC`` and ``Wav2Vec2BertForCTC`` for those families).

    speechxl export-hf exp/ctc_chars out_dir
    # then, offline: Wav2Vec2ForCTC.from_pretrained(out_dir), Wav2Vec2Processor.from_pretrained(out_dir)

Files: config.json and model.safetensors (weights renamed by the interop table; the CTC head is
``lm_head``), vocab.json (the units, ``<blank>`` as ``<pad>``, transformers' CTC blank),
tokenizer_config.json and special_tokens_map.json (Wav2Vec2CTCTokenizer with "|" between words;
for phone models the phoneme tokenizer, which joins phones with spaces, without phonemising),
and preprocessor_config.json (waveform models: 16 kHz, the model's waveform normalisation;
w2v-BERT: SeamlessM4TFeatureExtractor, whose Kaldi fbank speechxl's log-mel frontend matches).
"""

from __future__ import annotations

import json
from pathlib import Path

from speechxl.atomic import atomic_write
from speechxl.decode.model import load_model
from speechxl.interop.hf_wav2vec2 import hf_model_type, save_hf
from speechxl.text.units import BLANK, UNK, WORD


def _preprocessor(frontend) -> dict:
    if hasattr(frontend, "n_mels"):  # log-mel frames: SeamlessM4T's Kaldi fbank, stacked
        return {"feature_extractor_type": "SeamlessM4TFeatureExtractor", "processor_class": "Wav2Vec2BertProcessor",
                "feature_size": frontend.n_mels, "num_mel_bins": frontend.n_mels, "sampling_rate": 16000,
                "stride": frontend.stack, "padding_side": "right", "padding_value": 0.0, "return_attention_mask": True}
    return {"feature_extractor_type": "Wav2Vec2FeatureExtractor", "processor_class": "Wav2Vec2Processor",
            "feature_size": 1, "sampling_rate": 16000, "padding_side": "right", "padding_value": 0.0,
            "do_normalize": frontend.normalize_waveform, "return_attention_mask": frontend.norm == "layer"}


def export_ctc(model_dir: str | Path, out_dir: str | Path) -> Path:
    m = load_model(model_dir)
    vocab = {("<pad>" if s == BLANK else s): i for i, s in enumerate(m.units.symbols)}
    frontend = m.card.model.frontend
    extra = {"vocab_size": len(vocab), "pad_token_id": 0, "bos_token_id": None, "eos_token_id": None,
             "ctc_loss_reduction": "sum", "ctc_zero_infinity": True, "final_dropout": m.card.ctc.final_dropout,
             "mask_time_prob": m.card.ctc.mask_time.prob, "mask_time_length": m.card.ctc.mask_time.length,
             "mask_feature_prob": m.card.ctc.mask_channel.prob,
             "mask_feature_length": m.card.ctc.mask_channel.length}
    model_type = hf_model_type(m.card.model)
    if model_type is None:
        raise ValueError(f"{m.card.family} models with a {m.card.model.frontend.type} frontend and a "
                         f"{m.card.model.encoder.type} encoder have no transformers counterpart to export to")
    architecture = {"wav2vec2": "Wav2Vec2ForCTC", "wav2vec2-conformer": "Wav2Vec2ConformerForCTC",
                    "wav2vec2-bert": "Wav2Vec2BertForCTC"}[model_type]
    out = save_hf(m.net.state_dict(), m.card.model, out_dir, architecture, extra)
    tokenizer = {"unk_token": UNK, "pad_token": "<pad>", "bos_token": None, "eos_token": None,
                 "do_lower_case": False, "model_max_length": 1_000_000}
    if m.kind == "phones":
        tokenizer.update(tokenizer_class="Wav2Vec2PhonemeCTCTokenizer", do_phonemize=False,
                         word_delimiter_token=WORD, phone_delimiter_token=" ")
    else:
        tokenizer.update(tokenizer_class="Wav2Vec2CTCTokenizer",
                         word_delimiter_token=WORD if WORD in m.units else None)
    files = {
        "vocab.json": vocab,
        "tokenizer_config.json": tokenizer,
        "special_tokens_map.json": {"unk_token": UNK, "pad_token": "<pad>"},
        "preprocessor_config.json": _preprocessor(frontend),
    }
    for name, content in files.items():
        atomic_write(out / name, json.dumps(content, ensure_ascii=False, indent=2) + "\n")
    return out
