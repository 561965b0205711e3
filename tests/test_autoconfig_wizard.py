import json

from odoo.tests import TransactionCase, tagged

from odoo.addons.crm_mail_sync.mailsync.testing.dns_server import DnsServer
from odoo.addons.crm_mail_sync.mailsync.testing.http_server import HttpServer, Reply

from .common import FrenchSalespersonCase

LOCAL = ["127.0.0.1"]
BOUTIQUE = b"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="boutique.example">
    <domain>boutique.example</domain>
    <displayName>Boutique Hosting</displayName>
    <incomingServer type="imap">
      <hostname>mail.%EMAILDOMAIN%</hostname><port>143</port><socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>mail.%EMAILDOMAIN%</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.boutique.example</hostname><port>465</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
    <documentation url="https://help.boutique.example/mail"><descr lang="en">Mail settings</descr></documentation>
  </emailProvider>
</clientConfig>"""
EWS = "https://mail.onprem.example/EWS/Exchange.asmx"


def serve_autoconfig(case):
    """Start, for the test class, an HTTPS server standing for the domains' own
    autoconfig and Autodiscover, and a DNS server sending them to it; point the
    wizard's lookups at both (system parameters)."""
    https = case.enterClassContext(
        HttpServer(
            {
                ("autoconfig.boutique.example", "/mail/config-v1.1.xml"): Reply(200, BOUTIQUE),
                ("autodiscover.outlook.test", "/autodiscover/autodiscover.json/v1.0/sam@m365.example"): Reply(
                    200,
                    json.dumps(
                        {
                            "Protocol": "AutodiscoverV1",
                            "Url": "https://outlook.office365.com/autodiscover/autodiscover.xml",
                        }
                    ).encode(),
                    "application/json",
                ),
                ("autodiscover.onprem.example", "/autodiscover/autodiscover.json/v1.0/sam@onprem.example"): Reply(
                    200, json.dumps({"Protocol": "EWS", "Url": EWS}).encode(), "application/json"
                ),
            },
            hostnames=["autoconfig.boutique.example", "autodiscover.onprem.example", "autodiscover.outlook.test"],
        )
    )
    dns = case.enterClassContext(
        DnsServer(
            {
                "boutique.example": {"MX": ["10 mx.boutique.example."]},
                "autoconfig.boutique.example": {"A": LOCAL},
                "hosted.example": {"MX": ["10 mx1.emailsrvr.com."]},
                "onprem.example": {"MX": ["10 mail.onprem.example."]},
                "m365.example": {"MX": ["10 filter.m365-gateway.example."]},
                "autodiscover.onprem.example": {"A": LOCAL},
                "autodiscover.outlook.test": {"A": LOCAL},
            }
        )
    )
    port = https.port
    params = case.env["ir.config_parameter"].sudo()
    params.set_param("crm_mail_sync.dns_nameserver", f"{dns.host}:{dns.port}")
    params.set_param(
        "crm_mail_sync.autoconfig_urls",
        f"https://autoconfig.{{domain}}:{port}/mail/config-v1.1.xml?emailaddress={{email}} "
        f"https://{{domain}}:{port}/.well-known/autoconfig/mail/config-v1.1.xml",
    )
    params.set_param("crm_mail_sync.autoconfig_http_urls", "http://127.0.0.1:9/{domain}")  # discard port: nothing
    params.set_param(
        "crm_mail_sync.autodiscover_url",
        f"https://autodiscover.outlook.test:{port}/autodiscover/autodiscover.json/v1.0/{{email}}?Protocol=AutodiscoverV1",
    )
    params.set_param(
        "crm_mail_sync.autodiscover_domain_url",
        f"https://autodiscover.{{domain}}:{port}/autodiscover/autodiscover.json/v1.0/{{email}}?Protocol=EWS",
    )
    params.set_param("crm_mail_sync.autoconfig_cafile", https.certs.ca_file)
    return https, dns


@tagged("post_install", "-at_install")
class TestAutoconfigWizard(TransactionCase):
    """The wizard fills the servers in from the domain's autoconfig, Thunderbird's
    provider database and Autodiscover, and says which source answered."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.https, cls.dns = serve_autoconfig(cls)

    def detect(self, email):
        wizard = self.env["crm.mail.setup.wizard"].create({"email": email})
        wizard.action_detect()
        return wizard

    def test_a_domain_serving_its_own_autoconfig_fills_the_wizard_in(self):
        wizard = self.detect("sam@boutique.example")
        self.assertFalse(wizard.custom_servers)
        self.assertEqual(
            (wizard.imap_host, wizard.imap_port, wizard.imap_security), ("mail.boutique.example", 993, "ssl")
        )
        self.assertEqual(
            (wizard.smtp_host, wizard.smtp_port, wizard.smtp_security), ("smtp.boutique.example", 465, "ssl")
        )
        self.assertEqual(wizard.imap_login, "sam")
        self.assertEqual(wizard.detection_source, "provider")
        self.assertIn("Found in your provider's configuration (Boutique Hosting)", wizard.detection_note)
        self.assertEqual(wizard.detection_help_url, "https://help.boutique.example/mail")

    def test_a_domain_of_thunderbirds_database_needs_no_network(self):
        asked = len(self.dns.asked())
        wizard = self.detect("sam@btinternet.com")
        self.assertEqual(wizard.detection_source, "ispdb")
        self.assertIn("From Thunderbird's provider database", wizard.detection_note)
        self.assertEqual(wizard.imap_host, "mail.btinternet.com")
        self.assertEqual(len(self.dns.asked()), asked, "no DNS question for a domain in the database")

    def test_a_hosted_domain_found_by_its_mx_in_thunderbirds_database(self):
        wizard = self.detect("sam@hosted.example")
        self.assertEqual(wizard.detection_source, "ispdb")
        self.assertEqual(wizard.imap_host, "secure.emailsrvr.com")

    def test_a_microsoft_365_domain_behind_a_mail_filter_signs_in_with_microsoft(self):
        wizard = self.detect("sam@m365.example")
        self.assertEqual(wizard.provider_id.code, "microsoft365")
        self.assertEqual(wizard.auth_method, "oauth_microsoft")
        self.assertEqual(wizard.detection_source, "preset")

    def test_exchange_on_premises_is_named_with_its_ews_url(self):
        wizard = self.detect("sam@onprem.example")
        self.assertTrue(wizard.custom_servers)
        self.assertEqual(wizard.exchange_ews_url, EWS)
        self.assertIn("Microsoft Exchange", wizard.detection_note)


@tagged("post_install", "-at_install")
class TestAutoconfigTour(FrenchSalespersonCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.https, cls.dns = serve_autoconfig(cls)

    def test_an_address_at_a_domain_with_autoconfig_fills_the_wizard_in_french(self):
        self.start_tour("/odoo", "crm_mail_sync_autoconfig_fr", login="sam")
        self.assertTrue(self.https.asked("autoconfig.boutique.example"))
