"""`infomin probe`: linear probe of a trained (or randomly initialised) run; appends to the results CSV.

`--task segmentation` trains a 4-layer decoder on the frozen feature map instead (paper B.2's dense
probe): glyph masks on the embedded data, or NYU-Depth-v2 from its official files."""

from __future__ import annotations

from pathlib import Path

import typer

from infomin_cli.runtime.precision import PRECISION


def register(app: typer.Typer) -> None:
    @app.command()
    def probe(
        run: Path = typer.Argument(..., help="Run folder written by `infomin pretrain --out`."),
        label: list[str] = typer.Option(["class"], help="Label(s) to probe, e.g. class, background, position, font; Moving MNIST: digit, position (px), background (default: all three)."),
        layer: str = typer.Option(None, help="Encoder layer to read (default: the paper protocol's, e.g. conv5)."),
        random_init: bool = typer.Option(False, help="Probe the same architecture untrained (the baseline)."),
        results: Path = typer.Option(Path("results.csv"), help="Results CSV to append to."),
        epochs: int = typer.Option(None, help="Epochs of the linear classifier (default 100, as the paper) or of the segmentation decoder (default 5)."),
        device: str = typer.Option("auto"),
        precision: str = typer.Option(None, help=PRECISION.help + " Default: the run's own (auto unless trained with another)."),
        dataset: str = typer.Option(None, help="Probe on another dataset than the run's (transfer), e.g. stl10."),
        data_root: Path = typer.Option(None, help="Folder of --dataset's files."),
        task: str = typer.Option("classification", help="classification (linear probe per --label) or segmentation (decoder on the feature map: mIoU, pixel accuracy)."),
        classes: int = typer.Option(40, help="Segmentation class set of nyu-depth-v2: 40 or 13."),
        seg_size: int = typer.Option(None, help="Segmentation input side in px (default: the run's size; 96 for nyu-depth-v2)."),
        stream: bool = typer.Option(None, "--stream/--no-stream", help="Image folders: read from disk (default: as the run did, or when the folder would not fit in memory). Streamed data gets the paper's C.2 linear protocol."),
        batch_size: int = typer.Option(256, help="Streamed linear protocol: batch size (CMC: 256)."),
        lr: float = typer.Option(30.0, help="Streamed linear protocol: SGD learning rate (paper C.2: 30)."),
    ) -> None:
        """Linear probe on frozen features: top-1 on the test split, one CSV row per label.
        With --task segmentation: mean IoU and pixel accuracy of a decoder on the frozen feature map."""
        from infomin_cli.data.nyu import CLASS_SETS
        from infomin_cli.errors import InfominError
        from infomin_cli.results.table import check_appendable
        from infomin_cli.runtime.precision import check_precision

        if precision is not None:
            precision = check_precision(precision)
        check_appendable(results, "--results")
        if classes not in CLASS_SETS:  # checked for every dataset, so a typo never passes silently
            raise InfominError(f"--classes {classes} is not valid; choose {' or '.join(map(str, CLASS_SETS))}")
        if task == "segmentation":
            return _segmentation(run, layer, random_init, results, epochs, device, dataset, data_root, classes, seg_size,
                                 precision)
        if task != "classification":
            raise InfominError(f"--task {task!r} is not valid; choose classification or segmentation")
        from infomin_cli.evaluate.probe import probe_run
        from infomin_cli.runs import load_run

        loaded = load_run(run, device, random_init=random_init, dataset=dataset, data_root=data_root, stream=stream,
                          precision=precision)
        if hasattr(loaded.dataset.test, "targets"):  # Moving MNIST: factor probes of both encoders
            return _factors(loaded, label, layer, random_init, results, epochs)
        if hasattr(loaded.dataset.train, "epoch_batches"):  # streamed from disk: the paper's protocol
            return _linear_protocol(loaded, label, layer, results, epochs, dataset, batch_size, lr)
        epochs = 100 if epochs is None else epochs

        for name in label:
            row = probe_run(run, name, layer, random_init, results, epochs, device, dataset=dataset, data_root=data_root,
                            run=loaded)
            i_nce = row["i_nce"]
            typer.echo(f"{row['run_id']}  {name:<10} top1 {row['metric_value']:6.2f} %   layer {row['probe_layer']}"
                       + (f"   I_NCE {i_nce:.3f}" if i_nce is not None else "") + f"   -> {results}")


def _factors(loaded, labels, layer, random_init, results, epochs) -> None:
    """Moving MNIST (paper B.4): digit and background top-1, position error in px, from the
    sequence encoder (frames 1-10 -> frame t) and the image encoder (frame t), unless --layer says which."""
    from infomin_cli.evaluate.factors import FACTOR_LABELS, FACTOR_LAYERS, factor_probe_run

    labels = list(FACTOR_LABELS) if labels == ["class"] else labels  # the default label: every factor
    rows = factor_probe_run(loaded.folder, labels, [layer] if layer else list(FACTOR_LAYERS), results,
                            100 if epochs is None else epochs, random_init=random_init, run=loaded)
    for row in rows:
        unit = "px" if row["metric_name"] == "px_error" else "% top1"
        i_nce = row["i_nce"]
        typer.echo(f"{row['run_id']}  {row['probe_label']:<10} {row['probe_layer']:<8} {row['metric_value']:7.2f} {unit}"
                   + (f"   I_NCE {i_nce:.3f}" if i_nce is not None else "") + f"   -> {results}")


def _segmentation(run, layer, random_init, results, epochs, device, dataset, data_root, classes, seg_size,
                  precision) -> None:
    from infomin_cli.evaluate.segmentation import SEG_EPOCHS, segmentation_probe_run

    rows = segmentation_probe_run(run, dataset, data_root, classes, layer, random_init, results,
                                  SEG_EPOCHS if epochs is None else epochs, device, size=seg_size, precision=precision)
    by_metric = {row["metric_name"]: row for row in rows}
    first = rows[0]
    note = "   (already in CSV: not redone)" if first.get("skipped") else f"   -> {results}"
    typer.echo(f"{first['run_id']}  {first['probe_label']:<10} mIoU {float(by_metric['miou']['metric_value']):6.2f} %"
               f"   pixel acc {float(by_metric['pixel_acc']['metric_value']):6.2f} %   layer {first['probe_layer']}{note}")


def _linear_protocol(loaded, labels, layer, results, epochs, dataset, batch_size, lr) -> None:
    from infomin_cli.evaluate.linear_protocol import EPOCHS, linear_protocol_run

    def report(epoch: int, total: int, loss: float) -> None:
        typer.echo(f"linear probe epoch {epoch}/{total}  loss {loss:.3f}", err=True)

    for name in labels:
        row = linear_protocol_run(loaded, name, layer, results, EPOCHS if epochs is None else epochs, batch_size, lr,
                                  dataset=dataset, progress=report)
        typer.echo(f"{row['run_id']}  {name:<10} top1 {row['metric_value']:6.2f} %   layer {row['probe_layer']}"
                   f"   (streamed, C.2 linear protocol)   -> {results}")
