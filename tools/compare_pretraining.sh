#!/usr/bin/env bash
# Every pretraining method of the recipe at equal training time on the demo, then the same CTC
# fine-tuning (stages 4-6 of egs/commonvoice/run.sh, phones) and the frozen-encoder linear CTC probe
# (recipes/finetune/ctc_probe_tiny.yaml) of each pretrained encoder; one table of test PER per language.
#
#   bash tools/compare_pretraining.sh [--minutes 4] [--out /abs/path] [--methods "cpc wav2vec"]
#
# Needs the demo's prepared data (egs/commonvoice/data, stages 0-2 of run.sh). The budget is training
# time (train.max_minutes: the updates' own time, without validation); each method's schedule is sized
# to its preset's cost per update measured on the 2-core Xeon (below, 15 % over, so that the minutes,
# not the steps, end the run). HuBERT's and WavLabLM's two iterations share the budget; their features
# and k-means are extra (logged). Whistle's stage 3 is its preset's 1500 CTC updates (about 4 minutes).
# Run nothing else meanwhile: the budget is wall time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minutes=4
out=$root/egs/commonvoice/exp/compare
methods="wav2vec2 bestrq w2v-bert hubert wavlablm unispeech whistle cpc wav2vec"
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2 ;;
    --out) out=$2 ;;
    --methods) methods=$2 ;;
    *) echo "$0: unknown option $1 (--minutes, --out, --methods)" >&2; exit 1 ;;
  esac
  shift 2
done
case "$out" in /*) ;; *) out=$PWD/$out ;; esac

# seconds per update of each method's tiny preset on the demo (this script's run of 2026-12-05, 2-core
# Xeon; the earlier estimates it started from ended wav2vec, UniSpeech and w2v-BERT by steps at 209-220 s)
declare -A cost=([wav2vec2]=0.353 [bestrq]=0.130 [w2v-bert]=0.103 [hubert]=0.117 [wavlablm]=0.114
                 [unispeech]=0.113 [whistle]=0.155 [cpc]=0.293 [wav2vec]=0.088)
data=$root/egs/commonvoice/data
mkdir -p "$out"
for m in $methods; do
  [ -n "${cost[$m]:-}" ] || { echo "$0: no measured cost per update for $m" >&2; exit 1; }
  steps=$(python3 -c "print(round($minutes * 60 / ${cost[$m]} * 1.15))")
  budget="train.max_steps=$steps train.max_minutes=$minutes train.valid_every=$((steps / 2)) train.save_every=$((steps / 2))"
  if [ "$m" == whistle ]; then budget="train.max_minutes=$minutes"; fi
  start=$(date +%s)
  bash "$root/egs/commonvoice/run.sh" --stage 3 --stop_stage 6 --pretrain_recipe "$m" --exp "$out/$m" \
    --finetune_units phones --scratch_units "" --units_from "" --pretrain_args "$budget" \
    --finetune_args "require_learning=false" > "$out/$m.log" 2>&1 || echo "$m: run.sh failed, see $out/$m.log"
  pretrained=$(ls -d "$out/$m"/pretrain_*/ | head -1)
  speechxl finetune --config "$root/recipes/finetune/ctc_probe_tiny.yaml" init="$pretrained" units=phones \
    lang_dir="$data/lang_phone" data="$data/train" valid_data="$data/dev" out="$out/$m/probe" \
    require_learning=false >> "$out/$m.log" 2>&1 &&
  speechxl decode "$out/$m/probe" "$data/test" --out "$out/$m/probe/decode_test" >> "$out/$m.log" 2>&1 ||
    echo "$m: the probe failed, see $out/$m.log"
  echo "$m: $(( $(date +%s) - start )) s" | tee -a "$out/times.txt"
done

rows=()
for m in $methods; do
  for d in "$out/$m"/ctc_phones_*/decode_test "$out/$m"/ctc_phones_*/decode_test_lm "$out/$m/probe/decode_test"; do
    [ -f "$d/hyp.trn" ] && rows+=(--row "$m ${d#"$out/$m/"}" "$d")
  done
done
speechxl score --compare "$out/table.md" "${rows[@]}"
echo "== $out/table.md"
