"""The CommonVoice recipe end to end on a tiny demo corpus, and a stage killed midway."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from speechxl.data.manifest import read_manifest
from speechxl import checkpoint as ckpt
from tests.conftest import TINY_W2V_BERT, tone, write_release
from tests.conftest import TINY_CTC

# w2v-BERT at test size, 2 updates of everything; the fine-tuned models take their architecture from
# the pretrained one (or, from scratch, from the preset with these sizes)
BATCH = ["batch.max_samples=64000", "batch.max_seconds=2.0", "batch.min_seconds=0.5", "batch.num_workers=0"]
TINY_PRETRAIN = TINY_W2V_BERT + BATCH + ["schedule.warmup_steps=1", "train.valid_every=100",
                                         "train.save_every=100", "train.max_steps=2"]
TINY_FINETUNE = [o for o in TINY_CTC if not o.startswith("model.")] + ["train.max_steps=2"]

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "egs" / "commonvoice" / "run.sh"


def recipe(tmp_path, *args, **kw):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = ["bash", str(RUN), "--demo", tmp_path / "demo", "--data", tmp_path / "data",
           "--exp", tmp_path / "exp", *args]
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, **kw)


def test_demo_recipe_stages_0_to_8(tmp_path):
    """The demo's default method, Whistle: phone CTC on the pretraining set's transcripts from random
    weights of w2v-BERT's tiny architecture, then fine-tuned as any pretrained model."""
    tiny = ["--demo_scale", "0.06", "--pretrain_args", " ".join(TINY_FINETUNE),
            "--finetune_args", " ".join(TINY_FINETUNE), "--decode_args", "--beam 4 --beam_tokens 4"]
    r = recipe(tmp_path, *tiny)
    assert r.returncode == 0, r.stderr[-3000:]
    data = tmp_path / "data"
    for name in ("train", "dev", "test", "pretrain", "test_heldout", "pretrain_heldout", "pretrain_voices",
                 "test_voices", "test_voices_heldout"):
        assert read_manifest(data / name), name
    # the other voices: untranscribed festival speech in six languages, and the test sentences of hi, ru
    # (and of held-out it)
    assert {u.lang for u in read_manifest(data / "pretrain_voices")} == {"hi", "ru", "mr", "te", "fi", "en"}
    assert all(u.text is None for u in read_manifest(data / "pretrain_voices"))
    assert {u.lang for u in read_manifest(data / "test_voices")} == {"hi", "ru"}
    assert {u.lang for u in read_manifest(data / "test_voices_heldout")} == {"it"}
    for kind in ("char", "phone", "bpe"):
        assert (data / f"lang_{kind}" / "units.txt").is_file()
        assert (data / f"lang_{kind}" / "lm" / "es.arpa").is_file()
    assert (data / "lang_word" / "fa.arpa").is_file() and (data / "lm_text" / "hi.txt").is_file()
    assert {u.lang for u in read_manifest(data / "train")} == {"es", "ru", "el", "hi", "fa", "tr"}
    assert (data / "train" / "rejects.tsv").read_text().count("\n") > 1  # the demo's defects
    exp = tmp_path / "exp"
    assert ckpt.resolve(exp / "pretrain_whistle_w2v_bert_tiny" / "checkpoints", "last").name == "step_00000002"
    whistle = yaml.safe_load((exp / "pretrain_whistle_w2v_bert_tiny" / "config.yaml").read_text())
    assert whistle["units"] == "phones" and whistle["data"] == [str(tmp_path / "data" / "pretrain")]
    for name in ("ctc_phones_whistle_w2v_bert_tiny", "ctc_chars_whistle_w2v_bert_tiny", "ctc_phones_scratch"):
        assert ckpt.resolve(exp / name / "checkpoints", "last").name == "step_00000002"
        for decode in ("decode_test", "decode_test_lm", "decode_test_voices", "decode_test_voices_lm"):
            assert (exp / name / decode / "report.md").is_file(), (name, decode)
    assert "PER" in (exp / "ctc_phones_whistle_w2v_bert_tiny" / "decode_test_lm" / "report.md").read_text()
    # the scratch baseline has the pretrained model's architecture (the preset's) and is scored beside it
    scratch = yaml.safe_load((exp / "ctc_phones_scratch" / "config.yaml").read_text())
    assert scratch["family"] == "w2v-bert" and not scratch["init"]
    # the character model grows from the phone model (units_from), which grew from the pretrained one
    chars = yaml.safe_load((exp / "ctc_chars_whistle_w2v_bert_tiny" / "config.yaml").read_text())
    assert chars["init"] == {"speech": str(exp / "ctc_phones_whistle_w2v_bert_tiny")}
    results = (tmp_path / "exp" / "results_whistle_w2v_bert_tiny.md").read_text()
    assert "| ctc_phones_scratch greedy |" in results and "| ctc_phones_whistle_w2v_bert_tiny LM |" in results
    assert "| PER test hi |" in results and "| PER test_voices ru |" in results  # a column group per condition
    zero_shot = (tmp_path / "exp" / "zero_shot_whistle_w2v_bert_tiny.md").read_text()
    assert all(f"| {v} |" in zero_shot for v in ("unrestricted", "exact", "articulatory"))
    assert "| PER test_heldout it |" in zero_shot and "| PER test_voices_heldout it |" in zero_shot
    assert (exp / "ctc_phones_whistle_w2v_bert_tiny" / "decode_test_heldout_articulatory" / "phone_map_pl.tsv"
            ).is_file()
    again = recipe(tmp_path, *tiny)
    assert again.returncode == 0
    assert again.stdout.count("done already") == 9
    # a setting a stage reads besides its command (here decode's options) re-runs that stage
    other = recipe(tmp_path, *tiny[:-2], "--decode_args", "--beam 3 --beam_tokens 4", "--stop_stage", "5")
    assert other.returncode == 0, other.stderr[-3000:]
    assert "== stage 5 (decode): finished" in other.stdout and other.stdout.count("done already") == 5
    assert "--beam 3" in (tmp_path / "exp" / ".done" / "stage5").read_text()

    # --train_minutes: fine-tuning on so many minutes of each language, in models and a table of its own
    scarce = recipe(tmp_path, *tiny, "--train_minutes", "0.2", "--finetune_units", "", "--stage", "4",
                    "--stop_stage", "6")
    assert scarce.returncode == 0, scarce.stderr[-3000:]
    few = read_manifest(data / "train_0.2min")
    assert {u.lang for u in few} == {"es", "ru", "el", "hi", "fa", "tr"} and len(few) < len(read_manifest(data / "train"))
    assert yaml.safe_load((exp / "ctc_phones_scratch_0.2min" / "config.yaml").read_text())["data"] == [
        str(data / "train_0.2min")]
    assert "ctc_phones_scratch_0.2min greedy" in (exp / "results_whistle_w2v_bert_tiny_0.2min.md").read_text()

    # --fewshot_minutes: each held-out language fine-tuned on so many minutes from both starts; one table
    few = recipe(tmp_path, *tiny, "--fewshot_minutes", "0.1 0.2", "--stage", "14", "--stop_stage", "16")
    assert few.returncode == 0, few.stderr[-3000:]
    fewshot = data / "fewshot" / "it"
    assert {u.id for u in read_manifest(fewshot / "train_0.1min")} < {u.id for u in read_manifest(fewshot / "train_0.2min")}
    assert not {u.id for u in read_manifest(fewshot / "dev")} & {u.id for u in read_manifest(fewshot / "train_0.2min")}
    table = (exp / "fewshot_whistle_w2v_bert_tiny.md").read_text()
    assert "| from scratch, 0.1 min |" in table and "| from whistle_w2v_bert_tiny, 0.2 min |" in table
    assert "| PER it | PER pl | PER all |" in table

    # a fine-tuning that learnt nothing stops the recipe with a loud error before anything is decoded
    # (here: 2 updates of the scratch model at learning rate 0, with the guard left on)
    shutil.rmtree(tmp_path / "exp" / "ctc_phones_scratch")
    nothing = [o for o in TINY_FINETUNE if o != "require_learning=false"] + ["optim.lr=0"]
    r = recipe(tmp_path, *tiny[:4], "--finetune_args", " ".join(nothing), "--finetune_units", "",
               "--stage", "4", "--decode_args", "--beam 4 --beam_tokens 4")
    assert r.returncode != 0
    assert "ctc_phones_scratch: fine-tuning learnt nothing" in r.stderr
    assert not (tmp_path / "exp" / "ctc_phones_scratch" / "decode_test").exists()
    assert not (tmp_path / "exp" / ".done" / "stage4").exists()


def test_the_joint_speech_text_method_pretrains_on_three_streams(tmp_path):
    """--pretrain_recipe mslam: untranscribed speech, the LM text and the transcribed set, then the same
    fine-tuning from its speech encoder."""
    tiny = ["--demo_scale", "0.06", "--pretrain_recipe", "mslam", "--pretrain_args",
            " ".join(TINY_PRETRAIN + ["text_batch.max_tokens=600", "text_batch.max_length=60"]),
            "--finetune_args", " ".join(TINY_FINETUNE), "--finetune_units", "chars", "--scratch_units", "",
            "--units_from", "", "--stop_stage", "4"]
    r = recipe(tmp_path, *tiny)
    assert r.returncode == 0, r.stderr[-3000:]
    pretrained = tmp_path / "exp" / "pretrain_mslam_tiny"
    config = yaml.safe_load((pretrained / "config.yaml").read_text())
    assert config["family"] == "mslam" and {s["kind"] for s in config["streams"].values()} == {"speech", "text", "paired"}
    # self-supervised pretraining reads the other voices' untranscribed speech too
    assert config["streams"]["speech"]["data"] == [str(tmp_path / "data" / s) for s in ("pretrain", "pretrain_voices")]
    assert config["units"] == "chars" and config["model"]["vocabulary"] > 10
    places = ckpt.load_trainer_state(ckpt.resolve(pretrained / "checkpoints", "last"))["streams"]
    assert sum(p["batches"] for p in places.values()) == 2
    chars = yaml.safe_load((tmp_path / "exp" / "ctc_chars_mslam_tiny" / "config.yaml").read_text())
    assert chars["family"] == "mslam" and chars["init"] == {"speech": str(pretrained)}


def test_hubert_iterates_labels_and_models_then_fine_tunes_the_last(tmp_path):
    """--pretrain_recipe hubert: MFCC clusters, a model, clusters of its layer, a model continued from
    it, each at half the budget; stage 4 fine-tunes the last one."""
    from tests.conftest import TINY_CONFORMER

    pretrain = TINY_CONFORMER + ["model.final_dim=16"] + BATCH + ["train.valid_every=100", "train.save_every=100",
                                                                 "train.max_steps=4"]
    tiny = ["--demo_scale", "0.06", "--langs", "es ru", "--pretrain_recipe", "hubert", "--hubert_clusters", "8 6",
            "--hubert_layer", "1", "--pretrain_args", " ".join(pretrain), "--finetune_args", " ".join(TINY_FINETUNE),
            "--finetune_units", "phones", "--scratch_units", "", "--units_from", "", "--stop_stage", "4"]
    r = recipe(tmp_path, *tiny)
    assert r.returncode == 0, r.stderr[-3000:]
    h, exp = tmp_path / "exp" / "hubert_hubert_conformer_tiny", tmp_path / "exp"
    assert [yaml.safe_load((h / f"km_it{i}" / "info.json").read_text())["clusters"] for i in (1, 2)] == [8, 6]
    assert yaml.safe_load((h / "km_it2" / "info.json").read_text())["features"]["source"] == str(h / "it1")
    assert not (h / "feats_it1").exists()  # the features go once the labels are made
    first = yaml.safe_load((h / "it1" / "config.yaml").read_text())
    assert first["model"]["label_stride"] == 2  # 20 ms MFCC labels for 40 ms log-mel frames
    last = yaml.safe_load((exp / "pretrain_hubert_conformer_tiny" / "config.yaml").read_text())
    assert last["labels"] == str(h / "km_it2") and last["init"] == {"speech": str(h / "it1")}
    assert last["model"]["clusters"] == 6 and last["model"]["label_stride"] == 1  # the model's own frames
    for model in (h / "it1", exp / "pretrain_hubert_conformer_tiny"):  # half of 4 updates each
        assert ckpt.resolve(model / "checkpoints", "last").name == "step_00000002"
    assert yaml.safe_load((exp / "ctc_phones_hubert_conformer_tiny" / "config.yaml").read_text())["family"] == "hubert"


def test_unispeech_pretrains_on_untranscribed_speech_and_the_transcribed_set_in_phones(tmp_path):
    pretrain = TINY_W2V_BERT[:-1] + BATCH + ["train.valid_every=100", "train.save_every=100", "train.max_steps=4"]
    tiny = ["--demo_scale", "0.06", "--langs", "es ru", "--pretrain_recipe", "unispeech",
            "--pretrain_args", " ".join(pretrain), "--finetune_args", " ".join(TINY_FINETUNE),
            "--finetune_units", "phones", "--scratch_units", "", "--units_from", "", "--stop_stage", "4"]
    r = recipe(tmp_path, *tiny)
    assert r.returncode == 0, r.stderr[-3000:]
    config = yaml.safe_load((tmp_path / "exp" / "pretrain_unispeech_tiny" / "config.yaml").read_text())
    assert config["family"] == "unispeech" and config["units"] == "phones"
    assert {n: s["kind"] for n, s in config["streams"].items()} == {"speech": "speech", "paired": "paired"}
    assert (tmp_path / "exp" / "ctc_phones_unispeech_tiny" / "checkpoints").is_dir()


def test_monolingual_models_at_an_equal_share_of_the_budget(tmp_path):
    """--pretrain_langs mono: one model per language at 1/n of the pretraining budget; it and the
    multilingual model fine-tuned per language; one table beside the multilingual fine-tuning."""
    tiny = ["--demo_scale", "0.06", "--langs", "es ru", "--pretrain_langs", "mono", "--pretrain_recipe", "w2v-bert",
            "--pretrain_args", " ".join(TINY_PRETRAIN), "--finetune_args", " ".join(TINY_FINETUNE),
            "--finetune_units", "phones", "--scratch_units", "", "--units_from", "",
            "--decode_args", "--beam 4 --beam_tokens 4"]
    r = recipe(tmp_path, *tiny)
    assert r.returncode == 0, r.stderr[-3000:]
    data, mono = tmp_path / "data", tmp_path / "exp" / "mono_w2v_bert_tiny"
    for lang in ("es", "ru"):
        for name in ("pretrain", "train", "dev", "test"):
            assert {u.lang for u in read_manifest(data / "mono" / lang / name)} == {lang}
        # 2 updates for the multilingual model, 1 for each of the two monolingual ones
        assert ckpt.resolve(mono / f"pretrain_{lang}" / "checkpoints", "last").name == "step_00000001"
        config = yaml.safe_load((mono / f"pretrain_{lang}" / "config.yaml").read_text())
        assert config["data"] == [str(data / "mono" / lang / "pretrain")] and config["schedule"]["warmup_steps"] == 1
        multi = yaml.safe_load((mono / f"ctc_phones_multi_{lang}" / "config.yaml").read_text())
        assert multi["init"] == {"speech": str(tmp_path / "exp" / "pretrain_w2v_bert_tiny")}
        assert multi["data"] == [str(data / "mono" / lang / "train")]
        assert (mono / f"ctc_phones_mono_{lang}" / "decode_test" / "report.json").is_file()
    table = (tmp_path / "exp" / "mono_vs_multi_w2v_bert_tiny.md").read_text()
    assert "| decode | PER es | PER ru | PER all |" in table
    for row in ("monolingual pretraining, per-language fine-tuning", "multilingual pretraining, per-language "
                "fine-tuning", "multilingual pretraining and fine-tuning"):
        assert re.search(rf"\| {row} \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|", table), (row, table)
    again = recipe(tmp_path, *tiny)
    assert again.returncode == 0 and again.stdout.count("done already") == 11  # stages 0-6, 9-12 (no held-out set)


@pytest.mark.parametrize("args, message", [
    (["--no_such_option", "1"], "unknown option --no_such_option"),
    (["--pretrain_langs", "both"], "--pretrain_langs is multi or mono, not both"),
    (["--pretrain_langs", "mono", "--pretrain_recipe", "mslam"], "--pretrain_langs mono compares speech-only"),
    (["--pretrain_langs", "mono", "--pretrain_recipe", "hubert"], "does not run HuBERT's iterations per language"),
    (["--pretrain_langs", "mono", "--pretrain_recipe", "whistle"], "whistle is supervised"),
])
def test_unknown_options_are_errors(tmp_path, args, message):
    r = recipe(tmp_path, *args)
    assert r.returncode != 0 and message in r.stderr


def test_killed_stage_reruns_and_gives_the_same_data(tmp_path):
    cv = tmp_path / "cv"
    one = tmp_path / "one.wav"
    sf.write(str(one), tone(6.0, 48000), 48000)
    rows = [(f"{i % 7:040d}", f"clip{i:04d}.wav", f"Frase {i}.") for i in range(300)]
    write_release(cv, "es", {"train": rows[:250], "dev": rows[250:270], "test": rows[270:],
                             "validated": rows}, audio={r[1]: b"" for r in rows})
    for _, clip, _ in rows:
        (cv / "es" / "clips" / clip).unlink()
        (cv / "es" / "clips" / clip).symlink_to(one)
    args = ["--cv_root", cv, "--stage", "1", "--stop_stage", "1", "--nj", "1"]

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = ["bash", str(RUN), "--data", tmp_path / "data", "--exp", tmp_path / "exp", *args]
    proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    store = tmp_path / "data" / "audio" / "es"
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline:
        if store.is_dir() and len(list(store.glob("*.flac"))) >= 20:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:
        pytest.skip("stage 1 finished before it could be killed")
    assert not (tmp_path / "exp" / ".done" / "stage1").exists()
    assert not (tmp_path / "data" / "train" / "utts.jsonl").exists()

    r = recipe(tmp_path, *args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "exp" / ".done" / "stage1").exists()
    assert not list(store.glob(".*"))  # no temporary files left behind
    clean = tmp_path / "clean"
    r = recipe(clean, *args)
    assert r.returncode == 0
    for name in ("train", "dev", "test", "pretrain"):
        a = (tmp_path / "data" / name / "utts.jsonl").read_text()
        b = (clean / "data" / name / "utts.jsonl").read_text()
        assert a == b and a, name


def test_help_from_the_repository_root_lists_the_recipe_and_template_options():
    r = subprocess.run(["bash", "egs/commonvoice/run.sh", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "--cv_root []" in r.stdout and "--demo_scale [1.0]" in r.stdout  # the corpus's own options
    assert "--finetune_units [phones chars]" in r.stdout and "--stop_stage [100]" in r.stdout  # the template's
    # an option the corpus sets its own default for is listed once, with the corpus's default
    assert r.stdout.count("--pretrain_recipe [") == 1 and "--pretrain_recipe [whistle]" in r.stdout
    kaldi = subprocess.run(["bash", "egs/kaldi/run.sh", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert "--pretrain_recipe [w2v-bert]" in kaldi.stdout


def test_relative_paths_are_taken_from_where_the_recipe_was_run(tmp_path):
    """From any directory, `--cv_root cv --data data --exp exp` mean ./cv, ./data and ./exp there
    (run.sh works in egs/commonvoice/; its own defaults stay relative to it)."""
    rows = [(f"{i:040d}", f"clip{i}.wav", f"Frase {i}.") for i in range(4)]
    write_release(tmp_path / "cv", "es", {"train": rows[:2], "dev": rows[2:3], "test": rows[3:]})
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    r = subprocess.run(["bash", str(RUN), "--cv_root", "cv", "--data", "data", "--exp", "exp", "--stage", "1",
                        "--stop_stage", "1", "--nj", "1"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "data" / "train" / "utts.jsonl").is_file() and (tmp_path / "exp" / ".done" / "stage1").is_file()
