"""Throughput of the inference workload (workload/infer.py's model) on the CPU, and on
the GPU when one is visible.

Fixed small model: hidden 256, 4 layers, 4 heads, batch 16 x 64 tokens. Prints samples
per second (median of several timed batches after warm-up) and the per-batch latency.
No figure has a target: throughput depends on the machine.

    venv/bin/python bench/workload.py [--batches 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "workload"))
sys.path.insert(1, str(ROOT))

import torch  # noqa: E402

from bench.targets import no_target  # noqa: E402
from infer import build_model, parse_args  # noqa: E402

MODEL = ["--hidden", "256", "--layers", "4", "--heads", "4", "--batch-size", "16",
         "--seq-len", "64"]


def measure(device: str, batches: int) -> tuple[float, float]:
    args = parse_args(MODEL)
    model = build_model(args).to(device)
    inputs = torch.randn(args.batch_size, args.seq_len, args.hidden, device=device)
    times = []
    with torch.inference_mode():
        for i in range(batches + 3):
            start = time.perf_counter()
            model(inputs)
            if device == "cuda":
                torch.cuda.synchronize()
            if i >= 3:                       # the first batches warm caches and kernels up
                times.append(time.perf_counter() - start)
    latency = statistics.median(times)
    return args.batch_size / latency, latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    options = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for device in devices:
        rate, latency = measure(device, options.batches)
        name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
        print(f"{device:5} {name:24} {rate:10.1f} samples/s  {latency * 1000:8.2f} ms/batch")
    if "cuda" not in devices:
        print("cuda  (no GPU visible on this machine)")
    print(no_target("samples/s and ms/batch"))


if __name__ == "__main__":
    main()
