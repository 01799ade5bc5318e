"""``course-lib bench`` (benchmark a model, list backends, roofline estimate) and ``course-lib agent``."""
from __future__ import annotations

import argparse
import json
import sys


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise ValueError(f"--input-shape must be integers like 1,1,28,28, got {text!r}") from None
    if not shape or any(d < 1 for d in shape):
        raise ValueError(f"--input-shape must be positive integers like 1,1,28,28, got {text!r}")
    return shape


def _cmd_bench(args) -> int:
    from course_lib.cli import CLIError

    from . import backends, devices
    from .harness import benchmark

    if args.list_backends:
        print(backends.format_backends())
        return 0
    if not args.model:
        raise CLIError("give a MODEL (.onnx/.tflite file or zoo name), or --list-backends")
    if args.estimate:
        est = devices.estimate(args.model, args.estimate, precision=args.precision or "fp32",
                               input_shape=_shape(args.input_shape)[1:] if args.input_shape else None)
        print(est.table())
        if args.json:
            with open(args.json, "w") as f:
                json.dump(est.to_dict(), f, indent=2)
        return 0
    options = {k: v for k, v in {"device": args.device, "dtype": args.dtype, "compile": args.compile or None,
                                 "provider": args.provider, "xnnpack": args.xnnpack, "precision": args.precision,
                                 "dla_core": args.dla_core}.items() if v is not None}
    try:
        report = benchmark(args.model, backend=args.backend, scenario=args.scenario, batch_size=args.batch_size,
                           input_shape=_shape(args.input_shape) if args.input_shape else None,
                           threads=args.threads, min_duration_s=args.min_duration, energy=not args.no_energy,
                           **options)
    except backends.BackendUnavailable as e:
        raise CLIError(str(e)) from None
    except TypeError as e:  # an option the backend does not take, e.g. --xnnpack with onnxruntime
        raise CLIError(str(e)) from None
    print(report.table())
    if args.json:
        report.to_json(args.json)
        print(f"full report with the trace: {args.json}", file=sys.stderr)
    return 0


def _cmd_agent(args) -> int:
    from .agent import serve

    serve(token=args.token, host=args.host, port=args.port, max_bytes=int(args.max_mb * 2 ** 20),
          job_timeout_s=args.job_timeout, idle_timeout_s=args.idle_timeout, verbose=args.verbose)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmark a model: latency percentiles, throughput, memory, energy",
                       description="Benchmark MODEL (an .onnx/.tflite file or a zoo name) on one backend.")
    p.add_argument("model", nargs="?", help="an .onnx or .tflite file, or a zoo name (course-lib zoo list)")
    p.add_argument("--backend", default="onnxruntime", help="pytorch, onnxruntime, tflite or tensorrt (default onnxruntime)")
    p.add_argument("--scenario", default="single-stream", help="single-stream, offline (batch) or server")
    p.add_argument("--batch-size", type=int, help="batch per inference (offline default 32)")
    p.add_argument("--input-shape", help="full input shape with batch, e.g. 1,1,28,28 (default: from the file/zoo)")
    p.add_argument("--threads", type=int, help="intra-op threads (default: the backend's)")
    p.add_argument("--min-duration", type=float, help="seconds to measure at least")
    p.add_argument("--device", help="pytorch: cpu or cuda")
    p.add_argument("--dtype", choices=["fp32", "fp16"], help="pytorch: fp32 or fp16")
    p.add_argument("--compile", action="store_true", help="pytorch: torch.compile the model")
    p.add_argument("--provider", help="onnxruntime: cpu, cuda or tensorrt")
    p.add_argument("--xnnpack", action=argparse.BooleanOptionalAction, default=None,
                   help="tflite: XNNPACK delegate (--no-xnnpack: reference kernels); default: the backend's")
    p.add_argument("--precision", help="tensorrt: fp32, fp16 or int8; --estimate: fp32, fp16, int8")
    p.add_argument("--dla-core", type=int, help="tensorrt: run on this DLA core with GPU fallback")
    p.add_argument("--no-energy", action="store_true", help="skip the energy meter and estimate")
    p.add_argument("--estimate", metavar="DEVICE", help="roofline estimate on a device profile instead of measuring "
                   "(jetson-orin-nano, jetson-orin-nx, jetson-agx-orin, raspberry-pi-4, raspberry-pi-5, local)")
    p.add_argument("--json", help="write the full report (with the per-inference trace) here")
    p.add_argument("--list-backends", action="store_true", help="which backends work here, and why not")
    p.set_defaults(func=_cmd_bench)

    a = sub.add_parser("agent", help="serve benchmark requests over HTTP (hardware in the loop)")
    a.add_argument("--port", type=int, default=8765)
    a.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; use an SSH tunnel)")
    a.add_argument("--token", help="shared secret (default: $COURSE_LIB_AGENT_TOKEN or a generated one, printed)")
    a.add_argument("--max-mb", type=float, default=64.0, help="largest model accepted, MiB")
    a.add_argument("--job-timeout", type=float, default=120.0, help="seconds before a job is killed")
    a.add_argument("--idle-timeout", type=float, default=30.0,
                   help="seconds a connection may stay silent before it is closed")
    a.add_argument("--verbose", action="store_true", help="log each request")
    a.set_defaults(func=_cmd_agent)

