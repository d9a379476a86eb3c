"""python -m uniformity_core {selftest|select|train|eval} --spec FILE"""

import argparse
import logging
import os
import sys

from . import protocol

JOBS = ("selftest", "select", "train", "eval")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["tiny-model"]:
        # A tool, not a job: builds a small LLaMA for the demo and the tests.
        from .tiny_model import main as tiny_model
        return tiny_model(argv[1:])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # stdout carries the protocol: one flushed line per event.
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(prog="python -m uniformity_core")
    parser.add_argument("kind", choices=JOBS)
    parser.add_argument("--spec", required=True, help="path to the job's JSON spec")
    args = parser.parse_args(argv)

    def job(spec, emitter):
        kind = spec.get("kind", args.kind)
        if kind != args.kind:
            raise protocol.InvalidArgument("kind", f"spec is for {kind!r} but the command is {args.kind!r}")
        # Import inside the job: selftest must not pay for gensim/sklearn/
        # matplotlib, and a SIGTERM during a slow import is still a clean cancel.
        if args.kind == "selftest":
            from .selftest import run
        elif args.kind == "train":
            from .train import run
        elif args.kind == "eval":
            from .eval import run
        else:
            from .select import run
        run(spec, emitter)

    # Under torchrun every rank runs the job; only rank 0 speaks the protocol.
    emitter = None
    if os.environ.get("RANK", "0") != "0":
        emitter = protocol.Emitter(open(os.devnull, "w"))
    return protocol.run(job, args.spec, emitter)


if __name__ == "__main__":
    sys.exit(main())
