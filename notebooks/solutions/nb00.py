"""Solutions to notebook 00's exercises (one value or function per exercise, a plausible wrong answer the
checker must reject, and the checker's context as small synthetic figures). Not imported by the notebook.

In the notebook the answers are expressions on the run of section 2:
  answer_1 = decoder.stats.new_tokens / decoder.stats.target_calls
  answer_2 = sum(min(r.accepted, len(r.emitted)) for r in records)   (or count the green spans)
"""

from types import SimpleNamespace


def _run():
    # 5 iterations, K = 4; the last one accepted 3 proposals but max_new_tokens cut it after 2 tokens
    steps = [(1, 2), (0, 1), (4, 5), (2, 3), (3, 2)]  # (accepted, tokens emitted)
    return [SimpleNamespace(accepted=n, emitted=list(range(e))) for n, e in steps]


def context_1():
    records = _run()
    return {"new_tokens": sum(len(r.emitted) for r in records), "target_calls": len(records),
            "tau": sum(r.accepted + 1 for r in records) / len(records)}


ex_1 = 13 / 5                # 13 new tokens from 5 target calls
wrong_1 = (2 + 1 + 5 + 3 + 4) / 5  # τ: counts the last iteration's accepted length before the cut


def context_2():
    return {"records": _run()}


ex_2 = 1 + 0 + 4 + 2 + 2     # the last iteration's output was cut after 2 accepted proposals
wrong_2 = 1 + 0 + 4 + 2 + 3  # every accepted proposal, including one cut off

ex_3 = 2    # one proposal accepted, plus the bonus
wrong_3 = 1

ex_4 = ("τ averages every iteration's accepted length as verified, but the last iteration can be cut: "
        "max_new_tokens (or an EOS inside the accepted block) truncates what it emits, so the run yields "
        "fewer tokens than its accepted lengths add up to, and tokens per target call falls below τ.")
wrong_4 = "Because the first target call also has to read the whole prompt, which takes longer."
