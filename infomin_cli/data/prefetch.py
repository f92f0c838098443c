"""One batch made ready ahead of the training step, in a background thread.

The device-decode path of a streamed folder (data/stream.py) decodes and crops in the main
process; done in line, the step would wait for it every time. Here a thread pulls the next read
batch and prepares it while the step of the previous one runs: torch ops release the GIL, and on
CUDA the thread queues its kernels on a side stream of its own, so the decode and the crops overlap
the step's kernels instead of queueing behind them.

Hand-over on CUDA: the consumer's stream waits for an event recorded after the batch was made, and
the batch is `record_stream`-ed on the consumer's stream, so the caching allocator does not give
its memory to the thread's next allocations until the step's kernels that read it have run. Blocks
the step frees stay in the consumer stream's pool, which the thread's allocations never draw from.

An exception in the thread (an unreadable file under --strict-data, a worker that died) is raised
again in the consumer, unchanged, at the batch where it happened; a consumer that stops early
(training diverged, interrupted) stops the thread and, with it, the reader's worker processes.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

AHEAD = 1  # batches made ready while the step runs: one hides the decode; more only holds memory
POLL_SECONDS = 0.1  # how often a blocked thread looks whether the consumer has stopped


class _Done:
    pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(reads: Iterable[Any], prepare: Callable[[Any], torch.Tensor], device: torch.device) -> Iterator[torch.Tensor]:
    """`prepare(read)` for every item of `reads`, in order, made in a background thread one batch
    ahead of the consumer (on a side stream on CUDA)."""
    ready: queue.Queue = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()
    side = torch.cuda.Stream(device) if device.type == "cuda" else None

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = None
        try:
            with torch.cuda.stream(side) if side is not None else contextlib.nullcontext():
                iterator = iter(reads)
                for read in iterator:
                    if stop.is_set():
                        break
                    batch = prepare(read)
                    done = None
                    if side is not None:
                        done = torch.cuda.Event()
                        done.record(side)
                    if not put((batch, done)):
                        break
                else:
                    put(_Done())
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, which raises it
            put(_Failed(error))
        finally:
            del iterator  # a DataLoader's workers shut down here (the error's traceback keeps no hold on it)

    thread = threading.Thread(target=produce, name="infomin-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            batch, done = item
            if done is not None:
                consumer = torch.cuda.current_stream(device)
                consumer.wait_event(done)
                batch.record_stream(consumer)
            yield batch
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                ready.get_nowait()
        thread.join()
