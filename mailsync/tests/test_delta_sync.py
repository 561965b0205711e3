"""What the delta-style readers share (mailsync.delta_sync): the committed
state of one kind never passes for another's. The readers themselves run
against the local servers in test_ews_sync.py and test_graph_sync.py."""

from mailsync import ews_sync, graph_sync
from mailsync.imap_sync import FolderState, SyncState

EWS = ews_sync.EwsSyncState(
    {"inbox": ews_sync.EwsFolderState(name="inbox", role="inbox", uidvalidity=1, sync_state="H4sIAAA", done=4, total=4)}
)
GRAPH = graph_sync.GraphSyncState(
    {
        "inbox": graph_sync.GraphFolderState(
            name="inbox", role="inbox", uidvalidity=1, delta_link="https://graph.example/delta?token=1", done=4, total=4
        )
    }
)
CLOSED = "https://127.0.0.1:9/"  # nothing listens there: a request would raise HostUnreachable
IMAP = SyncState({"inbox": FolderState(name="inbox", role="inbox", uidvalidity=7, last_uid=42)})


def test_each_kind_reads_its_own_committed_state_back():
    assert ews_sync.EwsSyncState.from_json(EWS.to_json()) == EWS
    assert graph_sync.GraphSyncState.from_json(GRAPH.to_json()) == GRAPH


READERS = (
    (
        ews_sync.EwsMailboxSync,
        ews_sync.EwsSettings(email="a@x.example", username="a", password="-", ews_url=CLOSED),
        GRAPH,
    ),
    (graph_sync.GraphMailboxSync, graph_sync.GraphSettings(access_token="-", base_url=CLOSED), EWS),
)


def test_a_mailbox_moved_to_another_kind_starts_from_its_window():
    for reader, settings, other in READERS:
        # The same folder names and roles, but not this kind's tokens: nothing is kept.
        assert reader.state_class.from_json(other.to_json()).folders == {}
        assert reader.state_class.from_json(IMAP.to_json()).folders == {}
        with reader(settings, other) as sync:
            assert sync.changed() is True, "never synced as this kind: a full sync, without asking the server"
