r"""Runs a study (configs/studies/*.py: a base config, variants, seeds) as one training
workdir per variant and seed, resumable; or writes its report.

    python tools/study.py --study configs/studies/tiny.py --workdir runs/study-tiny
    python tools/study.py --workdir runs/study-tiny --report [--evaluate] [--results DIR]

Each run is WORKDIR/<variant>/seed-<n>/, trained by tools/train.py in its own process,
--jobs N of them at a time (each with cores / N TensorFlow threads).
Stop the study at any moment and re-run the same command: finished runs are skipped,
interrupted ones resume. Seeds and variants can be added to the study file later.
--report writes WORKDIR/REPORT.md and curves.png from the run folders (with --study, that
file's paper numbers are used); --evaluate adds centre and 10-crop errors of every model
and conv1 kernel images; --results DIR copies the report, its figures and each run's small
JSON files (no checkpoints, models or data) to DIR, to commit.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from alexnet_tf import cli  # noqa: E402


def main(argv=None):
    p = cli.Parser(__doc__)
    p.add_argument("--study", help="a configs/studies/*.py file (needed to run)")
    p.add_argument("--workdir", required=True, help="the study folder")
    p.add_argument("--report", action="store_true",
                   help="write WORKDIR/REPORT.md and figures instead of training")
    p.add_argument("--evaluate", action="store_true",
                   help="with --report: centre and 10-crop errors of every finished run")
    p.add_argument("--results", metavar="DIR",
                   help="with --report: also copy the report, its figures and each run's "
                        "small JSON files (history, config, evaluation) to DIR (e.g. "
                        "results/NAME, to commit)")
    p.add_argument("--jobs", type=cli.integer(min=1), default=1,
                   help="runs trained at a time, each with cores / JOBS TensorFlow threads "
                        "(default 1; 2 is faster for small nets such as the CIFAR-10 ones)")
    p.add_argument("--variants", type=cli.names,
                   help="run only these variants: names or fnmatch patterns, comma-separated "
                        "(e.g. 'relu_*,tanh_*'); the others wait for a later run")
    args = p.parse_args(argv)
    for flag in ("evaluate", "results"):
        if getattr(args, flag) and not args.report:
            sys.exit(f"error: --{flag} goes with --report")
    for flag, given in (("jobs", args.jobs != 1), ("variants", args.variants)):
        if args.report and given:
            sys.exit(f"error: --{flag} goes with running a study, not with --report")
    if not args.report and not args.study:
        sys.exit("error: --study is needed to run a study (or --report to report on one)")

    from alexnet_tf.report import copy_results, write_report
    from alexnet_tf.study import run_study
    try:
        if args.report:
            write_report(args.workdir, args.study, args.evaluate)
            print(f"report: {os.path.join(args.workdir, 'REPORT.md')}")
            if args.results:
                copy_results(args.workdir, args.results)
            return
        failed = run_study(args.study, args.workdir, jobs=args.jobs, variants=args.variants)
    except (ValueError, OSError) as e:  # StudyError is a ValueError
        sys.exit(f"error: {e}")
    except KeyboardInterrupt:
        sys.exit("interrupted: re-run the same command to continue the study")
    if failed:
        sys.exit(f"error: {len(failed)} run(s) failed: {', '.join(failed)} (see their "
                 f"train.log; re-run the command to retry them)")
    print(f"report: python tools/study.py --workdir {args.workdir} --report")


if __name__ == "__main__":
    main()
