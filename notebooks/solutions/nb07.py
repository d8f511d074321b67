"""Solutions to notebook 07's exercises, and one plausible wrong answer per exercise."""

from pard_ref.ttt import augment


def ex_1(aug, grid):
    g = augment.apply_symmetry(grid, augment.INVERSE_SYMMETRY[aug.symmetry])  # undo the symmetry
    inverse = [0] * 10
    for c, p in enumerate(aug.colours):  # aug maps colour c to p: map p back to c
        inverse[p] = c
    return tuple(tuple(inverse[c] for c in row) for row in g)


def wrong_1(aug, grid):
    # applies the symmetry's inverse but the colour permutation itself instead of its inverse
    g = augment.apply_symmetry(grid, augment.INVERSE_SYMMETRY[aug.symmetry])
    return tuple(tuple(aug.colours[c] for c in row) for row in g)


def ex_2(n, A):
    # n leave-one-out tasks; n(n-1) leave-two-out tasks only when n >= 3 (with 2 demonstrations, leaving
    # two out leaves none); each untransformed plus A augmentations
    tasks = n + (n * (n - 1) if n >= 3 else 0)
    return tasks * (1 + A)


def wrong_2(n, A):
    return (n + n * (n - 1)) * (1 + A)  # the old formula: wrong for n = 2


X, Y, Z = ((1,),), ((2,),), ((3,),)
# identity repeats X four times (flat: X has 4 votes); Y is in the top 3 of three transformations
# (hierarchical: Y is kept by 3 transformations, X by 1)
ex_3 = {"identity": [X, X, X, X], "transpose": [Y, Z], "flip_v": [Y, Z], "rot90": [Y]}
wrong_3 = {"identity": [X, X], "transpose": [X, Y], "flip_v": [Y]}  # both votes pick X


def ex_4(enc):
    query = enc.n_pairs - 1
    return [out and (p >= 1 or p == query) for out, p in zip(enc.is_output, enc.pair)]


def wrong_4(enc):
    return list(enc.is_output)  # also scores the first demonstration's output
