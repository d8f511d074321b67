"""Solutions to notebook 06's exercises, the checkers' context for a test without the zoo, and one
plausible wrong answer per exercise."""


def ex_1(tau, t1, tk1, t_draft):
    return tau * t1 / (tk1 + t_draft)


def wrong_1(tau, t1, tk1, t_draft):
    return tau * t1 / tk1  # forgets the drafting cost


def context_1():
    return {"tau": 1.88, "t1": 3.02, "tk1": 4.74, "t_draft": 0.87, "table_bound": 1.88 * 3.02 / (4.74 + 0.87)}


def ex_2(bound, of_bound, of_bound_baseline):
    # tokens/s = of_bound x (tokens/s the forwards allow), for PARD and hf-greedy alike, and
    # bound = (PARD's forwards-only tokens/s) / (plain decoding's forwards-only tokens/s)
    return bound * of_bound / of_bound_baseline


def wrong_2(bound, of_bound, of_bound_baseline):
    return bound * of_bound  # the speedup over an ideal plain loop, not over hf-greedy


def context_2():
    return {"bound": 1.01, "of_bound": 0.93, "of_bound_baseline": 0.92, "table_speedup": 1.01 * 0.93 / 0.92}


def ex_3(goal, t1, tk1, t_draft):
    return goal * (tk1 + t_draft) / t1


def wrong_3(goal, t1, tk1, t_draft):
    return goal * tk1 / t1


def context_3():
    return {"t1": 3.02, "tk1": 4.74, "t_draft": 0.87}


ex_4 = {"domain": "code",
        "why": "Prompt lookup copies the tokens that followed an earlier occurrence of the last few tokens. Code "
               "repeats its own identifiers, names and phrases (self, return, the same variable again and again), "
               "so copied continuations are right more often than in math or prose."}
wrong_4 = {"domain": "math", "why": "Math is the most predictable domain for the models, so it is best for "
                                    "every drafting method."}


def ex_5(speedup, c):
    # bound = τ · t(1) / (t(K+1) + t_draft) = τ / (1 + c) when t(K+1) = t(1) and t_draft = c · t(1)
    return speedup * (1 + c)


def wrong_5(speedup, c):
    return speedup  # as if drafting were free too
