"""rfc8601.py - a strict check of an Authentication-Results value against
the grammar of RFC 8601 section 2.2 (with RFC 5322 CFWS and quoted-string,
RFC 2045 token, RFC 5321 Keyword and RFC 6376 domain-name), written here
for the tests: python3-authres parses leniently, this says where a value
departs from the ABNF. check(value) returns a list of problems ([] if the
value conforms)."""
import re

TSPECIALS = set('()<>@,;:\\"/[]?=')
ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")
KEYWORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


class Bad(Exception):
    """The value departs from the grammar here."""


class Parser:
    """Recursive descent over one value."""

    def __init__(self, s):
        self.s, self.i = s, 0

    def fail(self, what):
        raise Bad("%s at offset %d: %r" % (what, self.i, self.s[self.i:self.i + 30]))

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def cfws(self):
        """[CFWS]; True if any was there."""
        start = self.i
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "(":
                self.comment()
            else:
                break
        return self.i > start

    def comment(self):
        depth = 0
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                self.i += 2
                continue
            self.i += 1
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    return
            elif ord(c) < 32 and c not in " \t\r\n":
                self.fail("control character in a comment")
        self.fail("unterminated comment")

    def match(self, rx):
        m = rx.match(self.s, self.i)
        if not m:
            return None
        self.i = m.end()
        return m.group(0)

    def quoted(self):
        if self.peek() != '"':
            return None
        self.i += 1
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\":
                self.i += 2
                continue
            self.i += 1
            if c == '"':
                return True
            if ord(c) < 32 and c not in " \t":
                self.fail("control character in a quoted-string")
        self.fail("unterminated quoted-string")

    def token(self):
        start = self.i
        while self.i < len(self.s):
            c = self.s[self.i]
            if ord(c) <= 32 or ord(c) >= 127 or c in TSPECIALS:
                break
            self.i += 1
        return self.i > start

    def value(self):
        if not (self.quoted() or self.token()):
            self.fail("value expected")

    def keyword(self, what):
        if self.match(KEYWORD) is None:
            self.fail(what + " expected")

    def domain_name(self):
        """RFC 6376 domain-name: two labels at least."""
        if self.match(LABEL) is None:
            return False
        n = 1
        while self.peek() == "." and LABEL.match(self.s, self.i + 1):
            self.i += 1
            self.match(LABEL)
            n += 1
        if n < 2:
            self.fail("domain-name of one label")
        return True

    def local_part(self):
        if self.quoted():
            return True
        if self.match(ATEXT) is None:
            return False
        while self.peek() == "." and ATEXT.match(self.s, self.i + 1):
            self.i += 1
            self.match(ATEXT)
        return True

    def pvalue(self):
        """[CFWS] ( value / [[local-part] "@"] domain-name ) [CFWS]"""
        self.cfws()
        start = self.i
        if self.local_part() and self.peek() == "@":
            self.i += 1
            if not self.domain_name():
                self.fail("domain-name after @")
        else:
            self.i = start
            if self.peek() == "@":
                self.i += 1
                if not self.domain_name():
                    self.fail("domain-name after @")
            else:
                self.value()
        self.cfws()

    def propspec(self):
        self.keyword("ptype")
        self.cfws()
        if self.peek() != ".":
            self.fail('"." in a propspec')
        self.i += 1
        self.cfws()
        self.keyword("property")
        self.cfws()
        if self.peek() != "=":
            self.fail('"=" in a propspec')
        self.i += 1
        self.pvalue()

    def resinfo(self):
        """after ";": methodspec [CFWS reasonspec] [CFWS 1*propspec]"""
        self.cfws()
        self.keyword("method")
        self.cfws()
        if self.peek() == "/":
            self.i += 1
            self.cfws()
            if self.match(re.compile(r"[0-9]+")) is None:
                self.fail("method-version")
            self.cfws()
        if self.peek() != "=":
            self.fail('"=" after the method')
        self.i += 1
        self.cfws()
        self.keyword("result")
        had_space = self.cfws()
        while self.peek() not in ("", ";"):
            if not had_space:
                self.fail("white space before a propspec")
            if self.s.startswith("reason", self.i) and \
                    re.match(r"reason\s*=", self.s[self.i:]):
                self.i += len("reason")
                self.cfws()
                self.i += 1
                self.cfws()
                self.value()
                had_space = self.cfws()
                continue
            self.propspec()
            had_space = self.s[self.i - 1:self.i] in (" ", "\t", "\n", "\r", ")") \
                or self.peek() in ("", ";")

    def payload(self):
        self.cfws()
        self.value()                       # authserv-id
        if self.cfws() and self.match(re.compile(r"[0-9]+")) is not None:
            self.cfws()                    # authres-version
        if self.peek() != ";":
            self.fail('";" after the authserv-id')
        rest = self.s[self.i + 1:].strip()
        if re.fullmatch(r"(\([^)]*\)\s*)*none", rest):
            return
        while self.peek() == ";":
            self.i += 1
            self.resinfo()
        self.cfws()
        if self.i != len(self.s):
            self.fail("trailing text")


def check(value):
    """Problems of VALUE (an unfolded A-R field body) against RFC 8601."""
    try:
        Parser(value).payload()
    except Bad as e:
        return [str(e)]
    return []
