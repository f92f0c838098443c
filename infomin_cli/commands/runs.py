"""`infomin runs [FOLDER]`: the runs a folder holds (settings, epochs done of planned, held-out I_NCE,
k-NN, probe results from the results CSVs); `infomin runs A B`: how two runs' configs differ."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _default_results() -> list[Path]:
    return [p for p in [Path("results.csv"), *sorted(Path("results").glob("*.csv"))] if p.is_file()]


def register(app: typer.Typer) -> None:
    @app.command()
    def runs(
        folders: list[Path] = typer.Argument(None, help="A folder of runs (default runs/), one run, or two runs to compare."),
        results: list[Path] = typer.Option(None, help="Results CSV(s) to read probe rows from (default: results.csv and results/*.csv)."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object per run (or the differences), nothing else."),
    ) -> None:
        """List runs with their key settings and results, or compare two runs' configs."""
        from rich.console import Console
        from rich.table import Table

        from infomin_cli.errors import InfominError
        from infomin_cli.results.listing import compare, describe, read_probe_rows, run_folders
        from infomin_cli.run_files import CONFIG, read_config

        folders = folders or [Path("runs")]
        if len(folders) > 2:
            raise InfominError("give one folder to list, or two run folders to compare")
        for folder in folders:
            if not folder.is_dir():
                raise InfominError(f"{folder} is not a folder; pass a run folder or a folder of runs")
        if len(folders) == 2:
            for folder in folders:
                if not (folder / CONFIG).is_file():
                    raise InfominError(f"{folder} is not a run folder (no {CONFIG}); compare two run folders")
            diffs = compare(read_config(folders[0] / CONFIG), read_config(folders[1] / CONFIG))
            if json_out:
                typer.echo(json.dumps([{"field": k, str(folders[0]): a, str(folders[1]): b} for k, a, b in diffs],
                                      default=str))
                return
            table = Table("field", str(folders[0]), str(folders[1]), title="where the two configs differ")
            for key, a, b in diffs:
                table.add_row(key, str(a), str(b))
            Console().print(table if diffs else "the two configs are the same")
            return
        csvs = [p for p in (results or _default_results())]
        for path in csvs:
            if not path.is_file():
                raise InfominError(f"--results {path} is not a file; pass a results CSV")
        frames = read_probe_rows(csvs)
        infos = [describe(folder, frames) for folder in run_folders(folders[0])]
        if json_out:
            typer.echo(json.dumps([info.row() for info in infos], default=str))
            return
        if not infos:
            typer.echo(f"no runs in {folders[0]} (a run is a folder with {CONFIG}: `infomin pretrain --out FOLDER`)")
            return
        table = Table("run", "views", "objective", "epochs", "I_NCE / log K", "k-NN", "probes",
                      title=f"runs in {folders[0]}" + (f" · probes from {', '.join(map(str, csvs))}" if csvs else ""))
        for info in infos:
            row = info.row()
            i_nce = f"{row['i_nce']:.2f} / {row['log_K']:.2f}" if row["i_nce"] is not None and row["log_K"] else "-"
            knn = f"{row['knn_top1']:.1f} %" if row["knn_top1"] is not None else "-"
            probes = "\n".join(f"{name}: {value:.2f}" for name, value in sorted(info.probes.items())) or "-"
            done = f"{row['epochs_done']}/{row['epochs']}" + ("" if row["epochs_done"] >= row["epochs"] else " (unfinished)")
            table.add_row(str(info.folder.relative_to(folders[0]) if info.folder != folders[0] else info.folder),
                          f"{row['views']}\n{row['knobs']}" if row["knobs"] else row["views"],
                          f"{row['objective']} · {row['encoder']}", done, i_nce, knn, probes)
        Console().print(table)
