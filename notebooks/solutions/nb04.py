"""Solutions to notebook 04's exercises (one value or function per exercise, and a plausible wrong
answer that the checker must reject). Not imported by the notebook."""

import math


def ex_1(L, K, r, r_min):
    # block 0 keeps all L; block j keeps floor(L·max(r^j, r_min)), capped to its L-1-j queries with a target;
    # r = 1 is the full layout (K·L, every position of every block)
    if r == 1.0:
        return K * L
    return L + sum(min(math.floor(L * max(r ** j, r_min) + 1e-9), L - 1 - j) for j in range(1, K))


def wrong_1(L, K, r, r_min):
    # forgets the cap: block j has only L-1-j queries with a target
    if r == 1.0:
        return K * L
    return L + sum(math.floor(L * max(r ** j, r_min) + 1e-9) for j in range(1, K))


def ex_2(depth, pos):
    s = pos - depth  # chain start of every entry, [N]
    real_key = (depth[None, :] == 0) & (pos[None, :] <= s[:, None])
    chain_key = (depth[None, :] >= 1) & (depth[None, :] <= depth[:, None]) & (s[None, :] == s[:, None])
    return real_key | chain_key  # [N, N]


def wrong_2(depth, pos):
    # forgets that a mask only sees its OWN chain (same chain start): it sees every earlier mask
    s = pos - depth
    real_key = (depth[None, :] == 0) & (pos[None, :] <= s[:, None])
    chain_key = (depth[None, :] >= 1) & (depth[None, :] <= depth[:, None]) & (pos[None, :] <= pos[:, None])
    return real_key | chain_key


# blocks 0..7 at L = 128, r = 0.5, r_min = 0.2: 128, 64, 32, then the floor floor(0.2·128) = 25 five times
ex_3 = (8 * 128 / (128 + 64 + 32 + 5 * 25)) ** 2
wrong_3 = 8 * 128 / (128 + 64 + 32 + 5 * 25)  # the token ratio, not squared

ex_4 = (15.0, None)   # halfway from (10 s, 1.8) to (20 s, 2.4); τ = 3 is never reached
wrong_4 = (20.0, None)  # the first checkpoint at or above 2.1, without interpolating
