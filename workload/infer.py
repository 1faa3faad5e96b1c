"""gpu-lab inference workload: a PyTorch transformer with random weights, serving batches.

Runs as a Job (``--batches N``: N batches, then exit 0) or as a service (``--batches 0``:
until SIGTERM). Nothing is downloaded: the model is built in code. It exports Prometheus
metrics on a named port and logs JSON lines to stdout (or to a file, with ``--log-file``).

    python infer.py --device auto --batches 100 --gpu-memory-gb 4

Exit codes: 0 done; 2 bad arguments; 3 the GPU has less memory than the model needs;
4 a GPU was asked for (--device cuda) but none is visible; 5 the metrics port or the log
file cannot be opened. Every failure at start is one JSON "error" line (on stdout when the
log file cannot be opened) and, for 3 and 5, the same message on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from dataclasses import dataclass
from typing import Optional, TextIO

from prometheus_client import Counter, Gauge, Histogram, start_http_server

# torch is imported where it is used: it takes seconds to load, and a bad argument is
# refused before that.

GIB = 1024 ** 3
EXIT_OUT_OF_MEMORY = 3
EXIT_NO_GPU = 4
EXIT_STARTUP = 5

BATCHES = Counter("gpu_lab_inference_batches_total", "Batches served")
SAMPLES = Counter("gpu_lab_inference_samples_total", "Samples (sequences) served")
LATENCY = Histogram("gpu_lab_inference_batch_latency_seconds", "Wall time of one batch",
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
THROUGHPUT = Gauge("gpu_lab_inference_samples_per_second", "Samples per second, last batch")
DEVICE = Gauge("gpu_lab_inference_device_info", "The device the model runs on (value 1)",
               ["device", "gpu_name"])
GPU_MEMORY = Gauge("gpu_lab_inference_gpu_memory_allocated_bytes",
                   "GPU memory held by the process (working set and model)")
PARAMETERS = Gauge("gpu_lab_inference_model_parameters", "Parameters in the model")


class Log:
    """JSON lines, one object per event."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def __call__(self, event: str, **fields) -> None:
        record = {"ts": round(time.time(), 3), "event": event, **fields}
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()


@dataclass
class Device:
    kind: str                 # "cuda" or "cpu"
    name: str                 # GPU model, or "cpu"
    memory_bytes: int         # GPU memory; 0 on the CPU


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="gpu-lab inference workload")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                        help="auto: the GPU when one is visible, else the CPU")
    parser.add_argument("--batches", type=int, default=0,
                        help="batches to serve before exiting; 0 serves until stopped")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256, help="model width")
    parser.add_argument("--layers", type=int, default=4, help="transformer layers")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--gpu-memory-gb", type=float, default=0.0,
                        help="GPU memory the model's working set needs, allocated up front")
    parser.add_argument("--assume-gpu-memory-gb", type=float, default=None,
                        help="check the demand against this much GPU memory instead of the "
                             "device's (dry runs and tests on machines without a GPU)")
    parser.add_argument("--metrics-port", type=int, default=8000,
                        help="port of the Prometheus /metrics endpoint (1-65535)")
    parser.add_argument("--log-file", default=None,
                        help="write the JSON log here instead of stdout")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds to wait between batches (service mode)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    problems = argument_problems(args)
    if problems:
        parser.error("; ".join(problems))      # exit 2, on one line
    return args


# What torch.manual_seed takes (it raises beyond these).
SEED_RANGE = (-0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF)


def argument_problems(args: argparse.Namespace) -> list[str]:
    """Every numeric argument outside what it means, one line each (`--name value: ...`).
    argparse checks only the type: `--batches -1` would serve no batch and exit 0,
    `--pause -1` would fail after the first batch with a traceback."""
    problems = []
    if args.batches < 0:
        problems.append(f"--batches {args.batches}: must be 0 (serve until stopped) or a "
                        f"number of batches (1 or more)")
    for name in ("batch_size", "seq_len", "hidden", "layers", "heads"):
        if getattr(args, name) < 1:
            problems.append(f"--{name.replace('_', '-')} {getattr(args, name)}: must be at "
                            f"least 1")
    if args.heads >= 1 and args.hidden % args.heads:
        problems.append("--hidden must be a multiple of --heads")
    if not math.isfinite(args.gpu_memory_gb) or args.gpu_memory_gb < 0:
        problems.append(f"--gpu-memory-gb {args.gpu_memory_gb:g}: must be 0 (no working set) "
                        f"or a number of GiB")
    assumed = args.assume_gpu_memory_gb
    if assumed is not None and (not math.isfinite(assumed) or assumed <= 0):
        problems.append(f"--assume-gpu-memory-gb {assumed:g}: must be a number of GiB above 0")
    if not 1 <= args.metrics_port <= 65535:
        problems.append(f"--metrics-port {args.metrics_port}: must be a port from 1 to 65535")
    if not math.isfinite(args.pause) or args.pause < 0:
        problems.append(f"--pause {args.pause:g}: must be 0 or a number of seconds")
    if not SEED_RANGE[0] <= args.seed <= SEED_RANGE[1]:
        problems.append(f"--seed {args.seed}: must be from {SEED_RANGE[0]} to {SEED_RANGE[1]}")
    return problems


def pick_device(choice: str) -> Optional[Device]:
    """The device to run on; None when a GPU was asked for and none is visible."""
    import torch
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return Device("cpu", "cpu", 0)
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return Device("cuda", props.name, props.total_memory)


def memory_shortfall(demand_gb: float, available_bytes: int, gpu_name: str) -> Optional[str]:
    """The out-of-memory line when the GPU cannot hold the working set, else None."""
    if demand_gb * GIB <= available_bytes:
        return None
    return (f"CUDA out of memory: this model needs {demand_gb:.1f} GiB of GPU memory, "
            f"but the GPU ({gpu_name}) has {available_bytes / GIB:.1f} GiB")


def describe(device: Device) -> str:
    if device.kind == "cpu":
        return "cpu"
    return f"cuda ({device.name}, {device.memory_bytes / GIB:.1f} GiB)"


def build_model(args: argparse.Namespace) -> "torch.nn.Module":
    import torch
    from torch import nn
    torch.manual_seed(args.seed)
    layer = nn.TransformerEncoderLayer(d_model=args.hidden, nhead=args.heads,
                                       dim_feedforward=args.hidden * 4, batch_first=True)
    return nn.Sequential(nn.TransformerEncoder(layer, num_layers=args.layers),
                         nn.Linear(args.hidden, 10)).eval()


def startup_error(log: Log, message: str) -> int:
    """What the container cannot start without (a port, a file): one JSON line, one stderr
    line, exit 5, rather than a traceback in `kubectl logs`."""
    log("error", message=message)
    print(message, file=sys.stderr, flush=True)
    return EXIT_STARTUP


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    try:
        log = Log(open(args.log_file, "a") if args.log_file else sys.stdout)
    except OSError as err:
        return startup_error(Log(sys.stdout), f"cannot open --log-file {args.log_file}: "
                                              f"{err.strerror or err}")
    import torch
    device = pick_device(args.device)
    if device is None:
        log("error", message="--device cuda, but no GPU is visible to this container "
                             "(is nvidia.com/gpu requested and a device plugin running?)")
        return EXIT_NO_GPU

    # Reserve the working set first, as a real model load would, so a too-small GPU
    # fails at start with one clear line rather than somewhere mid-batch.
    working_set = None
    if args.gpu_memory_gb > 0 and (device.kind == "cuda" or args.assume_gpu_memory_gb):
        available = (int(args.assume_gpu_memory_gb * GIB) if args.assume_gpu_memory_gb
                     else device.memory_bytes)
        name = device.name if device.kind == "cuda" else "assumed"
        shortfall = memory_shortfall(args.gpu_memory_gb, available, name)
        if shortfall is None and device.kind == "cuda":
            try:
                working_set = torch.empty(int(args.gpu_memory_gb * GIB), dtype=torch.uint8,
                                          device="cuda")
            except torch.cuda.OutOfMemoryError:
                shortfall = memory_shortfall(args.gpu_memory_gb, 0, device.name)
        if shortfall:
            log("error", message=shortfall)
            print(shortfall, file=sys.stderr, flush=True)
            return EXIT_OUT_OF_MEMORY

    # The port before the model: a port another process holds fails at once.
    try:
        start_http_server(args.metrics_port)
    except OSError as err:
        return startup_error(log, f"cannot serve metrics on --metrics-port "
                                  f"{args.metrics_port}: {err.strerror or err}")
    model = build_model(args).to(device.kind)
    parameters = sum(p.numel() for p in model.parameters())
    PARAMETERS.set(parameters)
    DEVICE.labels(device=device.kind, gpu_name=device.name).set(1)
    if device.kind == "cuda":
        GPU_MEMORY.set(torch.cuda.memory_allocated())
    log("startup", device=device.kind, gpu_name=device.name,
        gpu_memory_gb=round(device.memory_bytes / GIB, 1), parameters=parameters,
        batch_size=args.batch_size, seq_len=args.seq_len, metrics_port=args.metrics_port,
        message=f"serving on {describe(device)}, model of {parameters:,} parameters, "
                f"batch size {args.batch_size}")

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    inputs = torch.randn(args.batch_size, args.seq_len, args.hidden, device=device.kind)
    served = 0
    with torch.inference_mode():
        while not stopping and (args.batches == 0 or served < args.batches):
            started = time.perf_counter()
            model(inputs)
            if device.kind == "cuda":
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - started
            served += 1
            BATCHES.inc()
            SAMPLES.inc(args.batch_size)
            LATENCY.observe(elapsed)
            THROUGHPUT.set(args.batch_size / elapsed)
            log("batch", batch=served, latency_ms=round(elapsed * 1000, 2),
                samples_per_second=round(args.batch_size / elapsed, 1))
            if args.pause:
                time.sleep(args.pause)
    del working_set
    log("done", batches=served)
    return 0


if __name__ == "__main__":
    sys.exit(main())
