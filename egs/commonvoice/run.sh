#!/usr/bin/env bash
# CommonVoice recipe, Kaldi/ESPnet style: each stage is one `speechxl` verb.
#   bash run.sh                                  # all stages, on the built-in demo corpus
#   bash run.sh --stage 1 --stop_stage 2 --cv_root /data/cv-corpus-17.0 --langs "de fr pl"
#   bash run.sh --pretrain_langs mono            # also one model per language: mono vs multilingual
# Stages: 0 demo corpus | 1 prepare data | 2 units | 3 pretrain | 4 fine-tune | 5 decode |
#         6 score | 7 zero-shot decode | 8 zero-shot score | 9-12 (--pretrain_langs mono)
#         monolingual pretraining, per-language fine-tuning, decode, table | 14-16 (--fewshot_minutes "1 3 10")
#         few-shot fine-tuning on held-out languages, decode, table. A finished stage is skipped on a
#         re-run (exp/.done/). Stages 2-16 are egs/TEMPLATE/asr.sh, shared by every corpus.
set -euo pipefail
cd "$(dirname "$0")"

cv_root=                  # CommonVoice release holding <locale>/ folders; empty: the demo corpus
langs=                    # training locales, e.g. "de fr pl" (default: the demo's, else all)
heldout_langs=            # held-out locales for zero-shot tests (default: the demo's)
strict=false              # true: any rejected input stops stage 1 with an error
demo=downloads/demo       # where stage 0 writes the demo corpus
demo_scale=1.0            # multiply the demo corpus's clip counts
pretrain_recipe=whistle   # stage 3's method (egs/TEMPLATE/asr.sh lists them); the demo's default: the lowest mean PER over test and test_voices measured (docs/pretraining_comparison.md)
path_options="cv_root demo"

prepare_data() {  # stage 0: the demo corpus (without --cv_root); stage 1: the release -> $data
  local voices=()
  if [ -z "$cv_root" ]; then
    run_stage 0 "demo corpus" speechxl prepare demo --out "$demo" --scale "$demo_scale" --jobs "$nj"
    cv_root=$demo
    # the demo's other voices (festival): untranscribed speech beside pretrain, and the test condition
    # test_voices (and test_voices_heldout beside test_heldout)
    for v in pretrain_voices test_voices test_voices_heldout; do if [ -d "$demo/voices/$v" ]; then voices+=("$demo/voices/$v"); fi; done
  fi
  local prepare=(speechxl prepare commonvoice --cv_root "$cv_root" --out "$data" --jobs "$nj")
  if [ -n "$langs" ]; then prepare+=(--langs "$langs"); fi
  if [ -n "$heldout_langs" ]; then prepare+=(--heldout_langs "$heldout_langs"); fi
  if [ "$strict" == true ]; then prepare+=(--strict); fi
  run_stage 1 "prepare data" prepare_sets "${#voices[@]}" "${voices[@]}" "${prepare[@]}"
}

prepare_sets() {  # prepare_sets N FOLDER... CMD...: CMD (the release), then each of the N folders of audio as a set
  local folders=("${@:2:$1}") names=() f
  shift $(($1 + 1))
  "$@"
  local strict_option=(); if [ "$strict" == true ]; then strict_option=(--strict); fi
  [ ${#folders[@]} -gt 0 ] || return 0
  # a test condition keeps the languages of its counterpart (with --langs, hi may be no training language)
  for f in "${folders[@]}"; do
    if [[ $(basename "$f") == test_* ]]; then names+=("$(basename "$f")_all"); else names+=("$(basename "$f")"); fi
  done
  speechxl prepare folder --folders "${folders[@]}" --names "${names[@]}" --out "$data" --jobs "$nj" "${strict_option[@]}"
  same_langs test_voices train
  same_langs test_voices_heldout test_heldout
}

same_langs() {  # same_langs SET LIKE: $data/SET from $data/SET_all, its languages those of $data/LIKE too (none: no SET)
  local all=$data/${1}_all like=$data/$2 langs
  [ -f "$all/utt2lang" ] && [ -f "$like/utt2lang" ] || return 0
  langs=$(comm -12 <(cut -d' ' -f2 "$all/utt2lang" | sort -u) <(cut -d' ' -f2 "$like/utt2lang" | sort -u) | tr '\n' ' ')
  # shellcheck disable=SC2086  # langs is a list of language codes
  if [ -n "$langs" ]; then speechxl subset "$all" --langs $langs --out "$data/$1"; fi
}

. ../TEMPLATE/asr.sh
