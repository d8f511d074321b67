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
    "returns the second smallest number in a list", "checks whether a number is a perfect square",
    "converts a dictionary into a list of key-value tuples sorted by value", "returns the intersection of two lists",
    "computes the length of the longest increasing run in a list", "replaces every vowel in a string with a star",
    "converts a number of seconds into hours, minutes and seconds", "checks whether a string contains only digits",
    "returns the n largest values of a list", "computes the area of a circle from its radius",
    "shuffles a list with a fixed random seed", "counts the lines of a text that contain a given word",
    "returns the character that occurs most often in a string", "checks whether a number is an Armstrong number",
    "converts a list of strings to lowercase", "computes the distance between two points in the plane",
    "finds the missing number in a list containing 1 to n", "zips two lists into a dictionary",
    "returns the indices of all occurrences of a value in a list", "computes the product of all numbers in a list",
    "checks whether a sentence is a pangram", "returns the first non-repeating character of a string",
    "converts a hexadecimal string to a decimal integer", "splits a string into words and sorts them alphabetically",
    "computes the standard deviation of a list of numbers", "removes the negative numbers from a list",
    "finds the longest palindromic substring of a short string", "returns the cumulative maximum of a list",
    "implements a queue class with enqueue and dequeue", "counts the number of set bits in an integer",
    "pads a string with zeros to a given width", "reverses a linked list",
    "merges two dictionaries, summing the values of shared keys", "checks whether a matrix is symmetric",
    "returns the even numbers of a list squared", "computes the sum of a geometric series",
    "finds the smallest positive integer not in a list", "formats a number with thousands separators",
    "converts a temperature table from Fahrenheit to Celsius", "counts the words longer than five letters in a text",
    "returns all permutations of a short string", "computes the least common multiple of two numbers",
    "checks whether a string is a valid IPv4 address", "flattens a dictionary of dictionaries into dotted keys",
    "returns the median of two sorted lists", "implements bubble sort", "implements insertion sort",
    "implements merge sort", "implements quicksort", "counts the islands in a grid of zeros and ones",
    "returns a histogram of letter frequencies as a dictionary", "removes punctuation from a string",
    "generates the first n rows of Pascal's triangle", "checks whether a number is a power of two",
    "returns the words of a sentence in title case except short words", "computes a moving sum over a window of k",
    "finds the two numbers in a list with the smallest difference", "truncates a string to n characters with an ellipsis",
    "converts snake_case names to camelCase", "converts camelCase names to snake_case",
    "returns the day of the week for a given date", "encrypts a string with a Caesar cipher",
    "decodes a Caesar cipher with a known shift", "computes simple interest", "checks whether a list has duplicates",
    "counts the distinct values in a list", "returns the last n lines of a text", "computes the average word length of a text",
    "validates a phone number with a regular expression", "builds a dictionary that inverts keys and values",
    "generates a random password of a given length", "computes the body mass index from weight and height",
    "converts kilometres to miles", "finds the peak element of a list", "sums the numbers on the diagonal of a square matrix",
]
_CODE_FORMS = [
    "Write a Python function that {t}.", "Show me Python code that {t}.",
    "How do I write a function in Python that {t}?", "Create a short Python program that {t}, with a docstring.",
    "Give me a Python snippet that {t} and explain it briefly.",
    "Write JavaScript code that {t}.",
    "Can you help me write a Python function that {t}?", "I need Python code that {t}. Please add comments.",
    "Write a Python function that {t}, and show an example call.", "Implement a function that {t}, in Python.",
    "Write a clean, well-named Python function that {t}.", "Write a Python function with type hints that {t}.",
    "Explain step by step how to write a Python function that {t}.", "Write a function in JavaScript that {t}.",
]
_CHAT_TOPICS = [
    "photosynthesis", "how vaccines work", "the water cycle", "black holes", "why we have seasons",
    "how a bicycle stays upright", "the history of the printing press", "recycling", "volcanoes",
    "how the internet works", "machine learning", "healthy sleep habits", "the solar system", "the stock market",
    "climate change", "how bees make honey", "the Roman Empire", "electric cars", "meditation", "rainbows",
    "how airplanes fly", "the human heart", "saving money", "learning a new language", "time management",
    "ocean tides", "earthquakes", "gardening for beginners", "the importance of exercise", "renewable energy",
    "the moon landing", "how coffee is made", "the life cycle of a butterfly", "chess", "the pyramids of Egypt",
    "how a refrigerator works", "public speaking", "volunteering", "the history of the bicycle", "ancient Greece",
    "how credit cards work", "dinosaurs", "how glaciers form", "the immune system", "cooking pasta",
    "the northern lights", "how a camera works", "writing a good resume", "composting", "the Great Wall of China",
    "how electricity reaches our homes", "penguins", "the invention of the telephone", "the benefits of reading",
    "owning a cat", "owning a dog", "how rain forms", "the Olympic Games", "how satellites stay in orbit",
    "the history of chocolate", "first aid basics", "learning to play the guitar", "jazz music", "the Amazon rainforest",
    "how wind turbines work", "the metric system", "budgeting for students", "the human brain", "coral reefs",
    "online privacy", "the history of the computer", "the Renaissance", "how tea is grown", "traveling by train",
    "deserts", "how submarines dive", "making friends in a new city", "the importance of drinking water",
    "electric guitars", "the history of money", "how plants grow from seeds", "marathon training", "solar panels",
    "sharks", "how elections work", "yoga", "the history of the internet", "honeybees", "city parks",
    "how a car engine works", "the periodic table", "mountain climbing", "the history of writing", "bread baking",
    "how maps are made", "lighthouses", "board games", "the speed of light", "wolves", "how memory works",
]
_CHAT_FORMS = [
    "Explain {t} in simple terms.", "Tell me about {t}.", "Give me three interesting facts about {t}.",
    "Write a short paragraph about {t}.", "What should a beginner know about {t}?",
    "Summarize the main ideas of {t} in a few sentences.", "Write a short poem about {t}.",
    "What are the advantages and disadvantages of {t}?", "Describe {t} to a high-school student.",
    "Write a friendly email to a colleague about {t}.",
    "Write a short story for children about {t}.", "List five key points about {t}.",
    "Why is {t} important?", "Write a limerick about {t}.", "Give a two-sentence definition of {t}.",
    "What are common misconceptions about {t}?", "Write a short blog post introduction about {t}.",
    "Create a quiz with three questions about {t}.", "Explain {t} using an everyday analogy.",
    "How would you teach {t} to a group of adults?", "Write a tweet about {t}.",
    "Compare {t} with something similar and explain the differences.",
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
        f"{n} had {a * b} {item} and shared them equally among {b} friends. How many {item} did each friend get?",
        f"A {box} of {item} costs ${c}. How much do {a} {box}s cost?",
        f"{n} read {a} pages on Monday and {b} times as many on Tuesday. How many pages did {n} read in total?",
        f"What is {a * 4}% of {b * 25}? Explain how you got the answer.",
        f"The temperature was {a - 30} degrees in the morning and rose by {b} degrees by noon. What was it at noon?",
        f"{n} is {a} years old. Her brother is {b} years younger. How old will her brother be in {c} years?",
        f"A square has a perimeter of {4 * a} cm. What is its area?",
        f"A movie starts at {b}:15 and lasts {a + 60} minutes. At what time does it end?",
        f"There are {a + b} students in a class and {b} of them are absent. What fraction of the class is present?",
        f"A recipe needs {c} cups of flour for {b} cakes. How many cups are needed for {b * a} cakes?",
        f"{n} saves ${c} a week. How many weeks does {n} need to save ${c * a}?",
        f"What is the average of {a}, {a + b} and {a + 2 * b}?",
        f"A car travels {a * 10} km on {a} litres of fuel. How far can it go on {b} litres?",
        f"A jacket costs ${a * 10} and is sold at {c * 5}% off. What is the sale price?",
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
