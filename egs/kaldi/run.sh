#!/usr/bin/env bash
# Any corpus in Kaldi data dirs (as Kaldi, ESPnet and lhotse write them), through the shared stages.
#   bash egs/kaldi/run.sh --train k/train --dev k/dev --test k/test --lang sw [--pretrain k/untranscribed]
# Stage 1 imports the dirs into $data/train, dev, test and pretrain (without --pretrain, the
# training audio is also the pretraining set). Stages 2-8 are egs/TEMPLATE/asr.sh.
set -euo pipefail
cd "$(dirname "$0")"

train=                    # Kaldi dir of the transcribed training set
dev=                      # Kaldi dir of the dev set
test=                     # Kaldi dir of the test set
pretrain=                 # Kaldi dir of untranscribed audio (default: the training audio)
lang=                     # language of the utterances that utt2lang does not name
path_options="train dev test pretrain"

prepare_data() {  # stage 1: the Kaldi dirs -> $data
  local dirs=("$train" "$dev" "$test") names=(train dev test)
  if [ -n "$pretrain" ]; then dirs+=("$pretrain"); names+=(pretrain); fi
  if [ -L "$data/pretrain" ]; then rm "$data/pretrain"; fi  # an earlier run's link to train: never written through
  run_stage 1 "import Kaldi dirs" speechxl prepare kaldi --kaldi_dirs "${dirs[@]}" --names "${names[@]}" \
    --lang "$lang" --out "$data" --jobs "$nj"
  if [ -z "$pretrain" ]; then ln -sfn train "$data/pretrain"; fi
}

. ../TEMPLATE/asr.sh
