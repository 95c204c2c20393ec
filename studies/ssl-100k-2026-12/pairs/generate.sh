#!/bin/bash
# extra re-simulated pre-training jets for the resim arm (issue 23: >= 1e5 clean training pairs)
# old detector card, so the jets match the study's other 100k
set -e

CARD=studies/fidelity-2026-12/cms-before.yaml
D=ssl100/data/pt3   # the study folder of `jetfm study ssl-study --out ssl100`
run() { local t0=$(date +%s); "$@" ; echo "ok ($(( $(date +%s) - t0 )) s): $*"; }
run jetfm generate --sample qcd --jets 18000 --seed 421 --jets-per-file 1800 --out $D/qcd --workers 2 --resim 6 --detector-card $CARD --no-progress
run jetfm generate --sample res2p --jets 18000 --seed 421 --jets-per-file 1800 --out $D/res2p --workers 2 --mass-range 70 150 --resim 6 --detector-card $CARD --no-progress
run jetfm generate --sample res34p --jets 8000 --seed 421 --jets-per-file 800 --out $D/res34p --workers 2 --mass-range 100 200 --resim 6 --detector-card $CARD --no-progress
echo ALLDONE
