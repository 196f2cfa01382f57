"""A job in a forked child (alureg/forked.py): its value, its exception, its death."""

from __future__ import annotations

import os
import signal
import time

import pytest

from alureg.forked import Forked, can_fork

pytestmark = pytest.mark.skipif(not can_fork(), reason="no fork on this system")


def test_the_value_comes_back_and_the_child_shares_the_parents_data() -> None:
    data = {"certificates": list(range(100_000))}  # not pickled to the child: it has it by fork
    forked = Forked(lambda: (os.getpid(), sum(data["certificates"])), "sum")
    pid, total = forked.result()
    assert pid != os.getpid() and total == sum(range(100_000))


def test_an_exception_in_the_child_is_raised_with_its_traceback() -> None:
    def job() -> None:
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError, match="No space left") as raised:
        Forked(job, "writer").result()
    assert any("in the writer process" in note and "raise OSError" in note for note in raised.value.__notes__)


def test_an_exception_that_cannot_be_pickled_still_fails() -> None:
    class Local(Exception):  # a class defined in a function cannot be pickled
        pass

    def job() -> None:
        raise Local("lost")
    with pytest.raises(RuntimeError, match=r"lost.*could not be sent"):
        Forked(job, "writer").result()


def test_a_child_that_dies_is_an_error_not_a_hang() -> None:
    forked = Forked(lambda: os.kill(os.getpid(), signal.SIGKILL), "doomed")
    with pytest.raises(RuntimeError, match=r"the doomed process ended without a result \(exit code -9\)"):
        forked.result()


def test_stop_kills_a_running_child() -> None:
    forked = Forked(lambda: time.sleep(30), "sleeper")
    forked.stop()  # without the kill, this would wait 30 s and the exit code would be 0
    assert forked._process.exitcode == -signal.SIGKILL
