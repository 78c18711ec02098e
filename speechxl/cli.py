"""The ``speechxl`` command: one subcommand per pipeline verb.

  speechxl prepare demo --out downloads/demo
  speechxl prepare commonvoice --cv_root downloads/demo --out data [--langs "es ru"]
  speechxl prepare kaldi --kaldi_dirs k/train k/dev k/test --lang sw --out data
  speechxl prepare nemo --manifests train_manifest.json test_manifest.json --lang sw --out data
  speechxl prepare lhotse --manifests cuts_train.jsonl.gz cuts_test.jsonl.gz --names train test --out data
  speechxl prepare folder --folders recordings/train recordings/test --lang sw --out data
  speechxl prepare hf --datasets saved/train saved/test --lang sw --out data
  speechxl prepare fieldwork --corpus recordings/ --tiers "tx@*" --lang ain --rules rules.yaml --out data
  speechxl prepare fieldwork-demo --out downloads/fieldwork
  speechxl units chars phones bpe --train data/train --eval data/dev data/test --out data
  speechxl pretrain --config recipes/pretrain/wav2vec2_tiny.yaml data=data/pretrain out=exp/w2v
  speechxl pretrain --config recipes/pretrain/w2v_bert_tiny.yaml --print_config
  speechxl pretrain-text --config recipes/text/xlmr_tiny.yaml data=data/lm_text out=exp/text
  speechxl finetune --config recipes/finetune/ctc_tiny.yaml init=exp/w2v units=phones data=data/train out=exp/ctc
  speechxl decode exp/ctc data/test [--lm data/lang_word --tune_on data/dev] [--average 2]
  speechxl finetune --config recipes/finetune/lid_tiny.yaml init=exp/w2v data=data/train valid_data=data/dev out=exp/lid
  speechxl decode exp/lid data/test
  speechxl score exp/ctc/decode_test
  speechxl score exp/ctc/decode_test --compare exp/mono.md --row mono exp/mono_*/decode_test
  speechxl transcribe exp/ctc audio.wav
  speechxl transcribe-long exp/ctc recordings/*.wav --out transcribed/ --lang ain [--eaf_dir recordings/]
  speechxl transcribe-long exp/ctc recordings/*.wav --out transcribed/ --lang ain --lm_from exp/ctc/decode_test_lm
  speechxl align exp/ctc recording.wav transcript.txt --out aligned/ --lang ain [--eaf rec.eaf] [--textgrid rec.TextGrid]
  speechxl align exp/ctc corpus/*.eaf --tiers "tx@*" --out aligned/ --lang ain [--rules rules.yaml]
  speechxl export-hf exp/ctc out_dir [--lm data/lang_word --lang es] [--license cc-by-4.0]
  speechxl export-hf exp/pretrain out_dir
  speechxl export-torch exp/pretrain_bestrq out_dir
  speechxl export-data data/train --to nemo --out manifests
  speechxl subset data/train --langs es --out data/mono/es/train
  speechxl subset data/train --minutes 2 --out data/train_2min
  speechxl import-fairseq xlsr_53_56k.pt exp/xlsr53
  speechxl import-fairseq wav2vec2_ctc.pt exp/w2v_ctc --dict dict.ltr.txt
  speechxl release exp/ctc release/ctc --average 2
  speechxl card exp/ctc [--field units]
  speechxl inventory --from-text it.txt --lang it > it.inv
  speechxl decode exp/ctc_phones data/test_heldout --inventory it.inv --map articulatory
  speechxl codebooks exp/pretrain data/test data/test_heldout --out exp/codebooks
  speechxl dump-features mfcc data/pretrain data/dev --out exp/feats_mfcc
  speechxl dump-features exp/hubert_it1 data/pretrain data/dev --layer 6 --out exp/feats_it1
  speechxl kmeans exp/feats_mfcc --clusters 100 --out exp/km100
  speechxl pretrain --config recipes/pretrain/hubert_tiny.yaml data=data/pretrain valid_data=data/dev labels=exp/km100 out=exp/hubert
  speechxl label-quality exp/km100 exp/km500 --data data/dev --aligner exp/ctc_phones --out exp/label_quality
  speechxl fieldwork-report --steps given=exp/ctc_given --test data/test --transcribed exp/transcribed --out exp/report

Options take underscores or dashes alike (--cv_root, --cv-root).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from fractions import Fraction
from pathlib import Path

from speechxl import __version__
from speechxl.corpora import CORPORA
from speechxl.data.vad import MAX_REGION, VADS
from speechxl.options import key_values, option, words


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's default shown (not for flags, unset ones, or helps that state their own); the
    examples kept as written."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _examples(verb: str) -> str | None:
    """The lines of this module's doc that show ``speechxl <verb>``, as a help epilog."""
    lines = [line for line in __doc__.splitlines() if line.strip().startswith(f"speechxl {verb} ")]
    return "examples:\n" + "\n".join(lines) if lines else None


def _add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="corpus on disk -> data/<set>/ (manifests, Kaldi files, rejects)")
    corpora = p.add_subparsers(dest="corpus_type", required=True)
    for name, corpus in CORPORA.items():
        corpus.add_arguments(corpora.add_parser(name, help=corpus.HELP, formatter_class=_HelpFormatter,
                                                epilog=_examples(f"prepare {name}")))


def _run_prepare(args) -> None:
    from speechxl.dir_lock import lock_dir

    with lock_dir(args.out, "two prepare runs into one folder would remove each other's temporary files"):
        CORPORA[args.corpus_type].run(args)


def _add_units(sub) -> None:
    p = sub.add_parser("units", help="transcripts -> data/lang_<kind>/ (chars, phones, bpe; words: word LMs)")
    p.add_argument("kinds", nargs="+", choices=["chars", "phones", "bpe", "words"])
    option(p, "--train", required=True, nargs="+", help="data dirs whose transcripts define the units (and the LMs)")
    option(p, "--eval", nargs="*", default=[], help="data dirs to tokenise and check coverage of")
    option(p, "--out", required=True, help="writes <out>/lang_char, lang_phone, lang_bpe")
    option(p, "--bpe_size", type=int, default=500, help="BPE vocabulary size")
    option(p, "--voice", nargs="*", help="espeak-ng voice per language, e.g. pt=pt-br")
    option(p, "--lm_text", help="dir of <lang>.txt files: more text for the n-gram LMs (stage 1 writes data/lm_text)")
    option(p, "--lm_order", type=int, default=3, help="order of the word n-gram LMs")
    option(p, "--jobs", type=int, default=2)


def _run_units(args) -> None:
    from speechxl.text.lang_dir import KINDS, make_lang_dir, make_word_lms

    voices = key_values(args.voice, "--voice")
    for kind in args.kinds:
        out = Path(args.out) / KINDS[kind]
        if kind == "words":
            make_word_lms(args.train, out, args.lm_text, args.lm_order, eval_dirs=args.eval)
        else:
            make_lang_dir(kind, args.train, out, eval_dirs=args.eval, bpe_size=args.bpe_size, voices=voices,
                          jobs=args.jobs, lm_text=args.lm_text)


def fraction(text: str) -> float:
    """'1/6' or '0.25' -> a float."""
    return float(Fraction(text))


def _add_pretrain(sub) -> None:
    p = sub.add_parser("pretrain", help="self-supervised pretraining (wav2vec 2.0 / XLSR) -> exp/<name>/")
    option(p, "--config", help="YAML preset, e.g. recipes/pretrain/wav2vec2_tiny.yaml")
    option(p, "--budget_share", type=fraction, default=1.0,
           help="train for this share of the budget (max_steps, max_minutes, the schedule's steps): one of "
                "several models that split it, e.g. 1/6 for each of 6 monolingual models")
    _add_print_config(p)
    p.add_argument("overrides", nargs="*", help="key=value, e.g. data=data/pretrain out=exp/w2v optim.lr=1e-3")


def _add_print_config(p) -> None:
    option(p, "--print_config", action="store_true",
           help="print the resolved config (preset + overrides), each key with its meaning, and exit")


def _print_config(cfg) -> None:
    from speechxl.config import commented_yaml

    print(commented_yaml(cfg))


def _run_pretrain(args) -> None:
    from speechxl.train.pretrain import PretrainConfig, pretrain
    from speechxl.train.setup import load_run_config, share_budget

    cfg = load_run_config(PretrainConfig, args.config, args.overrides, check=not args.print_config)
    if args.budget_share != 1:
        share_budget(cfg, args.budget_share)
    if args.print_config:
        _print_config(cfg)
    else:
        pretrain(cfg)


def _add_pretrain_text(sub) -> None:
    p = sub.add_parser("pretrain-text", help="a cross-lingual text encoder (XLM-R) by masked language modelling "
                                             "-> exp/<name>/")
    option(p, "--config", help="YAML preset, e.g. recipes/text/xlmr_tiny.yaml")
    _add_print_config(p)
    p.add_argument("overrides", nargs="*", help="key=value, e.g. data=data/lm_text out=exp/text init=<XLM-R dir>")


def _run_pretrain_text(args) -> None:
    from speechxl.train.pretrain_text import load_text_pretrain_config, pretrain_text

    cfg = load_text_pretrain_config(args.config, args.overrides, check=not args.print_config)
    if args.print_config:
        _print_config(cfg)
    else:
        pretrain_text(cfg)


def _add_finetune(sub) -> None:
    p = sub.add_parser("finetune", help="CTC fine-tuning on transcribed audio -> exp/<name>/")
    option(p, "--config", help="YAML preset, e.g. recipes/finetune/ctc_tiny.yaml")
    _add_print_config(p)
    p.add_argument("overrides", nargs="*",
                   help="key=value, e.g. init=exp/pretrain units=phones data=data/train valid_data=data/dev out=exp/ctc")


def _run_finetune(args) -> None:
    from speechxl.train.finetune import FinetuneConfig, finetune
    from speechxl.train.setup import load_run_config

    cfg = load_run_config(FinetuneConfig, args.config, args.overrides, check=not args.print_config)
    if args.print_config:
        _print_config(cfg)
    else:
        finetune(cfg)


def _add_beam_options(p) -> None:
    option(p, "--lm", help="dir of <lang>.arpa (data/lang_word: words; data/lang_<kind>/lm: units) or one .arpa")
    option(p, "--beam", type=int, default=50, help="hypotheses kept per frame")
    option(p, "--beam_tokens", type=int, default=16, help="units tried per frame (0: all)")
    option(p, "--beam_threshold", type=float, default=25.0)
    option(p, "--lm_weight", type=float, default=0.5)
    option(p, "--word_score", type=float, default=0.0)


def _beam(args):
    from speechxl.decode.beam import BeamConfig

    return BeamConfig(beam=args.beam, beam_tokens=args.beam_tokens, beam_threshold=args.beam_threshold,
                      lm_weight=args.lm_weight, word_score=args.word_score)


def _add_lm_from_option(p) -> None:
    option(p, "--lm_from", help="a decode dir tuned with --tune_on: search with its LM and tuned weights, or "
                                "greedily where the LM did not lower the error on the tuning set")


def _search(args):
    """(LM, search settings) of a transcribing verb: --lm and the beam options, or --lm_from's."""
    if not getattr(args, "lm_from", None):
        return args.lm, _beam(args)
    from speechxl.decode.run import search_of_decode

    if args.lm:
        raise SystemExit("speechxl: give --lm or --lm_from, not both")
    return search_of_decode(args.lm_from)


def _add_decode(sub) -> None:
    p = sub.add_parser("decode", help="a CTC model on a data set -> exp/<model>/decode_<set>/ (hypotheses); a "
                                      "language-ID model: each utterance's language and posterior (lid.jsonl)")
    p.add_argument("model", help="experiment dir or checkpoint of a fine-tuned model, or a transformers CTC dir "
                                 "(MMS: each utterance through its language's adapter; --out then needed)")
    p.add_argument("data", help="data dir to transcribe")
    _add_beam_options(p)
    option(p, "--tune_on", help="data dir on which to pick lm_weight and word_score (a grid)")
    option(p, "--out", help="decode dir (default: <model>/decode_<set>[_lm][_<map>], then _<setting><value> "
                            "for each search setting not at its default)")
    option(p, "--lang_dir", help="the model's units dir, if not where training found it")
    option(p, "--inventory", help="phone models: restrict the output to these phones (one IPA phone per line)")
    option(p, "--map", default="articulatory",
            help="with --inventory: articulatory (nearest phone by features), exact, or an edited phone_map.tsv")
    option(p, "--max_distance", type=float,
            help="articulatory map: drop model phones farther than this from every inventory phone "
                 "(default 0.2: one minor feature; inf: map every phone)")
    _all_units_option(p)
    _model_options(p)


def _model_options(p) -> None:
    option(p, "--device", default="cpu", help="where the model runs: cpu, cuda, cuda:1, ... (the search runs on the CPU)")
    option(p, "--average", type=int, default=1,
           help="use the mean weights of the experiment's newest N checkpoints (train.keep_last keeps them)")
    option(p, "--precision", default="fp32",
           help="fp32, bf16 or int8; bf16: matrix products in bfloat16 (CPUs with AVX-512 BF16 or AMX, GPUs); "
                "int8: Linear layers and waveform convolutions dynamically quantized (CPU); "
                "speed and error rate of each: docs/benchmarks.md")


def _all_units_option(p) -> None:
    option(p, "--all_units", action="store_true",
            help="let every language output every unit (default: a training language keeps to the units of "
                 "its own training text)")


def _run_decode(args) -> None:
    from speechxl.decode.lid import identify, is_lid_model
    from speechxl.decode.phone_map import MAX_DISTANCE
    from speechxl.decode.run import decode

    if is_lid_model(args.model):  # the language of each utterance, with its posterior
        identify(args.model, args.data, args.out, args.device, args.command)
        return
    decode(args.model, args.data, args.out, args.lm, _beam(args), args.tune_on, args.lang_dir, args.inventory,
           args.map, MAX_DISTANCE if args.max_distance is None else args.max_distance, args.all_units, args.device,
           args.average, args.command, args.precision)


def _add_inventory(sub) -> None:
    p = sub.add_parser("inventory", help="text of a language -> its IPA phones, one per line (espeak-ng)")
    option(p, "--from_text", required=True, help="a text file in the language, one sentence a line")
    option(p, "--lang", required=True, help="language code (the espeak-ng voice is found from it)")
    option(p, "--voice", help="espeak-ng voice, if not the language's default")
    option(p, "--min_count", type=int, default=1, help="leave out phones seen fewer times")


def _run_inventory(args) -> None:
    from speechxl.decode.phone_map import inventory_from_text

    lines = Path(args.from_text).read_text(encoding="utf-8").splitlines()
    found = inventory_from_text(lines, args.lang, args.voice, args.min_count)
    print(f"# {len(found)} phones of {args.lang} from {len(lines)} lines of {args.from_text} (espeak-ng)")
    for phone, n in found:
        print(f"{phone}\t# {n}")


def _add_score(sub) -> None:
    p = sub.add_parser("score", help="a decode dir -> report.md, report.html, report.json, error_rates.png")
    p.add_argument("decode_dirs", nargs="*")
    option(p, "--compare", help="also write one table of all the decodes here (Markdown, and JSON beside it)")
    option(p, "--row", nargs="+", action="append", default=[], metavar=("LABEL", "DECODE_DIR"),
           help="decode dirs (scored too) that fill one row of --compare's table, each with its own languages "
                "(e.g. one model per language); repeat for each row")


def _run_score(args) -> None:
    from speechxl.eval.lid_report import lid_report
    from speechxl.eval.report import compare, score

    rows = {d: label for label, *dirs in args.row for d in dirs}
    dirs = args.decode_dirs + list(rows)
    if not dirs or any(len(r) < 2 for r in args.row):
        raise ValueError("score: give decode dirs, or --row LABEL DECODE_DIR...")
    if rows and not args.compare:
        raise ValueError("--row fills a row of --compare's table: give --compare")
    lid = [d for d in dirs if (Path(d) / "lid.jsonl").is_file()]
    if lid and args.compare:
        raise ValueError(f"--compare takes recognisers' decodes; {lid[0]} is a language-ID decode")
    reports = {d: lid_report(d) if d in lid else score(d) for d in dirs}
    if args.compare:
        compare(reports, args.compare, {d: rows.get(d, d) for d in dirs})


def _add_transcribe(sub) -> None:
    p = sub.add_parser("transcribe", help="audio files -> text, one line each (path TAB text)")
    p.add_argument("model")
    p.add_argument("audio", nargs="+")
    _add_beam_options(p)
    _add_lm_from_option(p)
    option(p, "--lang", help="language of the files (picks the LM of a per-language LM dir, and the units it "
                              "may output)")
    _all_units_option(p)
    _model_options(p)


def _run_transcribe(args) -> None:
    from speechxl.data.audio import AudioError
    from speechxl.decode.recognizer import load

    failed = 0
    lm, beam = _search(args)
    asr = load(args.model, lm, args.device, beam, args.all_units, average=args.average, precision=args.precision)
    for path, text in asr.transcribe_files(args.audio, args.lang):
        if isinstance(text, AudioError):
            logging.getLogger("speechxl").error("skipped: %s", text)
            failed += 1
        else:
            print(f"{path}\t{text}", flush=True)
    if failed:
        raise SystemExit(f"speechxl: {failed} of {len(args.audio)} files could not be read (see above)")


OVERWRITE_HELP = ("write over a file in --out that is an input or that speechxl did not write there (it is kept "
                  "as <name>.orig); without it such a file stops the run")


def _add_transcribe_long(sub) -> None:
    p = sub.add_parser("transcribe-long", help="long recordings -> timed utterances, words and units (.tsv) as "
                                               "tiers of ELAN (.eaf) and Praat (.TextGrid) files")
    p.add_argument("model")
    p.add_argument("audio", nargs="+", help="recordings of any length")
    option(p, "--out", required=True, help="directory for <name>.tsv, <name>.eaf and <name>.TextGrid")
    option(p, "--eaf_dir", help="where the recordings' own ELAN files are (<name>.eaf, searched below it too): the "
                                "tiers go into a copy")
    option(p, "--textgrid_dir", help="where the recordings' own TextGrids are (<name>.TextGrid): the tiers go into "
                                     "a copy")
    option(p, "--segments", nargs="+", help='utterances from these tiers of the recording\'s own file (globs, '
                                            're:<regex>), one output tier per speaker; default: found by --vad')
    option(p, "--vad", choices=list(VADS), default="silero", help="voice activity detector that finds the utterances")
    option(p, "--max_region", type=float, default=MAX_REGION, help="longest utterance the detector gives, in seconds "
                                                                   "(about what the model was fine-tuned on)")
    option(p, "--tier", default="asr@speechxl", help="name of the new utterance tier (with --segments, its part "
                                                     "before @ and each speaker)")
    option(p, "--overwrite", action="store_true", help=OVERWRITE_HELP)
    _add_beam_options(p)
    _add_lm_from_option(p)
    option(p, "--lang", help="language of the recordings (its LM, and the units it may output)")
    _all_units_option(p)
    _model_options(p)


def _run_transcribe_long(args) -> None:
    from speechxl.decode.longform import transcribe_recordings
    from speechxl.decode.recognizer import load
    from speechxl.decode.timed_text import Outputs

    lm, beam = _search(args)
    asr = load(args.model, lm, args.device, beam, args.all_units, average=args.average, precision=args.precision)
    folder = lambda d: Path(d) if d else None  # noqa: E731
    out = Outputs(Path(args.out), args.overwrite)
    for eaf in transcribe_recordings(asr, args.audio, out, args.lang, folder(args.eaf_dir), args.tier,
                                     folder(args.textgrid_dir), args.segments, args.vad, args.max_region):
        print(eaf)


def _add_align(sub) -> None:
    p = sub.add_parser("align", help="transcripts aligned to their recordings: utterance, word and unit times with "
                                     "confidences (.tsv) as ELAN (.eaf) and Praat (.TextGrid) tiers")
    p.add_argument("model")
    p.add_argument("inputs", nargs="+", help="AUDIO TRANSCRIPT (the recording, of any length; its transcript: "
                                             ".txt, its utterances in order, one a line, untimed; .tsv: start, end, "
                                             "text), or ELAN / TextGrid files whose --tiers are aligned to the "
                                             "recording they annotate")
    option(p, "--out", required=True, help="directory for <name>.tsv, <name>.eaf and <name>.TextGrid")
    option(p, "--lang", required=True, help="language of the recording (the units it may use, its G2P)")
    option(p, "--tiers", nargs="+", help='with annotation files: the tiers to align (globs such as "tx@*", or '
                                         're:<regex>), each speaker\'s into a tier of its own')
    option(p, "--rules", help="the corpus's orthography rules (YAML, as prepare fieldwork --rules): tags, markers")
    option(p, "--eaf", help="AUDIO TRANSCRIPT: the recording's own ELAN file: the tiers go into a copy of it")
    option(p, "--textgrid", help="AUDIO TRANSCRIPT: the recording's own Praat TextGrid: the tiers go into a copy of it")
    option(p, "--tier", default="align@speechxl", help="name of the utterance tier (its word tier: align-words@...; "
                                                       "with annotation files, the part before @)")
    option(p, "--overwrite", action="store_true", help=OVERWRITE_HELP)
    _model_options(p)


def _run_align(args) -> None:
    from speechxl.corpora.fieldwork import TierChoice
    from speechxl.decode.align import align_annotations, align_recording
    from speechxl.decode.model import load_model
    from speechxl.decode.timed_text import Outputs
    from speechxl.text.orthography import load_orthography

    inputs = [Path(x) for x in args.inputs]
    annotations = all(p.suffix.lower() in (".eaf", ".textgrid") for p in inputs)
    if annotations and not args.tiers:
        raise SystemExit("speechxl: align: annotation files need --tiers (which of their tiers to align)")
    if not annotations and len(inputs) != 2:
        raise SystemExit("speechxl: align: give AUDIO TRANSCRIPT, or ELAN / TextGrid files with --tiers")
    model = load_model(args.model, device=args.device, average=args.average, precision=args.precision)
    out = Outputs(Path(args.out), args.overwrite)
    if annotations:
        rules = load_orthography(args.rules)
        for path in inputs:
            for written in align_annotations(model, path, TierChoice(list(args.tiers)), out, args.lang,
                                             rules, args.tier.split("@")[0]):
                print(written)
        return
    for path in align_recording(model, inputs[0], inputs[1], out, args.lang,
                                Path(args.eaf) if args.eaf else None, args.tier,
                                Path(args.textgrid) if args.textgrid else None):
        print(path)


def _add_card(sub) -> None:
    p = sub.add_parser("card", help="a fine-tuned model's card (what inference needs), as JSON; or one field")
    p.add_argument("model", help="experiment dir (its best checkpoint) or checkpoint dir")
    option(p, "--field", help="print only this top-level field, e.g. units")


def _run_card(args) -> None:
    import json

    from speechxl.checkpoint import find_checkpoint
    from speechxl.models.card import ModelCard

    card = ModelCard.load(find_checkpoint(args.model)).to_dict()
    if args.field and args.field not in card:
        raise SystemExit(f"speechxl: --field: the card has {sorted(card)}, not {args.field!r}")
    value = card[args.field] if args.field else card
    print(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1))


KEEP_PATHS_HELP = ("keep the whole local paths of the checkpoint, its training data and commands in what is written "
                   "(default: relative to the project folder, or the last part: it is meant to be shared)")


def _add_export(sub) -> None:
    p = sub.add_parser("export-hf", help="a fine-tuned model -> transformers Wav2Vec2ForCTC dir with processor and "
                                         "model card; a pretrained one -> Wav2Vec2ForPreTraining (or Wav2Vec2BertModel)")
    p.add_argument("model", help="experiment dir (its best checkpoint) or checkpoint dir")
    p.add_argument("out", help="directory to write")
    option(p, "--lm", help="n-gram LM to include for Wav2Vec2ProcessorWithLM: an ARPA file or a per-language LM dir")
    option(p, "--lang", help="export a recogniser of this language alone (the CTC head cut to its units, as "
                             "speechxl decodes it), with its LM from a per-language --lm dir")
    option(p, "--license", default="unknown", help="license for the model card's metadata (e.g. cc-by-4.0)")
    option(p, "--keep_paths", action="store_true", help=KEEP_PATHS_HELP)


def _run_export(args) -> None:
    from speechxl.decode.export_hf import export_hf

    print(export_hf(args.model, args.out, args.lm, args.lang, args.license, args.keep_paths))


def _add_export_torch(sub) -> None:
    p = sub.add_parser("export-torch", help="any model -> a torch.export program (torch only to run it): the "
                                            "export for BEST-RQ and other models transformers has no class for")
    p.add_argument("model", help="experiment dir (its best checkpoint) or checkpoint dir")
    p.add_argument("out", help="directory to write (encoder.pt2, or model.pt2 with units.txt)")
    option(p, "--keep_paths", action="store_true", help=KEEP_PATHS_HELP)


def _run_export_torch(args) -> None:
    from speechxl.decode.export_torch import export_torch

    print(export_torch(args.model, args.out, args.keep_paths))


def _add_export_data(sub) -> None:
    from speechxl.data.export import FORMATS

    p = sub.add_parser("export-data", help="a prepared data set -> NeMo or lhotse manifests")
    p.add_argument("data", help="data set dir (data/<set>)")
    option(p, "--to", required=True, choices=list(FORMATS), help="manifest format")
    option(p, "--out", required=True, help="directory for the manifests")


def _run_export_data(args) -> None:
    from speechxl.data.export import export_data

    for path in export_data(args.data, args.to, args.out):
        print(path)


def _add_subset(sub) -> None:
    p = sub.add_parser("subset", help="part of a data set: some languages, about so many minutes of each")
    p.add_argument("data", help="data set dir (data/<set>)")
    option(p, "--out", required=True, help="directory for the subset (a data set dir)")
    option(p, "--langs", nargs="+", help="languages to keep (default: all)")
    option(p, "--minutes", type=float, default=0.0, help="speech per language, drawn at random (0: all)")
    option(p, "--seed", type=int, default=0, help="the order utterances are drawn in")
    option(p, "--exclude", nargs="+", default=[],
           help="data sets whose utterances to leave out (e.g. a training subset, to draw a dev set beside it)")


def _run_subset(args) -> None:
    from speechxl.data.manifest import read_manifest, write_manifest
    from speechxl.data.subset import subset

    exclude = {u.id for d in args.exclude for u in read_manifest(d)}
    kept = subset(read_manifest(args.data), words(args.langs) or None, args.minutes, args.seed, exclude)
    write_manifest(kept, args.out)
    print(f"{args.out}: {len(kept)} utterances, {sum(u.duration for u in kept) / 60:.1f} min")


def _add_import_fairseq(sub) -> None:
    p = sub.add_parser("import-fairseq", help="a fairseq wav2vec 2.0 checkpoint -> a transformers dir (pretrained) "
                                              "or a speechxl checkpoint (CTC fine-tuned)")
    p.add_argument("checkpoint", help="fairseq .pt file")
    p.add_argument("out", help="directory to write")
    option(p, "--dict", help="a fine-tuned model's output dictionary (dict.ltr.txt), which fairseq does not store")


def _run_import_fairseq(args) -> None:
    from speechxl.interop.fairseq_wav2vec2 import import_fairseq

    print(import_fairseq(args.checkpoint, args.out, args.dict))


def _add_release(sub) -> None:
    p = sub.add_parser("release", help="a fine-tuned model -> a slim checkpoint: weights, card, units (no training state)")
    p.add_argument("model", help="experiment dir (its best checkpoint) or checkpoint dir")
    p.add_argument("out", help="directory for the release (decode, transcribe and export-hf load it)")
    option(p, "--average", type=int, default=1, help="release the mean weights of the experiment's newest N checkpoints")
    option(p, "--keep_paths", action="store_true", help=KEEP_PATHS_HELP)


def _run_release(args) -> None:
    from speechxl.decode.release import release

    print(release(args.model, args.out, args.average, args.keep_paths))


def _add_codebooks(sub) -> None:
    p = sub.add_parser("codebooks", help="which codes of a pretrained model's targets each language uses, and how "
                                         "much languages share (XLSR's analysis): codebooks.{md,html,json}")
    p.add_argument("model", help="pretraining experiment dir (its best checkpoint) or checkpoint dir")
    p.add_argument("data", nargs="+", help="data sets whose languages to compare (e.g. data/test data/test_heldout)")
    option(p, "--out", required=True, help="directory for the report")
    option(p, "--minutes", type=float, default=0.0,
           help="speech per language (default: as much as the language with the least has)")
    option(p, "--seed", type=int, default=0, help="the order utterances are drawn in")


def _run_codebooks(args) -> None:
    from speechxl.decode.codes import codebooks

    print(codebooks(args.model, args.data, args.out, args.minutes, args.seed) / "codebooks.md")


def _add_dump_features(sub) -> None:
    p = sub.add_parser("dump-features", help="frames of every utterance for k-means (HuBERT's labels): MFCCs, or a "
                                             "layer of a pretrained model")
    p.add_argument("source", help="'mfcc', or a pretraining experiment dir (its best checkpoint) or checkpoint dir")
    p.add_argument("data", nargs="+", help="data sets whose utterances to dump (those the labels are for: the "
                                           "pretraining set and its validation set)")
    option(p, "--out", required=True, help="directory for the frame store")
    option(p, "--layer", type=int, default=0, help="a model's layer whose output to dump (0: the encoder's input)")
    option(p, "--frame_shift", type=float, default=20.0,
           help="mfcc: ms between frames, the frame shift of the model that will predict the labels")


def _run_dump_features(args) -> None:
    from speechxl.decode.features import dump_features

    print(dump_features(args.source, args.data, args.out, args.layer, args.frame_shift))


def _add_kmeans(sub) -> None:
    p = sub.add_parser("kmeans", help="k-means labels of dumped frames (HuBERT's targets): pretrain ... labels=OUT")
    p.add_argument("features", help="a dump-features directory")
    option(p, "--clusters", type=int, required=True, help="number of clusters (HuBERT: 100 of MFCCs, then 500)")
    option(p, "--out", required=True, help="directory for the labels")
    option(p, "--sample", type=int, default=100_000, help="frames to fit the centroids on (a seeded random sample)")
    option(p, "--seed", type=int, default=0, help="the sample and the initial centroids")


def _run_kmeans(args) -> None:
    from speechxl.train.kmeans import kmeans

    print(kmeans(args.features, args.clusters, args.out, args.sample, args.seed))


def _add_label_quality(sub) -> None:
    p = sub.add_parser("label-quality", help="k-means labels against force-aligned phones: phone purity, cluster "
                                             "purity, PNMI (HuBERT's measures)")
    p.add_argument("labels", nargs="+", help="kmeans output dirs to compare")
    option(p, "--data", required=True, help="a transcribed data set the labels cover (e.g. data/dev)")
    option(p, "--aligner", required=True, help="a phone CTC model that aligns the transcripts")
    option(p, "--out", required=True, help="the report, without suffix: <out>.md and .json")


def _run_label_quality(args) -> None:
    from speechxl.decode.label_quality import label_quality

    print(label_quality(args.labels, args.data, args.aligner, args.out))


def _add_fieldwork_report(sub) -> None:
    p = sub.add_parser("fieldwork-report", help="the fieldwork recipe's report: each adaptation step, per speaker "
                                                "and recording, the transcribed recordings, alignment accuracy")
    option(p, "--steps", nargs="+", required=True, help="label=exp dir of each fine-tuned step, in order (each with "
                                                        "decode_test and decode_test_lm scored)")
    option(p, "--test", required=True, help="the test set (its speakers and recordings)")
    option(p, "--transcribed", required=True, help="transcribe-long's output dir")
    option(p, "--aligned", help="align's output dir (the annotations aligned)")
    option(p, "--truth", help="true utterance times and words per recording (<recording>.tsv: speaker, start, end, "
                              "text), where the corpus has them")
    option(p, "--out", required=True, help="the report, without suffix: <out>.md, .html and .json")


def _run_fieldwork_report(args) -> None:
    from speechxl.eval.fieldwork_report import fieldwork_report

    steps = key_values(args.steps, "--steps")
    path = lambda d: Path(d) if d else None  # noqa: E731
    fieldwork_report({label: Path(d) for label, d in steps.items()}, Path(args.test), Path(args.transcribed),
                     path(args.aligned), Path(args.out), path(args.truth))
    print(Path(args.out).with_suffix(".md"))


VERBS = {"prepare": (_add_prepare, _run_prepare), "units": (_add_units, _run_units),
         "pretrain": (_add_pretrain, _run_pretrain), "pretrain-text": (_add_pretrain_text, _run_pretrain_text),
         "finetune": (_add_finetune, _run_finetune),
         "decode": (_add_decode, _run_decode), "score": (_add_score, _run_score),
         "transcribe": (_add_transcribe, _run_transcribe), "export-hf": (_add_export, _run_export),
         "export-data": (_add_export_data, _run_export_data), "subset": (_add_subset, _run_subset),
         "export-torch": (_add_export_torch, _run_export_torch),
         "import-fairseq": (_add_import_fairseq, _run_import_fairseq),
         "transcribe-long": (_add_transcribe_long, _run_transcribe_long), "align": (_add_align, _run_align),
         "card": (_add_card, _run_card), "release": (_add_release, _run_release),
         "inventory": (_add_inventory, _run_inventory), "codebooks": (_add_codebooks, _run_codebooks),
         "dump-features": (_add_dump_features, _run_dump_features), "kmeans": (_add_kmeans, _run_kmeans),
         "label-quality": (_add_label_quality, _run_label_quality),
         "fieldwork-report": (_add_fieldwork_report, _run_fieldwork_report)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="speechxl", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True)
    for add, _ in VERBS.values():
        add(sub)
    for verb, p in sub.choices.items():  # every verb's help: defaults, and the examples above
        p.formatter_class, p.epilog = _HelpFormatter, _examples(verb)
    args = parser.parse_args(argv)
    args.command = shlex.join(["speechxl", *(sys.argv[1:] if argv is None else argv)])  # as recorded in results
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    from speechxl.errors import SpeechxlError

    try:
        VERBS[args.verb][1](args)
    except (OSError, ValueError, SpeechxlError) as e:  # the user's input: one line (--verbose: where it came from)
        logging.getLogger("speechxl").error("%s", e, exc_info=args.verbose)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
