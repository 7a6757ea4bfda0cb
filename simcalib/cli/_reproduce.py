"""``simcalib reproduce``: the paper's comparison tables and figures.

Trains every training-time method, fits every post-hoc method on a held-out
split of the training data, and evaluates all on the test split, for each
seed; writes ``results.csv``, ``results.md`` (Tables 1-2 layout, mean ± std)
and Figs. 1-3. Rerunning the same command resumes: finished (method, seed)
runs are skipped and an unfinished one continues from its last epoch.
"""

from __future__ import annotations

import contextlib
import os
import shlex

from simcalib.cli import CommandError

__all__ = ["add_parser", "run", "MODEL_ALIASES"]

DEFAULT_SWEEP_ALPHAS = "0.05,0.1,0.2,0.3"
DEFAULT_SWEEP_BETAS = "0.5,1,2,4"

#: Short model names of the paper -> :func:`simcalib.nn.build_network` names.
MODEL_ALIASES = {
    "resnet18": "resnet18",
    "resnet34": "resnet34",
    "wrn": "wrn28_10",
    "densenet": "densenet_bc100",
    "small": "small_cnn",
}


def _floats(text, option):
    values = []
    for token in text.split(","):
        if not token.strip():
            continue
        try:
            values.append(float(token))
        except ValueError:
            raise CommandError(f"{option} must be comma-separated numbers; got {text!r}") from None
    return tuple(values)


def _ints(text):
    try:
        values = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise CommandError(f"--seeds must be comma-separated integers; got {text!r}") from None
    if not values:
        raise CommandError("--seeds is empty")
    return values


def option_name(field, renamed=None):
    """The command-line option of an :class:`ExperimentConfig` field (for messages)."""
    renamed = {"ood": "--no-ood", "n_ood": "n_ood", **(renamed or {})}
    return renamed.get(field, "--" + field.replace("_", "-"))


def check_threads(threads):
    """Refuse a ``--threads`` value below 1 or above the CPU count (before any work).

    OpenMP aborts the whole process, without a Python exception, when it
    cannot create the threads asked for.
    """
    if threads is None:
        return
    cpus = os.cpu_count() or 1
    if not 1 <= threads <= cpus:
        raise CommandError(f"--threads must be between 1 and the {cpus} CPUs of this "
                           f"machine; got {threads}")


def add_training_arguments(parser, *, epochs, batch_size, lr, threads=None):
    """Options shared by ``demo`` and ``reproduce``."""
    parser.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
    parser.add_argument("--batch-size", type=int, default=batch_size,
                        help=f"batch size (default {batch_size})")
    parser.add_argument("--lr", type=float, default=lr, help=f"peak learning rate of AdamW + one-cycle (default {lr:g})")
    parser.add_argument("--alpha", type=float, default=0.1,
                        help="smoothing mass of uniform and similarity methods (default 0.1)")
    parser.add_argument("--beta", type=float, default=2.0,
                        help="sharpness of the similarity softmax (default 2)")
    parser.add_argument("--word-vectors", metavar="PATH",
                        help="word2vec / GloVe file for the WE method (e.g. glove.6B.50d.top100k.txt.gz)")
    parser.add_argument("--device", default="auto",
                        help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...")
    parser.add_argument("--threads", type=int, default=threads,
                        help="torch CPU threads (default: "
                             + (f"{threads})" if threads else "torch's choice)"))
    parser.add_argument("--quiet", action="store_true",
                        help="no per-epoch log and no progress bars (bars show only on a "
                             "terminal anyway)")


def add_parser(subparsers):
    """Add the ``reproduce`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "reproduce",
        help="the paper's comparison tables and figures (resumable)",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--dataset", required=True,
                        choices=["tiny-imagenet", "cifar100", "digits", "folder"],
                        help="'folder': your own images, DIR/<class name>/*.jpg|png (split "
                             "from DIR/train/ and DIR/test/ or DIR/val/ when they exist)")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="dataset folder or archive (tiny-imagenet: folder, zip or tar; "
                             "cifar100: the cifar-100-python folder; folder: the image "
                             "folder); not needed for digits")
    parser.add_argument("--image-size", type=int,
                        help="folder only: side of the square images (default 32)")
    parser.add_argument("--model", default="resnet18",
                        help="resnet18, resnet34, wrn (WRN-28-10), densenet (DenseNet-BC-100), "
                             "small, or any simcalib.nn.build_network name (default resnet18)")
    parser.add_argument("--width", type=int, help="base width of ResNets / small (e.g. 16 for a small run)")
    parser.add_argument("--methods", default="all",
                        help="comma-separated: one-hot,ts,uniform,mixup,dir-odir,ets,l1,l2,ae,we "
                             "or 'all' (default: the paper's ten), and the extra columns "
                             "l2+ts,we+ts (TS on the smoothed network) and l2-cv,we-cv (alpha "
                             "and beta by GridSearchCV on the training data), e.g. "
                             "'all,we+ts,we-cv'")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (resumable)")
    add_training_arguments(parser, epochs=30, batch_size=128, lr=2e-3)
    parser.add_argument("--weight-decay", type=float, default=5e-4, help="AdamW weight decay (default 5e-4)")
    parser.add_argument("--augment", choices=["auto", "none", "crop_flip", "crop", "flip"],
                        default="auto",
                        help="training augmentation (default auto: crop + flip for 32-pixel "
                             "images and larger, none for digits); 'none' with --weight-decay 0 "
                             "gives the over-confident one-hot networks of the paper in few epochs")
    parser.add_argument("--mixup-alpha", type=float, default=0.2, help="mixup Beta(a, a) (default 0.2)")
    parser.add_argument("--holdout", type=float, default=0.1,
                        help="fraction of the --holdout-from split held out for post-hoc "
                             "calibration (default 0.1)")
    parser.add_argument("--holdout-from", choices=["train", "test"], default="train",
                        help="where the calibration images come from: 'train' (held out from the "
                             "training images, default) or 'test' (drawn per class from the test "
                             "split, e.g. --holdout 0.5: one distribution for calibration and "
                             "test, which Tiny-ImageNet needs)")
    parser.add_argument("--max-classes", type=int, help="reduced run: only the first classes")
    parser.add_argument("--max-train-per-class", type=int,
                        help="reduced run: only the first training images of each class")
    parser.add_argument("--similarity-samples", type=int,
                        help="images per class for the pixel distances (default: all, exact)")
    parser.add_argument("--ae-latent-dim", type=int, help="autoencoder latent size (default: by input size)")
    parser.add_argument("--ae-epochs", type=int, help="autoencoder training epochs")
    parser.add_argument("--sweep-alphas", metavar="LIST",
                        help="Fig. 2 alphas (uniform and the similarity method); '' for none "
                             f"(default {DEFAULT_SWEEP_ALPHAS})")
    parser.add_argument("--sweep-betas", metavar="LIST",
                        help=f"Fig. 2 betas; '' for none (default {DEFAULT_SWEEP_BETAS})")
    parser.add_argument("--sweep-method", choices=["l1", "l2", "ae", "we"],
                        help="similarity method of the sweeps (default: we with --word-vectors, else l2)")
    parser.add_argument("--no-sweeps", action="store_true", help="skip Fig. 2")
    parser.add_argument("--cv-alphas", metavar="LIST", default="0.05,0.1,0.2",
                        help="alphas searched by the l2-cv / we-cv columns (default 0.05,0.1,0.2)")
    parser.add_argument("--cv-betas", metavar="LIST", default="1,2,4",
                        help="betas searched by the l2-cv / we-cv columns (default 1,2,4)")
    parser.add_argument("--cv-folds", type=int, default=3,
                        help="stratified folds of the training images in that search (default 3)")
    parser.add_argument("--cv-jobs", type=int, default=1,
                        help="processes of that search, one thread each (default 1)")
    parser.add_argument("--no-ood", action="store_true", help="skip Fig. 3")
    parser.add_argument("--ood-dataset", choices=["tiny-imagenet", "cifar100", "digits", "folder"],
                        help="Fig. 3 'other dataset' (default: crops of scikit-learn's sample photos)")
    parser.add_argument("--ood-data-dir", metavar="DIR", help="where the --ood-dataset lives")
    parser.set_defaults(func=run, _parser=parser)
    return parser


#: Options whose value is a path (by their metavar), and the one that is written.
_PATH_METAVARS = ("DIR", "PATH")
_OUTPUT_OPTIONS = ("out",)


def portable_path(value, *, output=False, cwd=None):
    """``value`` as a reader can retype it: relative to the working directory.

    The command written into ``results.md`` is meant to be rerun on another
    machine, from the same place in the repository. An absolute path of this
    machine (``/home/me/shared/data/...``) would not exist there, so it is
    written relative to the directory the command ran in (``../shared/...``
    from the repository root). An output folder outside that directory
    (``/tmp/run``) is written as its name alone: the reader chooses where
    results go, and climbing to another machine's ``/tmp`` helps nobody.
    Relative paths are kept as typed.

    Parameters
    ----------
    value : str
        The path as given on the command line.
    output : bool, default=False
        Whether it is the output folder (``--out``).
    cwd : str, default=None
        The directory the command ran in; the current one when None.

    Returns
    -------
    str

    Examples
    --------
    >>> portable_path("/work/shared/data/glove.txt", cwd="/work/main")
    '../shared/data/glove.txt'
    >>> portable_path("/tmp/ti_run", output=True, cwd="/work/main")
    'ti_run'
    >>> portable_path("runs/digits", output=True, cwd="/work/main")
    'runs/digits'
    """
    text = os.path.expanduser(str(value))
    if not os.path.isabs(text):
        return str(value)
    cwd = os.getcwd() if cwd is None else cwd
    try:
        relative = os.path.relpath(text, cwd)
    except ValueError:  # another drive (Windows): no relative form exists
        return str(value)
    if output and (relative == ".." or relative.startswith(".." + os.sep)):
        return os.path.basename(os.path.normpath(text)) or str(value)
    return relative


def command_line(args, name):
    """The command that reproduces ``args``: every option that is not at its default.

    Paths are written by :func:`portable_path` (no absolute path of this
    machine reaches ``results.md``).
    """
    parts = ["simcalib", name]
    parser = getattr(args, "_parser", None)
    for action in parser._actions if parser is not None else ():
        if not action.option_strings or action.dest in ("help",):
            continue
        value = getattr(args, action.dest, None)
        if value == action.default or value is None:
            continue
        flag = action.option_strings[-1]
        if action.nargs == 0:  # store_true
            parts.append(flag)
        else:
            if action.metavar in _PATH_METAVARS:
                value = portable_path(value, output=action.dest in _OUTPUT_OPTIONS)
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)


@contextlib.contextmanager
def limit_threads(threads):
    """Apply ``--threads`` to torch and to the BLAS / OpenMP pools, then restore.

    On a busy machine, small matrix products and tiny networks run many
    times slower with several threads per process than with one.
    """
    if threads is None:
        yield
        return
    check_threads(threads)
    import torch
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(old)


def quiet_progress(quiet):
    """Context manager: no progress bar anywhere while ``quiet`` (``--quiet``)."""
    from simcalib import progress

    return progress.progress_bars(False) if quiet else contextlib.nullcontext()


def require_torch():
    try:
        import skorch  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise CommandError(
            f"training needs torch and skorch ({exc}); pip install 'simcalib[torch]'"
        ) from None


def build_config(args):
    """Turn parsed ``reproduce`` arguments into a checked :class:`ExperimentConfig`.

    Raises
    ------
    CommandError
        For the first bad option, named as on the command line.
    """
    from simcalib.experiments import ExperimentConfig
    from simcalib.experiments._config import check_config

    check_threads(args.threads)
    for needs_pillow in ("tiny-imagenet", "folder"):
        if needs_pillow in (args.dataset, args.ood_dataset):
            try:
                import PIL  # noqa: F401
            except ImportError:
                raise CommandError(f"--dataset {needs_pillow} needs Pillow: "
                                   "pip install 'simcalib[images]'") from None
    if args.no_sweeps:
        given = [f for f, v in (("--sweep-alphas", args.sweep_alphas),
                                ("--sweep-betas", args.sweep_betas),
                                ("--sweep-method", args.sweep_method)) if v is not None]
        if given:
            raise CommandError(f"--no-sweeps contradicts {', '.join(given)}")
        alphas = betas = ()
    else:
        alphas = _floats(DEFAULT_SWEEP_ALPHAS if args.sweep_alphas is None else args.sweep_alphas,
                         "--sweep-alphas")
        betas = _floats(DEFAULT_SWEEP_BETAS if args.sweep_betas is None else args.sweep_betas,
                        "--sweep-betas")
    if args.no_ood and (args.ood_dataset or args.ood_data_dir):
        raise CommandError("--no-ood contradicts --ood-dataset / --ood-data-dir")
    config = ExperimentConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        image_size=args.image_size,
        model=MODEL_ALIASES.get(args.model.lower(), args.model),
        width=args.width,
        methods=args.methods,
        seeds=_ints(args.seeds),
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        augment=args.augment,
        alpha=args.alpha,
        beta=args.beta,
        mixup_alpha=args.mixup_alpha,
        holdout=args.holdout,
        holdout_from=args.holdout_from,
        max_classes=args.max_classes,
        max_train_per_class=args.max_train_per_class,
        word_vectors=args.word_vectors,
        similarity_samples=args.similarity_samples,
        ae_latent_dim=args.ae_latent_dim,
        ae_epochs=args.ae_epochs,
        device=args.device,
        sweep_alphas=alphas,
        sweep_betas=betas,
        sweep_method=args.sweep_method,
        cv_alphas=_floats(args.cv_alphas, "--cv-alphas"),
        cv_betas=_floats(args.cv_betas, "--cv-betas"),
        cv_folds=args.cv_folds,
        cv_jobs=args.cv_jobs,
        ood=not args.no_ood,
        ood_dataset=args.ood_dataset,
        ood_data_dir=args.ood_data_dir,
        quiet=args.quiet,
    )
    try:
        check_config(config, name_of=option_name)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    from simcalib.experiments import get_methods

    config.methods = tuple(m.key for m in get_methods(config.methods))
    return config


def run(args, *, callbacks=()):
    """Run ``simcalib reproduce``; return the exit code."""
    from simcalib.experiments import run_experiment

    config = build_config(args)
    require_torch()
    command = command_line(args, "reproduce")
    try:
        with limit_threads(args.threads), quiet_progress(args.quiet):
            result = run_experiment(config, args.out, callbacks=callbacks, command=command)
    except KeyboardInterrupt as exc:
        detail = f"{exc}; " if str(exc) else ""
        raise KeyboardInterrupt(
            f"{detail}run the same command again to resume from {args.out}"
        ) from None
    print(result.table)
    print(f"\n{result.n_trained} runs computed, {result.n_skipped} found finished; "
          f"results in {args.out}/results.md")
    return 0
