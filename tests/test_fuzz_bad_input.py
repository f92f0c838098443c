"""Every bad input is answered as the README promises, by every subcommand.

One table, one row per bad input: the command line (placeholders in braces name files of a
prepared tree: a trained run, damaged copies of it, results files of every kind, dataset files
with bad contents). Each row must exit with code 2, print exactly one line on stderr and no
traceback, and leave every file that existed before byte-identical (and create none). Every row
fails at the boundary, before any training, so the table runs in seconds in-process.

A new command or option joins with one row: `("export {run} --out {afile}", "is a file")`. The
second field is a fragment the line must contain ("" when any one line will do). A row may start
with `NAME=value` words: the environment the command runs in (`INFOMIN_CACHE={afile} ...`).
Every output option (`--out`, `--results`, `--runs-dir`, ...) has a row with a path under a file
and one with a name longer than the filesystem allows (`test_every_output_option_has_path_rows`).
"""

from __future__ import annotations

import hashlib
import pickle
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from infomin_cli.cli import main

# the run in the tree is trained with exactly these flags, so `pretrain --resume` accepts its folders
RUN_FLAGS = "--dataset tiny --views lab-split --batch-size 32 --epochs 1 --no-knn-monitor --quiet"
SWEEP = f"sweep crop-scale 0.5 {RUN_FLAGS.replace(' --quiet', '')} --quiet --out {{tree}}/sweep.csv"
LEARN_FLAGS = "--dataset tiny --batch-size 32 --epochs 1 --save-every 1 --quiet"
IMAGES = "--dataset imagefolder --workers 0 --image-size 16 --batch-size 2 --epochs 1 --quiet --out {tree}/r"

CASES: list[tuple[str, str]] = [
    # pretrain: ranges, names, knobs, output folders, damaged runs met by --resume
    ("pretrain --epochs 0", "--epochs 0"),
    ("pretrain --epochs -1", "--epochs -1"),
    ("pretrain --epochs 100000000000000000000", "--epochs"),
    ("pretrain --seed 100000000000000000000", "--seed"),
    ("pretrain --objective moco --queue 100000000000000000000", "--queue"),
    ("pretrain --image-size 100000", "--image-size"),
    ("pretrain --epochs abc", "--epochs"),
    ("pretrain --epochs 1.5", "--epochs"),
    ("pretrain --batch-size 1", "--batch-size"),
    ("pretrain --batch-size 0", "--batch-size"),
    ("pretrain --temperature 0", "--temperature"),
    ("pretrain --temperature -0.1", "--temperature"),
    ("pretrain --temperature inf", "finite"),
    ("pretrain --temperature nan", "--temperature"),
    ("pretrain --lr 0", "--lr"),
    ("pretrain --lr -1", "--lr"),
    ("pretrain --weight-decay -0.1", "--weight-decay"),
    ("pretrain --image-size 0", "--image-size"),
    ("pretrain --image-size -32", "--image-size"),
    ("pretrain --image-size 4", "encoder convnet"),
    ("pretrain --encoder resnet18 --image-size 16", "32"),
    ("pretrain --limit 0", "--limit"),
    ("pretrain --limit -5", "--limit"),
    ("pretrain --seed -1", "--seed"),
    ("pretrain --objective moco --queue 0", "--queue"),
    ("pretrain --objective moco --key-momentum 1", "--key-momentum"),
    ("pretrain --objective moco --key-momentum -0.5", "--key-momentum"),
    ("pretrain --objective moco --symmetric=yes", "--symmetric"),
    ("pretrain --objective memory-bank --bank-negatives -3", "--bank-negatives"),
    ("pretrain --jigsaw-beta 1.5", "--jigsaw-beta"),
    ("pretrain --views infomin-aug --knob crop-scale=0.2 --knob crop-scale=0.3", "twice"),
    ("pretrain --views infomin-aug --knob crop-scale=", "name=value"),
    ("pretrain --views infomin-aug --knob nonsense", "name=value"),
    ("pretrain --views infomin-aug --knob crop-scale=7", "range"),
    ("pretrain --views nope", "unknown view"),
    ("pretrain --dataset nope", "unknown dataset"),
    ("pretrain --encoder nope", "unknown encoder"),
    ("pretrain --head nope", "unknown head"),
    ("pretrain --objective nope", "unknown objective"),
    ("pretrain --optimizer lion", "sgd or adam"),
    ("pretrain --log wandb", "tensorboard"),
    ("pretrain --preset nope", "unknown preset"),
    ("pretrain --preset demo --scale huge", "--scale"),
    ("pretrain --dataset stl10", "--data-root"),
    ("pretrain --dataset cifar10 --data-root {tree}/nowhere", "cifar"),
    ("pretrain --bogus", "No such option"),
    # Colorful Moving MNIST (B.4)
    ("pretrain --preset moving-mnist --knob shared=colour", "shared='colour' is not valid"),
    ("pretrain --preset moving-mnist --knob shared=digit --knob shared=all", "twice"),
    ("pretrain --views moving-mnist --dataset embedded --encoder seq-convnet", "--dataset moving-mnist"),
    ("pretrain --dataset moving-mnist --views lab-split", "--views moving-mnist"),
    ("pretrain --views moving-mnist --encoder convnet", "--encoder seq-convnet"),
    ("pretrain --preset moving-mnist --image-size 8", "at least 16"),
    ("pretrain --preset moving-mnist --data-root {tree}/nowhere", "not a folder"),
    ("pretrain --preset moving-mnist --data-root {adir}", "idx"),
    ("pretrain --preset moving-mnist --data-root {mnist_bad}", "not an MNIST idx file"),
    ("pretrain --knob", "--knob"),
    ("pretrain --out {afile}", "is a file"),
    ("pretrain --out {afile}/run", "is a file"),
    (f"pretrain {RUN_FLAGS} --out {{run}}", "--resume"),
    (f"pretrain {RUN_FLAGS} --temperature 0.3 --resume --out {{run}}", "differs from the run's own temperature: 0.07"),
    ("pretrain --resume {run} --temperature 0.3", "differs from the run's own temperature: 0.07"),
    ("pretrain --resume {run} --objective moco", "differs from the run's own objective: infonce"),
    ("pretrain --resume {run} --knob crop-scale=0.5", "differs from the run's own knobs"),
    ("pretrain --resume {run} --jigsaw-beta 0.3", "differs from the run's own jigsaw_beta: 0.5"),
    ("pretrain --resume {run} --preset demo", "leave out --preset"),
    ("pretrain --resume {run} --config {runconfig}", "leave out --config"),
    ("pretrain --resume {run} --scale paper", "leave out --scale"),
    ("pretrain --resume {run} --out {tree}/other", "name two folders"),
    ("pretrain --resume {run} --epochs 0", "--epochs 0"),
    ("learn-views --resume {run} --epochs 2", "differs from the run's own"),
    (f"pretrain {RUN_FLAGS} --resume --out {{truncated}}", "damaged"),
    (f"pretrain {RUN_FLAGS} --resume --out {{garbage}}", "damaged"),
    (f"pretrain {RUN_FLAGS} --resume --out {{bad_yaml}}", "damaged"),
    (f"pretrain {RUN_FLAGS} --resume --out {{incomplete}}", "incomplete"),
    (f"pretrain {RUN_FLAGS} --resume --out {{bad_summary}}", "damaged"),
    (f"pretrain {RUN_FLAGS} --resume --out {{wrong_weights}}", "does not fit"),
    (f"pretrain {RUN_FLAGS} --resume --out {{no_optimizer}}", "incomplete"),
    # --precision: every command that runs a model
    ("pretrain --precision fp8", "--precision 'fp8' is not valid"),
    ("pretrain --precision ''", "--precision '' is not valid"),
    (f"{SWEEP} --precision fp8", "--precision 'fp8'"),
    (f"{SWEEP} --precision ''", "--precision ''"),
    ("learn-views --precision fp8 --out {tree}/v", "--precision 'fp8'"),
    ("learn-views --precision '' --out {tree}/v", "--precision ''"),
    ("probe {run} --precision fp8", "--precision 'fp8'"),
    ("probe {run} --precision 16-mixed", "choose one of: auto, bf16, fp32"),
    ("mi-estimate {run} --precision fp8", "--precision 'fp8'"),
    ("mi-estimate --views lab-split --precision ''", "--precision ''"),
    # probe: ranges, damaged runs, results files
    ("probe {run} --epochs 0", "--epochs 0"),
    ("probe {run} --epochs -3", "--epochs"),
    ("probe {run} --epochs x", "--epochs"),
    ("probe {run} --epochs 100000000000000000000000", "--epochs"),
    ("probe {run} --seg-size 0", "--seg-size"),
    ("probe {run} --task bogus", "choose one of: classification, factors"),
    ("probe {run} --task factors", "cannot probe dataset 'tiny' (its items are images"),
    ("probe {run} --task segmentation --dataset moving-mnist", "cannot probe dataset 'moving-mnist' (its items are frame"),
    ("probe {run} --task linear-protocol", "cannot probe dataset 'tiny' (it is held in memory"),
    ("probe {run} --classes 13", "--classes is not an option of probe task classification"),
    ("probe {run} --task segmentation --lr 1", "--lr is not an option of probe task segmentation"),
    ("probe {run} --task segmentation --seg-size 1.5", "--seg-size"),
    ("probe {run} --task segmentation", "cannot probe dataset 'tiny' (it has no segmentation masks)"),
    ("probe {run} --task segmentation --dataset embedded --seg-size 4", "--seg-size 4 is smaller than encoder convnet's 8 px"),
    ("probes --bogus", "No such option"),
    ("probe {run} --task segmentation --classes 7", "40 or 13"),
    ("probe {run} --label nope", "nope"),
    ("probe {run} --layer conv9", "no layer"),
    ("probe {run} --dataset nope", "unknown dataset"),
    ("probe {afile}", "not a run folder"),
    ("probe {tree}/nowhere", "not a run folder"),
    ("probe {truncated}", "damaged"),
    ("probe {garbage}", "damaged"),
    ("probe {bad_yaml}", "damaged"),
    ("probe {incomplete}", "incomplete"),
    ("probe {bad_summary}", "damaged"),
    ("probe {wrong_weights}", "does not fit"),
    ("probe {run} --results {adir}", "is a folder"),
    ("probe {run} --results {png}", "not a results CSV"),
    ("probe {run} --results {foreign}", "cannot append"),
    ("probe {run} --results {latin1}", "not UTF-8"),
    ("probe {run} --results {afile}/r.csv", "is a file"),
    ("probe", "Missing argument"),
    # mi-estimate
    ("mi-estimate {truncated}", "damaged"),
    ("mi-estimate {garbage}", "damaged"),
    ("mi-estimate {bad_yaml}", "damaged"),
    ("mi-estimate {bad_summary}", "damaged"),
    ("mi-estimate {run} --negatives 0", "--negatives"),
    ("mi-estimate --source gaussian --steps 0", "--steps"),
    ("mi-estimate --source gaussian --eval-batches 0", "--eval-batches"),
    ("mi-estimate --source gaussian --clip 0", "--clip"),
    ("mi-estimate --source gaussian --clip -1", "--clip"),
    ("mi-estimate --source gaussian --ksg-samples 3", "--ksg-samples"),
    ("mi-estimate --source gaussian --dim 0", "--dim"),
    ("mi-estimate --source gaussian --dim 100000000000", "--dim"),
    ("mi-estimate --source gaussian --threads 0", "--threads"),
    ("mi-estimate --source gaussian --threads 5000", "--threads"),
    ("mi-estimate --source gaussian --quiet=yes", "--quiet"),
    # --threads: every command that computes (declared once, commands/_options.py)
    ("pretrain --threads 0", "--threads 0"),
    ("pretrain --threads -2", "--threads"),
    ("pretrain --threads x", "--threads"),
    (f"{SWEEP} --threads 0", "--threads 0"),
    ("learn-views --threads 0 --out {tree}/v", "--threads 0"),
    ("probe {run} --threads 0", "--threads 0"),
    ("views show lab-split --threads 0 --out {tree}/v.png", "--threads 0"),
    ("mi-estimate --source gaussian --batch-size 1", "--batch-size"),
    ("mi-estimate --source gaussian --units furlongs", "nats or bits"),
    ("mi-estimate", "exactly one"),
    ("mi-estimate {run} --source gaussian", "exactly one"),
    ("mi-estimate --source nope", "nope"),
    ("mi-estimate --source gaussian --estimators nope", "nope"),
    ("mi-estimate --source gaussian --critic nope", "nope"),
    ("mi-estimate --source gaussian --results {png}", "not a results CSV"),
    ("mi-estimate --source gaussian --results {adir}", "is a folder"),
    # sweep: ranges, specs, results files, damaged run folders of its points
    (f"{SWEEP} --seeds 0", "--seeds"),
    (f"{SWEEP} --seeds -2", "--seeds"),
    (f"{SWEEP} --seeds 100000000000", "--seeds"),
    (f"{SWEEP} --probe-epochs 0", "--probe-epochs"),
    (f"{SWEEP} --probe-epochs -1", "--probe-epochs"),
    (f"{SWEEP} --negatives 0", "--negatives"),
    (f"{SWEEP} --seg-epochs 0", "--seg-epochs"),
    (f"{SWEEP} --epochs 0", "--epochs"),
    (f"{SWEEP} --temperature inf", "--temperature"),
    (f"{SWEEP} --probe-task bogus", "choose one of: classification, factors, linear-protocol, segmentation"),
    (f"{SWEEP} --negatives 16", "at least the batch size"),
    (f"{SWEEP} --probe-dataset nope", "unknown dataset"),
    (f"{SWEEP} --runs-dir {{afile}}", "is a file"),
    (f"{SWEEP} --runs-dir {{ckpt_sweep}} --out {{png}}", "not a results CSV"),
    (f"{SWEEP} --runs-dir {{ckpt_sweep}} --out {{foreign}}", "cannot append"),
    (f"{SWEEP} --runs-dir {{ckpt_sweep}} --out {{latin1}}", "not UTF-8"),
    (f"{SWEEP} --runs-dir {{ckpt_sweep}} --out {{adir}}", "is a folder"),
    (f"{SWEEP} --runs-dir {{ckpt_sweep}}", "damaged"),
    (f"{SWEEP} --runs-dir {{yaml_sweep}}", "damaged"),
    (f"{SWEEP} --runs-dir {{summary_sweep}}", "damaged"),
    ("sweep crop-scale 0.5:abc --views lab-split --out {tree}/s.csv", "not a number"),
    ("sweep crop-scale 0.1:1:1 --views lab-split --out {tree}/s.csv", "at least 2 points"),
    ("sweep crop-scale 0.1:1:4:cubic --views lab-split --out {tree}/s.csv", "lin or log"),
    ("sweep nope 1,2 --out {tree}/s.csv", "sweepable knobs"),
    ("sweep shared digit,colour --preset moving-mnist --out {tree}/s.csv", "not valid"),
    ("sweep crop-scale 0.2,0.5 --views lab-split --jobs 0 --out {tree}/s.csv", "--jobs"),
    ("sweep crop-scale 0.2,0.5 --views lab-split --jobs two --out {tree}/s.csv", "--jobs"),
    ("sweep crop-scale 0.2,0.5 --views lab-split --probe-task factors --out {tree}/s.csv", "cannot probe dataset 'embedded' (its items are images"),
    ("sweep --preset moving-mnist --probe-task segmentation --out {tree}/s.csv", "cannot probe dataset 'moving-mnist'"),
    (f"{SWEEP} --probe-task linear-protocol", "cannot probe dataset 'tiny' (it is held in memory"),
    ("sweep --preset moving-mnist --negatives 500 --out {tree}/s.csv", "neither --negatives"),
    ("sweep crop-scale 0.2,0.5 --views lab-split --probe-task dense --out {tree}/s.csv", "choose one of: classification"),
    ("sweep crop-scale --out {tree}/s.csv", "give KNOB and SPEC"),
    ("sweep --preset nope", "unknown preset"),
    # sweep: every value means what it says (issue 25)
    ("sweep crop-scale '' --views lab-split --out {tree}/s.csv", "empty sweep spec for knob crop-scale"),
    ("sweep shared '' --preset moving-mnist --out {tree}/s.csv", "empty sweep spec for knob shared"),
    ("sweep '' 0.5 --views lab-split --out {tree}/s.csv", "has no knob ''"),
    (f"{SWEEP} --launcher submitit-local --slurm-option mem_gb=abc", "mem_gb='abc' is not a number above 0"),
    (f"{SWEEP} --launcher submitit-local --slurm-option mem_gb=-4", "is not a number above 0"),
    (f"{SWEEP} --launcher submitit-local --slurm-option cpus_per_task=1.5", "not a whole number"),
    (f"{SWEEP} --launcher submitit-local --slurm-option use_srun=maybe", "not true or false"),
    (f"{SWEEP} --launcher submitit-local --slurm-option timeout_min=60", "use --slurm-time"),
    (f"{SWEEP} --launcher submitit-local --slurm-option gpus_per_node=4", "use --gpus-per-point"),
    (f"{SWEEP} --launcher submitit-local --slurm-option nodes=2", "one task on one node"),
    (f"{SWEEP} --launcher submitit-local --slurm-option mem_gb=1 --slurm-option mem_gb=2", "given twice"),
    (f"{SWEEP} --launcher submitit-local --slurm-folder {{afile}}/x", "is a file"),
    # sweep: a refused sweep makes no point folder and no lock (issue 25): what a point would refuse, asked first
    (f"{SWEEP} --label nope", "--label 'nope': dataset 'tiny' has no such label"),
    ("sweep crop-scale 0.5 --dataset tiny --views lab-split --batch-size 128 --epochs 1 --quiet --out {tree}/s.csv",
     "--batch-size 128 is larger than the 96 view pairs"),
    ("sweep crop-scale 0.5 --dataset stl10 --data-root {tree}/nope --views lab-split --out {tree}/s.csv",
     "is not a folder"),
    (f"{SWEEP} --probe-dataset stl10 --probe-data-root {{tree}}/nope", "is not a folder"),
    (f"{SWEEP} --objective learn-views", "trained by `infomin learn-views`"),
    (f"{SWEEP} --negatives 100", "--negatives 100 is more than the 64 held-out images"),
    (f"{SWEEP} --runs-dir {{other_sweep}}", "holds a run with a different config"),
    (f"{SWEEP} --probe-task segmentation", "cannot probe dataset 'tiny' (it has no segmentation masks)"),
    # plot-reverse-u
    ("plot-reverse-u {png}", "not a results CSV"),
    ("plot-reverse-u {latin1}", "not UTF-8"),
    ("plot-reverse-u {adir}", "is a directory"),
    ("plot-reverse-u {tree}/nowhere.csv", "does not exist"),
    ("plot-reverse-u {foreign}", "no column"),
    ("plot-reverse-u {empty}", "empty"),
    ("plot-reverse-u {results} --out {adir}", "is a folder"),
    ("plot-reverse-u {results} --out {afile}/fig.png", "is a file"),
    ("plot-reverse-u {results} --y nope", "nope"),
    ("plot-reverse-u", "Missing argument"),
    # plot-factors
    ("plot-factors {results}", "no Colorful Moving MNIST rows"),
    ("plot-factors {mm_results} --layer conv4", "choose --layer from: sequence"),
    ("plot-factors {png}", "not a results CSV"),
    ("plot-factors {latin1}", "not UTF-8"),
    ("plot-factors {adir}", "is a directory"),
    ("plot-factors {tree}/nowhere.csv", "does not exist"),
    ("plot-factors {foreign}", "no column"),
    ("plot-factors {empty}", "empty"),
    ("plot-factors {mm_results} --out {adir}", "is a folder"),
    ("plot-factors {mm_results} --out {afile}/fig.png", "is a file"),
    ("plot-factors", "Missing argument"),
    ("plot-factors {mm_refs}", "only reference rows (untrained, supervised) for layer sequence"),
    # views, views show
    ("views show nope", "unknown view"),
    ("views show lab-split --n 0", "--n 0"),
    ("views show lab-split --image-size 0", "--image-size"),
    ("views show lab-split --image-size -5", "--image-size"),
    ("views show lab-split --seed 100000000000000000000", "--seed"),
    ("views show lab-split --out {adir}", "image suffix"),
    ("views show lab-split --out {tree}/views.txt", "image suffix"),
    ("views show lab-split --out {afile}/v.png", "is a file"),
    ("views show lab-split --knob sigma=1", "sigma"),
    ("views show infomin-aug --knob crop-scale=7", "range"),
    ("views show infomin-aug --knob crop-scale=0.2 --knob crop-scale=0.3", "twice"),
    ("views show", "Missing argument"),
    ("views --bogus", "No such option"),
    ("views nope", "No such command"),
    # datasets, datasets show: names, ranges, output files, dataset contents
    ("datasets show nope", "unknown dataset"),
    ("datasets show embedded --n 0", "--n 0"),
    ("datasets show embedded --n -1", "--n"),
    ("datasets show embedded --scale 0", "--scale"),
    ("datasets show embedded --out {adir}", "image suffix"),
    ("datasets show moving-mnist --data-root {mnist_bad}", "not an MNIST idx file"),
    ("datasets show embedded --out {tree}/samples.txt", "image suffix"),
    ("datasets show stl10", "--data-root"),
    ("datasets show cifar10 --data-root {cifar_labels} --out {tree}/s.png", "data_batch_1"),
    ("datasets show cifar10 --data-root {cifar_pixels} --out {tree}/s.png", "uint8"),
    ("datasets show cifar10 --data-root {cifar_garbage} --out {tree}/s.png", "data_batch_1"),
    ("datasets show stl10 --data-root {stl_labels} --out {tree}/s.png", "train_y.bin"),
    ("datasets show imagefolder --data-root {images16} --out {tree}/s.png", "8 bits"),
    ("datasets nope", "No such command"),
    # export: formats, run folders (also damaged ones), output files
    ("export {run} --format onnx --out {tree}/r.pth", "detectron2, torchvision"),
    ("export {run} --format detectron2 --out {tree}/r.pkl", "ResNet"),
    ("export {run} --format torchvision --out {adir}", "is a folder"),
    ("export {tree}/nowhere --format torchvision --out {tree}/r.pth", "not a run folder"),
    ("export {truncated} --format torchvision --out {tree}/r.pth", "damaged"),
    ("export {garbage} --format torchvision --out {tree}/r.pth", "damaged"),
    ("export {bad_yaml} --format torchvision --out {tree}/r.pth", "damaged"),
    ("export {incomplete} --format torchvision --out {tree}/r.pth", "incomplete"),
    ("export {run} --format torchvision", "--out"),
    ("export", "Missing argument"),
    # streaming image folders and several processes
    ("pretrain --workers -1", "--workers"),
    ("pretrain --workers abc", "--workers"),
    ("pretrain --dataset imagefolder --data-root {tree}/nowhere --stream", "imagefolder"),
    (f"{SWEEP} --launcher lsf", "local, slurm, submitit-local"),
    (f"{SWEEP} --gpus-per-point 0", "--gpus-per-point"),
    (f"{SWEEP} --gpus-per-point 2", "--launcher slurm"),
    (f"{SWEEP} --slurm-partition gpu", "--launcher slurm"),
    (f"{SWEEP} --launcher submitit-local --slurm-time soon", "not a time"),
    (f"{SWEEP} --launcher submitit-local --slurm-option constraint", "KEY=VALUE"),
    # --config FILE and the presets listing
    ("pretrain --config {tree}/nowhere.yaml", "is not a file"),
    ("pretrain --config {png}", "not valid YAML"),
    ("pretrain --config {listyaml}", "not a mapping"),
    ("pretrain --config {fieldtypo}", "unknown config field 'temprature'"),
    ("pretrain --config {twopresets}", "choose one with --preset"),
    ("pretrain --config {twopresets} --preset c", "unknown preset 'c'"),
    ("sweep --config {twopresets}", "choose one with --preset"),
    ("learn-views --config {listyaml} --out {tree}/v", "not a mapping"),
    ("presets --config {fieldtypo}", "unknown config field"),
    ("presets --config {listyaml}", "not a mapping"),
    ("presets --config {runconfig}", "not presets"),
    # runs: list a folder, compare two runs
    ("runs {afile}", "is not a folder"),
    ("runs {tree}/nowhere", "is not a folder"),
    ("runs {run} {adir}", "is not a run folder"),
    ("runs {run} {run} {run}", "give one folder"),
    ("runs {run} --results {tree}/nowhere.csv", "is not a file"),
    ("runs {run} --results {png}", ""),
    # learn-views
    ("learn-views --labelled 0 --out {tree}/v", "--labelled"),
    ("learn-views --labelled 1.5 --out {tree}/v", "--labelled"),
    ("learn-views --blocks 0 --out {tree}/v", "--blocks"),
    ("learn-views --generator-lr -1 --out {tree}/v", "--generator-lr"),
    ("learn-views --save-every 0 --out {tree}/v", "--save-every"),
    ("learn-views --crop-scale 0 --out {tree}/v", "--crop-scale"),
    ("learn-views --flow glow --out {tree}/v", "glow"),
    ("learn-views --mode adversarial --out {tree}/v", "adversarial"),
    ("learn-views --from hsv9 --out {tree}/v", "hsv9"),
    ("learn-views --out {afile}", "is a file"),
    ("pretrain --views learned --knob generator={run} --out {tree}/l", "view learner"),
    # files read back: nothing runs a stranger's code, every damaged file is named (issue 25)
    ("datasets show cifar10 --data-root {cifar_evil} --out {tree}/s.png", "builtins.exec"),
    ("pretrain --views learned --knob generator={lv_list} --out {tree}/l", "config.yaml is damaged"),
    ("pretrain --views learned --knob generator={lv_latin} --out {tree}/l", "not valid YAML"),
    ("pretrain --views learned --knob generator={lv_noflow} --out {tree}/l", "no 'flow'"),
    ("pretrain --views learned --knob generator={lv_blocks} --out {tree}/l", "does not fit"),
    ("mi-estimate --views learned --knob generator={lv_noflow}", "no 'flow'"),
    ("mi-estimate --views learned --knob generator={lv_blocks}", "does not fit"),
    (f"learn-views {LEARN_FLAGS} --resume --out {{lv_list}}", "config.yaml is damaged"),
    ("probe {learned_bad}", "view-generator.pt is damaged"),
    ("mi-estimate {learned_bad}", "view-generator.pt is damaged"),
    ("INFOMIN_CACHE={afile} datasets show embedded --out {tree}/s.png", "$INFOMIN_CACHE"),
    ("INFOMIN_CACHE={afile}/cache datasets show embedded --out {tree}/s.png", "is a file"),
    ("datasets show nyu-depth-v2 --data-root {nyu_empty} --out {tree}/s.png", "0 x 0 px"),
    ("probe {run} --task segmentation --dataset nyu-depth-v2 --data-root {nyu_empty}", "0 x 0 px"),
    ("probe {run} --task segmentation --dataset nyu-depth-v2 --classes 13 --data-root {nyu_map13}", "classMapping13"),
    ("datasets show tinyimagenet --data-root {tiny_latin} --out {tree}/s.png", "not UTF-8"),
    ("pretrain --preset moving-mnist --data-root {mnist_empty}", "holds 0 images"),
    ("datasets show moving-mnist --data-root {mnist_empty} --out {tree}/s.png", "holds 0 images"),
    (f"pretrain {IMAGES} --data-root {{val_bad}} --no-stream", "val"),
    (f"pretrain {IMAGES} --data-root {{val_bad}} --stream", "val"),
    ("probe {run} --results {cut}", "lacks column"),
    ("mi-estimate --source gaussian --results {cut}", "lacks column"),
    (f"{SWEEP} --runs-dir {{ckpt_sweep}} --out {{cut}}", "lacks column"),
    # output paths: not a file of ours, not under a file, a name the filesystem takes (issue 25)
    ("export {run} --format torchvision --out {run}/checkpoint.pt", "checkpoint.pt of the run"),
    ("export {run} --format detectron2 --out {run}/config.yaml", "config.yaml of the run"),
    ("export {run} --format torchvision --out {results}", "is a results CSV"),
    ("export {run} --format torchvision --out {afile}/r.pth", "is a file"),
    ("export {run} --format torchvision --out {long}.pth", "longer than"),
    ("pretrain --out {userdir}", "already holds config.yaml and metrics.csv"),
    (f"pretrain {RUN_FLAGS} --resume --out {{userdir}}", "config.yaml is damaged"),
    ("pretrain --out {long}", "longer than"),
    ("learn-views --out {afile}/v", "is a file"),
    ("learn-views --out {long}", "longer than"),
    ("learn-views --out {userdir}", "already holds config.yaml"),
    ("probe {run} --results {long}.csv", "longer than"),
    ("mi-estimate --source gaussian --results {afile}/r.csv", "is a file"),
    ("mi-estimate --source gaussian --results {long}.csv", "longer than"),
    (f"{SWEEP} --out {{afile}}/s.csv", "is a file"),
    (f"{SWEEP} --out {{long}}.csv", "longer than"),
    (f"{SWEEP} --runs-dir {{afile}}/runs", "is a file"),
    (f"{SWEEP} --runs-dir {{long}}", "longer than"),
    (f"{SWEEP} --launcher submitit-local --slurm-folder {{long}}", "longer than"),
    ("plot-reverse-u {results} --out {long}.png", "longer than"),
    ("plot-factors {mm_results} --out {long}.png", "longer than"),
    ("views show lab-split --out {long}.png", "longer than"),
    ("datasets show embedded --out {afile}/s.png", "is a file"),
    ("datasets show embedded --out {long}.png", "longer than"),
    ("probe {long}", "longer than"),
    ("runs {run} --results {afile}/r.csv", "is not a file"),  # read, not written: named all the same
    ("runs {run} --results {long}.csv", "longer than"),
    ("export {long} --format torchvision --out {tree}/r.pth", "longer than"),
    # objectives and the top level
    ("objectives --bogus", "No such option"),
    ("objectives extra", "unexpected extra argument"),
    ("nope", "No such command"),
    ("--bogus", "No such option"),
]


def _declared_option_cases() -> list[tuple[str, str]]:
    """Rows that follow from each method's own option declarations: every value an option lists as
    one it must refuse, through each command that takes the method's flags."""
    from infomin_cli.objectives import OBJECTIVES

    rows = []
    for name, method in OBJECTIVES.items():
        for option in method.options:
            for value in option.bad_values():
                if method.command:  # trained by its own command (learn-views), which takes its flags
                    rows.append((f"{method.command} {option.cli_flag} {value} --out {{tree}}/v", option.cli_flag))
                else:
                    rows.append((f"pretrain --objective {name} {option.cli_flag} {value}", option.cli_flag))
                    rows.append((f"{SWEEP} --objective {name} {option.cli_flag} {value}", option.cli_flag))
    return rows


def _probe_option_cases() -> list[tuple[str, str]]:
    """Rows that follow from each probe task's option declarations: every value it must refuse."""
    from infomin_cli.evaluate.probes import PROBES

    return [(f"probe {{run}} --task {name} {option.cli_flag} {value}", option.cli_flag)
            for name, task in PROBES.items() for option in task.options for value in option.bad_values()]


CASES += [row for row in dict.fromkeys(_declared_option_cases() + _probe_option_cases())
          if row[0] not in {line for line, _ in CASES}]

# rows the code does not answer yet, each failing as it should until it does (strict: a row that
# starts passing fails here, and moves up into CASES)
NOT_YET: list[tuple[str, str, str]] = []


def _train_run(folder: Path) -> None:
    from infomin_cli.cli import main as cli_main

    with pytest.raises(SystemExit) as done:
        cli_main(["pretrain", *shlex.split(RUN_FLAGS), "--out", str(folder)])
    assert done.value.code in (0, None)


def _damaged_copies(tree: Path, run: Path) -> dict[str, Path]:
    import torch
    import yaml

    def copy(name: str) -> Path:
        shutil.copytree(run, tree / name)
        return tree / name

    out = {}
    out["truncated"] = copy("truncated")
    data = (run / "checkpoint.pt").read_bytes()
    (out["truncated"] / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    out["garbage"] = copy("garbage")
    (out["garbage"] / "checkpoint.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    out["bad_yaml"] = copy("bad_yaml")
    (out["bad_yaml"] / "config.yaml").write_text("views: [lab-split\nencoder: : convnet\n")
    out["incomplete"] = copy("incomplete")
    config = yaml.safe_load((run / "config.yaml").read_text())
    (out["incomplete"] / "config.yaml").write_text(yaml.safe_dump({k: config[k] for k in ("dataset", "views")}))
    out["bad_summary"] = copy("bad_summary")
    (out["bad_summary"] / "summary.json").write_text('{"loss": 1.2, "i_nce": ')
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    out["wrong_weights"] = copy("wrong_weights")
    first = next(iter(state["model"]))
    torch.save({**state, "model": {**state["model"], first: torch.zeros(3)}}, out["wrong_weights"] / "checkpoint.pt")
    out["no_optimizer"] = copy("no_optimizer")
    torch.save({k: v for k, v in state.items() if k != "optimizer"}, out["no_optimizer"] / "checkpoint.pt")
    return out


def _sweep_point_folders(tree: Path, run: Path) -> dict[str, Path]:
    """Runs-dirs whose one point's folder (named as the sweep will name it) holds a damaged file, or
    the tree's run (trained with another crop-scale)."""
    from infomin_cli.config import RunConfig
    from infomin_cli.sweep.plan import plan_points
    from infomin_cli.views import VIEWS

    base = RunConfig(dataset="tiny", views="lab-split", batch_size=32, epochs=1, knn_monitor=False)
    out = {}
    for name, damage in (("ckpt_sweep", lambda f: (f / "checkpoint.pt").write_bytes(b"not a checkpoint")),
                         ("yaml_sweep", lambda f: (f / "config.yaml").write_text("{{{")),
                         ("summary_sweep", lambda f: (f / "summary.json").write_text("[1, 2")),
                         ("other_sweep", lambda f: None)):  # whole, but the run of another config
        point = plan_points(base, VIEWS.get("lab-split"), "crop-scale", [0.5], 1, tree / name)[0]
        shutil.copytree(run, point.run_dir)
        damage(point.run_dir)
        out[name] = tree / name
    return out


class _Payload:
    """A crafted pickle's content: unpickling it would call exec, which writes a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def _learner_folders(tree: Path) -> dict[str, Path]:
    """A view learner (learn-views) and damaged copies; a contrastive run on its views, and a copy
    whose generator copy (view-generator.pt) is damaged."""
    import torch

    from infomin_cli.cli import main as cli_main

    learner = tree / "learner"
    with pytest.raises(SystemExit) as done:
        cli_main(["learn-views", *shlex.split(LEARN_FLAGS), "--out", str(learner)])
    assert done.value.code in (0, None)
    out = {}
    for name, damage in (
        ("lv_list", lambda f: (f / "config.yaml").write_text("- a\n- list\n")),
        ("lv_latin", lambda f: (f / "config.yaml").write_bytes("views: caf\xe9\n".encode("latin-1"))),
        ("lv_noflow", lambda f: torch.save({"epoch": 1}, f / "generators" / "epoch-0001.pt")),
        ("lv_blocks", lambda f: (f / "config.yaml").write_text(
            (f / "config.yaml").read_text().replace("flow_blocks: 3", "flow_blocks: 5"))),
    ):
        shutil.copytree(learner, tree / name)
        damage(tree / name)
        out[name] = tree / name
    run = tree / "learned_run"
    with pytest.raises(SystemExit) as done:
        cli_main(["pretrain", *shlex.split(RUN_FLAGS), "--views", "learned", "--knob", f"generator={learner}",
                  "--out", str(run)])
    assert done.value.code in (0, None)
    shutil.copytree(run, tree / "learned_bad")
    copy = tree / "learned_bad" / "view-generator.pt"
    torch.save({k: v for k, v in torch.load(copy, weights_only=True).items() if k != "state"}, copy)
    out["learned_bad"] = tree / "learned_bad"
    return out


def _more_dataset_files(tree: Path) -> dict[str, Path]:
    """Dataset files whose damage issue 25 names: a crafted CIFAR-10 pickle, NYU frames of no pixels
    and a 13-class map out of range, a non-UTF-8 val_annotations.txt, MNIST splits of 0 images, and
    an image folder whose every val image is unreadable."""
    from PIL import Image

    from tests.test_data_idx import idx_images, idx_labels, write_mnist
    from tests.test_data_nyu import frames, write_official

    out = {}
    evil = tree / "cifar_evil" / "cifar-10-batches-py"
    evil.mkdir(parents=True)
    with open(evil / "data_batch_1", "wb") as handle:
        pickle.dump({b"data": _Payload(tree / "marker"), b"labels": [0]}, handle)
    out["cifar_evil"] = tree / "cifar_evil"
    out["nyu_empty"] = write_official(tree / "nyu_empty", np.zeros((3, 0, 0, 3), np.uint8), np.zeros((3, 0, 0), np.uint16))
    out["nyu_map13"] = write_official(tree / "nyu_map13", *frames())
    labels13 = (np.arange(40) % 13 + 2).astype(np.float64)[None]  # 14 is no class of 13
    import scipy.io

    scipy.io.savemat(out["nyu_map13"] / "class13Mapping.mat", {"classMapping13": {"labels13": labels13}})
    tiny = tree / "tiny_latin"
    for folder in (tiny / "train" / "n01" / "images", tiny / "val" / "images"):
        folder.mkdir(parents=True)
        Image.fromarray(np.full((8, 8, 3), 9, np.uint8)).save(folder / "a.JPEG")
    (tiny / "val" / "val_annotations.txt").write_bytes("a.JPEG\tn01\tcaf\xe9\n".encode("latin-1"))
    out["tiny_latin"] = tiny
    write_mnist(tree / "mnist_empty", **{"train-images-idx3-ubyte": idx_images(np.zeros((0, 28, 28), np.uint8)),
                                         "train-labels-idx1-ubyte": idx_labels(np.zeros(0, np.uint8))})
    out["mnist_empty"] = tree / "mnist_empty"
    for c in ("n01", "n02"):
        (tree / "val_bad" / "train" / c).mkdir(parents=True)
        (tree / "val_bad" / "val" / c).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((20, 20, 3), 30 * i, np.uint8)).save(tree / "val_bad" / "train" / c / f"{i}.png")
        (tree / "val_bad" / "val" / c / "v.jpg").write_bytes(b"not a jpeg")
    out["val_bad"] = tree / "val_bad"
    return out


def _dataset_files(tree: Path) -> dict[str, Path]:
    from PIL import Image

    out = {}
    rng = np.random.default_rng(0)
    for name, labels, data in (("cifar_labels", [0, 1, 10], rng.integers(0, 256, (3, 3072))),
                               ("cifar_pixels", [0, 1, 2], np.full((3, 3072), 300))):
        folder = tree / name / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for batch in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            with open(folder / batch, "wb") as handle:
                pickle.dump({b"data": data, b"labels": labels}, handle)
    out["cifar_labels"], out["cifar_pixels"] = tree / "cifar_labels", tree / "cifar_pixels"
    garbage = tree / "cifar_garbage" / "cifar-10-batches-py"
    garbage.mkdir(parents=True)
    (garbage / "data_batch_1").write_bytes(b"\x80\x04garbage")
    out["cifar_garbage"] = tree / "cifar_garbage"
    stl = tree / "stl_labels" / "stl10_binary"
    stl.mkdir(parents=True)
    for split in ("train", "test"):
        rng.integers(0, 256, 2 * 3 * 96 * 96, dtype=np.uint8).tofile(stl / f"{split}_X.bin")
        np.array([1, 11], dtype=np.uint8).tofile(stl / f"{split}_y.bin")
    out["stl_labels"] = tree / "stl_labels"
    for split in ("train", "val"):
        folder = tree / "images16" / split / "a"
        folder.mkdir(parents=True)
        Image.fromarray(np.full((8, 8), 4000, dtype=np.uint16)).save(folder / "x.png")
    out["images16"] = tree / "images16"
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> dict[str, Path]:
    """Every file a case names, made once: a trained run and its damaged copies, results files of
    every kind, dataset files with bad contents, a plain file and a folder."""
    root = tmp_path_factory.mktemp("fuzz")
    run = root / "run"
    _train_run(run)
    places = {"tree": root, "run": run, **_damaged_copies(root, run), **_sweep_point_folders(root, run),
              **_dataset_files(root), **_more_dataset_files(root), **_learner_folders(root)}
    from infomin_cli.results import append_row

    append_row(root / "results.csv", {"run_id": "r", "config_hash": "h", "knob_name": "crop-scale", "knob_value": 0.5,
                                      "i_nce": 2.0, "metric_name": "top1", "metric_value": 50.0})
    places["results"] = root / "results.csv"
    append_row(root / "mm.csv", {"run_id": "m", "config_hash": "h", "views": "moving-mnist", "knob_name": "shared",
                                 "knob_value": "digit", "probe_label": "digit", "probe_layer": "sequence",
                                 "metric_name": "top1", "metric_value": 90.0})
    places["mm_results"] = root / "mm.csv"
    for kind in ("untrained", "supervised"):  # a factors sweep whose points never finished: references only
        append_row(root / "mm_refs.csv", {"run_id": kind, "config_hash": kind, "views": "moving-mnist",
                                          "knob_name": "shared", "knob_value": kind, "probe_label": "digit",
                                          "probe_layer": "sequence", "metric_name": "top1", "metric_value": 50.0})
    places["mm_refs"] = root / "mm_refs.csv"
    mnist = root / "mnist_bad"  # MNIST's four idx files, one of them not idx at all
    mnist.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (mnist / name).write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 12)
    places["mnist_bad"] = mnist
    places["foreign"] = root / "foreign.csv"
    places["foreign"].write_text("name,score\nalice,3\n")
    places["latin1"] = root / "latin1.csv"
    places["latin1"].write_bytes((root / "results.csv").read_bytes() + "caf\xe9,\n".encode("latin-1"))
    places["png"] = root / "figure.png"
    places["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    places["empty"] = root / "empty.csv"
    places["empty"].write_bytes(b"")
    places["listyaml"] = root / "list.yaml"
    places["listyaml"].write_text("- epochs: 3\n")
    places["fieldtypo"] = root / "typo.yaml"
    places["fieldtypo"].write_text("temprature: 0.1\n")
    places["twopresets"] = root / "two.yaml"
    places["twopresets"].write_text("presets:\n  a: {config: {epochs: 2}}\n  b: {config: {epochs: 3}}\n")
    places["runconfig"] = run / "config.yaml"
    places["afile"] = root / "afile.txt"
    places["afile"].write_text("a plain file\n")
    places["adir"] = root / "adir"
    (places["adir"] / "inside").mkdir(parents=True)
    places["cut"] = root / "cut.csv"  # a results CSV without core columns (seed, i_nce, ...)
    places["cut"].write_text("run_id,config_hash,metric_name,metric_value\nr,h,top1,50\n")
    places["userdir"] = root / "userdir"  # the user's own files, of a run's names
    places["userdir"].mkdir()
    (places["userdir"] / "config.yaml").write_text("learning_rate: 3\n")
    (places["userdir"] / "metrics.csv").write_text("step,accuracy\n1,0.5\n")
    places["long"] = root / ("n" * 300)  # longer than any filesystem's name limit (255 bytes)
    (root / "cwd").mkdir()  # the working directory of every case: default outputs would land here
    return places


def _snapshot(root: Path) -> dict[str, object]:
    """sha256 of every small file; size, mtime and ctime of checkpoints (any write changes them:
    hashing 20 MB of checkpoints for each of 170 cases would be most of this file's time)."""
    def state(path: Path) -> object:
        if path.is_dir():
            return "dir"
        info = path.stat()
        if info.st_size > 1 << 16:
            return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
        return hashlib.sha256(path.read_bytes()).hexdigest()

    return {str(p.relative_to(root)): state(p) for p in sorted(root.rglob("*"))}


def test_the_table_covers_every_subcommand_with_over_100_inputs():
    from typer.main import get_command

    from infomin_cli.cli import app

    group = get_command(app)
    commands = {name for name in group.commands} | {"views show", "datasets show"}
    covered = {" ".join(line.split()[:2]) if line.split()[0] in ("views", "datasets") and len(line.split()) > 1
               and line.split()[1] == "show" else line.split()[0] for line, _ in CASES}
    assert commands <= covered, f"no bad-input rows for: {sorted(commands - covered)}"
    assert len(CASES) >= 100 and len({line for line, _ in CASES}) == len(CASES)


ROWS = [pytest.param(line, says, id=line) for line, says in CASES] + [
    pytest.param(line, says, id=line, marks=pytest.mark.xfail(strict=True, reason=why)) for line, says, why in NOT_YET]


@pytest.mark.parametrize(("line", "says"), ROWS)
def test_bad_input_is_one_line_exit_2_and_changes_no_file(tree, capsys, monkeypatch, line, says):
    root = tree["tree"]
    monkeypatch.chdir(root / "cwd")
    args = shlex.split(line.format(**{k: str(v) for k, v in tree.items()}))
    while args and re.fullmatch(r"[A-Z_]+=.*", args[0]):  # NAME=value: the command's environment
        name, _, value = args.pop(0).partition("=")
        monkeypatch.setenv(name, value)
    before = _snapshot(root)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(args)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert exited.value.code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: ") and says in lines[0], err
    assert _snapshot(root) == before, "a file changed, or one was created"


# numeric options checked against a set of choices rather than a range
CHOICE_CHECKED = {("probe", "classes")}


def test_every_numeric_option_of_every_command_declares_its_range():
    """A new int or float option must add its line to ranges.RANGES, be a method's option declared
    with its range, or be checked as a choice."""
    from typer.main import get_command

    from infomin_cli import ranges
    from infomin_cli.cli import _is_number, _walk, app
    from infomin_cli.objectives import OBJECTIVES

    declared = {o.name for _, method in OBJECTIVES.items() for o in method.options if o.range is not None}
    undeclared = [(command.name, param.name) for command in _walk(get_command(app)) for param in command.params
                  if _is_number(getattr(param, "type_descriptor", None)) and param.name not in ranges.RANGES
                  and param.name not in declared and (command.name, param.name) not in CHOICE_CHECKED]
    assert not undeclared, f"add these to infomin_cli/ranges.py RANGES: {undeclared}"


OUTPUT_OPTION = re.compile(r"out|results|.*_dir|.*_folder")  # a Path option a command writes to


def test_every_output_option_has_path_rows():
    """An option a command writes to has a row with a path under a file and one with a name longer
    than the filesystem allows (and, where it names a file, the checks of paths.py answer both)."""
    import typing

    from typer.main import get_command

    from infomin_cli.cli import app

    def named(command, parent):
        return f"{parent} {command.name}".strip() if parent else command.name

    def walk(command, parent=""):
        for sub in getattr(command, "commands", {}).values():
            yield named(sub, parent), sub
            yield from walk(sub, named(sub, parent))

    lines = [line for line, _ in CASES] + [line for line, _, _ in NOT_YET]
    missing = []
    for name, command in walk(get_command(app)):
        for param in command.params:
            descriptor = getattr(param, "type_descriptor", None)
            annotation = descriptor.annotation if descriptor is not None else None
            kinds = typing.get_args(annotation) or (annotation,)
            if Path not in kinds or not param.opts[0].startswith("--") or not OUTPUT_OPTION.fullmatch(param.name):
                continue
            flag = param.opts[0]
            rows = [line for line in lines if line.startswith(name + " ")]
            for kind in ("{afile}", "{long}"):
                if not any(re.search(rf"{re.escape(flag)} {re.escape(kind)}", line) for line in rows):
                    missing.append(f"{name} {flag} {kind}")
    assert not missing, f"add rows to CASES for: {missing}"
