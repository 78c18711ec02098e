#!/usr/bin/env bash
# What pretraining is for, measured on the demo (issue: other voices than the transcripts'): test PER on
# `test` (espeak-ng, the transcripts' voice) and `test_voices` (festival speakers) after the same CTC
# fine-tuning on phones (stages 3-6 of egs/commonvoice/run.sh), for
#   scratch, scratch_aug          random weights of w2v-BERT's tiny architecture, without / with augmentation
#                                 (recipes/finetune/ctc_tiny_augmented.yaml: speed, warping, reverberation, noise)
#   whistle, whistle_aug          Whistle (phone CTC on the pretraining set's transcripts), without / with it
#   <method>_espeak               self-supervised pretraining on the espeak-ng audio alone (data/pretrain)
#   <method>_voices               the same with the other voices and languages (+ data/pretrain_voices)
# each with every seed; one table of each run and the mean (tools/pretraining_table.py).
#
#   bash tools/compare_pretraining.sh [--minutes 4] [--seeds "1 2"] [--methods "w2v-bert bestrq wav2vec2 hubert"]
#        [--baselines "scratch scratch_aug whistle whistle_aug"] [--train_minutes N] [--out /abs/path]
#
# Needs the demo's prepared data (egs/commonvoice/data, stages 0-2 of run.sh). The budget is pretraining
# time (train.max_minutes: the updates' own time, without validation); each method's schedule is sized to
# its preset's cost per update measured on the 2-core Xeon (below, 15 % over, so that the minutes, not the
# steps, end the run). HuBERT's two iterations share the budget; their features and k-means are extra.
# Whistle's stage 3 is the fine-tuning preset's CTC schedule within the same minutes. A finished run is
# skipped when the tool is run again (its stage markers). Run nothing else meanwhile: the budget is wall time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minutes=4
seeds="1 2"
methods="w2v-bert bestrq wav2vec2 hubert"
baselines="scratch scratch_aug whistle whistle_aug"
train_minutes=
out=$root/egs/commonvoice/exp/compare
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2 ;;
    --seeds) seeds=$2 ;;
    --methods) methods=$2 ;;
    --baselines) baselines=$2 ;;
    --train_minutes) train_minutes=$2 ;;
    --out) out=$2 ;;
    *) echo "$0: unknown option $1 (--minutes, --seeds, --methods, --baselines, --train_minutes, --out)" >&2; exit 1 ;;
  esac
  shift 2
done
case "$out" in /*) ;; *) out=$PWD/$out ;; esac

# seconds per update of each method's tiny preset on the demo (2026-12-05, 2-core Xeon)
declare -A cost=([wav2vec2]=0.353 [bestrq]=0.130 [w2v-bert]=0.103 [hubert]=0.117 [wavlablm]=0.114
                 [unispeech]=0.113 [cpc]=0.293 [wav2vec]=0.088)
augmented=$root/recipes/finetune/ctc_tiny_augmented.yaml
mkdir -p "$out"

# run NAME SEED RUN.SH-OPTIONS...: one configuration into $out/NAME/seed<SEED>
run() {
  local name=$1 seed=$2 start
  shift 2
  start=$(date +%s)
  bash "$root/egs/commonvoice/run.sh" --exp "$out/$name/seed$seed" --finetune_units phones --units_from "" \
    ${train_minutes:+--train_minutes "$train_minutes"} "$@" > "$out/$name/seed$seed.log" 2>&1 ||
    echo "$name seed $seed: run.sh failed, see $out/$name/seed$seed.log"
  echo "$name seed $seed: $(( $(date +%s) - start )) s" | tee -a "$out/times.txt"
}

for seed in $seeds; do
  for b in $baselines; do
    mkdir -p "$out/$b"
    config=(); [[ "$b" == *_aug ]] && config=(--finetune_config "$augmented")
    case "${b%_aug}" in
      scratch) run "$b" "$seed" --stage 4 --stop_stage 6 --finetune_units "" --scratch_units phones "${config[@]}" \
                 --finetune_args "train.seed=$seed" ;;
      whistle) run "$b" "$seed" --stage 3 --stop_stage 6 --pretrain_recipe whistle --scratch_units "" "${config[@]}" \
                 --pretrain_args "train.seed=$seed train.max_minutes=$minutes" --finetune_args "train.seed=$seed" ;;
      *) echo "$0: a baseline is scratch or whistle, with _aug or not; not $b" >&2; exit 1 ;;
    esac
  done
  for m in $methods; do
    [ -n "${cost[$m]:-}" ] || { echo "$0: no measured cost per update for $m" >&2; exit 1; }
    steps=$(python3 -c "print(round($minutes * 60 / ${cost[$m]} * 1.15))")
    budget="train.seed=$seed train.max_steps=$steps train.max_minutes=$minutes train.valid_every=$((steps / 2))"
    budget+=" train.save_every=$((steps / 2))"
    for audio in espeak voices; do
      sets=pretrain; [ "$audio" == voices ] && sets="pretrain pretrain_voices"
      mkdir -p "$out/${m}_$audio"
      run "${m}_$audio" "$seed" --stage 3 --stop_stage 6 --pretrain_recipe "$m" --pretrain_sets "$sets" \
        --scratch_units "" --pretrain_args "$budget" --finetune_args "train.seed=$seed"
    done
  done
done

"$root/.venv/bin/python" "$root/tools/pretraining_table.py" "$out" --out "$out/table.md"
echo "== $out/table.md"
