#!/usr/bin/env python3
"""Checks an lstmner HTML report against the JSON it was drawn from.

Usage: check_report.py PAGE.html DATA.json [--min-numbers N]

- Every element with data-key shows the value at that JSON pointer of DATA.json: a number
  times data-scale (default 1) printed with data-digits decimals (printf %.Nf), or with
  data-format="g" N significant digits (%.Ng); a string (or true/false) exactly.
- Every other text with a number in it (a digit not right after a letter: "F1" is a name) must be corpus text or a name (class "text"), a chart's
  tick label (class "tick"), or a tooltip (<title>, shown on hover only): so no number is
  shown that this check did not compare with the JSON.
- The page is self-contained: no <script>, no <link>, no <img>, no src attribute, nothing
  fetched from a network (no http(s) URL outside the SVG namespace, no CSS url() or @import).
At least --min-numbers numbers (default 20) must have been compared. Exit status 0 if all
holds, 1 otherwise, with one line per problem.
"""
import html.parser
import json
import re
import sys


def resolve(data, pointer):
    if pointer == "":
        return data
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    value = data
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list):
            value = value[int(token)]
        else:
            value = value[token]
    return value


class Page(html.parser.HTMLParser):
    EXEMPT_CLASSES = {"text", "tick"}
    VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source",
            "circle", "line", "path", "rect", "polyline", "polygon", "ellipse", "use"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, attrs dict)
        self.keyed = []  # [attrs, text] of every data-key element
        self.open_keyed = []  # indexes into keyed of the open data-key elements
        self.problems = []
        self.external = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.external.append("<%s> element" % tag)
        for name, value in attrs:
            if name == "src" or (name == "href" and value and not value.startswith("#")):
                self.external.append("%s=%r on <%s>" % (name, value, tag))
        if tag in self.VOID and tag not in ("circle", "rect"):
            self.handle_startendtag(tag, attrs)
            return
        self.stack.append((tag, a))
        if "data-key" in a:
            self.keyed.append([a, ""])
            self.open_keyed.append(len(self.keyed) - 1)

    def handle_startendtag(self, tag, attrs):
        a = dict(attrs)
        if "data-key" in a:
            self.keyed.append([a, ""])

    def handle_endtag(self, tag):
        while self.stack:
            t, a = self.stack.pop()
            if "data-key" in a:
                self.open_keyed.pop()
            if t == tag:
                break

    def handle_data(self, data):
        if self.open_keyed:
            self.keyed[self.open_keyed[-1]][1] += data
            return
        if not re.search(r"(?<![A-Za-z_])\d", data):
            return
        for tag, a in self.stack:
            if tag in ("title", "style"):
                return
            if self.EXEMPT_CLASSES & set(a.get("class", "").split()):
                return
        self.problems.append("unchecked number in text %r (inside %s)" %
                             (data.strip()[:80], "/".join(t for t, _ in self.stack[-4:])))


def expected_text(attrs, value):
    if "data-digits" in attrs:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("not a number: %r" % (value,))
        digits = int(attrs["data-digits"])
        if attrs.get("data-format") == "g":
            return "%.*g" % (digits, float(value))
        scale = float(attrs.get("data-scale", "1"))
        return "%.*f" % (digits, float(value) * scale)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise ValueError("a number shown without data-digits: %r" % (value,))


def main():
    args = sys.argv[1:]
    min_numbers = 20
    if "--min-numbers" in args:
        i = args.index("--min-numbers")
        min_numbers = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__)
        return 2
    page_path, data_path = args
    with open(page_path, encoding="utf-8") as f:
        text = f.read()
    with open(data_path, encoding="utf-8") as f:
        data = json.load(f)
    page = Page()
    page.feed(text)
    page.close()
    problems = list(page.problems)
    problems += ["not self-contained: " + e for e in page.external]
    for url in re.findall(r"https?://[^\s\"'<>)]*", text):
        if url != "http://www.w3.org/2000/svg":
            problems.append("not self-contained: URL %s" % url)
    if re.search(r"url\(|@import", text):
        problems.append("not self-contained: CSS url() or @import")
    numbers = 0
    for attrs, shown in page.keyed:
        key = attrs["data-key"]
        try:
            value = resolve(data, key)
            want = expected_text(attrs, value)
        except (KeyError, IndexError, ValueError, TypeError) as e:
            problems.append("data-key %s: not in %s (%s)" % (key, data_path, e))
            continue
        if shown.strip() != want:
            problems.append("data-key %s shows %r, the JSON says %r" % (key, shown.strip(), want))
        if "data-digits" in attrs:
            numbers += 1
    if numbers < min_numbers:
        problems.append("only %d numbers checked (expected at least %d)" % (numbers, min_numbers))
    for p in problems[:50]:
        print("check_report: %s: %s" % (page_path, p))
    if len(problems) > 50:
        print("check_report: ... and %d more problems" % (len(problems) - 50))
    if not problems:
        print("check_report: %s: %d numbers and %d strings match %s" %
              (page_path, numbers, len(page.keyed) - numbers, data_path))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
