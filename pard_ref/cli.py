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
        try:
            zoo.build(args.scale, args.models or None, jobs=args.jobs)
        except (zoo.smol.PackageMissingError, zoo.smol.GGUFError) as e:  # smol-target: say what to install
            print(f"zoo build: error: {e}", file=sys.stderr)
            return 2
    elif args.zoo_command == "list":
        for name in zoo.names():
            state = "built" if zoo.is_built(name, args.scale) else "missing"
            try:
                where = zoo.model_dir(name, args.scale)
            except ImportError as e:  # smol-target without its package
                where = e
            print(f"{name:12s} {state:8s} {where}")
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

    try:  # zoo names -> folders (smol-target is converted on first use); bad input: a message, no traceback
        target = checkpoints.resolve(args.target, "target", args.scale)
        draft = checkpoints.resolve(args.draft, "draft", args.scale) if args.draft else None
        method = args.method or checkpoints.default_method(draft)
        if draft is None and method != "none":
            raise ValueError(f"--method {method} needs a draft: pass --draft NAME|DIR, or use --method none")
        pair = checkpoints.load_pair(target, draft, method=method,
                                     dtype=None if args.dtype == "auto" else getattr(torch, args.dtype))
    except (FileNotFoundError, ImportError, ValueError) as e:
        print(f"generate: error: {e}", file=sys.stderr)
        return 2
    chat = args.chat if args.chat is not None else bool(getattr(pair.tokenizer, "chat_template", None))
    methods = ("none", method) if method != "none" else ("none",)
    rows = checkpoints.compare(pair, args.prompt, methods=methods, k=args.k, max_new_tokens=args.max_new_tokens,
                               chat=chat)
    print(rows[-1]["text"])
    print()
    for r in rows:
        tau = f", mean accepted length {r['mean_accepted_length']:.2f}" if r["mean_accepted_length"] else ""
        print(f"{r['method']:>5s}: {r['tokens']} tokens, {r['tokens_per_second']:.1f} tokens/s{tau}, "
              f"same tokens as plain: {'yes' if r['same_tokens'] else 'NO'}")
    if len(rows) > 1:  # one run each, measured here: a rough figure (`python -m pard_ref bench` for a table)
        print(f"speedup of {rows[-1]['method']} over plain decoding: "
              f"{rows[-1]['tokens_per_second'] / rows[0]['tokens_per_second']:.2f}x (one run each, this machine)")
    same = all(r["same_tokens"] for r in rows)
    dtype = next(pair.target.parameters()).dtype
    if not same and dtype in (torch.bfloat16, torch.float16):
        print(f"note: in {str(dtype).removeprefix('torch.')} the target's (K+1)-token verification forward can round a "
              "near-tie between its top two logits differently from a one-token forward, so the outputs may differ; "
              "rerun with --dtype float32 to check exactness (docs/benchmarks.md lists such flips with their logit "
              "gaps)", file=sys.stderr)
    return 0 if same else 1


def _cmd_bench(args) -> int:
    from .bench import decoding

    if args.threads is not None:
        if args.threads < 1:
            print(f"bench: error: --threads must be >= 1, got {args.threads}", file=sys.stderr)
            return 2
        import torch

        torch.set_num_threads(args.threads)
    try:
        decoding.main(scale=args.scale, family=args.family, dtypes=args.dtype, targets=args.targets,
                      methods=args.methods, domains=args.domains, prompts_per_domain=args.prompts,
                      max_new_tokens=args.max_new_tokens, k=args.k, repeats=args.repeats, json_path=args.json,
                      out_dir=args.out, sweep=not args.no_k_sweep, progress=not args.no_progress)
    except (ValueError, FileNotFoundError, ImportError) as e:  # bad input or a missing model: what to do, no traceback
        print(f"bench: error: {e}", file=sys.stderr)
        return 2
    return 0


def _cmd_train_pard(args) -> int:
    import torch

    from .training.adapt_folder import AdaptConfig, adapt_folder

    try:  # every input is checked before training; bad input: what was wrong and what to do, no traceback
        cfg = AdaptConfig(k=args.k, drop_ratio=args.drop_ratio, min_drop_ratio=args.min_drop_ratio, steps=args.steps,
                          batch_size=args.batch_size, seq_len=args.seq_len, lr=args.lr, seed=args.seed)
        adapt_folder(args.draft, args.data, args.out, config=cfg, mask_id=args.mask_id,
                     dtype=getattr(torch, args.dtype), progress=not args.no_progress)
    except ValueError as e:
        print(f"train-pard: error: {e}", file=sys.stderr)
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

    g = sub.add_parser("generate", help="decode a prompt with a zoo model (e.g. smol-target) or your own checkpoints, "
                                        "plain or drafted")
    g.add_argument("--model", "--target", dest="target", required=True, metavar="NAME|DIR",
                   help="the target: a zoo model name (smol-target, the real SmolLM2-135M-Instruct; target-l; "
                        "see `python -m pard_ref zoo list`) or a checkpoint folder (from save_pretrained)")
    g.add_argument("--draft", default=None, metavar="NAME|DIR",
                   help="the draft: a zoo model name or a checkpoint folder; omit for plain decoding")
    g.add_argument("--prompt", required=True)
    g.add_argument("--method", default=None, choices=["none", "ar", "pard"],
                   help="default: none without a draft; with one, pard if its config has pard_token, else ar")
    g.add_argument("--k", type=int, default=8, help="draft length K")
    g.add_argument("--max-new-tokens", type=int, default=128)
    g.add_argument("--chat", action=argparse.BooleanOptionalAction, default=None,
                   help="wrap the prompt in the tokenizer's chat template (default: when the tokenizer has one, "
                        "as smol-target's does; decoding then stops at its end-of-turn token)")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="auto: float32 on a CPU, bfloat16 on a GPU")
    g.add_argument("--scale", default=None, choices=["ci", "full"],
                   help="zoo scale for trained zoo models (default: $PARD_REF_SCALE or full; smol-target has one)")
    g.set_defaults(func=_cmd_generate)

    tp = sub.add_parser("train-pard", help="adapt your own AR draft folder into a PARD draft folder (COD training)")
    tp.add_argument("--draft", required=True, help="AR draft folder (save_pretrained: config, weights, tokenizer)")
    tp.add_argument("--data", required=True, help="JSONL training data: {\"text\": ...} and/or {\"messages\": [...]}")
    tp.add_argument("--out", required=True, help="new folder for the PARD draft (must not exist)")
    tp.add_argument("--k", type=int, default=8, help="training depth K (default 8)")
    tp.add_argument("--drop-ratio", type=float, default=0.7, help="COD's r (default 0.7; 1.0 keeps every token)")
    tp.add_argument("--min-drop-ratio", type=float, default=0.2, help="COD's r_min (default 0.2)")
    tp.add_argument("--steps", type=int, default=500)
    tp.add_argument("--batch-size", type=int, default=16)
    tp.add_argument("--seq-len", type=int, default=128)
    tp.add_argument("--lr", type=float, default=1e-3)
    tp.add_argument("--seed", type=int, default=0)
    tp.add_argument("--mask-id", type=int, default=None,
                    help="reserved mask id (pard_token); default the draft's pard_token, else the first special "
                         "token the data never uses")
    tp.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float64"],
                    help="training and saved precision (default float32)")
    tp.add_argument("--no-progress", action="store_true", help="no progress bars")
    tp.set_defaults(func=_cmd_train_pard)

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
    from .bench.decoding import FAMILIES, METHODS

    targets = [t for f in FAMILIES.values() for t in f.targets]
    domains = list(dict.fromkeys(d for f in FAMILIES.values() for d in f.domains))
    b = sub.add_parser("bench", help="PARD vs transformers greedy / assisted / prompt lookup and pard_ref's AR draft: "
                                     "tokens/s, speedup, accepted length, calls, bound, identical tokens")
    b.add_argument("--family", default="zoo", choices=list(FAMILIES),
                   help="zoo (default): the zoo's targets and drafts on the corpus prompts; smol: smol-target "
                        "(SmolLM2-135M-Instruct) on the chat prompts' test split, float32 and bfloat16, with its "
                        "drafts when the registry has them")
    b.add_argument("--dtype", nargs="+", default=None, choices=["float32", "bfloat16"], metavar="DTYPE",
                   help="run once per dtype (default: the family's: zoo float32, smol float32 bfloat16)")
    b.add_argument("--scale", default=None, choices=["ci", "full"],
                   help="zoo scale and work sizes (default: $PARD_REF_SCALE or full)")
    b.add_argument("--targets", nargs="+", default=None, choices=targets, metavar="TARGET",
                   help=f"targets to run (default: the family's; choose from {', '.join(targets)})")
    b.add_argument("--methods", nargs="+", default=None, choices=METHODS, metavar="METHOD",
                   help=f"methods to run (default: every one whose models exist; hf-greedy, the baseline, always "
                        f"runs; choose from {', '.join(METHODS)})")
    b.add_argument("--domains", nargs="+", default=None, choices=domains, metavar="DOMAIN",
                   help="prompt domains (default: the family's: zoo code math prose, smol code math chat)")
    b.add_argument("--prompts", type=int, default=None, help="held-out prompts per domain (default: the scale's)")
    b.add_argument("--max-new-tokens", type=int, default=None, help="tokens generated per prompt (default: the scale's)")
    b.add_argument("--k", type=int, default=None, help="K, proposals per iteration (default 8, draft-pard's training K)")
    b.add_argument("--repeats", type=int, default=None, help="timed repeats of every run (default: the scale's)")
    b.add_argument("--json", default=None, metavar="PATH", help="also write the full result as JSON to PATH")
    b.add_argument("--out", default=None, metavar="DIR", help="write bench.md, bench.json and PNG plots into DIR")
    b.add_argument("--no-k-sweep", action="store_true",
                   help="skip the K sweep (1..16, ar and pard, largest target; runs only when they do)")
    b.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
