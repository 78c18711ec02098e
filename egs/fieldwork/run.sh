#!/usr/bin/env bash
# Fieldwork recipe: a folder of long recordings, some annotated in ELAN or Praat, transcribed back
# into the users' own files (the Ainu study's adaptation: continued pretraining on the target
# language's audio, fine-tuning alone or with a related language).
#   bash run.sh                                  # all stages, on the built-in fieldwork demo corpus
#   bash run.sh --corpus /path/to/recordings --tiers "tx@*" --lang ain --init /models/xlsr53 \
#       --pretrain_config ../../recipes/pretrain/xlsr53.yaml [--rules rules.yaml] [--text extra.txt] \
#       [--related_data /path/to/prepared/ja]
# Stages: 0 demo corpora | 1 prepare | 2 units and LMs | 3 source model (without --init: pretrained
#         on the related language's audio) | 4 continued pretraining on the target's audio |
#         5 fine-tune (from the source model, from the continued one, and that one with the related
#         language) | 6 decode and score | 7 transcribe every recording (the LM where it lowered the dev
#         error) | 8 align the annotations | 9 the report. A finished stage is skipped on a re-run.
set -euo pipefail
cd "$(dirname "$0")"

corpus=                   # folder of recordings with .eaf / .TextGrid files; empty: the built-in demo corpus
tiers="tx@*"              # tiers to learn from: patterns, space-separated ("tx@* SP1 SP2"; globs or re:<regex>)
lang=ca                   # language code of the recordings
rules=                    # the corpus's orthography rules (YAML; the demo's: downloads/fieldwork/rules.yaml)
text=                     # text files in the language, for the language model
init=                     # the given model (a speechxl checkpoint or a Hugging Face dir); empty: stage 3 makes one
related_data=             # prepared data dir of a related language (train/, pretrain/); the demo's: Spanish
related_weight=1          # fine-tuning batches from the related language per target_weight from the target
target_weight=1           # (the related language's share is related_weight / (related_weight + target_weight))
pretrain_config=../../recipes/pretrain/w2v_bert_tiny.yaml  # preset of the source and continued pretraining
source_steps=1500         # updates of stage 3 (the source model, when there is no --init)
continued_steps=1500      # updates of stage 4 (continued pretraining on the target's audio)
pretrain_args=            # extra overrides for stages 3 and 4, e.g. "optim.lr=5e-4"
finetune_config=../../recipes/finetune/ctc_tiny.yaml       # fine-tuning preset
finetune_args=            # extra overrides for stage 5
adapter=                  # train an adapter on the frozen model instead of all of it: mms (MMS's language
                          # adapters; a Transformer model: MMS, XLS-R) or lora (any encoder)
decode_args=              # extra options for speechxl decode in stage 6, e.g. "--beam 100"
lm_order=3                # order of the word n-gram LM
nj=2                      # parallel processes
demo=downloads/fieldwork  # where stage 0 writes the fieldwork demo corpus
demo_scale=1.0            # multiply the demo recordings' lengths
demo_related=downloads/related  # and the related language's demo corpus (CommonVoice layout)
related_scale=2.0         # multiply the related demo corpus's clip counts
data=data                 # the target's prepared sets
exp=exp                   # models, decodes, transcripts, the report
stage=0                   # first stage to run
stop_stage=100            # last stage to run
path_options="corpus rules text init related_data pretrain_config finetune_config demo demo_related data exp"

. ../TEMPLATE/path.sh
. ../../tools/parse_options.sh
. ../../tools/stages.sh

prepare_related=false
if [ -z "$corpus" ]; then
  demo_corpus() {
    speechxl prepare fieldwork-demo --out "$demo" --lang "$lang" --scale "$demo_scale" --jobs "$nj"
    # Spanish's transcribed and untranscribed clips; not the festival voices (prepare commonvoice never reads them)
    speechxl prepare demo --out "$demo_related" --langs es --heldout_langs "" --scale "$related_scale" \
      --sizes voices_unlabelled=0 voices_test=0 --jobs "$nj"
  }
  run_stage 0 "demo corpora" --reads "demo demo_related lang demo_scale related_scale" demo_corpus
  corpus=$demo
  rules=${rules:-$demo/rules.yaml}
  text=${text:-$demo/text/$lang.txt}
  if [ -z "$related_data" ]; then related_data=$data/related; prepare_related=true; fi
fi

read -ra tier_patterns <<< "$tiers"  # several patterns, none expanded by the shell
prepare=(speechxl prepare fieldwork --corpus "$corpus" --tiers "${tier_patterns[@]}" --lang "$lang" --out "$data" \
  --jobs "$nj")
if [ -n "$rules" ]; then prepare+=(--rules "$rules"); fi
# shellcheck disable=SC2206  # text is a list of files
if [ -n "$text" ]; then prepare+=(--text $text); fi
prepare_all() {  # the target's recordings; the demo's related language (CommonVoice layout)
  "${prepare[@]}"
  if [ "$prepare_related" == true ]; then
    speechxl prepare commonvoice --cv_root "$demo_related" --langs es --heldout_langs "" --out "$related_data" \
      --jobs "$nj"
  fi
}
run_stage 1 "prepare" --reads "prepare_related related_data" prepare_all "${prepare[@]}"

train_sets=("$data/train"); if [ -n "$related_data" ]; then train_sets+=("$related_data/train"); fi
lm_text=(); if [ -d "$data/lm_text" ]; then lm_text=(--lm_text "$data/lm_text"); fi
run_stage 2 "units" speechxl units chars words --train "${train_sets[@]}" --eval "$data/dev" "$data/test" \
  --out "$data" --lm_order "$lm_order" "${lm_text[@]}" --jobs "$nj"

# the given model: --init, or one pretrained here on the related language's audio (as XLSR-53 was
# pretrained on other languages than the one it is adapted to)
source_model=$init
if [ -z "$source_model" ]; then
  if [ -z "$related_data" ]; then
    echo "$0: give --init (the model to adapt) or --related_data (audio to pretrain one on)" >&2; exit 1
  fi
  source_model=$exp/source
  # shellcheck disable=SC2086  # pretrain_args is a list of key=value words
  run_stage 3 "source model" speechxl pretrain --config "$pretrain_config" data="$related_data/pretrain" \
    valid_data="$related_data/dev" out="$source_model" train.max_steps="$source_steps" $pretrain_args
fi

continued=$exp/continued
# shellcheck disable=SC2086
run_stage 4 "continued pretraining" speechxl pretrain --config "$pretrain_config" init="$source_model" \
  data="$data/pretrain" valid_data="$data/dev" out="$continued" train.max_steps="$continued_steps" $pretrain_args

# each step of the adaptation, fine-tuned the same way: none (the given model), + continued
# pretraining, + the related language's transcribed data
steps=(ctc_given ctc_continued)
if [ -n "$related_data" ]; then steps+=(ctc_continued_related); fi
finetune_steps() {
  local trained=(); if [ -n "$adapter" ]; then trained=(adapter.type="$adapter"); fi
  # shellcheck disable=SC2086  # finetune_args is a list of key=value words
  speechxl finetune --config "$finetune_config" init="$source_model" units=chars data="$data/train" \
    valid_data="$data/dev" out="$exp/ctc_given" "${trained[@]}" $finetune_args
  # shellcheck disable=SC2086
  speechxl finetune --config "$finetune_config" init="$continued" units=chars data="$data/train" \
    valid_data="$data/dev" out="$exp/ctc_continued" "${trained[@]}" $finetune_args
  if [ -n "$related_data" ]; then
    # shellcheck disable=SC2086
    speechxl finetune --config "$finetune_config" init="$continued" units=chars lang_dir="$data/lang_char" \
      streams.target.data="$data/train" streams.target.weight="$target_weight" \
      streams.related.data="$related_data/train" streams.related.weight="$related_weight" \
      valid_data="$data/dev" out="$exp/ctc_continued_related" "${trained[@]}" $finetune_args
  fi
}
run_stage 5 "fine-tune" --reads "finetune_config pretrain_config related_data data adapter" finetune_steps

# greedy, and with the word LM tuned on dev (decode.json records whether it lowered the dev error,
# and stage 7 uses it only where it did)
final=$exp/${steps[-1]}
decode_and_score() {
  local m dirs=()
  for m in "${steps[@]}"; do
    # shellcheck disable=SC2086  # decode_args is a list of options
    speechxl decode "$exp/$m" "$data/test" --out "$exp/$m/decode_test" $decode_args
    # shellcheck disable=SC2086
    speechxl decode "$exp/$m" "$data/test" --lm "$data/lang_word" --tune_on "$data/dev" --out "$exp/$m/decode_test_lm" \
      $decode_args
    dirs+=("$exp/$m/decode_test" "$exp/$m/decode_test_lm")
  done
  speechxl score "${dirs[@]}" --compare "$exp/steps.md"
}
run_stage 6 "decode and score" --reads "data decode_args" decode_and_score

# every recording, annotated or not, transcribed into copies of its own ELAN file and TextGrid
mapfile -t recordings < <(find "$corpus" -type f \( -iname '*.wav' -o -iname '*.flac' -o -iname '*.mp3' \
  -o -iname '*.ogg' \) | sort)
run_stage 7 "transcribe" speechxl transcribe-long "$final" "${recordings[@]}" --out "$exp/transcribed" \
  --eaf_dir "$corpus" --textgrid_dir "$corpus" --lang "$lang" --lm_from "$final/decode_test_lm"

# the annotations' words and characters timed, into copies of their files
mapfile -t annotations < <(find "$corpus" -type f \( -iname '*.eaf' -o -iname '*.textgrid' \) | sort)
rules_option=(); if [ -n "$rules" ]; then rules_option=(--rules "$rules"); fi
run_stage 8 "align the annotations" speechxl align "$final" "${annotations[@]}" --tiers "${tier_patterns[@]}" \
  --lang "$lang" \
  --out "$exp/aligned" "${rules_option[@]}"

truth=(); if [ -d "$corpus/truth" ]; then truth=(--truth "$corpus/truth"); fi
labels=(); for m in "${steps[@]}"; do labels+=("${m#ctc_}=$exp/$m"); done
run_stage 9 "report" speechxl fieldwork-report --steps "${labels[@]}" --test "$data/test" \
  --transcribed "$exp/transcribed" --aligned "$exp/aligned" "${truth[@]}" --out "$exp/report"
echo "== the report: $exp/report.md (and .html); the transcribed files: $exp/transcribed/"
