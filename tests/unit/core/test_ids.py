"""Message ids: ULID layout, unique, and a forked process never repeats its parent's."""

from __future__ import annotations

import os

from gateway.domain.ids import id_timestamp, is_valid_id, new_id


def test_ids_are_unique_valid_and_carry_their_time() -> None:
    ids = [new_id(1_700_000_000.123) for _ in range(3000)]  # several random blocks of 256
    assert len(set(ids)) == len(ids)
    assert all(is_valid_id(i) for i in ids)
    assert {id_timestamp(i) for i in ids} == {1_700_000_000.123}


def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    new_id()  # the parent holds a partly used block of random bits
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then leave without running pytest's teardown
        os.close(read)
        os.write(write, " ".join(new_id(0.0) for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = set(pipe.read().decode().split())
    os.waitpid(pid, 0)
    parent = {new_id(0.0) for _ in range(10)}
    assert len(child) == 10 and not child & parent
