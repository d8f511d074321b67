"""Instruction prompts for sequence-level distillation, generated from templates (code, math, chat).

:func:`training_prompts` draws ``n`` instructions, balanced over the three domains, from phrasing
templates crossed with topic lists (and random numbers for the word problems): deterministic for a
seed. They are written for training drafts only; the held-out chat prompts in ``data/eval/chat/``
(dev / test) are separate hand-written instructions of other phrasings, never drawn from here.

What it does NOT handle: multi-turn chats, languages other than English, checking the answers.
"""

from __future__ import annotations

import random

__all__ = ["DOMAINS", "training_prompts"]

DOMAINS = ("code", "math", "chat")

_CODE_TASKS = [
    "reverses the words in a sentence", "counts the vowels in a string", "returns the factorial of n",
    "merges two sorted lists into one sorted list", "removes duplicates from a list while keeping the order",
    "computes the n-th Fibonacci number iteratively", "checks whether two strings are anagrams",
    "finds the most common element in a list", "converts Celsius to Fahrenheit",
    "returns the sum of the digits of an integer", "capitalizes the first letter of every word",
    "computes the greatest common divisor of two numbers", "transposes a matrix given as a list of lists",
    "reads a text file and returns the number of lines", "validates that a string is a valid email address",
    "sorts a list of dictionaries by a given key", "returns the running average of a list of numbers",
    "finds all pairs in a list that add up to a target", "checks whether a year is a leap year",
    "converts a binary string to an integer", "counts how often each word occurs in a text",
    "rotates a list by k positions", "returns the longest word in a sentence", "computes the mean and median of a list",
    "chunks a list into pieces of size n", "finds the index of the minimum value in a list",
    "checks whether a list is sorted", "removes all whitespace from a string", "builds a multiplication table",
    "returns the prime factors of a number", "implements binary search on a sorted list",
    "computes the dot product of two vectors", "converts a Roman numeral to an integer",
    "groups a list of words by their first letter", "returns True if all brackets in a string are balanced",
    "implements a simple stack class with push and pop", "computes compound interest",
    "generates all subsets of a small list", "parses a CSV line into fields",
    "counts the uppercase letters in a string",
]
_CODE_FORMS = [
    "Write a Python function that {t}.", "Show me Python code that {t}.",
    "How do I write a function in Python that {t}?", "Create a short Python program that {t}, with a docstring.",
    "Give me a Python snippet that {t} and explain it briefly.",
    "Write JavaScript code that {t}.",
]
_CHAT_TOPICS = [
    "photosynthesis", "how vaccines work", "the water cycle", "black holes", "why we have seasons",
    "how a bicycle stays upright", "the history of the printing press", "recycling", "volcanoes",
    "how the internet works", "machine learning", "healthy sleep habits", "the solar system", "the stock market",
    "climate change", "how bees make honey", "the Roman Empire", "electric cars", "meditation", "rainbows",
    "how airplanes fly", "the human heart", "saving money", "learning a new language", "time management",
    "ocean tides", "earthquakes", "gardening for beginners", "the importance of exercise", "renewable energy",
]
_CHAT_FORMS = [
    "Explain {t} in simple terms.", "Tell me about {t}.", "Give me three interesting facts about {t}.",
    "Write a short paragraph about {t}.", "What should a beginner know about {t}?",
    "Summarize the main ideas of {t} in a few sentences.", "Write a short poem about {t}.",
    "What are the advantages and disadvantages of {t}?", "Describe {t} to a high-school student.",
    "Write a friendly email to a colleague about {t}.",
]
_NAMES = ["Tom", "Maria", "Ahmed", "Lena", "Kofi", "Yuki", "Sam", "Olga", "Ravi", "Chloe"]
_ITEMS = [("apples", "basket"), ("stickers", "album"), ("marbles", "jar"), ("books", "shelf"), ("pencils", "box"),
          ("cookies", "tray"), ("stamps", "folder"), ("seeds", "packet")]


def _math_prompt(r: random.Random) -> str:
    n = r.choice(_NAMES)
    item, box = r.choice(_ITEMS)
    a, b, c = r.randint(3, 60), r.randint(2, 12), r.randint(2, 9)
    forms = [
        f"{n} has {a} {item}. She buys {b} more {box}s with {c} {item} in each. How many {item} does she have now?",
        f"A {box} holds {c} {item}. How many {box}s are needed for {a * c} {item}?",
        f"{n} earns ${a} per day and works {b} days. After spending ${c * 5}, how much money is left?",
        f"A shop sells {item} at ${c} each. {n} buys {b} of them and pays with a ${b * c + a} bill. "
        "What is the change?",
        f"What is {a} multiplied by {b}, plus {c}? Show your steps.",
        f"A rectangle is {a} cm long and {b} cm wide. What are its area and perimeter?",
        f"{n} walks {b} km every day for {c} weeks. How many kilometres does {n} walk in total?",
        f"If {c} workers build a wall in {b * c} hours, how long would {c * 2} workers take, working at the same rate?",
        f"Solve for x: {c}x + {a} = {c * b + a}.",
        f"A train travels at {a + 30} km/h for {b} hours. How far does it go?",
    ]
    return r.choice(forms)


def training_prompts(n: int, seed: int = 0) -> list[dict]:
    """``n`` prompts ``{"domain", "prompt"}``, cycling code, math, chat; deterministic for ``seed``; no duplicates."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    r = random.Random(seed)
    out, seen = [], set()
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n:
            raise ValueError(f"cannot draw {n} distinct prompts from the templates; ask for fewer")
        domain = DOMAINS[len(out) % 3]
        if domain == "code":
            p = r.choice(_CODE_FORMS).format(t=r.choice(_CODE_TASKS))
        elif domain == "math":
            p = _math_prompt(r)
        else:
            p = r.choice(_CHAT_FORMS).format(t=r.choice(_CHAT_TOPICS))
        if p not in seen:
            seen.add(p)
            out.append({"domain": domain, "prompt": p})
    return out
