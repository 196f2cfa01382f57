"""One job in a forked child process, beside the parent's own work.

The build's large stages read one model that took seconds to make; a forked child
shares it without pickling it (as the page workers and rule workers do, through
ProcessPoolExecutor). Unlike a pool, a ``Forked`` child can be killed when the parent
fails first: a pool waits for a running job, and that job would go on writing into
a folder the parent is deleting.
"""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    return "fork" in mp.get_all_start_methods()


class SharedCounter:
    """0, 1, 2, ..., each handed out once across this process and the processes it
    forks afterwards (a value in shared memory): the build's two processes take its
    stages and record pages' chunks by it (alureg/publish.py, alureg/pages.py)."""

    def __init__(self) -> None:
        self._value = mp.Value("i", 0)

    def next(self) -> int:
        with self._value.get_lock():
            n: int = self._value.value
            self._value.value = n + 1
        return n


def _child(job: Callable[[], Any], send: Connection) -> None:
    try:
        outcome: tuple[bool, Any, str] = (True, job(), "")
    except BaseException as e:  # every failure goes to the parent
        outcome = (False, e, traceback.format_exc())
    try:
        send.send(outcome)
    except Exception as e:  # an exception that cannot be pickled
        send.send((False, RuntimeError(f"{outcome[1]!r} (and it could not be sent: {e})"), outcome[2]))
    send.close()


class Forked(Generic[T]):
    """``job()`` run in a forked child from now on; ``result()`` waits for its return
    value (or raises what it raised), ``stop()`` kills it."""

    def __init__(self, job: Callable[[], T], name: str) -> None:
        self.name = name
        context = mp.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_child, args=(job, send), name=name, daemon=True)
        self._process.start()
        send.close()  # the child's end: EOF here when the child dies

    def ready(self) -> bool:
        """Whether ``result`` would return (or raise) without waiting for the job."""
        return self._receive.poll()

    def result(self) -> T:
        try:
            ok, value, text = self._receive.recv()  # before join: a large result fills the pipe
        except EOFError:
            self._process.join()
            raise RuntimeError(f"the {self.name} process ended without a result "
                               f"(exit code {self._process.exitcode})") from None
        finally:
            self._receive.close()
        self._process.join()
        if not ok:
            value.add_note(f"in the {self.name} process:\n{text}")
            raise value
        return value  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._receive.close()
