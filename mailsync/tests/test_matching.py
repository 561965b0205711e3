"""What is worth looking up in the CRM, and which way a message went."""

from mailsync.matching import RECEIVED, SENT, Scope, direction, external_keys
from mailsync.message import parse_headers

SCOPE = Scope.build(
    own_addresses=["Sam@OurCompany.example", "sales@ourcompany.example"],
    internal_domains=["ourcompany.example", "@ourcompany.fr"],
    exclusions=["noreply@*", "newsletter.example"],
)


def headers(sender, to, cc=""):
    raw = f"From: {sender}\r\nTo: {to}\r\n" + (f"Cc: {cc}\r\n" if cc else "") + "Subject: x\r\n\r\n"
    return parse_headers(raw.encode())


def test_customers_are_the_participants_outside_the_company():
    message = headers("Bea <BEA@customer.example>", "sam@ourcompany.example", cc="tina@ourcompany.fr, carl@x.example")
    assert external_keys(message, SCOPE) == {"bea@customer.example", "carl@x.example"}
    assert direction(message, SCOPE) == RECEIVED


def test_mail_between_colleagues_has_nothing_to_look_up():
    assert external_keys(headers("tina@ourcompany.example", "sam@ourcompany.example"), SCOPE) == set()


def test_an_excluded_sender_excludes_the_whole_message():
    assert external_keys(headers("news@newsletter.example", "bea@customer.example"), SCOPE) == set()
    assert external_keys(headers("noreply@shop.example", "sam@ourcompany.example"), SCOPE) == set()


def test_an_excluded_recipient_is_only_left_out():
    message = headers("sam@ourcompany.example", "bea@customer.example, noreply@customer.example")
    assert external_keys(message, SCOPE) == {"bea@customer.example"}
    assert direction(message, SCOPE) == SENT


def test_mail_sent_by_an_alias_or_a_colleague_counts_as_sent():
    assert direction(headers("sales@ourcompany.example", "bea@customer.example"), SCOPE) == SENT
    assert direction(headers("tina@ourcompany.fr", "bea@customer.example"), SCOPE) == SENT


def test_a_public_mailbox_domain_is_not_internal_unless_said_so():
    scope = Scope.build(own_addresses=["sam.seller@gmail.com"])
    message = headers("bea@gmail.com", "sam.seller@gmail.com")
    assert external_keys(message, scope) == {"bea@gmail.com"}


def test_the_folder_decides_the_direction_not_the_from_anyone_can_write():
    forged = headers("Sam <sam@ourcompany.example>", "sam@ourcompany.example")  # in the inbox: someone else sent it
    assert direction(forged, SCOPE, role="inbox") == RECEIVED
    assert direction(headers("bea@customer.example", "sam@ourcompany.example"), SCOPE, role="sent") == SENT
    assert direction(forged, SCOPE) == SENT  # no folder known: the From decides, as before
