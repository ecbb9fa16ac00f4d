"""The sequencer on its own: what it makes of live messages and history reads, with no hub and no I/O."""

from __future__ import annotations

from wsapi.channels.frames import Position
from wsapi.channels.sequencer import Sequencer, Step


def live(at: Position) -> Sequencer:
    sequencer = Sequencer()
    sequencer.reading()
    sequencer.opened(at)
    assert sequencer.settle(at) == []
    return sequencer


def test_messages_are_held_until_the_position_is_first_read() -> None:
    sequencer = Sequencer()
    assert sequencer.receive("e", 4, "m4") is Step.HELD
    sequencer.reading()
    assert sequencer.receive("e", 5, "m5") is Step.HELD
    sequencer.opened(Position("e", 4))
    held = sequencer.settle(Position("e", 4))
    assert held == [("e", 4, "m4"), ("e", 5, "m5")]
    assert [sequencer.receive(*message) for message in held] == [Step.DUPLICATE, Step.DELIVER]
    assert sequencer.position == Position("e", 5)


def test_in_order_messages_are_delivered_and_advance_the_position() -> None:
    sequencer = live(Position("e", 0))
    assert [sequencer.receive("e", offset, "m") for offset in (1, 2, 3)] == [Step.DELIVER] * 3
    assert sequencer.position == Position("e", 3)


def test_a_message_at_or_before_the_position_is_a_duplicate() -> None:
    sequencer = live(Position("e", 5))
    assert sequencer.receive("e", 5, "m") is Step.DUPLICATE
    assert sequencer.receive("e", 2, "m") is Step.DUPLICATE  # the offset went back
    assert sequencer.position == Position("e", 5)
    assert sequencer.receive("e", 6, "m") is Step.DELIVER


def test_a_gap_is_filled_from_history_then_the_held_messages_follow() -> None:
    sequencer = live(Position("e", 2))
    assert sequencer.receive("e", 5, "m5") is Step.READ
    assert sequencer.receive("e", 6, "m6") is Step.HELD
    assert sequencer.reading() == Position("e", 2)
    assert sequencer.receive("e", 7, "m7") is Step.HELD  # arrived while the read was on its way
    fill = sequencer.fill(Position("e", 6), [(3, "m3"), (4, "m4"), (5, "m5"), (6, "m6")])
    assert (fill.frames, fill.reset, fill.again) == ([(3, "m3"), (4, "m4"), (5, "m5"), (6, "m6")], None, False)
    held = sequencer.settle(Position("e", 6))
    assert [sequencer.receive(*message) for message in held] == [Step.DUPLICATE, Step.DUPLICATE, Step.DELIVER]
    assert sequencer.position == Position("e", 7)
    assert not sequencer.settling


def test_history_frames_already_delivered_are_not_sent_again() -> None:
    sequencer = live(Position("e", 4))
    assert sequencer.lost()
    sequencer.reading()
    fill = sequencer.fill(Position("e", 6), [(4, "m4"), (5, "m5"), (6, "m6")])
    assert fill.frames == [(5, "m5"), (6, "m6")]


def test_a_trimmed_history_continues_from_its_end_unrecovered() -> None:
    sequencer = live(Position("e", 2))
    assert sequencer.receive("e", 400, "m400") is Step.READ
    sequencer.reading()
    fill = sequencer.fill(Position("e", 400), None)
    assert (fill.frames, fill.reset, fill.again) == ([], Position("e", 400), False)
    assert [sequencer.receive(*message) for message in sequencer.settle(Position("e", 400))] == [Step.DUPLICATE]
    assert sequencer.receive("e", 401, "m401") is Step.DELIVER


def test_an_epoch_change_is_checked_then_replayed_from_the_new_epochs_start() -> None:
    sequencer = live(Position("old", 9))
    assert sequencer.receive("new", 2, "n2") is Step.READ
    assert sequencer.reading() == Position("old", 9)
    fill = sequencer.fill(Position("new", 2), None)
    assert (fill.frames, fill.reset, fill.again) == ([], Position("new", 0), True)
    assert sequencer.reading() == Position("new", 0)
    fill = sequencer.fill(Position("new", 2), [(1, "n1"), (2, "n2")])
    assert (fill.frames, fill.reset, fill.again) == ([(1, "n1"), (2, "n2")], None, False)
    assert [sequencer.receive(*message) for message in sequencer.settle(Position("new", 2))] == [Step.DUPLICATE]
    assert sequencer.position == Position("new", 2)


def test_a_live_connection_lost_during_a_read_reads_again() -> None:
    sequencer = live(Position("e", 1))
    assert sequencer.lost()
    sequencer.reading()
    assert not sequencer.lost()  # a read is on its way: it may have begun before the loss
    assert sequencer.fill(Position("e", 3), [(2, "m2"), (3, "m3")]).again
    sequencer.reading()
    assert not sequencer.fill(Position("e", 3), []).again


def test_a_jump_the_history_does_not_contain_is_dropped() -> None:
    sequencer = live(Position("e", 3))
    assert sequencer.receive("e", 1000, "forged") is Step.READ
    sequencer.reading()
    assert sequencer.receive("e", 4, "m4") is Step.HELD  # after the read began: not judged by it
    fill = sequencer.fill(Position("e", 3), [])
    assert fill.frames == []
    assert sequencer.settle(Position("e", 3)) == [("e", 4, "m4")]


def test_another_epoch_the_history_does_not_have_is_dropped() -> None:
    sequencer = live(Position("e", 3))
    assert sequencer.receive("forged", 1, "f1") is Step.READ
    sequencer.reading()
    fill = sequencer.fill(Position("e", 3), [])
    assert (fill.frames, fill.reset, fill.again) == ([], None, False)
    assert sequencer.settle(Position("e", 3)) == []
    assert sequencer.position == Position("e", 3)
    assert sequencer.receive("e", 4, "m4") is Step.DELIVER
