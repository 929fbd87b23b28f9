#!/usr/bin/env python3
"""gen_adversarial — writes N verify requests (JSONL) full of the inputs where
a grader most easily departs from Python: bool/int/float confusions, NaN and
Infinity, big ints, lone surrogates, Unicode case and whitespace, duplicate
keys, invalid or over-deep JSON, shuffled batches. 10-grade.sh grades them with
fcpivot grade and with grade_oracle.py and counts the agreeing verdicts;
tests/test_oracle.c asserts that they all agree.

usage: gen_adversarial.py SEED N > requests.jsonl
"""
import json, random, sys
random.seed(int(sys.argv[1]))
N = int(sys.argv[2])
STR = ["Paris", "paris", "New York City", "new york", "İstanbul old", "i̇stanbul OLD", "ΟΔΟΣ ΟΔΟΣ", "οδος οδοσ",
       "a\u00a0b", "a b", "x\u3000y z", "X Y Z", "a\x1cb", "a b c d e f g", "g f e d c b a", "", " ", "hello  world ",
       "Hello World", "m'Σ x", "m'ς x", "ß ss", "SS ß", "\u2028a b", "tab\there"]
def atom():
    r = random.random()
    if r < 0.15: return random.choice(["1", "0", "-0", "1.0", "0.0", "-0.0", "true", "false", "null", "2", "1e2", "100", "100.0"])
    if r < 0.25: return random.choice(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400"])
    if r < 0.35: return random.choice(["123456789012345678901234567890", "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1.2345678901234568e29"])
    if r < 0.45: return random.choice(['"\\ud800"', '"\\udc00"', '"\\ud800 x"', '"\\ud83d\\ude00 x"', '"\U0001F600 x"', '"a\\u0000b c"'])
    if r < 0.55: return random.choice(["1.0000001", "1.000001", "0.9999995", "1.5", "1.4999999"])
    return json.dumps(random.choice(STR), ensure_ascii=random.random() < 0.5)
def value(d=0):
    r = random.random()
    if d > 2 or r < 0.6: return atom()
    if r < 0.8: return "[" + ",".join(value(d+1) for _ in range(random.randint(0, 3))) + "]"
    keys = random.sample(["a", "b", "c", "d"], random.randint(0, 3))
    return "{" + ",".join('"%s": %s' % (k, value(d+1)) for k in keys) + "}"
def mutate(text):
    r = random.random()
    if r < 0.25: return text
    try:
        v = json.loads(text)
    except ValueError:
        return text
    if r < 0.35: return text.replace(" ", "")
    if r < 0.45 and text.startswith("{") and text != "{}":
        return text[:-1] + ', "a": 1}' if '"a"' not in text else '{"a": 0, ' + text[1:]
    if r < 0.55: return random.choice([text + " x", text + "\f", "\ufeff" + text, text[:-1], "[" + text + ",]", " " + text + "\n"])
    if r < 0.7: return value()
    if r < 0.8: return text.replace("1", "true", 1).replace("0.0", "0", 1)
    if r < 0.9: return "[" * 1001 + "]" * 1001 if random.random() < 0.1 else text.replace("Paris", "PARIS")
    return text.lower()
def calls_for(names):
    return [(n, value()) for n in names]
out = sys.stdout
for i in range(N):
    k = random.choice([1, 1, 1, 2, 3])
    exp = calls_for([random.choice("fgh") for _ in range(k)])
    if random.random() < 0.1:
        ea = {"type": "message", "content": "hi"}
    elif k == 1:
        ea = {"type": "function_call", "name": exp[0][0], "arguments": exp[0][1]}
    else:
        ea = {"type": "function_call_batch", "calls": [{"type": "function_call", "name": n, "arguments": a} for n, a in exp]}
    acts = []
    for n, a in exp:
        if random.random() < 0.85:
            acts.append((n if random.random() < 0.85 else random.choice("fgh"), mutate(a)))
    while random.random() < 0.3:
        acts.append((random.choice("fgh"), value()))
    random.shuffle(acts)
    output = [{"type": "function_call", "name": n, "arguments": a} for n, a in acts]
    if random.random() < 0.2:
        output.insert(0, {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "t"}]})
    out.write(json.dumps({"responses_create_params": {"input": []}, "response": {"output": output},
                          "expected_action": ea}) + "\n")
