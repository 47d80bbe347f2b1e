"""Grounded span answers: a grammar under which the model can only quote the text.

A small model paraphrases: 27-36% of its predicted cause/effect spans were not substrings of the
sentence. For llama.cpp a per-record GBNF grammar fixes that at the source: every quote must be a
run of consecutive words of the text, with the text's own separators between them. The grammar
is linear in the number of words (one rule per word: "this word, then optionally the rest of a
run starting at the next word"), so it stays small for any sentence.
"""

from __future__ import annotations

import json
import re

from dualchecker.agents.types import Task

WORD = re.compile(r"\S+")


def _literal(text: str) -> str:
    """`text` as it must appear inside a JSON string, as a GBNF string literal."""
    as_json = json.dumps(text, ensure_ascii=False)[1:-1]
    escaped = as_json.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def quote_rules(text: str) -> tuple[str, list[str]]:
    """The rule name of "any run of consecutive words of `text`" and the rules defining it."""
    words = list(WORD.finditer(text))
    if not words:
        return "quote", ['quote ::= ""']
    rules = []
    for i, match in enumerate(words):
        word = _literal(match.group())
        if i + 1 < len(words):
            gap = _literal(text[match.end() : words[i + 1].start()])
            rules.append(f"run{i} ::= {word} ( {gap} run{i + 1} )?")
        else:
            rules.append(f"run{i} ::= {word}")
    rules.append("quote ::= " + " | ".join(f"run{i}" for i in range(len(words))))
    return "quote", rules


def span_grammar(
    task: Task, text: str, *, rationale_chars: int = 160, reasoning_first: bool = False
) -> str:
    """GBNF for the span answer: every span type a list of quotes of `text`, then confidence and
    (unless `rationale_chars` is 0) a short rationale, in the JSON shape the parser reads."""
    _, rules = quote_rules(text)
    fields = [
        f'"\\"{name}\\":" ws "[" ws ( qstr ( ws "," ws qstr )* )? ws "]"'
        for name in task.span_type_names
    ]
    fields.append('"\\"confidence\\":" ws pct')
    if rationale_chars:  # no rationale at all when nothing will read it: output tokens are time
        rationale = '"\\"rationale\\":" ws "\\"" rchar{0,' + str(rationale_chars) + '} "\\""'
        fields.insert(0 if reasoning_first else len(fields), rationale)
    body = ' ws "," ws '.join(fields)
    return "\n".join(
        [
            f'root ::= "{{" ws {body} ws "}}"',
            'qstr ::= "\\"" quote "\\""',
            'pct ::= [0-9] | [1-9] [0-9] | "100"',
            'rchar ::= [^"\\\\\\x00-\\x1f]',
            "ws ::= [ ]?",
            *rules,
        ]
    )
