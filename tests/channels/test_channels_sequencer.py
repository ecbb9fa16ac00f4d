"""The sequencer on its own: what it makes of live messages and history reads, with no hub and no I/O."""

from __future__ import annotations

from wsapi.channels.frames import Position
from wsapi.channels.sequencer import EVENT_OFFSET, Join, Sequencer, Step


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


def test_a_join_at_the_position_goes_live_without_reading() -> None:
    sequencer = live(Position("e", 4))
    assert sequencer.join_live(Position("e", 4)) == Join(True, Position("e", 4))
    assert sequencer.join_live(None) == Join(False, Position("e", 4))  # from now on: nothing to recover
    assert sequencer.join_live(Position("e", 3)) is None
    assert sequencer.join_live(Position("other", 4)) is None


def test_a_join_resumable_from_history_replays_it_then_what_arrived_live_meanwhile() -> None:
    sequencer = live(Position("e", 4))
    start = sequencer.position
    assert sequencer.receive("e", 5, "m5") is Step.DELIVER  # while the join's read was on its way
    held = [(5, "live m5"), (EVENT_OFFSET, "join")]
    join = sequencer.join(Position("e", 2), start, False, [(3, "m3"), (4, "m4")], held)
    assert join == Join(True, Position("e", 2), ((3, "m3"), (4, "m4")), ("live m5", "join"), None)


def test_a_join_drops_the_live_messages_its_history_already_holds() -> None:
    sequencer = live(Position("e", 4))
    start = sequencer.position
    assert sequencer.receive("e", 5, "m5") is Step.DELIVER
    join = sequencer.join(Position("e", 2), start, False, [(3, "m3"), (4, "m4"), (5, "m5")], [(5, "live m5")])
    assert (join.replay, join.held, join.ahead) == (((3, "m3"), (4, "m4"), (5, "m5")), (), None)


def test_a_join_from_a_trimmed_position_starts_unrecovered_from_the_read_start() -> None:
    sequencer = live(Position("e", 400))
    join = sequencer.join(Position("e", 2), Position("e", 400), False, None, [(401, "m401")])
    assert join == Join(False, Position("e", 400), (), ("m401",), None)


def test_a_join_from_an_epoch_live_delivery_is_not_in_starts_unrecovered_from_the_read_start() -> None:
    sequencer = live(Position("old", 9))
    # The client read the channel's new epoch before live delivery reached it: history answers in that epoch, but
    # what the subscriber gets next continues the old one (until the new epoch's first message resets it).
    join = sequencer.join(Position("new", 1), Position("old", 9), False, [(2, "n2")], [])
    assert join == Join(False, Position("old", 9))


def test_a_join_whose_read_crossed_a_reset_starts_unrecovered_from_the_reset() -> None:
    sequencer = live(Position("e", 4))
    # A reset during the read (history lost, a new epoch): the read's frames predate it.
    join = sequencer.join(Position("e", 2), Position("new", 0), True, [(3, "m3"), (4, "m4")], [(1, "n1")])
    assert join == Join(False, Position("new", 0), (), ("n1",), None)


def test_a_join_whose_history_is_ahead_of_live_delivery_is_marked_ahead() -> None:
    sequencer = live(Position("e", 4))
    # The backend stored 5 and 6 before delivering them live: the replay has them, the channel is still at 4.
    join = sequencer.join(Position("e", 3), Position("e", 4), False, [(4, "m4"), (5, "m5"), (6, "m6")], [])
    assert join == Join(True, Position("e", 3), ((4, "m4"), (5, "m5"), (6, "m6")), (), 6)
    assert sequencer.receive("e", 5, "m5") is Step.DELIVER  # live goes on; the hub sends it only past offset 6
