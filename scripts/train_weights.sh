#!/usr/bin/env bash
# Rebuilds every file in weights/ from the shipped data, then measures them into
# weights/manifest.json. Step budgets (not seconds) make each file reproducible from its seed.
# About an hour on an idle 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
t="python -m aigc train"
$t --model classifier --dataset mnist --steps 3000 --out weights/classifier_mnist.safetensors
$t --model classifier --dataset fashion --steps 4000 --out weights/classifier_fashion.safetensors
$t --model gan --dataset mnist --label-conditional --steps 4000 --out weights/gan_mnist.safetensors
$t --model gan --dataset fashion --label-conditional --steps 3000 --out weights/gan_fashion.safetensors
$t --model vae --dataset mnist --arch conv --activation silu --augment --shift-pixels 1 --lr 2e-3 --batch-size 64 --steps 10000 --out weights/vae_mnist.safetensors
$t --model vae --dataset fashion --arch conv --activation silu --width 64 --augment --shift-pixels 1 --lr 2e-3 --batch-size 64 --steps 20000 --out weights/vae_fashion.safetensors
$t --model vae --dataset mnist --arch conv --activation relu --latent-dim 2 --augment --lr 1e-3 --batch-size 64 --steps 1500 --out weights/vae2d_mnist.safetensors
$t --model vae --dataset fashion --arch conv --activation relu --latent-dim 2 --augment --lr 1e-3 --batch-size 64 --steps 1500 --out weights/vae2d_fashion.safetensors
python -m aigc evaluate --manifest
