"""`slot_init`: the same constructor as the dataclass's own, only faster to run."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import typing
from dataclasses import InitVar, dataclass, field

import pytest

from gateway import connector, intake
from gateway.domain import MessageType, NewMessage, NewPart, OutboxItem, PartUpdate
from gateway.slots import DECORATED, slot_init
from gateway.smpp import receipt
from gateway.smpp.pdu import PDU_CLASSES, SubmitSm
from gateway.smpp.receipt import Receipt
from gateway.smpp_server import submission
from gateway.store import lifecycle


def _plain_twin(cls: type) -> type:
    """The same fields as `cls` (inherited ones included), with the __init__ dataclasses
    generates."""
    specs = []
    for f in dataclasses.fields(cls):
        twin_field = field(default=f.default, kw_only=f.kw_only)
        if f.default_factory is not dataclasses.MISSING:
            twin_field = field(default_factory=f.default_factory, kw_only=f.kw_only)
        specs.append((f.name, f.type, twin_field))
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, slots=True)


@slot_init
@dataclass(frozen=True, slots=True)
class _Sample:
    a: int
    b: str = "b"
    c: list[int] = field(default_factory=list)
    d: int = field(default=4, kw_only=True)


def test_signature_and_behaviour_match_the_generated_init() -> None:
    reference = dataclasses.make_dataclass(
        "_Sample",
        [
            ("a", "int"),
            ("b", "str", field(default="b")),
            ("c", "list[int]", field(default_factory=list)),
            ("d", "int", field(default=4, kw_only=True)),
        ],
        frozen=True,
        slots=True,
    )
    assert str(inspect.signature(_Sample)) == str(inspect.signature(reference))
    sample = _Sample(1)
    assert (sample.a, sample.b, sample.c, sample.d) == (1, "b", [], 4)
    assert _Sample(1).c is not _Sample(1).c  # a new default per instance
    given: list[int] = [9]
    assert _Sample(1, "x", given, d=5).c is given
    assert _Sample(1, c=given) == _Sample(a=1, b="b", c=[9], d=4)
    with pytest.raises(TypeError):
        _Sample(1, "x", [], 5)  # type: ignore[misc]  # d is keyword-only
    with pytest.raises(TypeError):
        _Sample()  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.a = 2  # type: ignore[misc]


# Every module with a decorated class, so DECORATED lists them all.
_MODULES = (connector, intake, lifecycle, submission, receipt)


def _sample_arguments(cls: type) -> tuple[dict[str, object], dict[str, object]]:
    """Distinct values for every field (so a value stored in the wrong slot shows), and the
    required ones alone (so the defaults are compared too)."""
    every: dict[str, object] = {}
    required: dict[str, object] = {}
    for i, f in enumerate(dataclasses.fields(cls)):
        every[f.name] = ("value", i)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required[f.name] = ("value", i)
    return every, required


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__name__)
def test_every_decorated_class_keeps_its_constructor(cls: type) -> None:
    generated = _plain_twin(cls)
    assert str(inspect.signature(cls)) == str(inspect.signature(generated))
    assert "<slot_init" in cls.__init__.__code__.co_filename  # type: ignore[misc]
    typing.get_type_hints(cls.__init__)  # its annotations resolve in its module, as before
    every, required = _sample_arguments(cls)
    for arguments in (every, required):
        ours, theirs = cls(**arguments), generated(**arguments)
        for f in dataclasses.fields(cls):
            assert getattr(ours, f.name) == getattr(theirs, f.name), f.name
    fields = dataclasses.fields(cls)
    positional = [v for f, v in zip(fields, every.values(), strict=True) if not f.kw_only]
    keywords = {f.name: every[f.name] for f in dataclasses.fields(cls) if f.kw_only}
    assert dataclasses.astuple(cls(*positional, **keywords)) == dataclasses.astuple(
        generated(*positional, **keywords)
    )


def test_the_hot_classes_are_decorated() -> None:
    hot = {NewMessage, NewPart, PartUpdate, OutboxItem, Receipt, *PDU_CLASSES.values()}
    assert hot <= set(DECORATED)


def test_instances_equal_those_the_generated_init_builds() -> None:
    message = NewMessage(
        id="m1",
        account_id="a",
        source="Acme",
        destination="+4915112345678",
        body="hi",
        encoding="gsm7",
        message_type=MessageType.TRANSACTIONAL,
        connector="sim",
        parts=(NewPart(0, "gsm7", 0, b"", b"hi", 1),),
        created_at=1.0,
        price=0.1,
    )
    assert (message.source, message.destination, message.price) == ("Acme", "+4915112345678", 0.1)
    assert message.send_at is None and message.registered_delivery is True
    assert dataclasses.replace(message, body="x").body == "x"
    assert pickle.loads(pickle.dumps(message)) == message
    submit = SubmitSm(sequence_number=7, source_addr="Acme", short_message=b"x")
    assert submit.tlvs == {} and submit.sequence_number == 7
    assert SubmitSm().tlvs is not SubmitSm().tlvs


def test_classes_it_cannot_reproduce_are_refused_at_import() -> None:
    @dataclass(frozen=True, slots=True)
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        b: InitVar[int]

    @dataclass(frozen=True, slots=True)
    class WithoutInit:
        a: int
        b: int = field(default=0, init=False)

    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True, init=False)
    class NoGeneratedInit:
        a: int

    @dataclass(frozen=True, slots=True)
    class OwnInit:
        a: int

        def __init__(self, a: int = 4) -> None:
            object.__setattr__(self, "a", a)

    for cls in (
        WithPostInit,
        WithInitVar,
        WithoutInit,
        NoSlots,
        NotFrozen,
        NoGeneratedInit,
        OwnInit,
    ):
        with pytest.raises(TypeError):
            slot_init(cls)
