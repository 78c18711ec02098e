# The stages every speechxl recipe shares (ESPnet's asr.sh, icefall's prepare.sh): a corpus's
# run.sh sets its own options, defines prepare_data (stages 0-1: the corpus -> $data/train, dev,
# test, pretrain [, test_heldout, pretrain_heldout, pretrain_voices, test_voices, test_voices_heldout] and
# $data/lm_text), and sources this file:
#
#   set -euo pipefail; cd "$(dirname "$0")"      # run.sh lives in egs/<corpus>/
#   my_root=        # where the corpus is (each option: name=default, then its help after #)
#   prepare_data() { run_stage 1 "prepare data" speechxl prepare <corpus> ... --out "$data"; }
#   . ../TEMPLATE/asr.sh
#
# Stages here: 2 units | 3 pretrain | 4 fine-tune | 5 decode | 6 score | 7 zero-shot decode |
# 8 zero-shot score (when $data/test_heldout exists) | with --pretrain_langs mono: 9 monolingual
# pretraining | 10 per-language fine-tuning | 11 per-language decode | 12 monolingual vs multilingual
# table | with --pretrain_recipe hubert: 13 the k-means labels against phones | with --fewshot_minutes:
# 14 few-shot fine-tuning on held-out languages | 15 its decode | 16 its table. A finished stage is
# skipped on a re-run (its marker in $exp/.done/ holds its command and settings).

stage=0                   # first stage to run
stop_stage=100            # last stage to run
nj=2                      # parallel processes
bpe_size=500              # BPE vocabulary size
pretrain_recipe=${pretrain_recipe:-w2v-bert}  # pretraining method (a corpus's run.sh may set its own default): w2v-bert, bestrq, wav2vec2, hubert (iterated k-means labels), wavlablm (hubert + denoising + staged language balance), mslam (joint speech-text; its tiny preset), unispeech (contrastive + phone CTC on the transcribed set), whistle (phone CTC on the pretraining set's transcripts, G2P; w2v-bert's architecture), cpc (causal LSTM, future frames) or wav2vec (causal convolutions, future frames)
pretrain_config=          # or any pretraining preset (recipes/pretrain/*.yaml), overriding pretrain_recipe
pretrain_args=            # extra overrides for stage 3, e.g. "train.max_steps=500 optim.lr=5e-4"
pretrain_sets=            # untranscribed data sets stage 3 pretrains on (default: pretrain and, where stage 1 made it, pretrain_voices: the demo's festival voices); whistle reads pretrain's transcripts alone
hubert_clusters="100 500" # hubert: clusters of each iteration's labels (the first of MFCCs, each later one of a layer of the previous model)
hubert_layer=2            # hubert: the layer whose output the next iteration clusters (tiny preset: 4 layers; BASE: 6 of 12)
pretrain_langs=multi      # multi: one model on every language; mono: also one per language at an equal share of the budget, compared per language (stages 9-12)
finetune_config=../../recipes/finetune/ctc_tiny.yaml  # fine-tuning preset (recipes/finetune/*.yaml)
finetune_units="phones chars"  # unit sets to fine-tune on (chars, phones, bpe), from stage 3's model
scratch_units=phones      # unit sets also fine-tuned from random weights (same architecture): the baseline
units_from=phones         # other unit sets start from this unit set's model (empty: all from stage 3's)
finetune_args=            # extra overrides for stage 4
fewshot_minutes=          # few-shot (stages 14-16): transcribed minutes of each held-out language to fine-tune on, from stage 3's model and from random weights, e.g. "1 3 10" (empty: no few-shot)
fewshot_langs=            # the held-out languages of the few-shot stages (default: those of test_heldout)
train_minutes=            # transcribed minutes per language that stage 4 fine-tunes on, drawn from train (speechxl subset; empty: all of it); its models, decodes and table are named <...>_<n>min
lm_order=3                # order of the word n-gram LMs
decode_args=              # extra options for speechxl decode in stage 5, e.g. "--beam 100"
data=data                 # prepared data sets
exp=exp                   # models, decodes, reports and stage markers
# options that are paths: one given relative is taken from the directory run.sh was run from
path_options="${path_options:-} data exp pretrain_config finetune_config"

# run.sh has cd'ed into egs/<corpus>: the repository root is ../..
. ../TEMPLATE/path.sh
. ../../tools/parse_options.sh
. ../../tools/stages.sh

if [ -z "$pretrain_config" ]; then
  case "$pretrain_recipe" in
    wav2vec2) pretrain_config=../../recipes/pretrain/wav2vec2_tiny.yaml ;;
    bestrq) pretrain_config=../../recipes/pretrain/bestrq_conformer_tiny.yaml ;;
    w2v-bert) pretrain_config=../../recipes/pretrain/w2v_bert_tiny.yaml ;;
    hubert) pretrain_config=../../recipes/pretrain/hubert_conformer_tiny.yaml ;;
    wavlablm) pretrain_config=../../recipes/pretrain/wavlablm_tiny.yaml ;;
    mslam) pretrain_config=../../recipes/pretrain/mslam_tiny.yaml ;;
    unispeech) pretrain_config=../../recipes/pretrain/unispeech_tiny.yaml ;;
    whistle) pretrain_config=../../recipes/pretrain/w2v_bert_tiny.yaml ;;  # the architecture
    cpc) pretrain_config=../../recipes/pretrain/cpc_tiny.yaml ;;
    wav2vec) pretrain_config=../../recipes/pretrain/wav2vec_tiny.yaml ;;
    *) echo "$0: --pretrain_recipe is wav2vec2, bestrq, w2v-bert, hubert, wavlablm, mslam, unispeech, whistle, cpc or" \
         "wav2vec, not" \
         "$pretrain_recipe" >&2
       exit 1 ;;
  esac
fi

# the preset's family, through its bases
pretrain_family=$(speechxl pretrain --config "$pretrain_config" --print_config | sed -n 's/^family: \([^ ]*\).*/\1/p')
if [ "$pretrain_langs" == mono ] && { [ "$pretrain_family" == mslam ] || [ "$pretrain_family" == unispeech ]; }; then
  echo "$0: --pretrain_langs mono compares speech-only pretraining; $pretrain_config reads transcripts too" >&2; exit 1
elif [ "$pretrain_langs" == mono ] && [ "$pretrain_family" == hubert ]; then
  echo "$0: --pretrain_langs mono does not run HuBERT's iterations per language yet" >&2; exit 1
elif [ "$pretrain_langs" == mono ] && [ "$pretrain_recipe" == whistle ]; then
  echo "$0: --pretrain_langs mono compares self-supervised pretraining; whistle is supervised" \
       "(add e.g. --pretrain_recipe w2v-bert)" >&2; exit 1
elif [ "$pretrain_langs" != mono ] && [ "$pretrain_langs" != multi ]; then
  echo "$0: --pretrain_langs is multi or mono, not $pretrain_langs" >&2; exit 1
fi

prepare_data

# the test conditions: test, and test_voices where stage 1 made it (the demo: other voices than train's);
# of held-out languages, test_heldout and test_voices_heldout
test_sets=(test) heldout_sets=()
[ -f "$data/test_voices/utts.jsonl" ] && test_sets+=(test_voices)
for t in test_heldout test_voices_heldout; do [ -f "$data/$t/utts.jsonl" ] && heldout_sets+=("$t"); done
eval_sets=("$data/dev"); for t in "${test_sets[@]}" "${heldout_sets[@]}"; do eval_sets+=("$data/$t"); done
if [ -z "$pretrain_sets" ]; then
  pretrain_sets=pretrain; [ -f "$data/pretrain_voices/utts.jsonl" ] && pretrain_sets+=" pretrain_voices"
fi
pretrain_dirs=(); for s in $pretrain_sets; do pretrain_dirs+=("$data/$s"); done
pretrain_list=$(IFS=,; echo "[${pretrain_dirs[*]}]")  # data=[a,b]: a YAML list
# the transcribed set of stages 3-4 (UniSpeech's and mSLAM's paired stream, fine-tuning): train, or
# --train_minutes of each language of it; the models fine-tuned on it are named <...>_<n>min
train=$data/train minutes_suffix=
if [ -n "$train_minutes" ]; then
  train=$data/train_${train_minutes}min minutes_suffix=_${train_minutes}min
  if [ ! -f "$train/utts.jsonl" ] && [ "$stop_stage" -ge 3 ]; then
    speechxl subset "$data/train" --minutes "$train_minutes" --out "$train"
  fi
fi
run_stage 2 "units" speechxl units chars phones bpe words --train "$data/train" --eval "${eval_sets[@]}" \
  --out "$data" --bpe_size "$bpe_size" --lm_text "$data/lm_text" --lm_order "$lm_order" --jobs "$nj"

pretrain_exp=$exp/pretrain_$(basename "$pretrain_config" .yaml)
if [ "$pretrain_recipe" == whistle ]; then pretrain_exp=$exp/pretrain_whistle_$(basename "$pretrain_config" .yaml); fi
# a joint speech-text preset (family mslam) reads three streams: untranscribed speech, the LM text
# and the transcribed training set, in characters
pretrain_data=(data="$pretrain_list")
if [ "$pretrain_family" == mslam ]; then
  pretrain_data=(units=chars streams.speech.data="$pretrain_list" streams.text.data="$data/lm_text"
                 streams.paired.data="$train")
elif [ "$pretrain_family" == unispeech ]; then  # untranscribed speech and the transcribed set, in phones
  pretrain_data=(units=phones streams.speech.data="$pretrain_list" streams.paired.data="$train")
fi
# HuBERT's iterations, each with an equal share of the budget: labels from k-means of MFCCs, a model
# trained to predict them, labels from k-means of that model's layer $hubert_layer, the next model
# (continued from the previous one) ... the last iteration's model is stage 3's; each iteration's
# features, labels and model are in $exp/hubert_<tag>/
hubert_pretrain() {  # hubert_pretrain ARGS CLUSTERS LAYER
  local args=$1 clusters=($2) layer=$3 h=$exp/hubert_$(basename "$pretrain_config" .yaml) i=1 source=mfcc init=()
  for k in "${clusters[@]}"; do
    local model=$h/it$i; if [ "$i" == "${#clusters[@]}" ]; then model=$pretrain_exp; fi
    if [ ! -f "$h/km_it$i/info.json" ]; then  # made once: a resumed iteration refuses other labels
      speechxl dump-features "$source" "${pretrain_dirs[@]}" "$data/dev" --layer "$layer" --out "$h/feats_it$i"
      speechxl kmeans "$h/feats_it$i" --clusters "$k" --out "$h/km_it$i"
      rm -r "$h/feats_it$i"  # the labels are what the run reads
    fi
    # shellcheck disable=SC2086  # ARGS is a list of key=value words
    speechxl pretrain --config "$pretrain_config" --budget_share "1/${#clusters[@]}" data="$pretrain_list" \
      valid_data="$data/dev" labels="$h/km_it$i" out="$model" "${init[@]}" $args
    source=$model init=(init="$model") i=$((i + 1))
  done
}
if [ "$pretrain_family" == hubert ]; then
  run_stage 3 "pretrain" --reads "pretrain_config data pretrain_list" hubert_pretrain "$pretrain_args" "$hubert_clusters" "$hubert_layer"
elif [ "$pretrain_recipe" == whistle ]; then
  # Whistle (Yusuyin et al.): phoneme-supervised pretraining, CTC over the G2P phones of the pretraining
  # set's transcripts (phones outside stage 2's inventory train as <unk>) from random weights of the
  # preset's architecture, with the fine-tuning preset; stage 4 fine-tunes its encoder as any other
  # shellcheck disable=SC2086  # pretrain_args is a list of key=value words
  run_stage 3 "pretrain" speechxl finetune --config "$finetune_config" architecture="$pretrain_config" units=phones \
    lang_dir="$data/lang_phone" data="$data/pretrain" valid_data="$data/dev" out="$pretrain_exp" $pretrain_args
else
  # shellcheck disable=SC2086  # pretrain_args is a list of key=value words
  run_stage 3 "pretrain" speechxl pretrain --config "$pretrain_config" "${pretrain_data[@]}" \
    valid_data="$data/dev" out="$pretrain_exp" $pretrain_args
fi

# one CTC model per unit set; the experiment name says which branch it grew from: ctc_<units>_<pretrained
# model> from stage 3's model, ctc_<units>_scratch from random weights of the same architecture (each
# through its units_from model)
tag=$(basename "$pretrain_exp" | sed 's/^pretrain_//')$minutes_suffix
ctc_dirs=(); for u in $finetune_units; do ctc_dirs+=("$exp/ctc_${u}_$tag"); done
for u in $scratch_units; do ctc_dirs+=("$exp/ctc_${u}_scratch$minutes_suffix"); done

# in_order "UNITS" FIRST: FIRST (when it is one of UNITS), then the other unit sets
in_order() {
  local u
  for u in $1; do if [ "$u" == "$2" ]; then echo "$u"; fi; done
  for u in $1; do if [ "$u" != "$2" ]; then echo "$u"; fi; done
}

# finetune_branch "UNITS" FROM NAME "ARGS" START...: each unit set into $exp/ctc_<units>_NAME, FROM
# first; the others start from FROM's model when FROM is one of UNITS, else from START (init=...
# or architecture=...)
finetune_branch() {
  local units=$1 from=$2 name=$3 args=$4 u
  shift 4
  for u in $(in_order "$units" "$from"); do
    local start=("$@")
    if [[ " $units " == *" $from "* && "$u" != "$from" ]]; then start=(init="$exp/ctc_${from}_$name"); fi
    # shellcheck disable=SC2086  # ARGS is a list of key=value words
    speechxl finetune --config "$finetune_config" "${start[@]}" units="$u" data="$train" \
      valid_data="$data/dev" out="$exp/ctc_${u}_$name" $args
  done
}

# finetune_all "UNITS" "SCRATCH_UNITS" "ARGS" "FROM": the pretrained branch, then the from-scratch
# baselines; all are arguments so that the stage marker records them
finetune_all() {
  finetune_branch "$1" "$4" "$tag" "$3" init="$pretrain_exp"
  finetune_branch "$2" "$4" "scratch$minutes_suffix" "$3" architecture="$pretrain_config"
}
run_stage 4 "fine-tune" --reads "finetune_config pretrain_config data train" \
  finetune_all "$finetune_units" "$scratch_units" "$finetune_args" "$units_from"

decode_all() {  # decode_all "TESTS" MODEL...: each test set greedily, then by beam search with the LM tuned on dev
  local tests=$1 t
  shift
  for m in "$@"; do
    local units lm; units=$(speechxl card "$m" --field units)
    # characters and BPE decode into words with the word LMs; phones with a phone LM
    if [ "$units" == phones ]; then lm=$data/lang_phone/lm; else lm=$data/lang_word; fi
    for t in $tests; do
      # the recipe names its decode dirs (outside it, a dir's name carries the non-default settings)
      # shellcheck disable=SC2086  # decode_args is a list of options
      speechxl decode "$m" "$data/$t" --out "$m/decode_$t" $decode_args
      # shellcheck disable=SC2086
      speechxl decode "$m" "$data/$t" --lm "$lm" --tune_on "$data/dev" --out "$m/decode_${t}_lm" $decode_args
    done
  done
}
run_stage 5 "decode" --reads "decode_args data" decode_all "${test_sets[*]}" "${ctc_dirs[@]}"

# one row per model and search, a column group per test condition
decode_dirs=() rows=()
for m in "${ctc_dirs[@]}"; do
  for search in "greedy:" "LM:_lm"; do
    rows+=(--row "$(basename "$m") ${search%%:*}")
    for t in "${test_sets[@]}"; do decode_dirs+=("$m/decode_$t${search#*:}"); rows+=("$m/decode_$t${search#*:}"); done
  done
done
run_stage 6 "score" speechxl score --compare "$exp/results_$tag.md" "${rows[@]}"
if [ "$stop_stage" -ge 6 ] && [ "$stage" -le 6 ]; then
  echo "== reports:"; for d in "${decode_dirs[@]}"; do echo "   $d/report.md"; done
  echo "== all in one table: $exp/results_$tag.md"
fi

# zero-shot: the phone model on languages it never saw, unrestricted, then restricted to each
# language's inventory (stage 2 wrote data/lang_phone/inventory/<lang>.txt) by exact match and by
# articulatory features
phone_model=$exp/ctc_phones_$tag
if [ ${#heldout_sets[@]} -gt 0 ]; then
  zero_shot() {  # zero_shot MODEL SET...: three decodes of each held-out test set
    local m=$1 t map
    shift
    for t in "$@"; do
      speechxl decode "$m" "$data/$t" --out "$m/decode_${t}_unrestricted"
      for map in exact articulatory; do
        speechxl decode "$m" "$data/$t" --inventory "$data/lang_phone/inventory" --map "$map"
      done
    done
  }
  run_stage 7 "zero-shot decode" --reads data zero_shot "$phone_model" "${heldout_sets[@]}"
  zs_rows=()  # a row per restriction, a column group per held-out test set
  for map in unrestricted exact articulatory; do
    zs_rows+=(--row "$map"); for t in "${heldout_sets[@]}"; do zs_rows+=("$phone_model/decode_${t}_$map"); done
  done
  run_stage 8 "zero-shot score" speechxl score --compare "$exp/zero_shot_$tag.md" "${zs_rows[@]}"
  if [ "$stop_stage" -ge 8 ] && [ "$stage" -le 8 ]; then echo "== zero-shot PER: $exp/zero_shot_$tag.md"; fi
fi

# monolingual vs multilingual pretraining (XLSR's and CLSRIL-23's comparison): for each language of the
# training set, a model pretrained on that language's untranscribed speech alone with 1/n of the
# pretraining budget (n languages: the same total cost as the multilingual model); it and the
# multilingual model are each fine-tuned on that language's transcribed speech alone (the first of
# finetune_units), decoded greedily on its test set, and tabled per language beside the multilingual
# fine-tuning of stage 4
if [ "$pretrain_langs" == mono ] && [ "$stop_stage" -ge 9 ]; then
  mono=$exp/mono_$tag
  mono_units=${finetune_units%% *}
  mono_langs=$(cut -d' ' -f2 "$data/train/utt2lang" | sort -u | tr '\n' ' ')
  mono_pretrain() {  # mono_pretrain ARGS LANG...: each language's data sets, then its pretraining
    local args=$1 n=$(($# - 1)) l s
    shift
    for l in "$@"; do
      for s in pretrain train dev test; do speechxl subset "$data/$s" --langs "$l" --out "$data/mono/$l/$s"; done
      # shellcheck disable=SC2086  # ARGS is a list of key=value words
      speechxl pretrain --config "$pretrain_config" --budget_share "1/$n" data="$data/mono/$l/pretrain" \
        valid_data="$data/mono/$l/dev" out="$mono/pretrain_$l" $args
    done
  }
  run_stage 9 "monolingual pretraining" --reads "pretrain_config data" mono_pretrain "$pretrain_args" $mono_langs

  mono_finetune() {  # mono_finetune UNITS ARGS LANG...: per language, from the monolingual and the multilingual model
    local units=$1 args=$2 l
    shift 2
    for l in "$@"; do
      # shellcheck disable=SC2086  # ARGS is a list of key=value words
      for from in "mono=$mono/pretrain_$l" "multi=$pretrain_exp"; do
        speechxl finetune --config "$finetune_config" init="${from#*=}" units="$units" lang_dir="$data/lang_${units%s}" \
          data="$data/mono/$l/train" valid_data="$data/mono/$l/dev" out="$mono/ctc_${units}_${from%%=*}_$l" $args
      done
    done
  }
  run_stage 10 "per-language fine-tuning" --reads "finetune_config pretrain_config data" \
    mono_finetune "$mono_units" "$finetune_args" $mono_langs

  mono_decode() {  # mono_decode LANG...: each per-language model on its language's test set
    local l from
    for l in "$@"; do
      for from in mono multi; do
        # shellcheck disable=SC2086  # decode_args is a list of options
        speechxl decode "$mono/ctc_${mono_units}_${from}_$l" "$data/mono/$l/test" \
          --out "$mono/ctc_${mono_units}_${from}_$l/decode_test" $decode_args
      done
    done
  }
  run_stage 11 "per-language decode" --reads "decode_args data" mono_decode $mono_langs

  rows=(--row "monolingual pretraining, per-language fine-tuning")
  for l in $mono_langs; do rows+=("$mono/ctc_${mono_units}_mono_$l/decode_test"); done
  rows+=(--row "multilingual pretraining, per-language fine-tuning")
  for l in $mono_langs; do rows+=("$mono/ctc_${mono_units}_multi_$l/decode_test"); done
  multi_decode=$exp/ctc_${mono_units}_$tag/decode_test
  if [ -f "$multi_decode/hyp.trn" ]; then rows+=(--row "multilingual pretraining and fine-tuning" "$multi_decode"); fi
  run_stage 12 "monolingual vs multilingual" speechxl score --compare "$exp/mono_vs_multi_$tag.md" "${rows[@]}"
  if [ "$stop_stage" -ge 12 ] && [ "$stage" -le 12 ]; then echo "== per language: $exp/mono_vs_multi_$tag.md"; fi
fi

# HuBERT: how well each iteration's labels match phones on dev (phone purity, cluster purity, PNMI),
# the phones from a forced alignment by a phone recogniser of stage 4: the one from random weights
# (it owes nothing to the labels), else the one from the HuBERT model
aligner=$exp/ctc_phones_scratch$minutes_suffix; [ -d "$aligner" ] || aligner=$exp/ctc_phones_$tag
if [ "$pretrain_family" == hubert ] && [ -d "$aligner" ]; then
  h=$exp/hubert_$tag
  n_iterations=$(wc -w <<< "$hubert_clusters")
  label_dirs=(); for i in $(seq 1 "$n_iterations"); do label_dirs+=("$h/km_it$i"); done
  run_stage 13 "HuBERT label quality" speechxl label-quality "${label_dirs[@]}" --data "$data/dev" \
    --aligner "$aligner" --out "$exp/hubert_labels_$tag"
  if [ "$stop_stage" -ge 13 ] && [ "$stage" -le 13 ]; then echo "== label quality: $exp/hubert_labels_$tag.md"; fi
fi

# few-shot (Whistle's and XLSR's setting; the fieldwork case): a language no transcript of stage 4 covers,
# fine-tuned on N minutes of its transcribed clips (pretrain_heldout; the smaller amounts are part of the
# larger ones) from stage 3's model and from random weights, in phones, validated on 2 other minutes of
# them, decoded greedily on its part of test_heldout
if [ -n "$fewshot_minutes" ] && [ "$stop_stage" -ge 14 ] && [ -f "$data/pretrain_heldout/utts.jsonl" ]; then
  fs=$exp/fewshot_$tag
  [ -n "$fewshot_langs" ] || fewshot_langs=$(cut -d' ' -f2 "$data/test_heldout/utt2lang" | sort -u | tr '\n' ' ')
  fewshot_data() {  # fewshot_data "MINUTES" LANG...: each language's training amounts, dev and test
    local minutes=$1 l n most
    shift
    most=$(tr ' ' '\n' <<< "$minutes" | sort -g | tail -1)
    for l in "$@"; do
      for n in $minutes; do
        speechxl subset "$data/pretrain_heldout" --langs "$l" --minutes "$n" --out "$data/fewshot/$l/train_${n}min"
      done
      speechxl subset "$data/pretrain_heldout" --langs "$l" --minutes 2 --seed 1 \
        --exclude "$data/fewshot/$l/train_${most}min" --out "$data/fewshot/$l/dev"
      speechxl subset "$data/test_heldout" --langs "$l" --out "$data/fewshot/$l/test"
    done
  }
  fewshot_finetune() {  # fewshot_finetune "MINUTES" "ARGS" LANG...: per language and amount, from both starts
    local minutes=$1 args=$2 l n
    shift 2
    fewshot_data "$minutes" "$@"
    for l in "$@"; do
      for n in $minutes; do
        # shellcheck disable=SC2086  # ARGS is a list of key=value words
        for from in "$tag=init=$pretrain_exp" "scratch=architecture=$pretrain_config"; do
          speechxl finetune --config "$finetune_config" "${from#*=}" units=phones lang_dir="$data/lang_phone" \
            data="$data/fewshot/$l/train_${n}min" valid_data="$data/fewshot/$l/dev" \
            out="$fs/ctc_phones_${from%%=*}_${l}_${n}min" $args
        done
      done
    done
  }
  run_stage 14 "few-shot fine-tuning" --reads "finetune_config pretrain_config data" \
    fewshot_finetune "$fewshot_minutes" "$finetune_args" $fewshot_langs

  fewshot_decode() {  # fewshot_decode "MINUTES" LANG...
    local minutes=$1 l n from
    shift
    for l in "$@"; do
      for n in $minutes; do
        for from in "$tag" scratch; do
          # shellcheck disable=SC2086  # decode_args is a list of options
          speechxl decode "$fs/ctc_phones_${from}_${l}_${n}min" "$data/fewshot/$l/test" \
            --out "$fs/ctc_phones_${from}_${l}_${n}min/decode_test" $decode_args
        done
      done
    done
  }
  run_stage 15 "few-shot decode" --reads "decode_args data" fewshot_decode "$fewshot_minutes" $fewshot_langs

  rows=()  # a row per start and amount, a column per language
  for from in "$tag" scratch; do
    for n in $fewshot_minutes; do
      rows+=(--row "from $from, $n min"); for l in $fewshot_langs; do rows+=("$fs/ctc_phones_${from}_${l}_${n}min/decode_test"); done
    done
  done
  run_stage 16 "few-shot table" speechxl score --compare "$exp/fewshot_$tag.md" "${rows[@]}"
  if [ "$stop_stage" -ge 16 ] && [ "$stage" -le 16 ]; then echo "== few-shot PER: $exp/fewshot_$tag.md"; fi
fi
