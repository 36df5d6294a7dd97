"""How the terminal's last transaction (06 20) is judged against the gateway's own record of
every card transaction it made: it must be a new approval of our amount under a receipt number
the gateway has not accounted for; what cannot be told goes to the cashier."""

from __future__ import annotations

from edge.payments.attempts import CardTxn
from edge.payments.flows import judge_last
from protocols.zvt import commands as zc


def txn(id_: int, key: str, kind: str = "payment", outcome: str = "approved",
        receipt: int | None = None, amount: int = 6604) -> CardTxn:  # fmt: skip
    return CardTxn(id_, "pt", key, kind, amount, None, outcome, receipt)


def last(receipt: int | None, amount: int = 6604, result: int = 0) -> zc.StatusInfo:
    return zc.StatusInfo(result=result, amount_fen=amount, receipt_no=receipt)


A_AND_REVERSAL = [txn(1, "A", receipt=4), txn(2, "A", "reversal", receipt=5)]


def test_the_gateways_own_reversal_is_not_a_new_approval() -> None:
    txns = [*A_AND_REVERSAL, txn(3, "B", outcome="sent")]
    verdict, why = judge_last(txns, "B", 6604, last(5))
    assert verdict == "declined" and "reversal" in why


def test_a_new_approval_of_our_amount_is_ours() -> None:
    txns = [*A_AND_REVERSAL, txn(3, "B", outcome="lost")]
    assert judge_last(txns, "B", 6604, last(6))[0] == "approved"
    # of another amount, or declined: the terminal did something else, or declined ours
    assert judge_last(txns, "B", 6604, last(6, amount=100))[0] == "ask"
    assert judge_last(txns, "B", 6604, last(6, result=0x05))[0] == "declined"


def test_a_reversal_whose_receipt_never_came_back_leaves_the_cashier_to_say() -> None:
    txns = [txn(1, "F", receipt=7), txn(2, "F", "reversal", outcome="sent"),
            txn(3, "G", outcome="sent")]  # fmt: skip
    verdict, why = judge_last(txns, "G", 6604, last(8))
    assert verdict == "ask" and "F" in why
    # once a later transaction has its receipt, that reversal is behind it: no doubt left
    txns += [txn(4, "H", receipt=9), txn(5, "J", outcome="sent")]
    assert judge_last(txns, "J", 6604, last(10))[0] == "approved"


def test_a_receipt_from_after_our_request_cannot_decline_it() -> None:
    # X's answer was lost; then Y (sent later) was approved: the last is Y's, X is unknowable
    txns = [txn(1, "X", outcome="lost"), txn(2, "Y", receipt=11)]
    assert judge_last(txns, "X", 6604, last(11))[0] == "ask"
    assert judge_last(txns, "X", 6604, last(12))[0] == "ask"


def test_a_request_that_never_left_was_not_taken() -> None:
    assert judge_last(A_AND_REVERSAL, "Z", 6604, last(5))[0] == "declined"
    assert judge_last([txn(1, "K", outcome="sent")], "K", 6604, last(None))[0] == "ask"
