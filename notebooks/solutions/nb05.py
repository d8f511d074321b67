"""Solutions to notebook 05's exercises, with the checkers' context for a test without the zoo,
and one plausible wrong answer per exercise."""


def ex_1(rates):
    # τ = 1 + E[accepted proposals] = 1 + Σ_i P(proposal i accepted): the bonus is always there
    return 1 + sum(rates)


def wrong_1(rates):
    return sum(rates)  # forgets the bonus token


def context_1():
    # iterations of K = 2 with accepted counts 0, 1, 2, 1: rates (3/4, 1/4), τ = 1 + 1 = 2
    return {"rates": [0.75, 0.25], "tau_measured": 2.0}


def ex_2(rates, t_target, t_draft):
    from pard_ref.bench.drafting_cost import speedup_bound

    def bound(k):
        return speedup_bound(1 + sum(rates[:k]), t_target[1], t_target[k + 1], t_draft[k])
    return max(range(1, len(rates) + 1), key=bound)

# In words (the question under exercise 2), a model answer: not necessarily; two effects pull. Cost: the
# drafting cost is the same for every target, so it weighs most next to the cheapest target, and each extra
# proposal costs target-s a larger share of an iteration than it costs target-l: that pushes the cheap
# target's best K down. Acceptance: the targets accept the deeper proposals at different rates, and a target
# that accepts more of them gains more from each extra proposal: that can push its best K up. Verification
# cost matters too: where t(K+1) grows slowly with K, larger K is cheap. The printed best K per target shows
# which effect wins on this zoo and machine (the costs are noisy on a busy machine).


def wrong_2(rates, t_target, t_draft):
    return len(rates)  # maximises τ alone: more proposals always raise τ, but they also cost


def context_2():
    rates = [0.6, 0.3, 0.1, 0.05]
    return {"cases": {"cheap": (rates, {1: 1.0, 2: 1.2, 3: 1.4, 4: 1.6, 5: 1.8}, {1: 0.5, 2: 0.5, 3: 0.6, 4: 0.6}),
                      "dear": (rates, {1: 3.0, 2: 3.2, 3: 3.4, 4: 3.6, 5: 3.8}, {1: 0.5, 2: 0.5, 3: 0.6, 4: 0.6})}}


def ex_3(t1, tk1, t_draft):
    # τ · t(1) / (t(K+1) + t_draft) = 1
    return (tk1 + t_draft) / t1


def wrong_3(t1, tk1, t_draft):
    return tk1 / t1  # forgets that drafting is paid every iteration too


def context_3():
    return {"t1": 1.02, "tk1": 1.38, "t_draft": 0.77}


ex_4 = {
    "must_retrain": "eagle",
    "why": "EAGLE heads read the old target-l's hidden states (its features), and a fine-tune changes what those "
           "features mean, so the heads must be retrained. The PARD draft reads only tokens and was trained on "
           "ordinary text, never on the target: it still works unchanged (verification keeps the output exact) "
           "and accepts less only as far as the fine-tune moved target-l away from the text the draft learned.",
}
wrong_4 = {"must_retrain": "pard", "why": "The PARD draft was trained for the old target, so it has to be "
                                          "retrained, while EAGLE heads adapt by reading the new hidden states."}
