"""workload/infer.py run for real on the CPU with a tiny model."""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from model.source import PROJECT_DIR
from workload.infer import parse_args

INFER = PROJECT_DIR / "workload" / "infer.py"
TINY = ["--hidden", "16", "--layers", "1", "--heads", "2", "--batch-size", "2",
        "--seq-len", "4"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(INFER), *args], capture_output=True, text=True,
                          timeout=timeout)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_job_mode_serves_n_batches_on_the_cpu_and_exits_zero():
    result = run("--device", "cpu", "--batches", "3", "--metrics-port", str(free_port()), *TINY)
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stdout)          # every stdout line is JSON
    startup = events[0]
    assert startup["event"] == "startup"
    assert startup["device"] == "cpu" and startup["gpu_name"] == "cpu"
    assert startup["batch_size"] == 2 and startup["parameters"] > 0
    assert "serving on cpu" in startup["message"]
    assert [e["batch"] for e in events if e["event"] == "batch"] == [1, 2, 3]
    assert events[-1] == {**events[-1], "event": "done", "batches": 3}


def test_auto_falls_back_to_the_cpu_without_a_gpu():
    result = run("--device", "auto", "--batches", "1", "--metrics-port", str(free_port()), *TINY)
    assert result.returncode == 0
    assert json_lines(result.stdout)[0]["device"] == "cpu"


def test_service_mode_exports_metrics_over_http_until_sigterm():
    port = free_port()
    process = subprocess.Popen([sys.executable, str(INFER), "--device", "cpu", "--batches", "0",
                                "--metrics-port", str(port), "--pause", "0.01", *TINY],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
                if "gpu_lab_inference_batches_total 0.0" not in body and \
                        "gpu_lab_inference_batches_total" in body:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        metrics = {line.split(" ")[0]: float(line.split(" ")[1]) for line in body.splitlines()
                   if line and not line.startswith("#")}
        assert metrics["gpu_lab_inference_batches_total"] >= 1
        assert metrics["gpu_lab_inference_samples_total"] == \
            2 * metrics["gpu_lab_inference_batches_total"]
        assert metrics['gpu_lab_inference_device_info{device="cpu",gpu_name="cpu"}'] == 1
        assert metrics["gpu_lab_inference_batch_latency_seconds_count"] >= 1
        assert metrics["gpu_lab_inference_samples_per_second"] > 0
        assert "gpu_lab_inference_gpu_memory_allocated_bytes" in metrics
        assert metrics["gpu_lab_inference_model_parameters"] > 0
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert json_lines(stdout)[-1]["event"] == "done"


def test_gpu_memory_demand_above_the_device_exits_with_one_clear_line():
    result = run("--gpu-memory-gb", "32", "--assume-gpu-memory-gb", "16",
                 "--metrics-port", str(free_port()), *TINY)
    assert result.returncode == 3
    message = ("CUDA out of memory: this model needs 32.0 GiB of GPU memory, but the GPU "
               "(assumed) has 16.0 GiB")
    assert result.stderr.strip() == message
    assert json_lines(result.stdout) == [{**json_lines(result.stdout)[0], "event": "error",
                                          "message": message}]


def test_gpu_memory_demand_that_fits_runs():
    result = run("--gpu-memory-gb", "8", "--assume-gpu-memory-gb", "16", "--batches", "1",
                 "--device", "cpu", "--metrics-port", str(free_port()), *TINY)
    assert result.returncode == 0, result.stderr


# A string condition is evaluated when the test runs, so collecting does not import torch.
@pytest.mark.skipif("__import__('torch').cuda.is_available()", reason="a GPU is visible here")
def test_cuda_without_a_gpu_says_so():
    result = run("--device", "cuda", "--batches", "1", "--metrics-port", str(free_port()), *TINY)
    assert result.returncode == 4
    assert "no GPU is visible" in json_lines(result.stdout)[0]["message"]


def test_log_file_hides_the_logs_from_stdout(tmp_path):
    log = tmp_path / "infer.log"
    result = run("--device", "cpu", "--batches", "2", "--log-file", str(log),
                 "--metrics-port", str(free_port()), *TINY)
    assert result.returncode == 0
    assert result.stdout == ""
    assert [e["event"] for e in json_lines(log.read_text())] == ["startup", "batch", "batch",
                                                                   "done"]


def test_bad_arguments_exit_two():
    result = run("--hidden", "10", "--heads", "4")
    assert result.returncode == 2 and "--hidden must be a multiple of --heads" in result.stderr


def test_metrics_port_taken_is_one_json_line_and_one_stderr_line():
    """Another process holds the port: exit 5 with the reason, not a traceback."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run("--device", "cpu", "--batches", "1", "--metrics-port", str(port), *TINY)
    assert result.returncode == 5
    message = f"cannot serve metrics on --metrics-port {port}: Address already in use"
    assert result.stderr == message + "\n"
    [line] = json_lines(result.stdout)
    assert line == {"ts": line["ts"], "event": "error", "message": message}


def test_log_file_that_cannot_be_opened_is_one_json_line_on_stdout(tmp_path):
    missing = tmp_path / "no-such-dir" / "infer.log"
    result = run("--device", "cpu", "--batches", "1", "--log-file", str(missing),
                 "--metrics-port", str(free_port()), *TINY)
    assert result.returncode == 5
    message = f"cannot open --log-file {missing}: No such file or directory"
    assert result.stderr == message + "\n"
    assert [(e["event"], e["message"]) for e in json_lines(result.stdout)] == [("error", message)]


def test_metrics_port_out_of_range_is_a_bad_argument():
    result = run("--metrics-port", "70000")
    assert result.returncode == 2
    assert "--metrics-port 70000: must be a port from 1 to 65535" in result.stderr
    assert "Traceback" not in result.stderr


def test_negative_batches_is_a_bad_argument_not_zero_batches():
    """--batches -1 used to serve no batch and exit 0; it is exit 2 with one line, before
    anything starts."""
    result = run("--device", "cpu", "--batches", "-1", "--metrics-port", str(free_port()),
                 *TINY)
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""                    # no startup, no "done"
    assert result.stderr.splitlines()[-1] == (
        "infer.py: error: --batches -1: must be 0 (serve until stopped) or a number of "
        "batches (1 or more)")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--batches", "-1"], "--batches -1: must be 0 (serve until stopped)"),
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--seq-len", "-4"], "--seq-len -4: must be at least 1"),
    (["--hidden", "0"], "--hidden 0: must be at least 1"),
    (["--layers", "0"], "--layers 0: must be at least 1"),
    (["--heads", "0"], "--heads 0: must be at least 1"),
    (["--gpu-memory-gb", "-2"], "--gpu-memory-gb -2: must be 0 (no working set)"),
    (["--gpu-memory-gb", "inf"], "--gpu-memory-gb inf: must be 0 (no working set)"),
    (["--gpu-memory-gb", "nan"], "--gpu-memory-gb nan: must be 0 (no working set)"),
    (["--assume-gpu-memory-gb", "0"], "--assume-gpu-memory-gb 0: must be a number of GiB "
                                      "above 0"),
    (["--assume-gpu-memory-gb", "-16"], "--assume-gpu-memory-gb -16: must be"),
    (["--metrics-port", "0"], "--metrics-port 0: must be a port from 1 to 65535"),
    (["--pause", "-1"], "--pause -1: must be 0 or a number of seconds"),
    (["--pause", "nan"], "--pause nan: must be 0 or a number of seconds"),
    (["--seed", str(2 ** 64)], f"--seed {2 ** 64}: must be from"),
    (["--seed", str(-2 ** 63 - 1)], f"--seed {-2 ** 63 - 1}: must be from"),
])
def test_numeric_arguments_outside_their_meaning_exit_two(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(args)
    assert exit_.value.code == 2
    [line] = [l for l in capsys.readouterr().err.splitlines() if "error:" in l]
    assert message in line


def test_every_problem_is_named_on_one_line(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--batches", "-3", "--pause", "-1"])
    [line] = [l for l in capsys.readouterr().err.splitlines() if "error:" in l]
    assert "--batches -3" in line and "--pause -1" in line


@pytest.mark.parametrize("args", [
    ["--batches", "0"], ["--batches", "1"], ["--gpu-memory-gb", "0"], ["--pause", "0"],
    ["--assume-gpu-memory-gb", "0.5"], ["--metrics-port", "1"], ["--metrics-port", "65535"],
    ["--seed", str(2 ** 64 - 1)], ["--seed", str(-2 ** 63)], ["--seed", "-1"],
    ["--batch-size", "1", "--seq-len", "1", "--hidden", "1", "--layers", "1", "--heads", "1"],
])
def test_the_boundaries_are_accepted(args):
    parse_args(args)
