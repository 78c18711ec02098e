#!/usr/bin/env bash
# CommonVoice recipe, Kaldi/ESPnet style: each stage is one `speechxl` verb.
#   bash run.sh                                  # all stages, on the built-in demo corpus
#   bash run.sh --stage 1 --stop_stage 2 --cv_root /data/cv-corpus-17.0 --langs "de fr pl"
# Stages: 0 demo corpus | 1 prepare data | 2 units | 3 pretrain | 4 fine-tune | 5 decode |
#         6 score | 7 zero-shot. A finished stage is skipped on a re-run (exp/.done/).
set -euo pipefail
cd "$(dirname "$0")"

stage=0                   # first stage to run
stop_stage=100            # last stage to run
cv_root=                  # CommonVoice release holding <locale>/ folders; empty: the demo corpus
langs=                    # training locales, e.g. "de fr pl" (default: the demo's, else all)
heldout_langs=            # held-out locales for zero-shot tests (default: the demo's)
nj=2                      # parallel processes
strict=false              # true: any rejected input stops stage 1 with an error
bpe_size=500              # BPE vocabulary size
pretrain_config=../../recipes/pretrain/wav2vec2_tiny.yaml  # pretraining preset (any recipes/pretrain/*.yaml)
pretrain_args=            # extra overrides for stage 3, e.g. "train.max_steps=500 optim.lr=5e-4"
demo=downloads/demo       # where stage 0 writes the demo corpus
demo_scale=1.0            # multiply the demo corpus's clip counts
data=data                 # prepared data sets
exp=exp                   # models, decodes, reports and stage markers

. ./path.sh
. ../../tools/parse_options.sh
. ../../tools/stages.sh

if [ -z "$cv_root" ]; then
  run_stage 0 "demo corpus" speechxl prepare demo --out "$demo" --scale "$demo_scale" --jobs "$nj"
  cv_root=$demo
fi

prepare=(speechxl prepare commonvoice --cv_root "$cv_root" --out "$data" --jobs "$nj")
[ -n "$langs" ] && prepare+=(--langs "$langs")
[ -n "$heldout_langs" ] && prepare+=(--heldout_langs "$heldout_langs")
[ "$strict" == true ] && prepare+=(--strict)
run_stage 1 "prepare data" "${prepare[@]}"

eval_sets=("$data/dev" "$data/test")
[ -f "$data/test_heldout/utts.jsonl" ] && eval_sets+=("$data/test_heldout")
run_stage 2 "units" speechxl units chars phones bpe --train "$data/train" --eval "${eval_sets[@]}" \
  --out "$data" --bpe_size "$bpe_size" --jobs "$nj"

pretrain_exp=$exp/pretrain_$(basename "$pretrain_config" .yaml)
# shellcheck disable=SC2086  # pretrain_args is a list of key=value words
run_stage 3 "pretrain" speechxl pretrain --config "$pretrain_config" data="$data/pretrain" \
  valid_data="$data/dev" out="$pretrain_exp" $pretrain_args

not_built 4 "fine-tune"
not_built 5 "decode"
not_built 6 "score"
not_built 7 "zero-shot"
