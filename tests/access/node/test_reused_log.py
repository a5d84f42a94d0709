"""The gatekeeper's reading of nginx's log of reused allows: every complete line once, across
restarts and a rotated file, and nothing that is not nginx's line."""

import os

from access.node.reused import ReusedLog, parse_line

JTI = "6f0c6c1e-0000-4000-8000-00000000000a"
STUDY = "1.2.826.0.1.3680043.8.498.1"


def line(n: int) -> str:
    return f"ecii-reused 1800000000.{n:03d} {JTI} {STUDY}\n"


def follower(tmp_path, seen):
    return ReusedLog(tmp_path / "reused.log", tmp_path / "position", lambda *r: seen.append(r))


def test_each_complete_line_is_read_once_and_a_half_written_one_waits(tmp_path):
    seen = []
    reused = follower(tmp_path, seen)
    assert reused.read() == 0  # no file yet
    log = tmp_path / "reused.log"
    log.write_text(line(1) + line(2) + "ecii-reused 1800000000.003 " + JTI)
    assert reused.read() == 2
    assert seen == [(JTI, STUDY, 1800000000.001), (JTI, STUDY, 1800000000.002)]
    with log.open("a") as handle:
        handle.write(f" {STUDY}\n")
    assert reused.read() == 1 and seen[-1] == (JTI, STUDY, 1800000000.003)
    assert reused.read() == 0


def test_a_restarted_gatekeeper_reads_on_from_where_it_stopped(tmp_path):
    seen = []
    log = tmp_path / "reused.log"
    log.write_text(line(1))
    first = follower(tmp_path, seen)
    first.read()
    first.close()
    with log.open("a") as handle:
        handle.write(line(2))  # written while the gatekeeper was down
    follower(tmp_path, seen).read()
    assert [at for _jti, _study, at in seen] == [1800000000.001, 1800000000.002]


def test_a_rotated_log_is_read_to_its_end_before_the_new_one(tmp_path):
    seen = []
    log = tmp_path / "reused.log"
    log.write_text(line(1))
    reused = follower(tmp_path, seen)
    reused.read()
    with log.open("a") as handle:
        handle.write(line(2))
    os.rename(log, tmp_path / "reused.log.1")
    log.write_text(line(3))  # nginx reopened its logs
    assert reused.read() == 2
    assert [at for _jti, _study, at in seen] == [1800000000.001, 1800000000.002, 1800000000.003]


def test_a_log_rotated_while_the_gatekeeper_was_stopped_is_read_on_from_where_it_stopped(tmp_path):
    seen = []
    log = tmp_path / "reused.log"
    log.write_text(line(1))
    first = follower(tmp_path, seen)
    first.read()
    first.close()
    with log.open("a") as handle:
        handle.write(line(2))  # written while the gatekeeper was down, then rotated
    os.rename(log, tmp_path / "reused.log.1")
    log.write_text(line(3))
    assert follower(tmp_path, seen).read() == 2
    assert [at for _jti, _study, at in seen] == [1800000000.001, 1800000000.002, 1800000000.003]
    follower(tmp_path, seen).read()  # and once only, across another restart
    assert len(seen) == 3


def test_a_rotated_log_already_compressed_is_said_lost_and_the_new_one_read(tmp_path, caplog):
    seen = []
    log = tmp_path / "reused.log"
    log.write_text(line(1))
    first = follower(tmp_path, seen)
    first.read()
    first.close()
    with log.open("a") as handle:
        handle.write(line(2))
    os.rename(log, tmp_path / "reused.log.2")  # not logrotate's first name: not looked for
    (tmp_path / "reused.log.1").write_text(line(9))  # another file
    log.write_text(line(3))
    assert follower(tmp_path, seen).read() == 1
    assert [at for _jti, _study, at in seen] == [1800000000.001, 1800000000.003]
    assert "are not reported" in caplog.text


def test_lines_that_are_not_nginxs_are_skipped():
    assert parse_line(line(1).encode()) == (JTI, STUDY, 1800000000.001)
    for other in (b"", b"ecii-reused", b"hello " + line(1).encode(), b"ecii-reused x j s"):
        assert parse_line(other) is None
