"""One checkpoint helper: what a loop saves it restores together, and a bad file is one line."""

import pytest
import torch

from infomin_cli.errors import InfominError
from infomin_cli.evaluate.fit import fit
from infomin_cli.runtime.checkpoint import restore_checkpoint, save_checkpoint
from infomin_cli.runtime.schedule import cosine

EPOCHS = 4


def _loop(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    schedule = cosine(optimizer, EPOCHS * 4)
    generator = torch.Generator().manual_seed(seed)
    return {"model": model, "optimizer": optimizer, "schedule": schedule, "generator": generator}


def _train(parts, start: int = 0, stop: int = EPOCHS, path=None) -> None:
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(7))
    y = (x[:, 0] > 0).long()

    def batches():
        return torch.randperm(32, generator=parts["generator"]).split(8)

    def end_epoch(done, _losses):
        if path is not None:
            save_checkpoint(path, parts, done)
        if done == stop:
            raise StopIteration

    try:
        fit(parts["model"], parts["optimizer"], parts["schedule"], EPOCHS, batches,
            lambda idx: torch.nn.functional.cross_entropy(parts["model"](x[idx]), y[idx]), start=start,
            end_epoch=end_epoch)
    except StopIteration:
        pass


def test_resume_restores_model_optimiser_schedule_and_generator_together(tmp_path):
    whole = _loop()
    _train(whole)
    interrupted = _loop()
    _train(interrupted, stop=2, path=tmp_path / "state.pt")
    resumed = _loop(seed=1)  # other weights and draws: everything must come from the file
    start = restore_checkpoint(tmp_path / "state.pt", resumed)["epoch"]
    assert start == 2
    assert resumed["schedule"].last_epoch == 8 and resumed["optimizer"].state_dict()["state"]
    _train(resumed, start=start)
    assert all(torch.equal(a, b) for a, b in zip(whole["model"].state_dict().values(),
                                                 resumed["model"].state_dict().values(), strict=True))
    assert torch.equal(whole["generator"].get_state(), resumed["generator"].get_state())


def test_a_file_without_one_of_the_parts_is_one_line_naming_it(tmp_path):
    parts = _loop()
    save_checkpoint(tmp_path / "state.pt", {k: v for k, v in parts.items() if k != "schedule"}, 1)
    with pytest.raises(InfominError, match=r"state\.pt is damaged \(incomplete: no 'schedule'\)"):
        restore_checkpoint(tmp_path / "state.pt", parts)


def test_weights_of_another_shape_do_not_fit(tmp_path):
    parts = _loop()
    save_checkpoint(tmp_path / "state.pt", {**parts, "model": torch.nn.Linear(5, 2)}, 1)
    with pytest.raises(InfominError, match="its model does not fit"):
        restore_checkpoint(tmp_path / "state.pt", parts)
