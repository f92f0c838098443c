"""The prefetcher of the device-decode path: batches in order, made ahead in another thread,
errors raised where the consumer is, and nothing left running when the consumer stops early."""

import threading

import pytest
import torch

from infomin_cli.data.prefetch import prefetched
from infomin_cli.errors import InfominError

CPU = torch.device("cpu")
WAIT = 10.0  # seconds: generous, the waits below end as soon as the thread gets there


def test_batches_come_in_order_made_by_another_thread_one_ahead_of_the_consumer():
    made, threads = [], set()
    second_made = threading.Event()

    def prepare(read):
        threads.add(threading.get_ident())
        made.append(read)
        if read == 1:
            second_made.set()
        return torch.full((2,), read)

    batches = prefetched(range(5), prepare, CPU)
    first = next(batches)
    assert second_made.wait(WAIT)  # batch 1 is made while the consumer still holds batch 0
    rest = list(batches)
    assert [int(b[0]) for b in [first, *rest]] == [0, 1, 2, 3, 4] and made == [0, 1, 2, 3, 4]
    assert threads and threading.get_ident() not in threads


def test_an_error_in_the_prefetch_thread_is_raised_in_the_consumer_unchanged_at_its_batch():
    import multiprocessing

    from torch.utils.data import DataLoader

    def prepare(read):
        if read == 2:
            raise InfominError("cannot read /data/x.JPEG (truncated); fix or remove it, or drop --strict-data")
        return read

    seen = []
    loader = DataLoader(list(range(5)), batch_size=None, num_workers=1)
    with pytest.raises(InfominError, match=r"^cannot read /data/x\.JPEG \(truncated\); fix or remove it"):
        for batch in prefetched(loader, prepare, CPU):
            seen.append(int(batch))
    assert seen == [0, 1]
    for child in multiprocessing.active_children():
        child.join(WAIT)
    assert not multiprocessing.active_children()  # the reader's worker is gone too


def test_a_consumer_that_stops_early_stops_the_thread_and_closes_the_reader():
    closed = threading.Event()

    def reads():
        try:
            yield from range(1000)
        finally:
            closed.set()

    before = set(threading.enumerate())
    batches = prefetched(reads(), lambda read: torch.tensor([read]), CPU)
    assert int(next(batches)) == 0
    batches.close()  # what a `for` loop left by an exception (a diverged loss) does
    assert closed.is_set()
    assert not [t for t in set(threading.enumerate()) - before if t.name == "infomin-prefetch"]


def test_a_dataloader_read_in_the_thread_shuts_its_workers_down_when_the_consumer_stops():
    import multiprocessing

    from torch.utils.data import DataLoader

    loader = DataLoader(list(range(64)), batch_size=4, num_workers=2)
    batches = prefetched(loader, lambda batch: batch * 2, CPU)
    assert torch.equal(next(batches), torch.tensor([0, 2, 4, 6]))
    assert multiprocessing.active_children()
    batches.close()
    for child in multiprocessing.active_children():
        child.join(WAIT)
    assert not multiprocessing.active_children()
