#!/usr/bin/env python3
"""grade_reference — an independent Python rendering of spec/grading.md, for
the benchmarks: (1) it grades the generated verify requests so that 10-grade.sh
can report how many verdicts agree with `fcpivot grade`, and (2) it times pure
verdicts with pre-parsed expected arguments, as bench_grade does, giving a
same-mix Python figure to compare against.

It is written from the specification (it is not NeMo Gym's code), with
CPython's own json.loads, str.lower() and str.split().

usage: grade_reference.py verdicts FILE [OPTIONS]  one {"reward", "category"} per line
       grade_reference.py speed FILE                verdicts/s, single calls and batches
OPTIONS are fcpivot grade's: --parallel-rewarding --allow-subset --allow-superset
--reward-mode M --word-similarity-threshold X --float-tolerance X
"""
import json
import sys
import time
from collections import Counter

CAT = {
    "NO_ACTION": "No tool call or chat message was found in the response",
    "NO_CALL": "No tool call was found when one was expected",
    "MSG_OK": "A chat message was found as expected",
    "NO_MSG": "A tool call was executed when a chat message was expected",
    "TOOL": "The tool in a tool call is not the expected tool",
    "DECODE": "An error occurred when decoding the arguments string in a tool call as a JSON object",
    "TYPE": "The type of an argument value in a tool call is different than the expected type",
    "KEYS": "The keys in an object in an argument value in a tool call are different than the keys in the expected object",
    "LEN": "A list in an argument value in a tool call has a different length than the expected list",
    "VALUE": "An argument value in a tool call is different than the expected value",
    "CALL_OK": "A tool call that matches the expected tool call was found",
    "BATCH_LEN": "The number of tool calls in a batch is different than expected",
    "BATCH_OK": "A tool-call batch that matches the expected tool calls was found",
}
THRESHOLD, TOLERANCE = 0.1, 1e-6
REWARDING, SUBSET, SUPERSET, MODE = False, False, False, "binary_strict"


def compare(x, y):
    if not isinstance(y, type(x)):
        return "TYPE"
    if isinstance(x, dict):
        if set(x) != set(y):
            return "KEYS"
        for k in x:
            r = compare(x[k], y[k])
            if r:
                return r
        return None
    if isinstance(x, list):
        if len(x) != len(y):
            return "LEN"
        for a, b in zip(x, y):
            r = compare(a, b)
            if r:
                return r
        return None
    if isinstance(x, float):
        return None if abs(y - x) < TOLERANCE else "VALUE"
    if isinstance(x, str):
        wx, wy = x.strip().lower().split(), y.strip().lower().split()
        if len(wx) < 2 or len(wy) < 2:
            return None if x == y else "VALUE"
        common = sum((Counter(wx) & Counter(wy)).values())
        return "VALUE" if common / (len(wx) + len(wy)) < THRESHOLD else None
    return None if x == y else "VALUE"


def single(e, a, cache, j):
    if e[0] != a[0]:
        return "TOOL"
    if j not in cache:
        try:
            cache[j] = (True, json.loads(a[1]))
        except (ValueError, RecursionError):   # fcpivot: depth > 1000 fails to decode
            cache[j] = (False, None)
    ok, y = cache[j]
    return compare(e[1], y) if ok else "DECODE"


def judge(expected, actual):
    """expected: ("message",) or list of (name, parsed args); actual: None,
    ("message",) or list of (name, arguments string)."""
    if actual is None:
        return 0.0, "NO_ACTION"
    if expected == ("message",):
        return (1.0, "MSG_OK") if actual == ("message",) else (0.0, "NO_MSG")
    if actual == ("message",):
        return 0.0, "NO_CALL"
    cache = {}
    if len(expected) == 1 and len(actual) == 1:
        r = single(expected[0], actual[0], cache, 0)
        return (1.0, "CALL_OK") if r is None else (0.0, r)
    ne, na = len(expected), len(actual)
    if not (na == ne or not REWARDING or (na < ne and SUBSET) or (na > ne and SUPERSET)):
        return 0.0, "BATCH_LEN"
    cands, fails = [], []
    for e in expected:
        c, f = [], None
        for j, a in enumerate(actual):
            r = single(e, a, cache, j)
            if r is None:
                c.append(j)
            elif f is None and r != "TOOL":
                f = r
        cands.append(c)
        fails.append(f or "TOOL")
    match = {}

    def augment(i, seen):
        for j in cands[i]:
            if j not in seen:
                seen.add(j)
                if j not in match or augment(match[j], seen):
                    match[j] = i
                    return True
        return False

    m = sum(augment(i, set()) for i in sorted(range(ne), key=lambda i: len(cands[i])))
    if not REWARDING:
        reward = 1.0 if m == ne else 0.0
    elif MODE == "f1":
        reward = 2 * m / (ne + na)
    else:
        r = min(ne, na) if SUBSET else ne
        if MODE == "fractional":
            reward = m / r if r else 0.0
        else:
            reward = 1.0 if m == r else 0.0
    if reward == 1.0:
        return reward, "CALL_OK" if ne == 1 else "BATCH_OK"
    matched = set(match.values())
    if len(matched) == ne or m == na:
        return reward, "BATCH_LEN"
    return reward, next(fails[i] for i in range(ne) if i not in matched)


def actions(req):
    ea = req["expected_action"]
    if ea["type"] == "message":
        expected = ("message",)
    else:
        calls = ea["calls"] if ea["type"] == "function_call_batch" else [ea]
        expected = [(c["name"], json.loads(c["arguments"])) for c in calls]
    calls, text = [], None
    for item in req["response"]["output"]:
        if item.get("type") == "function_call":
            calls.append((item["name"], item["arguments"]))
        elif item.get("type") == "message" and item.get("role") == "assistant" and text is None:
            for part in item.get("content", []):
                if part.get("type") == "output_text":
                    text = part["text"]
                    break
    actual = calls or (("message",) if text is not None else None)
    return expected, actual


def options(args):
    global THRESHOLD, TOLERANCE, REWARDING, SUBSET, SUPERSET, MODE
    it = iter(args)
    for a in it:
        if a == "--parallel-rewarding":
            REWARDING = True
        elif a == "--allow-subset":
            SUBSET = True
        elif a == "--allow-superset":
            SUPERSET = True
        elif a == "--reward-mode":
            MODE = next(it)
        elif a == "--word-similarity-threshold":
            THRESHOLD = float(next(it))
        elif a == "--float-tolerance":
            TOLERANCE = float(next(it))
        else:
            sys.exit("grade_reference.py: unknown option " + a)


def main():
    mode, path = sys.argv[1], sys.argv[2]
    options(sys.argv[3:])
    cases = [actions(json.loads(line)) for line in open(path, encoding="utf-8") if line.strip()]
    if mode == "verdicts":
        for e, a in cases:
            r, c = judge(e, a)
            print(json.dumps({"reward": r, "category": CAT[c]}))
        return
    for label, pick in (("single call / message mix", lambda e: e == ("message",) or len(e) == 1),
                        ("batches (2-3 calls)", lambda e: e != ("message",) and len(e) > 1)):
        sel = [(e, a) for e, a in cases if pick(e)]
        best = 0.0
        for _ in range(3):
            t0, n = time.process_time(), 0
            while time.process_time() - t0 < 0.5:
                for e, a in sel:
                    judge(e, a)
                n += len(sel)
            best = max(best, n / (time.process_time() - t0))
        print("  %-34s %10.0f verdicts/s  (Python %s, same mix)" % (label, best, sys.version.split()[0]))


if __name__ == "__main__":
    main()
