#!/usr/bin/env bash
# The cifar-fast benchmark on one CUDA GPU, prepared to fit in 8 minutes: the same script as on the CPU
# (benchmarks/cifar_fast.py --device cuda): the three recipes' steps against 8192^2 fp32 and bf16 matmuls, the
# profile, and SEEDS training runs of each recipe to 94% and 85% with the CIFAR-10 images on the GPU, bf16
# autocast where it is faster, channels_last and (COMPILE=1, the default) torch.compile, each recipe warmed up
# first. Prints the published A100 times beside ours. Never needed by the tests.
#
#   DLLAB_DATA=../shared/data bash benchmarks/cifar_fast_gpu.sh [OUT.json]
#
# SEEDS (default 3) runs per recipe and target; LIMIT (default 470) seconds before the run is stopped, so that a
# device session of 8 minutes gets its printed lines back even if the machine is slower than expected.
set -euo pipefail
out=${1:-cifar_fast_gpu.json}
seeds=${SEEDS:-3}
compile=()
[[ "${COMPILE:-1}" == 1 ]] && compile=(--compile)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout "${LIMIT:-470}" python "$(dirname "$0")/cifar_fast.py" --device cuda --seeds "$seeds" "${compile[@]}" \
    --json "$out"
# published single-A100 times to 94% (airbench README; airbench94_muon and hiverge's cifar10-speedrun as the
# issue quotes them): ours above are on the GPU named first, with our implementations of those recipes
cat <<'TXT'
published, one NVIDIA A100, to 94% (mean accuracy 94.01%):
  airbench94 (eager)             3.83 s
  airbench94 (torch.compile)     3.09 s
  airbench94_muon                2.59 s
  hiverge cifar10-speedrun       about 2.0 s
TXT
