#!/usr/bin/env python3
"""conv_oracle — an executable model of docs/eval.md §2 (the Responses <-> Chat
Completions conversion of `fcpivot eval`), written independently of src/conv.c:
it decodes the JSON with CPython's json module and works on Python strings
(re.sub for the <think> spans), where conv.c works on the escaped text.

Reads cases (JSONL, from gen_conv_cases.py) on stdin and writes one line per
case: the converted object, or {"error": REASON} when the input cannot be
converted. Params and completions are JSON texts inside the case (so that
their exact bytes reach conv.c), options an object:
  {"kind": "request", "params": TEXT, "opts": {...}}  -> Chat Completions body
  {"kind": "responses", "params": TEXT, "opts": {...}} -> --api responses body
  {"kind": "reply", "params": TEXT|null, "completion": TEXT, "model": M,
   "created_at": N}                                   -> Responses object
Reply objects carry no ids ("id" of the object and of every item are left
out) and a tool call without id has "call_id": null: ids are random.

usage: conv_oracle.py < cases.jsonl > expected.jsonl
"""
import json
import re
import sys

THINK = re.compile(r"<think>(.*?)</think>", re.S)


class Invalid(Exception):
    pass


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ---- request -----------------------------------------------------------------

def user_parts(parts):
    out = []
    for part in parts:
        if not isinstance(part, dict):
            raise Invalid("part is not an object")
        t = part.get("type")
        if t in ("input_text", "output_text"):
            if not isinstance(part.get("text"), str):
                raise Invalid("text part without text")
            out.append({"type": "text", "text": part["text"]})
        elif t == "input_image":
            if not isinstance(part.get("image_url"), str):
                raise Invalid("image without url")
            detail = part.get("detail")
            out.append({"type": "image_url", "image_url": {
                "url": part["image_url"], "detail": detail if isinstance(detail, str) else "auto"}})
        else:
            raise Invalid("unsupported part %r" % (t,))
    return out


def content_text(content, assistant):
    if content is None:
        if assistant:
            return ""
        raise Invalid("message without content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise Invalid("content neither string nor list")
    text = ""
    for part in content:
        if not isinstance(part, dict):
            raise Invalid("part is not an object")
        t = part.get("type")
        if t in ("output_text", "input_text"):
            value = part.get("text")
        elif assistant and t == "refusal":
            value = part.get("refusal")
        else:
            raise Invalid("unsupported part %r" % (t,))
        if not isinstance(value, str):
            raise Invalid("text part without text")
        text += value
    return text


class Request:
    def __init__(self, params, opts):
        self.p, self.o = params, opts
        self.msgs = []
        self.text, self.calls = "", []
        self.fold = None

    def emit_fold(self):
        if self.fold is not None:
            self.msgs.append({"role": "system", "content": self.fold})
            self.fold = None

    def flush(self):
        if not self.text and not self.calls:
            return
        m = {"role": "assistant"}
        content, first = self.text, None
        if self.o.get("reasoning", "field") == "field":
            spans = THINK.findall(content)
            if spans:
                first = spans[0]
                content = THINK.sub("", content)
                m["content"] = content
        if first is None:
            m["content"] = content or None
        else:
            m["reasoning_content"] = m["reasoning"] = first
        if self.calls:
            m["tool_calls"] = self.calls
        self.msgs.append(m)
        self.text, self.calls = "", []

    def message(self, item):
        role = item.get("role")
        if role == "assistant":
            self.emit_fold()
            self.text += content_text(item.get("content"), True)
            return
        if role not in ("user", "system", "developer"):
            raise Invalid("role %r" % (role,))
        self.flush()
        if self.fold is not None and role in ("system", "developer"):
            self.fold += "\n\n" + content_text(item.get("content"), False)
            return
        self.emit_fold()
        content = item.get("content")
        if content is None:
            raise Invalid("message without content")
        if isinstance(content, list):
            content = user_parts(content)
        elif not isinstance(content, str):
            raise Invalid("content neither string nor list")
        if role == "developer" and self.o.get("developer_as_system"):
            role = "system"
        self.msgs.append({"role": role, "content": content})

    def reasoning(self, item):
        if self.o.get("reasoning") == "drop":
            return
        self.emit_fold()
        summary = item.get("summary")
        if summary is None:
            return
        if not isinstance(summary, list):
            raise Invalid("summary not a list")
        for s in summary:
            if not isinstance(s, dict) or not isinstance(s.get("text"), str):
                raise Invalid("summary without text")
            if s["text"]:
                self.text += "<think>" + s["text"] + "</think>"

    def call(self, item):
        if not all(isinstance(item.get(k), str) for k in ("call_id", "name", "arguments")):
            raise Invalid("function_call fields")
        self.emit_fold()
        self.calls.append({"id": item["call_id"], "type": "function",
                           "function": {"name": item["name"], "arguments": item["arguments"]}})

    def output(self, item):
        if not isinstance(item.get("call_id"), str) or item.get("output") is None:
            raise Invalid("function_call_output fields")
        self.flush()
        self.emit_fold()
        out = item["output"]
        if isinstance(out, list):
            out = user_parts(out)
        elif not isinstance(out, str):
            raise Invalid("output neither string nor list")
        self.msgs.append({"role": "tool", "tool_call_id": item["call_id"], "content": out})

    def item(self, item):
        if not isinstance(item, dict):
            raise Invalid("item is not an object")
        t = item.get("type")
        if t is None:
            if item.get("role") is None:
                raise Invalid("neither type nor role")
            t = "message"
        handler = {"message": self.message, "reasoning": self.reasoning,
                   "function_call": self.call, "function_call_output": self.output}.get(t)
        if handler is None:
            raise Invalid("item type %r" % (t,))
        handler(item)

    def messages(self):
        instr = self.p.get("instructions")
        if instr is not None:
            if not isinstance(instr, str):
                raise Invalid("instructions not a string")
            if instr:
                self.fold = instr
        inp = self.p.get("input")
        if isinstance(inp, str):
            self.emit_fold()
            self.msgs.append({"role": "user", "content": [{"type": "text", "text": inp}]})
        elif isinstance(inp, list):
            for item in inp:
                self.item(item)
            self.flush()
            self.emit_fold()
        else:
            raise Invalid("input")
        return self.msgs


def tool(t):
    if not isinstance(t, dict) or t.get("type") != "function":
        raise Invalid("tool type")
    if isinstance(t.get("function"), dict):
        return {"type": "function", "function": t["function"]}
    if not isinstance(t.get("name"), str):
        raise Invalid("tool name")
    return {"type": "function",
            "function": {k: v for k, v in t.items() if k not in ("type", "strict") and v is not None}}


def tool_choice(tc):
    if isinstance(tc, str):
        return tc
    if not isinstance(tc, dict) or tc.get("type") != "function":
        raise Invalid("tool_choice")
    if isinstance(tc.get("function"), dict):
        return tc
    if not isinstance(tc.get("name"), str):
        raise Invalid("tool_choice name")
    return {"type": "function", "function": {"name": tc["name"]}}


def engine_object(v):
    if v is None:
        return None
    if isinstance(v, str):
        v = json.loads(v)
    if not isinstance(v, dict):
        raise Invalid("engine object")
    return v


def convert_request(p, o):
    if not isinstance(p, dict):
        raise Invalid("params")
    body = {"model": o["model"], "messages": Request(p, o).messages()}
    tools = p.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise Invalid("tools")
    tools = [tool(t) for t in tools or []]
    tc = p.get("tool_choice")
    if tools:
        body["tools"] = tools
        if tc is not None:
            body["tool_choice"] = tool_choice(tc)
        if p.get("parallel_tool_calls") is not None:
            body["parallel_tool_calls"] = p["parallel_tool_calls"]
    elif tc is not None and tc not in ("auto", "none"):
        raise Invalid("tool_choice without tools")
    for src, dst in (("max_output_tokens", "max_tokens"), ("temperature", "temperature"),
                     ("top_p", "top_p")):
        if p.get(src) is not None:
            body[dst] = p[src]
    if p.get("reasoning") is not None:
        if not isinstance(p["reasoning"], dict):
            raise Invalid("reasoning")
        if p["reasoning"].get("effort") is not None:
            body["reasoning_effort"] = p["reasoning"]["effort"]
    for k in ("metadata", "user", "service_tier", "store", "top_logprobs"):
        if p.get(k) is not None:
            body[k] = p[k]
    meta = p.get("metadata") if isinstance(p.get("metadata"), dict) else {}
    taken = set(p) | {"model", "messages"}
    if "max_output_tokens" in p:
        taken.add("max_tokens")
    if "reasoning" in p:
        taken.add("reasoning_effort")
    return engine(body, taken, o, engine_object(meta.get("chat_template_kwargs")),
                  engine_object(meta.get("extra_body")))


def engine(body, taken, o, row_ckw, row_extra):
    """seed, chat_template_kwargs and the extra bodies, under what is there."""
    opt_ckw = engine_object(o.get("chat_template_kwargs"))
    opt_extra = engine_object(o.get("extra_body"))
    if o.get("seed") is not None and "seed" not in taken:
        body["seed"] = o["seed"]
        taken.add("seed")
    if (opt_ckw is not None or row_ckw is not None) and "chat_template_kwargs" not in taken:
        merged = dict(opt_ckw or {})
        merged.update(row_ckw or {})
        body["chat_template_kwargs"] = merged
        taken.add("chat_template_kwargs")
    taken.add("stream")
    for extra in (row_extra, opt_extra):
        for k, v in (extra or {}).items():
            if k not in taken:
                body[k] = v
                taken.add(k)
    return body


def convert_responses(p, o):
    """--api responses (§3): the row as it is, nulls and stream removed."""
    if not isinstance(p, dict):
        raise Invalid("params")
    body = {"model": o["model"]}
    for k, v in p.items():
        if v is None or k in ("model", "stream"):
            continue
        if k == "input" and o.get("reasoning") == "drop" and isinstance(v, list):
            v = [it for it in v if not (isinstance(it, dict) and it.get("type") == "reasoning")]
        body[k] = v
    return engine(body, set(p) | {"model"}, o, None, None)


# ---- reply ---------------------------------------------------------------------

def reply_text(content):
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise Invalid("content")
    return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))


def reply_call(tc):
    if not isinstance(tc, dict) or not isinstance(tc.get("function"), dict):
        raise Invalid("tool call")
    f = tc["function"]
    args = f.get("arguments")
    if args is None:
        args = ""
    elif not isinstance(args, str):
        args = json.dumps(args, separators=(",", ":"), ensure_ascii=False)
    cid = tc.get("id")
    return {"type": "function_call", "call_id": cid if isinstance(cid, str) and cid else None,
            "name": f["name"] if isinstance(f.get("name"), str) else "", "arguments": args,
            "status": "completed"}


def usage(u):
    if not isinstance(u, dict):
        return None
    num = lambda v: v if is_num(v) else 0
    det = lambda d, k: num(d.get(k)) if isinstance(d, dict) else 0
    total = u.get("total_tokens")
    if not is_num(total):
        total = max(num(u.get("prompt_tokens")), 0) + max(num(u.get("completion_tokens")), 0)
    return {"input_tokens": num(u.get("prompt_tokens")),
            "input_tokens_details": {"cached_tokens": det(u.get("prompt_tokens_details"), "cached_tokens")},
            "output_tokens": num(u.get("completion_tokens")),
            "output_tokens_details": {"reasoning_tokens": det(u.get("completion_tokens_details"),
                                                              "reasoning_tokens")},
            "total_tokens": total}


def convert_reply(c, p, model, created_at):
    if not isinstance(c, dict) or not isinstance(c.get("choices"), list):
        raise Invalid("not a chat completion")
    output, finish = [], ""
    if c["choices"]:
        choice = c["choices"][0]
        msg = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(msg, dict):
            raise Invalid("no message")
        if isinstance(choice.get("finish_reason"), str):
            finish = choice["finish_reason"]
        field = msg.get("reasoning_content")
        if not (isinstance(field, str) and field):
            field = msg.get("reasoning")
        raw = "<think>" + field + "</think>" if isinstance(field, str) and field else ""
        raw += reply_text(msg.get("content"))
        summaries, rest = THINK.findall(raw), THINK.sub("", raw)
        calls = msg.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            raise Invalid("tool_calls")
        calls = [reply_call(tc) for tc in calls or []]
        if summaries:
            output.append({"type": "reasoning", "summary": [
                {"type": "summary_text", "text": s} for s in summaries]})
        if rest or not (summaries or calls):
            output.append({"type": "message", "role": "assistant", "status": "completed",
                           "content": [{"type": "output_text", "text": rest, "annotations": []}]})
        output.extend(calls)
    reason = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(finish)
    obj = {"object": "response", "created_at": created_at,
           "status": "incomplete" if reason else "completed",
           "incomplete_details": {"reason": reason} if reason else None,
           "model": model, "output": output}
    p = p if isinstance(p, dict) else {}
    for k, dflt in (("tools", []), ("tool_choice", "auto"), ("parallel_tool_calls", True),
                    ("temperature", None), ("top_p", None), ("max_output_tokens", None)):
        obj[k] = p[k] if p.get(k) is not None else dflt
    obj["usage"] = usage(c.get("usage"))
    obj["error"] = None
    return obj


def main():
    for line in sys.stdin:
        case = json.loads(line)
        try:
            params = json.loads(case["params"]) if case.get("params") is not None else None
            if case["kind"] == "request":
                out = convert_request(params, case["opts"])
            elif case["kind"] == "responses":
                out = convert_responses(params, case["opts"])
            else:
                out = convert_reply(json.loads(case["completion"]), params, case["model"],
                                    case["created_at"])
        except (Invalid, ValueError) as e:
            out = {"error": str(e)}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
