from mailsync.addresses import DEFAULT_EXCLUSIONS, Exclusions, domain_of, normalize, parse_header_addresses


def test_normalize_basic():
    assert normalize("  John Doe <John.Doe@Example.COM.> ") == "john.doe@example.com"


def test_normalize_idn():
    assert normalize("user@bücher.example") == normalize("user@xn--bcher-kva.example") == "user@xn--bcher-kva.example"


def test_plus_addressing():
    assert normalize("a+tag@x.com") == "a+tag@x.com"
    assert normalize("a+tag@x.com", keep_plus=False) == "a@x.com"


def test_malformed():
    for bad in ("", None, "nobody", "@x.com", "a@", "a b@x.com", "a@b@c.com", "a@x..com"):
        assert normalize(bad) is None, bad


def test_parse_header_addresses():
    result = parse_header_addresses("=?utf-8?q?J=C3=B6rg?= <JORG@x.com>, b@y.com", "jorg@x.com", None)
    assert result == [("Jörg", "jorg@x.com"), ("", "b@y.com")]


def test_domain_of():
    assert domain_of("A <a@Bücher.example>") == "xn--bcher-kva.example"
    assert domain_of("nope") is None


def test_exclusions():
    ex = Exclusions(["boss@corp.com", "newsletter@*", "@spam.com", "ads.com", "*.bulk.com"])
    assert ex.matches("Boss@Corp.com")
    assert ex.matches("newsletter@any.org")
    assert ex.matches("x@spam.com") and ex.matches("x@ads.com")
    assert not ex.matches("x@sub.spam.com")
    assert ex.matches("x@bulk.com") and ex.matches("x@a.b.bulk.com")
    assert not ex.matches("x@notbulk.com") and not ex.matches("friend@corp.com") and not ex.matches("junk")


def test_default_exclusions():
    ex = Exclusions(DEFAULT_EXCLUSIONS)
    assert ex.matches("no-reply@github.com") and ex.matches("MAILER-DAEMON@x.org")
    assert not ex.matches("alice@x.org")
