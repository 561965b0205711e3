"""Secrets at rest: what an attacker with the database, and an admin with a wrong key, would see."""

import pytest

from mailsync import secrets


@pytest.fixture
def box():
    return secrets.SecretBox(secrets.load_keys(secrets.generate_key()))


@pytest.mark.parametrize("plaintext", ["app-password-1234", "pässwörd ✓", ""])
def test_round_trip(box, plaintext):
    token = box.encrypt(plaintext, "res.users,7,imap_password")
    assert box.decrypt(token, "res.users,7,imap_password") == plaintext
    assert secrets.is_encrypted(token)


def test_ciphertext_hides_the_secret_and_differs_every_time(box):
    first, second = box.encrypt("hunter2-secret"), box.encrypt("hunter2-secret")
    assert first != second
    assert "hunter2" not in first


def test_wrong_key_fails_cleanly(box):
    other = secrets.SecretBox(secrets.load_keys(secrets.generate_key()))
    with pytest.raises(secrets.DecryptionFailed) as caught:
        other.decrypt(box.encrypt("s3cret"))
    assert "s3cret" not in str(caught.value)


def test_tampered_token_fails(box):
    token = box.encrypt("s3cret")
    middle = len(token) - 12  # inside the ciphertext, clear of base64 padding bits
    flipped = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    with pytest.raises(secrets.DecryptionFailed):
        box.decrypt(flipped)
    for garbage in ("", "v1:", "v1:abc:!!!", "not a token", None):
        with pytest.raises(secrets.DecryptionFailed):
            box.decrypt(garbage)


def test_token_is_bound_to_its_record_and_field(box):
    token = box.encrypt("s3cret", "crm.mail.account,1,imap_password")
    with pytest.raises(secrets.DecryptionFailed):
        box.decrypt(token, "crm.mail.account,2,imap_password")


def test_rotation_keeps_old_secrets_readable():
    old_key, new_key = secrets.generate_key(), secrets.generate_key()
    old_box = secrets.SecretBox(secrets.load_keys(old_key))
    token = old_box.encrypt("s3cret", "ctx")
    rotated_box = secrets.SecretBox(secrets.load_keys(f"{new_key}, {old_key}"))
    assert rotated_box.decrypt(token, "ctx") == "s3cret"
    assert rotated_box.needs_rotation(token)
    fresh = rotated_box.rotate(token, "ctx")
    assert not rotated_box.needs_rotation(fresh)
    assert secrets.SecretBox(secrets.load_keys(new_key)).decrypt(fresh, "ctx") == "s3cret"


@pytest.mark.parametrize("text", [None, "", " , "])
def test_missing_key_tells_the_admin_what_to_set(text):
    # Where the key is configured is the caller's to say (the Odoo side names its option).
    with pytest.raises(secrets.MissingKey) as caught:
        secrets.load_keys(text)
    assert caught.value.code == "missing_key"
    assert "32 random bytes" in str(caught.value) and "generate_key()" in str(caught.value)


@pytest.mark.parametrize("text", ["too-short", "not base64 at all!!", "QUFB"])
def test_invalid_key_is_reported_without_echoing_it(text):
    with pytest.raises(secrets.InvalidKey) as caught:
        secrets.load_keys(text)
    assert text not in str(caught.value)


def test_repr_shows_no_key_material():
    key = secrets.generate_key()
    assert key not in repr(secrets.SecretBox(secrets.load_keys(key)))


def test_a_token_under_a_removed_key_says_so_apart_from_an_altered_one():
    old_key, new_key = secrets.generate_key(), secrets.generate_key()
    token = secrets.SecretBox(secrets.load_keys(old_key)).encrypt("s3cret", "ctx")
    only_new = secrets.SecretBox(secrets.load_keys(new_key))
    assert not only_new.knows(token)
    with pytest.raises(secrets.UnknownKey) as caught:
        only_new.decrypt(token, "ctx")
    assert caught.value.key_id == secrets.token_key_id(token)
    assert "s3cret" not in str(caught.value) and old_key not in str(caught.value)

    both = secrets.SecretBox(secrets.load_keys(f"{new_key},{old_key}"))
    assert both.knows(token)
    with pytest.raises(secrets.DecryptionFailed) as caught:
        both.decrypt(token, "another record")  # the right key, but not this token's place
    assert not isinstance(caught.value, secrets.UnknownKey)


@pytest.mark.parametrize("value", [None, "", "clear password", "v1:"])
def test_token_key_id_of_anything_else_is_none(value):
    assert secrets.token_key_id(value) is None
