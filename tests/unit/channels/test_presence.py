from channels.presence import Meta, PresenceDiff, PresenceRoom


def meta(conn: str, role: str = "participant", hand: bool = False) -> Meta:
    return Meta(conn_id=conn, role=role, hand_raised=hand, joined_at="2025-01-01T00:00:00Z")  # type: ignore[arg-type]


def test_changes_are_batched_until_the_window_ends() -> None:
    room = PresenceRoom(window=0.25)
    room.join("u1", meta("c1"), now=1.0)
    assert room.next_deadline() == 1.25
    assert room.due(1.2) is None
    batch = room.due(1.25)
    assert batch is not None
    assert batch.diff == PresenceDiff({"u1": [meta("c1")]}, {})
    assert (batch.count, batch.count_changed) == (1, True)
    assert room.next_deadline() is None


def test_second_tab_is_a_meta_join_not_a_new_user() -> None:
    room = PresenceRoom()
    room.join("u1", meta("c1"), 0.0)
    room.due(1.0)
    room.join("u1", meta("c2"), 2.0)
    batch = room.due(3.0)
    assert batch is not None
    assert batch.diff == PresenceDiff({"u1": [meta("c2")]}, {})
    assert (room.count, batch.count_changed) == (1, False)
    assert room.state() == {"u1": [meta("c1"), meta("c2")]}


def test_meta_update_is_leave_old_plus_join_new() -> None:
    room = PresenceRoom()
    room.join("u1", meta("c1"), 0.0)
    room.due(1.0)
    room.set_hand("u1", True, 2.0)
    batch = room.due(3.0)
    assert batch is not None
    assert batch.diff == PresenceDiff({"u1": [meta("c1", hand=True)]}, {"u1": [meta("c1")]})


def test_join_and_leave_within_one_window_cancel_out() -> None:
    room = PresenceRoom()
    room.join("u1", meta("c1"), 0.0)
    room.leave("u1", "c1", 0.1)
    assert room.due(1.0) is None


def test_several_updates_in_one_window_collapse() -> None:
    room = PresenceRoom()
    room.join("u1", meta("c1"), 0.0)
    room.due(1.0)
    room.set_hand("u1", True, 2.0)
    room.set_hand("u1", False, 2.1)
    assert room.due(3.0) is None


def test_last_tab_leaving_removes_the_user() -> None:
    room = PresenceRoom()
    room.join("u1", meta("c1"), 0.0)
    room.join("u1", meta("c2"), 0.0)
    room.due(1.0)
    room.leave("u1", "c1", 2.0)
    room.leave("u1", "c2", 2.0)
    batch = room.due(3.0)
    assert batch is not None
    assert batch.diff == PresenceDiff({}, {"u1": [meta("c1"), meta("c2")]})
    assert (room.count, batch.count_changed) == (0, True)


def _room_of(n: int, threshold: int) -> PresenceRoom:
    room = PresenceRoom(large_room_threshold=threshold)
    for i in range(n):
        room.join(f"u{i}", meta(f"c{i}"), 0.0)
    room.due(1.0)
    return room


def test_large_room_participants_see_only_their_own_entry() -> None:
    room = _room_of(3, threshold=2)
    assert room.is_large()
    assert room.state_for("u0", full_view=False) == {"u0": [meta("c0")]}
    assert room.state_for("u0", full_view=True) == room.state()
    room.join("u9", meta("c9"), 2.0)
    room.set_hand("u0", True, 2.0)
    batch = room.due(3.0)
    assert batch is not None
    assert batch.for_viewer("u0", full_view=False) == PresenceDiff(
        {"u0": [meta("c0", hand=True)]}, {"u0": [meta("c0")]}
    )
    assert batch.for_viewer("u1", full_view=False) is None
    assert batch.for_viewer("host", full_view=True) == batch.diff
    assert batch.count_changed


def test_crossing_into_large_mode_tells_participants_everyone_else_left() -> None:
    room = _room_of(2, threshold=2)
    room.join("u2", meta("c2"), 2.0)
    batch = room.due(3.0)
    assert batch is not None
    assert batch.for_viewer("u0", full_view=False) == PresenceDiff({}, {"u1": [meta("c1")]})


def test_leaving_large_mode_tells_participants_everyone_who_is_here() -> None:
    room = _room_of(3, threshold=2)
    room.leave("u2", "c2", 2.0)
    batch = room.due(3.0)
    assert batch is not None
    assert batch.for_viewer("u0", full_view=False) == PresenceDiff({"u1": [meta("c1")]}, {})


def test_a_viewer_whose_snapshot_was_taken_mid_window_gets_the_leave_of_a_tab_it_saw() -> None:
    room = PresenceRoom(window=0.25)
    room.join("host", meta("h", role="host"), 0.0)
    room.join("u1", meta("c1"), 0.05)
    room.join("u1", meta("c2"), 0.1)
    assert room.snapshot("tab2", "u1", full_view=False) == {"host": [meta("h", role="host")],
                                                             "u1": [meta("c1"), meta("c2")]}
    room.leave("u1", "c1", 0.15)
    batch = room.due(0.25)
    assert batch is not None
    # From the window's start c1's join and leave cancel out; tab 2 saw c1, so it is a leave for tab 2.
    assert batch.for_viewer("host", full_view=True) == PresenceDiff(
        {"host": [meta("h", role="host")], "u1": [meta("c2")]}, {})
    assert batch.for_viewer("u1", full_view=False, viewer="tab2") == PresenceDiff({}, {"u1": [meta("c1")]})


def test_a_snapshot_taken_mid_window_of_a_window_with_no_net_change_still_gets_its_diff() -> None:
    room = PresenceRoom(window=0.25)
    room.join("u1", meta("c1"), 0.0)
    room.due(1.0)
    room.join("u1", meta("c2"), 2.0)
    assert room.snapshot("late", "u2", full_view=False) == {"u1": [meta("c1"), meta("c2")]}
    room.leave("u1", "c2", 2.1)
    batch = room.due(2.25)
    assert batch is not None and batch.diff.is_empty()
    assert batch.for_viewer("u2", full_view=False, viewer="late") == PresenceDiff({}, {"u1": [meta("c2")]})
    assert batch.for_viewer("u3", full_view=False) is None


def test_a_snapshot_outside_a_window_is_not_remembered() -> None:
    room = PresenceRoom(window=0.25)
    room.join("u1", meta("c1"), 0.0)
    room.due(1.0)
    assert room.snapshot("v", "u2", full_view=False) == {"u1": [meta("c1")]}
    room.join("u1", meta("c2"), 2.0)
    batch = room.due(2.25)
    assert batch is not None and batch.late == {}
    assert batch.for_viewer("u2", full_view=False, viewer="v") == PresenceDiff({"u1": [meta("c2")]}, {})
