"""The storm's proof added up (pure): what makes a storm pass or fail."""

from transport.core.ledger import Ledger
from transport.loadtest.aggregate import UserLedger, aggregate


def user(received=10, lost=0, duplicated=0, episodes=1, recovered=1, recover_ms=(100.0,), error=""):
    return UserLedger(received=received, lost=lost, duplicated=duplicated, episodes=episodes, recovered=recovered,
                      recover_ms=list(recover_ms), opens=episodes + 1, error=error)


def test_every_user_received_and_recovered_passes():
    total = aggregate([user(recover_ms=(100.0,)), user(recover_ms=(300.0,))], expected_users=2)
    assert total["ok"] and total["users_by_episodes"] == {"1": 2} and total["episodes_recovered"] == 2
    assert total["recover_ms_p50"] == 100.0 and total["recover_ms_max"] == 300.0  # nearest rank: ⌈0.5·2⌉ = 1st
    assert total["verdict"] == "2 users: 20 messages, 0 lost, 0 duplicated, 2 episodes recovered"


def test_loss_duplicates_silence_missing_users_and_open_episodes_each_fail_with_their_sentence():
    total = aggregate([user(lost=3), user(duplicated=1), user(received=0, episodes=0, recovered=0, recover_ms=()),
                       user(episodes=2, recovered=1)], expected_users=5)
    assert not total["ok"]
    for part in ("1 of 5 users never reported", "1 users received no message", "3 messages lost",
                 "1 messages duplicated", "1 drop episodes never recovered"):
        assert part in total["verdict"]


def test_a_users_ledger_travels_as_a_dict():
    led = Ledger()
    for seq in (1, 2, 4):
        led.record(seq)
    u = UserLedger.of(led, opens=1)
    assert UserLedger.from_dict({**u.to_dict(), "from_a_newer_duplex": 1}) == u
    assert (u.received, u.lost) == (3, 1)
    assert aggregate([])["verdict"] == "no user reported" and not aggregate([])["ok"]
