"""Real servers for tests, benchmarks and the demo: never imported by the addon at run time."""

# The accounts the engine suite and the demo mailbox use.
ALICE = ("alice@example.com", "alice-Pa55word")
BOB = ("bob@example.com", "bob-Pa55word")
