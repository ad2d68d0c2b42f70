"""Run a command as P processes on this machine, the way a cluster runs it on P hosts.

    learning-law launch --processes P [--local-devices K] [--port PORT] -- COMMAND ARGS...

e.g. ``learning-law launch --processes 2 -- optimize --task perceptron --preset tiny --devices 2 --out DIR``.

Each process is ``python -m learning_law.cli COMMAND ARGS...`` with ``LEARNING_LAW_COORDINATOR``
(127.0.0.1 and a free port), ``LEARNING_LAW_NUM_PROCESSES`` and ``LEARNING_LAW_PROCESS_ID`` set: the
same variables a cluster job sets on each host (learning_law/distributed.py), so this is the cluster's
code path, not a simulation of it. ``--devices`` of the command counts the devices of all processes.
``--local-devices K`` gives each process K simulated CPU devices (XLA_FLAGS); 0 leaves the platform's own.

Process 0 prints and writes the results; the others' standard output is dropped (their errors show).
When one process fails or is killed, the others are stopped (they would wait in a collective for it)
and launch exits with its code; rerun with ``--resume`` (optimize) to continue from the last checkpoint.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

from learning_law.errors import UsageError

NAME = "launch"
HELP = "run train/optimize/evaluate as P processes on this machine (the multi-host code path)"
COMMANDS = ("train", "optimize", "evaluate")  # the commands that split their work over --devices
MAX_PROCESSES = 64


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--processes", type=int, required=True, help=f"P, processes to start, in [1, {MAX_PROCESSES}]")
    p.add_argument("--local-devices", type=int, default=0,
                   help="simulated CPU devices per process (XLA_FLAGS); 0: the platform's own devices")
    p.add_argument("--port", type=int, default=0, help="coordinator port on 127.0.0.1 (0: a free one)")
    p.add_argument("child", nargs=argparse.REMAINDER, metavar="-- COMMAND ARGS",
                   help=f"the learning-law command each process runs ({' | '.join(COMMANDS)}) and its options")


def free_port() -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(base: dict, address: str, processes: int, pid: int, local_devices: int) -> dict:
    """The environment of process ``pid``: the cluster variables, and K simulated devices if asked."""
    env = {**base, "LEARNING_LAW_COORDINATOR": address, "LEARNING_LAW_NUM_PROCESSES": str(processes),
           "LEARNING_LAW_PROCESS_ID": str(pid)}
    if local_devices:
        flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")]
        env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={local_devices}"])
    return env


def launch(argv: list[str], processes: int, local_devices: int = 0, port: int = 0, poll_s: float = 0.1) -> int:
    """Start ``learning-law ARGV`` as ``processes`` processes; return 0 when all succeed, else the first
    failure's exit code (128 + signal for a killed process), after stopping the others."""
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not (isinstance(processes, int) and 1 <= processes <= MAX_PROCESSES):
        raise UsageError(f"processes={processes!r} is invalid: allowed an integer in [1, {MAX_PROCESSES}]")
    if not (isinstance(local_devices, int) and local_devices >= 0):
        raise UsageError(f"local_devices={local_devices!r} is invalid: allowed an integer >= 0")
    if not (isinstance(port, int) and 0 <= port <= 65535):
        raise UsageError(f"port={port!r} is invalid: allowed [0, 65535] (0: a free port)")
    if not argv or argv[0] not in COMMANDS:
        raise UsageError(f"command={argv[0] if argv else None!r} is invalid: allowed one of {', '.join(COMMANDS)} "
                         "after '--', e.g. learning-law launch --processes 2 -- optimize --devices 2 --out DIR")
    address = f"127.0.0.1:{port or free_port()}"
    procs = []
    for pid in range(processes):
        env = child_env(dict(os.environ), address, processes, pid, local_devices)
        procs.append(subprocess.Popen([sys.executable, "-m", "learning_law.cli", *argv], env=env,
                                      stdout=None if pid == 0 else subprocess.DEVNULL))
    print(f"launch: {processes} processes on {address}, pids {' '.join(str(p.pid) for p in procs)}", file=sys.stderr)
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                i, code = failed[0]
                _stop(procs)
                why = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
                print(f"launch: process {i} {why}; stopped the others (optimize: rerun with --resume to continue "
                      "from the last checkpoint)", file=sys.stderr)
                return 128 - code if code < 0 else code
            if all(c == 0 for c in codes):
                return 0
            time.sleep(poll_s)
    except KeyboardInterrupt:  # pass the interrupt on, so that optimize checkpoints on its way out
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        raise


def _stop(procs: list[subprocess.Popen], grace_s: float = 10.0) -> None:
    """SIGTERM the processes still running, SIGKILL those still there after ``grace_s``."""
    alive = [p for p in procs if p.poll() is None]
    for p in alive:
        p.terminate()
    deadline = time.monotonic() + grace_s
    for p in alive:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(args) -> int:
    return launch(args.child, args.processes, args.local_devices, args.port)
