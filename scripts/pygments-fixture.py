#!/usr/bin/env python3
"""Writes the Pygments reference for the highlighter's agreement test.

Usage: scripts/pygments-fixture.py crates/gs-core/tests/data/pygments.json [CORPUS:SET ...]

Each sample is {set, lang, code, runs}: `runs` is what Pygments' HtmlFormatter with
`noclasses=True` and the `default` style (as the reference's CodeHilite) writes for the
code, as [inline style, text] pairs ("" for unstyled text). With no CORPUS arguments the
runs of the samples already in the file are recomputed; a CORPUS:SET argument adds one
sample per file of the directory CORPUS (named by its Pygments lexer) to the set SET.
Made with Pygments 2.14 (Debian 12's python3-pygments); tabs are expanded to 4 columns
first, as Python-Markdown does before the code reaches Pygments.
"""
import html
import json
import os
import re
import sys

import pygments
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name


def runs(lang, code):
    markup = highlight(code, get_lexer_by_name(lang), HtmlFormatter(noclasses=True, nowrap=True))
    out = []
    for m in re.finditer(r'<span style="([^"]*)">(.*?)</span>|([^<]+)', markup, re.S):
        if m.group(3) is not None:
            out.append(["", html.unescape(m.group(3))])
        else:
            out.append([m.group(1), html.unescape(m.group(2))])
    return out


def main():
    path, corpora = sys.argv[1], sys.argv[2:]
    samples = json.load(open(path))["samples"] if os.path.exists(path) else []
    for corpus in corpora:
        directory, name = corpus.rsplit(":", 1)
        for lang in sorted(os.listdir(directory)):
            code = open(os.path.join(directory, lang)).read().expandtabs(4)
            samples.append({"set": name, "lang": lang, "code": code})
    for sample in samples:
        sample["runs"] = runs(sample["lang"], sample["code"])
    lines = [json.dumps(sample, ensure_ascii=False) for sample in samples]
    with open(path, "w") as f:
        f.write('{"pygments": %s, "samples": [\n' % json.dumps(pygments.__version__))
        f.write(",\n".join(lines))
        f.write("\n]}\n")


main()
