"""The command line: ``python -m pard_ref <command>``. Each command is a thin wrapper over a package function."""

from __future__ import annotations

import argparse
import sys


def _cmd_data(args) -> int:
    from .text import corpus

    corpus.build(force=args.force)
    return 0


def _cmd_zoo(args) -> int:
    from . import zoo

    if args.zoo_command == "build":
        zoo.build(args.scale, args.models or None, jobs=args.jobs)
    elif args.zoo_command == "list":
        for name in zoo.names():
            state = "built" if zoo.is_built(name, args.scale) else "missing"
            print(f"{name:12s} {state:8s} {zoo.model_dir(name, args.scale)}")
    elif args.zoo_command == "report":
        from .zoo import gate

        gate.main(scale=args.scale, out=args.out)
    return 0


def _cmd_demo(args) -> int:
    from . import demo

    demo.main(scale=args.scale, max_new_tokens=args.max_new_tokens)
    return 0


def _cmd_train_bench(args) -> int:
    from .bench import cod

    cod.main(scale=args.scale, out_dir=args.out, isolate=not args.in_process)
    return 0


def _cmd_ttt_bench(args) -> int:
    from .ttt import bench as ttt_bench

    try:  # check the options before loading anything
        ttt_bench.bench_options(args.scale, args.parts, args.arc_tasks, args.runs)
    except ValueError as e:  # bad input: say what and how to fix it, no traceback
        print(f"ttt-bench: error: {e}", file=sys.stderr)
        return 2
    ttt_bench.main(scale=args.scale, out_dir=args.out, parts=args.parts, arc_tasks=args.arc_tasks, runs=args.runs,
               progress=not args.no_progress)
    return 0


def _cmd_generate(args) -> int:
    import torch

    from . import checkpoints

    pair = checkpoints.load_pair(args.target, args.draft, method=args.method if args.draft else "none",
                                 dtype=None if args.dtype == "auto" else getattr(torch, args.dtype))
    methods = ("none", args.method) if args.draft and args.method != "none" else ("none",)
    rows = checkpoints.compare(pair, args.prompt, methods=methods, k=args.k, max_new_tokens=args.max_new_tokens,
                               chat=args.chat)
    print(rows[-1]["text"])
    print()
    for r in rows:
        tau = f", mean accepted length {r['mean_accepted_length']:.2f}" if r["mean_accepted_length"] else ""
        print(f"{r['method']:>5s}: {r['tokens']} tokens, {r['tokens_per_second']:.1f} tokens/s{tau}, "
              f"same tokens as plain: {'yes' if r['same_tokens'] else 'NO'}")
    return 0 if all(r["same_tokens"] for r in rows) else 1


def _cmd_bench(args) -> int:
    from .bench import decoding

    if args.threads is not None:
        if args.threads < 1:
            print(f"bench: error: --threads must be >= 1, got {args.threads}", file=sys.stderr)
            return 2
        import torch

        torch.set_num_threads(args.threads)
    try:
        decoding.main(scale=args.scale, targets=args.targets, methods=args.methods, domains=args.domains,
                   prompts_per_domain=args.prompts, max_new_tokens=args.max_new_tokens, k=args.k,
                   repeats=args.repeats, json_path=args.json, out_dir=args.out, sweep=not args.no_k_sweep,
                   progress=not args.no_progress)
    except ValueError as e:  # bad input: say what and how to fix it, no traceback
        print(f"bench: error: {e}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pard_ref", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("data", help="build the offline corpus (code, math, prose) into data/")
    d.add_argument("--force", action="store_true", help="rebuild even if the corpus is up to date")
    d.set_defaults(func=_cmd_data)

    z = sub.add_parser("zoo", help="build, list or report on the model family")
    zs = z.add_subparsers(dest="zoo_command", required=True, metavar="ACTION")
    zb = zs.add_parser("build", help="train the models that are missing")
    zb.add_argument("models", nargs="*", help="only these models (default: the whole family)")
    zb.add_argument("--jobs", type=int, default=1,
                    help="train up to N independent lineages at once, one process and one torch thread each "
                         "(default 1; `make zoo` uses 2)")
    zl = zs.add_parser("list", help="show which models are built")
    zr = zs.add_parser("report", help="print the quality-gate table (held-out loss, diversity, cost, agreement)")
    zr.add_argument("--out", help="also write the report (markdown) to this file")
    for q in (zb, zl, zr):
        q.add_argument("--scale", default=None, choices=["ci", "full"],
                       help="zoo scale (default: $PARD_REF_SCALE or full)")
    z.set_defaults(func=_cmd_zoo)

    m = sub.add_parser("demo", help="terminal demo: a generation from the largest target")
    m.add_argument("--scale", default=None, choices=["ci", "full"])
    m.add_argument("--max-new-tokens", type=int, default=96)
    m.set_defaults(func=_cmd_demo)

    tb = sub.add_parser("train-bench", help="PARD training experiment: COD vs no dropping (time, memory, acceptance)")
    tb.add_argument("--scale", default="ci", choices=["ci", "full"], help="experiment and zoo scale (default ci)")
    tb.add_argument("--out", default=None, help="folder for train_bench.{json,md,png} (default docs/_runs/train_bench-SCALE)")
    tb.add_argument("--in-process", action="store_true",
                    help="train every setting in this process (faster start; peak memory not measured)")
    tb.set_defaults(func=_cmd_train_bench)

    g = sub.add_parser("generate", help="decode with your own checkpoints (a target and a PARD or AR draft folder)")
    g.add_argument("--target", required=True, help="target checkpoint folder (from save_pretrained) or hub id")
    g.add_argument("--draft", default=None, help="draft checkpoint folder; omit for plain decoding only")
    g.add_argument("--prompt", required=True)
    g.add_argument("--method", default="pard", choices=["none", "ar", "pard"])
    g.add_argument("--k", type=int, default=8, help="draft length K")
    g.add_argument("--max-new-tokens", type=int, default=128)
    g.add_argument("--chat", action="store_true", help="wrap the prompt in the tokenizer's chat template")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    g.set_defaults(func=_cmd_generate)

    tt = sub.add_parser("ttt-bench", help="TTT ablation on held-out synthetic and small ARC tasks (needs arc-base)")
    tt.add_argument("--scale", default="ci", choices=["ci", "full"], help="benchmark and zoo scale (default ci)")
    tt.add_argument("--out", default=None,
                    help="folder for ttt_bench.{json,md} (default docs/_runs/ttt_bench-SCALE[-PART]); "
                         "rewritten after every run, so an interrupted run keeps what finished")
    tt.add_argument("--parts", default="synthetic,arc",
                    help="which benchmarks: synthetic, arc or synthetic,arc (default both)")
    tt.add_argument("--arc-tasks", default=None, metavar="all|N",
                    help="ARC-AGI-1 eval tasks with grids <= 10x10: 'all' (77) or the N shortest "
                         "(default: the scale's, 10 at full, 2 at ci)")
    tt.add_argument("--runs", default=None,
                    help="comma-separated subset of base,ttt,no_augmentation,plain_pairs,shared_adapter "
                         "(default all; the vote rows come with ttt)")
    tt.add_argument("--no-progress", action="store_true", help="no progress bars")
    tt.set_defaults(func=_cmd_ttt_bench)
    from .bench.decoding import DOMAINS, METHODS, TARGETS

    b = sub.add_parser("bench", help="PARD vs transformers greedy / assisted / prompt lookup and pard_ref's AR draft: "
                                     "tokens/s, speedup, accepted length, calls, bound, identical tokens")
    b.add_argument("--scale", default=None, choices=["ci", "full"],
                   help="zoo scale and work sizes (default: $PARD_REF_SCALE or full)")
    b.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS, metavar="TARGET",
                   help=f"targets to run (default: all; choose from {', '.join(TARGETS)})")
    b.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS, metavar="METHOD",
                   help=f"methods to run (default: all; hf-greedy, the baseline, always runs; choose from {', '.join(METHODS)})")
    b.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=DOMAINS, metavar="DOMAIN",
                   help=f"prompt domains (default: all; choose from {', '.join(DOMAINS)})")
    b.add_argument("--prompts", type=int, default=None, help="held-out prompts per domain (default: the scale's)")
    b.add_argument("--max-new-tokens", type=int, default=None, help="tokens generated per prompt (default: the scale's)")
    b.add_argument("--k", type=int, default=None, help="K, proposals per iteration (default 8, draft-pard's training K)")
    b.add_argument("--repeats", type=int, default=None, help="timed repeats of every run (default: the scale's)")
    b.add_argument("--json", default=None, metavar="PATH", help="also write the full result as JSON to PATH")
    b.add_argument("--out", default=None, metavar="DIR", help="write bench.md, bench.json and PNG plots into DIR")
    b.add_argument("--no-k-sweep", action="store_true", help="skip the K sweep (1..16, ar and pard, largest target)")
    b.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
