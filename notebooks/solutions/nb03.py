"""Solutions to notebook 03's exercises (one value or function per exercise, a plausible wrong answer the
checker must reject, and the checker's context as small synthetic figures). Not imported by the notebook.

In the notebook the answers are expressions on its measurements:
  answer_2 = max(KS_ACC, key=lambda k: tau["pard"][k] * verify_cost[1] / (verify_cost[k + 1] + draft_cost["pard"][k]))
  answer_3 = 2 * (verify_cost[9] + draft_cost["pard"][8]) / verify_cost[1]
"""


def context_1():
    return {"a": 0.8, "b": 0.02, "measured_ratio": 6.0}


_A, _B = 0.8, 0.02


def ex_1(k):
    # AR: k one-token forwards, k·(a + b); PARD: one k-token forward, a + k·b
    return k * (_A + _B) / (_A + k * _B)


def wrong_1(k):
    return k   # "K forwards against one": forgets that PARD's forward grows by b per token


def context_2():
    # τ keeps growing with K, but each extra proposal is accepted rarely and verification grows
    return {"tau": {1: 1.45, 2: 1.70, 4: 1.84, 8: 1.90},
            "verify_cost": {1: 3.0, 2: 3.2, 3: 3.4, 5: 3.8, 9: 4.7},
            "draft_cost": {1: 0.75, 2: 0.76, 4: 0.78, 8: 0.85}}


ex_2 = 2        # bounds: K=1 1.16, K=2 1.29, K=4 1.20, K=8 1.03
wrong_2 = 8     # the K with the highest τ


def context_3():
    return {"t1": 3.0, "t9": 4.7, "draft8": 0.85}


ex_3 = 2 * (4.7 + 0.85) / 3.0
wrong_3 = 2 * 4.7 / 3.0   # forgets the drafting cost


def ex_4(fed, length, k):
    # the forward feeds the unseen real tokens seq[fed:length] and k - 1 masks; the crop drops the masks
    return length + k - 1, length


def wrong_4(fed, length, k):
    return length + k, length   # counts k masks instead of k - 1


ex_5 = ("Proposal j+1 is read off the j-th mask: the draft predicts it without knowing proposals 1..j, which "
        "masks stand in for, so the further it guesses ahead the more the intermediate tokens it never saw "
        "could have changed the answer; an AR draft sees its own earlier proposals.")
wrong_5 = "The target is stricter at later positions, so it rejects them more."
