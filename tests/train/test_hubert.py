"""HuBERT end to end on tiny data: MFCC dump, k-means, pretraining with the labels (exact resume,
changed labels refused), the next iteration's features from the model, fine-tuning from it."""

import json
from pathlib import Path

import numpy as np
import pytest

from speechxl.config import ConfigError
from speechxl.data.frame_store import FrameStore
from speechxl.decode.features import dump_features
from speechxl.errors import SpeechxlError
from speechxl.train.kmeans import kmeans
from speechxl.train.pretrain import load_pretrain_config, pretrain
from tests.conftest import write_audio_set
from tests.train.runs import assert_same_run, killed_after_step_3_then_resumed

ROOT = Path(__file__).resolve().parents[2]
# 20 ms frames (hop 5*4*4*4 = 320 samples), as the MFCC labels'
TINY_HUBERT = [
    "model.frontend.conv_dim=[32,32,32,32]", "model.frontend.conv_kernel=[10,8,4,4]",
    "model.frontend.conv_stride=[5,4,4,4]", "model.encoder.hidden_size=32", "model.encoder.num_layers=2",
    "model.encoder.num_heads=2", "model.encoder.intermediate_size=64", "model.encoder.pos_conv_kernel=16",
    "model.encoder.pos_conv_groups=2", "model.final_dim=16",
    "batch.max_samples=64000", "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0",
    "schedule.warmup_steps=2", "train.log_every=1", "train.valid_every=100", "train.save_every=100",
]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("hubert")
    train, valid = write_audio_set(root / "train", n=16), write_audio_set(root / "valid", n=4, langs=("cc",), seed=1)
    feats = dump_features("mfcc", [train, valid], root / "feats")
    return train, valid, kmeans(feats, 8, root / "km8", sample=5000)


def config(labelled, out, *extra):
    train, valid, labels = labelled
    return load_pretrain_config(ROOT / "recipes/pretrain/hubert_tiny.yaml", TINY_HUBERT + [
        f"data={train}", f"valid_data={valid}", f"labels={labels}", f"out={out}", *extra])


def test_kmeans_labels_every_dumped_utterance_at_the_features_frame_rate(labelled):
    train, valid, labels = labelled
    store, feats = FrameStore(labels), FrameStore(Path(labels).parent / "feats")
    assert len(store) == 20 and store.info["clusters"] == 8 and store.frame_shift_ms == 20.0
    for utt in feats.index:
        assert len(store[utt]) == len(feats[utt]) and 0 <= store[utt].min() and store[utt].max() < 8
    assert store.info["clusters_used"] == 8 and store.info["features"]["source"] == "mfcc"


def test_an_utterance_id_in_two_sets_is_refused(tmp_path):
    a, b = write_audio_set(tmp_path / "a", n=2), write_audio_set(tmp_path / "b", n=2)
    with pytest.raises(SpeechxlError, match="utterance aa-u000 is in .* and in .*: frames are kept by utterance id"):
        dump_features("mfcc", [a, b], tmp_path / "feats")


def test_kmeans_finds_separated_clusters(tmp_path):
    from speechxl.data.frame_store import FrameWriter

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 4)) * 20
    truth = rng.integers(0, 3, 600)
    w = FrameWriter(tmp_path / "f", "float16", 4)
    for i in range(6):
        w.add(f"u{i}", centres[truth[i * 100:(i + 1) * 100]] + rng.normal(size=(100, 4)))
    w.close({"frame_shift_ms": 20.0, "source": "test"})
    store = FrameStore(kmeans(tmp_path / "f", 3, tmp_path / "km", sample=300))
    found = np.concatenate([store[f"u{i}"][:, 0] for i in range(6)])
    assert all(len(set(found[truth == c])) == 1 for c in range(3)) and len(set(found)) == 3


def test_hubert_learns_and_a_killed_run_resumes_bit_identically(labelled, tmp_path, monkeypatch):
    run = lambda out: pretrain(config(labelled, out, "train.max_steps=8", "train.save_every=3"))  # noqa: E731
    figures = run(tmp_path / "a")
    assert figures["loss"] > 0 and 0 <= figures["accuracy"] <= 1
    assert load_pretrain_config(tmp_path / "a/config.yaml").model.clusters == 8  # from the labels
    killed_after_step_3_then_resumed(run, tmp_path / "b", monkeypatch)
    assert_same_run(tmp_path / "a", tmp_path / "b")


def test_20_ms_labels_serve_a_40_ms_model_every_other_one(labelled, tmp_path):
    figures = pretrain(config(labelled, tmp_path / "a", "model.frontend.conv_stride=[5,4,4,8]",
                              "model.frontend.conv_kernel=[10,8,4,8]", "train.max_steps=2"))
    assert figures["loss"] > 0
    assert load_pretrain_config(tmp_path / "a/config.yaml").model.label_stride == 2


def test_resuming_on_other_labels_is_refused(labelled, tmp_path):
    train, valid, labels = labelled
    pretrain(config(labelled, tmp_path / "a", "train.max_steps=2", "train.save_every=2"))
    kmeans(Path(labels).parent / "feats", 8, labels, sample=5000, seed=1)  # the same dir, new labels
    try:
        with pytest.raises(ConfigError, match="its data changed"):
            pretrain(config(labelled, tmp_path / "a", "train.max_steps=4"))
    finally:
        kmeans(Path(labels).parent / "feats", 8, labels, sample=5000)


def test_wrong_or_missing_labels_are_refused_in_one_line(labelled, tmp_path):
    train, valid, labels = labelled
    unlabelled = load_pretrain_config(ROOT / "recipes/pretrain/hubert_tiny.yaml", TINY_HUBERT + [
        f"data={train}", f"out={tmp_path / 'a'}"])
    with pytest.raises(ConfigError, match="predicts frame labels: give labels="):
        pretrain(unlabelled)
    with pytest.raises(ConfigError, match="a label every 20 ms, the model a frame every 10 ms, not a whole number"):
        pretrain(config(labelled, tmp_path / "b", "model.frontend.conv_stride=[5,4,4,2]"))
    with pytest.raises(ConfigError, match="holds features, not k-means labels"):
        pretrain(config(labelled, tmp_path / "c", f"labels={Path(labels).parent / 'feats'}"))
    w2v = ROOT / "recipes/pretrain/wav2vec2_tiny.yaml"
    with pytest.raises(ConfigError, match="makes its own targets"):
        pretrain(load_pretrain_config(w2v, [f"data={train}", f"labels={labels}", f"out={tmp_path / 'd'}"]))


def test_the_second_iteration_clusters_a_layer_and_fine_tuning_starts_from_it(labelled, tmp_path):
    from speechxl.data.manifest import Utterance, read_manifest, write_manifest
    from speechxl.text.lang_dir import make_lang_dir
    from speechxl.train.finetune import finetune, load_finetune_config

    train, valid, _ = labelled
    pretrain(config(labelled, tmp_path / "it1", "train.max_steps=2"))
    feats = dump_features(str(tmp_path / "it1"), [train, valid], tmp_path / "feats1", layer=1)
    info = json.loads((feats / "info.json").read_text())
    assert info["dim"] == 32 and info["layer"] == 1 and info["frame_shift_ms"] == 20.0
    km = kmeans(feats, 5, tmp_path / "km5", sample=5000)
    it2 = config(labelled, tmp_path / "it2", f"labels={km}", f"init={tmp_path / 'it1'}", "train.max_steps=2")
    assert pretrain(it2)["loss"] > 0  # the encoder from iteration 1, a new head for 5 clusters
    with pytest.raises(Exception, match="layers 1-2"):
        dump_features(str(tmp_path / "it1"), [valid], tmp_path / "feats9", layer=9)
    labelled_set = tmp_path / "labelled"
    write_manifest([Utterance(**{**u.__dict__, "text": "ab ba"}) for u in read_manifest(train)], labelled_set)
    make_lang_dir("chars", labelled_set, tmp_path / "lang_char")
    ft = load_finetune_config(ROOT / "recipes/finetune/ctc_tiny.yaml", [
        f"init={tmp_path / 'it2'}", "units=chars", f"lang_dir={tmp_path / 'lang_char'}", f"data={labelled_set}",
        f"valid_data={labelled_set}", f"out={tmp_path / 'ctc'}", "batch.crop_to_shortest=false",
        "batch.max_samples=64000", "batch.max_seconds=3.0", "batch.num_workers=0", "train.max_steps=2",
        "ctc.freeze_encoder_steps=0", "ctc.mask_channel.length=4", "require_learning=false"])
    assert ft.family == "hubert" and finetune(ft)["loss"] > 0
    # both export as transformers' HuBERT classes, with the same outputs
    transformers = pytest.importorskip("transformers")
    import torch

    from speechxl.decode.export_hf import export_hf
    from speechxl.decode.model import load_model

    wav = torch.randn(1, 12000) * 0.1
    hf = transformers.HubertModel.from_pretrained(export_hf(tmp_path / "it2", tmp_path / "hf_it2")).eval()
    m = load_model(tmp_path / "ctc")
    hf_ctc = transformers.HubertForCTC.from_pretrained(export_hf(tmp_path / "ctc", tmp_path / "hf_ctc")).eval()
    with torch.no_grad():
        ours, _ = m.net.log_probs(wav, torch.tensor([12000]))
        torch.testing.assert_close(hf_ctc(wav).logits.log_softmax(-1), ours, atol=1e-4, rtol=0)
        assert hf(wav).last_hidden_state.shape[-1] == 32
